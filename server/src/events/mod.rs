//! Live updates: `GET /api/events`, a stream of server-sent events, one `job` event for each
//! job that changed in the user's scope. The event ID is the change's time (Unix ms): a
//! browser that reconnects sends it back as `Last-Event-ID` and gets what it missed (a change
//! may arrive twice around the resume point; none is lost).
//!
//! The stream reads the database (jobs by `updated_at`), so a change made by any server
//! instance reaches every open page.

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use axum::Router;
use futures_util::stream::{self, Stream};
use portal_api::{JobChanged, JobKind, JobStatus};

use crate::auth::CurrentUser;
use crate::db::now_ms;
use crate::error::AppResult;
use crate::state::AppState;

/// How often an open stream looks for changes.
const POLL: Duration = Duration::from_millis(250);
/// A stream ends after this long; the browser reconnects at once and resumes (so a server
/// shutting down is never held up for long).
const STREAM_LIFETIME: Duration = Duration::from_secs(60);

pub fn router() -> Router<AppState> {
    Router::new().route("/api/events", get(events))
}

struct Cursor {
    state: AppState,
    user: CurrentUser,
    /// The latest change time sent (or the resume point).
    since: i64,
    /// Jobs sent lately, with the change time sent, so that re-reading a window does not send
    /// a change twice.
    sent: HashMap<String, i64>,
    ends_at: tokio::time::Instant,
    pending: std::collections::VecDeque<Event>,
    /// When the session was last seen to be still open.
    session_checked: tokio::time::Instant,
}

/// Each look re-reads this much before the latest change sent: a transaction that took a
/// change time earlier but committed later is still seen.
const GRACE_MS: i64 = 1_000;
/// Rows read per query; a look pages on through (time, ID), so any number of changes made in
/// the same millisecond all arrive.
const PAGE: i64 = 500;
/// Events queued by one look at most; the next look goes on from there.
const MOST_PER_LOOK: usize = 5_000;

/// Job changes in the user's scope, as server-sent events.
#[utoipa::path(
    get, path = "/api/events", tag = "jobs",
    params(("last-event-id" = Option<String>, Header, description = "Resume after this event ID (sent by the browser when it reconnects)")),
    responses(
        (status = 200, description = "text/event-stream of `job` events, each a JobChanged", body = portal_api::JobChanged, content_type = "text/event-stream"),
        (status = 401, description = "Not signed in", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn events(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
) -> AppResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let resume = headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<i64>().ok());
    let cursor = Cursor {
        state,
        user,
        since: resume.unwrap_or_else(now_ms),
        sent: HashMap::new(),
        ends_at: tokio::time::Instant::now() + STREAM_LIFETIME,
        session_checked: tokio::time::Instant::now(),
        // Tell the browser to reconnect quickly when a stream ends.
        pending: [Event::default().retry(Duration::from_millis(500)).comment("live")].into(),
    };
    let stream = stream::unfold(cursor, |mut cursor| async move {
        loop {
            if let Some(event) = cursor.pending.pop_front() {
                return Some((Ok(event), cursor));
            }
            if tokio::time::Instant::now() >= cursor.ends_at || cursor.state.shutting_down() {
                return None;
            }
            tokio::time::sleep(POLL).await;
            // Signed out (here or on another device): the stream ends, as every request would.
            if cursor.session_checked.elapsed() >= crate::auth::session::SESSION_CACHE_TTL {
                if !cursor.session_open().await {
                    return None;
                }
                cursor.session_checked = tokio::time::Instant::now();
            }
            if let Err(error) = cursor.look().await {
                tracing::warn!(%error, "live updates: could not read changes");
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

type ChangeRow = (String, String, i64, String, i64);

impl Cursor {
    /// Whether the stream's session still exists (an error reading it counts as open: the
    /// next look fails the same way and is logged).
    async fn session_open(&self) -> bool {
        let found: Result<Option<(i64,)>, _> =
            sqlx::query_as("SELECT expires_at FROM sessions WHERE id_hash = $1 AND expires_at > $2")
                .bind(&self.user.session_hash)
                .bind(now_ms())
                .fetch_optional(&self.state.db)
                .await;
        !matches!(found, Ok(None))
    }

    /// Reads the changes from a little before the latest one sent, page by page, and queues
    /// those not sent yet.
    async fn look(&mut self) -> Result<(), sqlx::Error> {
        let mut after = (self.since.saturating_sub(GRACE_MS), String::new());
        loop {
            let rows = changes(self, &after).await?;
            let full = rows.len() as i64 == PAGE;
            if let Some((id, _, _, _, updated_at)) = rows.last() {
                after = (*updated_at, id.clone());
            }
            self.take(rows);
            if !full || self.pending.len() >= MOST_PER_LOOK {
                break;
            }
        }
        let oldest_kept = self.since.saturating_sub(GRACE_MS);
        self.sent.retain(|_, at| *at >= oldest_kept);
        Ok(())
    }

    fn take(&mut self, rows: Vec<ChangeRow>) {
        for (id, kind, mailbox_id, status, updated_at) in rows {
            if self.sent.get(&id) == Some(&updated_at) {
                continue;
            }
            self.since = self.since.max(updated_at);
            self.sent.insert(id.clone(), updated_at);
            let (Some(kind), Some(status)) = (JobKind::parse(&kind), JobStatus::parse(&status)) else {
                continue;
            };
            let change = JobChanged { id, kind, mailbox_id, status };
            if let Ok(event) = Event::default().event("job").id(updated_at.to_string()).json_data(&change) {
                self.pending.push_back(event);
            }
        }
    }
}

/// Changes in the user's scope after `after` (time, job ID), in that order.
async fn changes(cursor: &Cursor, after: &(i64, String)) -> Result<Vec<ChangeRow>, sqlx::Error> {
    let (scope, scope_id) = crate::access::scope(&cursor.user).condition();
    sqlx::query_as(&format!(
        "SELECT j.id, j.kind, j.mailbox_id, j.status, j.updated_at FROM jobs j \
         JOIN mailboxes m ON m.id = j.mailbox_id JOIN organisations o ON o.id = m.organisation_id \
         WHERE {scope} AND (j.updated_at > $2 OR (j.updated_at = $2 AND j.id > $3)) \
         ORDER BY j.updated_at, j.id LIMIT $4"
    ))
    .bind(scope_id)
    .bind(after.0)
    .bind(&after.1)
    .bind(PAGE)
    .fetch_all(&cursor.state.db)
    .await
}
