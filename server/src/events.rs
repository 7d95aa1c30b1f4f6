//! Live updates: `GET /api/events`, a stream of server-sent events, one `job` event for each
//! job that changed in the user's scope. The event ID is the change's time (Unix ms): a
//! browser that reconnects sends it back as `Last-Event-ID` and gets what it missed.
//!
//! The stream reads the database (jobs by `updated_at`), so a change made by any server
//! instance reaches every open page.

use std::collections::HashSet;
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
    /// Changes at or after this time are still to be sent.
    since: i64,
    /// Jobs already sent for the time `since` (a later change at the same millisecond is not lost).
    sent_at_since: HashSet<String>,
    ends_at: tokio::time::Instant,
    pending: std::collections::VecDeque<Event>,
}

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
        since: resume.map(|id| id + 1).unwrap_or_else(now_ms),
        sent_at_since: HashSet::new(),
        ends_at: tokio::time::Instant::now() + STREAM_LIFETIME,
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
            match changes(&cursor).await {
                Ok(rows) => cursor.take(rows),
                Err(error) => tracing::warn!(%error, "live updates: could not read changes"),
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

impl Cursor {
    fn take(&mut self, rows: Vec<(String, String, i64, String, i64)>) {
        for (id, kind, mailbox_id, status, updated_at) in rows {
            if updated_at == self.since && self.sent_at_since.contains(&id) {
                continue;
            }
            if updated_at > self.since {
                self.since = updated_at;
                self.sent_at_since.clear();
            }
            self.sent_at_since.insert(id.clone());
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

async fn changes(cursor: &Cursor) -> Result<Vec<(String, String, i64, String, i64)>, sqlx::Error> {
    let (scope, scope_id) = cursor.user.scope().condition();
    sqlx::query_as(&format!(
        "SELECT j.id, j.kind, j.mailbox_id, j.status, j.updated_at FROM jobs j \
         JOIN mailboxes m ON m.id = j.mailbox_id JOIN organisations o ON o.id = m.organisation_id \
         WHERE {scope} AND j.updated_at >= $2 ORDER BY j.updated_at, j.id LIMIT 500"
    ))
    .bind(scope_id)
    .bind(cursor.since)
    .fetch_all(&cursor.state.db)
    .await
}
