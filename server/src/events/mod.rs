//! Live updates: `GET /api/events`, a stream of server-sent events, one `job` event for each
//! job that changed in the user's scope. The event ID is the change's time (Unix ms): a
//! browser that reconnects sends it back as `Last-Event-ID` and gets what it missed (a change
//! may arrive twice around the resume point; none is lost).
//!
//! One poller per server instance reads the database (jobs by `updated_at`, [`hub`]), so a
//! change made by any instance reaches every open page, and the reads do not grow with the
//! pages open. On PostgreSQL the database wakes the poller when jobs change ([`listen`]). Each stream forwards what its user may see (`access::Scope::covers`, the same
//! rule as the lists' SQL); only a resume, or a stream that fell far behind, reads on its own.

pub mod hub;
pub mod listen;

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use axum::Router;
use futures_util::stream::{self, Stream};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{oneshot, watch};
use tokio::time::Instant;

use crate::access::Scope;
use crate::auth::CurrentUser;
use crate::db::now_ms;
use crate::error::AppResult;
use crate::state::AppState;
use hub::{Change, Cursor, Ended, Hub, Subscription};

/// A stream ends after this long; the browser reconnects at once and resumes (so a server
/// shutting down is never held up for long).
const STREAM_LIFETIME: Duration = Duration::from_secs(60);
/// How long a browser whose stream was closed for a newer one of the same user waits before it
/// reconnects (the portal polls meanwhile). Reconnecting at once would close the next oldest,
/// and pages over the limit would take turns closing each other.
const REPLACED_RETRY: Duration = Duration::from_secs(60);

pub fn router() -> Router<AppState> {
    Router::new().route("/api/events", get(events))
}

/// Job changes in the user's scope, as server-sent events.
#[utoipa::path(
    get, path = "/api/events", tag = "jobs",
    params(("last-event-id" = Option<String>, Header, description = "Resume after this event ID (sent by the browser when it reconnects)")),
    responses(
        (status = 200, description = "text/event-stream of `job` events, each a JobChanged. A user has at most `--max-streams-per-user` streams open: one more closes the oldest (which is told to wait a minute before it reconnects)", body = portal_api::JobChanged, content_type = "text/event-stream"),
        (status = 401, description = "Not signed in", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn events(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
) -> AppResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let resume = headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<i64>().ok());
    // Registered now, before the answer starts: a change made from here on reaches it.
    // A stream lives as long as its session, or its API token (revoked or expired: it ends).
    let holder = match &user.token {
        Some(token) => format!("{}{}", hub::TOKEN_HOLDER, token.id),
        None => user.session_hash.clone(),
    };
    let subscription = state.live.open(user.user_id, &holder);
    let live = Live {
        hub: Arc::clone(&state.live),
        scope: crate::access::scope(&user),
        subscription,
        cursor: Cursor::new(resume.unwrap_or_else(now_ms)),
        catching_up: resume.is_some(),
        // Tell the browser to reconnect quickly when a stream ends.
        pending: [Event::default().retry(Duration::from_millis(500)).comment("live")].into(),
        ends_at: Instant::now() + STREAM_LIFETIME,
        shutdown: state.shutdown.clone(),
        closed: false,
    };
    let stream = stream::unfold(live, |mut live| async move {
        let event = live.next().await?;
        Some((Ok(event), live))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// One open stream.
struct Live {
    hub: Arc<Hub>,
    scope: Scope,
    subscription: Subscription,
    /// The latest change sent, and those sent lately (a change read twice is sent once).
    cursor: Cursor,
    /// Reading from the database itself until caught up: after a resume, or when it fell
    /// behind the poller.
    catching_up: bool,
    pending: VecDeque<Event>,
    ends_at: Instant,
    shutdown: watch::Receiver<bool>,
    /// The hub closed it: what is pending goes out, then it ends.
    closed: bool,
}

impl Live {
    /// The next event to send; `None` ends the stream.
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(event);
            }
            if self.closed || *self.shutdown.borrow() || Instant::now() >= self.ends_at {
                return None;
            }
            if self.catching_up {
                match self.subscription.ended.try_recv() {
                    Ok(ended) => self.close(ended),
                    Err(oneshot::error::TryRecvError::Closed) => return None,
                    Err(oneshot::error::TryRecvError::Empty) => self.catch_up().await,
                }
                continue;
            }
            tokio::select! {
                ended = &mut self.subscription.ended => match ended {
                    Ok(ended) => self.close(ended),
                    Err(_) => return None,
                },
                () = shutting_down(&mut self.shutdown) => return None,
                () = tokio::time::sleep_until(self.ends_at) => return None,
                batch = self.subscription.changes.recv() => match batch {
                    Ok(batch) => self.forward(&batch),
                    // It fell behind (a slow client): it reads what it missed itself.
                    Err(RecvError::Lagged(_)) => self.catching_up = true,
                    Err(RecvError::Closed) => return None,
                },
            }
        }
    }

    fn close(&mut self, ended: Ended) {
        self.closed = true;
        if ended == Ended::Replaced {
            self.pending
                .push_back(Event::default().retry(REPLACED_RETRY).comment("closed: a newer stream of this user replaced it"));
        }
    }

    /// Queues the changes of a poll that this user may see.
    fn forward(&mut self, batch: &[Change]) {
        for change in batch {
            if self.scope.covers(change.owner) && self.cursor.take(change) {
                self.pending.push_back(job_event(change));
            }
        }
        self.cursor.forget_old();
    }

    /// Reads the next part of what this stream missed, in its scope.
    async fn catch_up(&mut self) {
        let reads_before = self.cursor.reads;
        let looked = self.cursor.look(&self.hub, Some(self.scope)).await;
        self.hub.count_stream_reads(self.cursor.reads - reads_before);
        match looked {
            Ok((changes, complete)) => {
                self.pending.extend(changes.iter().map(job_event));
                self.catching_up = !complete;
            }
            Err(error) => {
                tracing::warn!(%error, "live updates: could not read changes");
                tokio::time::sleep(hub::POLL).await;
            }
        }
    }
}

fn job_event(change: &Change) -> Event {
    Event::default().event("job").id(change.at.to_string()).data(&change.json)
}

/// Resolves when the server begins to shut down (never, where nothing can tell it to).
async fn shutting_down(shutdown: &mut watch::Receiver<bool>) {
    if shutdown.wait_for(|stopping| *stopping).await.is_err() {
        std::future::pending::<()>().await;
    }
}
