//! One change poller per server instance, shared by every open live-update stream.
//!
//! While at least one stream is open, one task reads the jobs that changed (every tenant's at
//! once) and broadcasts them; each stream forwards those its user may see. So the database work
//! grows with the changes, not with the pages open. On SQLite it looks every 250 ms; on
//! PostgreSQL the database wakes it when jobs change, whichever instance changed them
//! (`LISTEN/NOTIFY`, [`super::listen`]), and it looks at most every 250 ms under load. With no
//! stream open the task ends: an idle server reads nothing for live updates.
//!
//! The hub also keeps the list of open streams: at most `max_per_user` per user (a new one
//! closes that user's oldest), and every few seconds one query finds those whose session has
//! ended (signed out here or on another instance, or expired) and closes them.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use portal_api::{JobChanged, JobKind, JobStatus};
use tokio::sync::{broadcast, oneshot};

use crate::access::{Owner, Scope};
use super::listen::Listener;
use crate::db::{now_ms, Db};

/// How often the poller looks for changes (at most, when the database tells it of them).
pub const POLL: Duration = Duration::from_millis(250);
/// How often a poller that the database wakes looks anyway (a notification may be lost while
/// its listener reconnects).
const LISTENING_POLL: Duration = Duration::from_secs(2);
/// How long a poller whose listener could not connect looks on its timer before it tries again.
const LISTEN_RETRY: Duration = Duration::from_secs(30);
/// A listener that heard nothing this long is tested: the database is asked to notify it.
const QUIET: Duration = Duration::from_secs(30);
/// A tested listener that still heard nothing after this long has lost its connection.
const PING_DEADLINE: Duration = Duration::from_secs(5);
/// Each look re-reads this much before the latest change seen: a transaction that took a
/// change time earlier but committed later is still seen.
const GRACE_MS: i64 = 1_000;
/// Rows read per query; a look pages on through (time, ID), so any number of changes made in
/// the same millisecond all arrive.
const PAGE: i64 = 500;
/// Changes taken by one look at most; the next look goes on from there.
const MOST_PER_LOOK: usize = 5_000;
/// Looks a slow stream may fall behind before it reads what it missed on its own.
const BACKLOG: usize = 64;
/// Sessions checked per query (well under every database's limit of parameters).
const SESSIONS_PER_READ: usize = 500;

/// One job change, as every stream may send it.
#[derive(Debug)]
pub struct Change {
    pub job_id: String,
    /// Whose mailbox the job is about: what decides who sees the change.
    pub owner: Owner,
    /// The change's time (Unix ms), which is also the event ID.
    pub at: i64,
    /// The `JobChanged` as JSON, made once for every stream.
    pub json: String,
}

/// Why the hub closed a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    /// The user opened more streams than allowed; this was the oldest.
    Replaced,
    /// Its session ended (signed out, or expired).
    SessionEnded,
}

/// What the hub has done so far (for tests and for reading in a debugger).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Poller tasks started (one at a time at most).
    pub pollers: u64,
    /// The poller's rounds.
    pub rounds: u64,
    /// The poller's queries on the jobs table (counted with `rounds`, at the end of each).
    pub poll_reads: u64,
    /// Streams' own queries on the jobs table: a resume with `Last-Event-ID`, or a stream
    /// that fell behind the poller.
    pub stream_reads: u64,
    /// Queries on the sessions table to close streams whose session ended.
    pub session_reads: u64,
    /// Wake-ups by the database (PostgreSQL's NOTIFY) that jobs changed.
    pub notifications: u64,
}

pub struct Hub {
    db: Db,
    max_per_user: usize,
    session_check: Duration,
    changes: broadcast::Sender<Arc<Vec<Change>>>,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    polling: bool,
    next_id: u64,
    /// Open streams by user ID, oldest first; a user without streams has no entry.
    streams: HashMap<i64, VecDeque<Entry>>,
    stats: Stats,
}

struct Entry {
    id: u64,
    session_hash: String,
    end: oneshot::Sender<Ended>,
}

/// An open stream's place in the hub: the changes, and word when the hub closes it. Dropping
/// it (the stream ended) takes the stream off the list.
pub struct Subscription {
    hub: Arc<Hub>,
    user_id: i64,
    id: u64,
    pub changes: broadcast::Receiver<Arc<Vec<Change>>>,
    pub ended: oneshot::Receiver<Ended>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut inner = self.hub.lock();
        if let Some(queue) = inner.streams.get_mut(&self.user_id) {
            queue.retain(|entry| entry.id != self.id);
            if queue.is_empty() {
                inner.streams.remove(&self.user_id);
            }
        }
    }
}

impl Hub {
    /// A hub; its poller starts with the first stream. `session_check`: how often streams'
    /// sessions are checked (the session cache's period, so a sign-out ends both alike).
    pub fn new(db: Db, max_per_user: u32, session_check: Duration) -> Hub {
        Hub {
            db,
            max_per_user: max_per_user.max(1) as usize,
            session_check,
            changes: broadcast::channel(BACKLOG).0,
            inner: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a new stream of this user (closing the user's oldest if it would be one too
    /// many) and starts the poller if none runs. Changes found from now on reach it.
    pub fn open(self: &Arc<Self>, user_id: i64, session_hash: &str) -> Subscription {
        let (end, ended) = oneshot::channel();
        let mut inner = self.lock();
        let id = inner.next_id;
        inner.next_id += 1;
        let queue = inner.streams.entry(user_id).or_default();
        while queue.len() >= self.max_per_user {
            if let Some(oldest) = queue.pop_front() {
                let _ = oldest.end.send(Ended::Replaced);
            }
        }
        queue.push_back(Entry { id, session_hash: session_hash.to_owned(), end });
        // Under the lock: the poller cannot find the list empty and stop in between.
        let changes = self.changes.subscribe();
        if !inner.polling {
            inner.polling = true;
            inner.stats.pollers += 1;
            tokio::spawn(Arc::clone(self).poll());
        }
        Subscription { hub: Arc::clone(self), user_id, id, changes, ended }
    }

    pub fn stats(&self) -> Stats {
        self.lock().stats
    }

    /// Whether the poller runs (it does while a stream is open).
    pub fn polling(&self) -> bool {
        self.lock().polling
    }

    /// Counts a stream's own reads of the jobs table.
    pub(super) fn count_stream_reads(&self, reads: u64) {
        self.lock().stats.stream_reads += reads;
    }

    /// Closes every stream of this user now (signed out on this instance; other instances
    /// find out at their next session check).
    pub fn close_user(&self, user_id: i64) {
        let closed = self.lock().streams.remove(&user_id);
        for entry in closed.into_iter().flatten() {
            let _ = entry.end.send(Ended::SessionEnded);
        }
    }

    /// How many streams of this user are open.
    pub fn open_streams(&self, user_id: i64) -> usize {
        self.lock().streams.get(&user_id).map_or(0, VecDeque::len)
    }

    async fn poll(self: Arc<Self>) {
        // A panic must not leave `polling` set with no poller: the next stream starts one.
        struct Stopped<'a>(&'a Hub);
        impl Drop for Stopped<'_> {
            fn drop(&mut self) {
                if std::thread::panicking() {
                    self.0.lock().polling = false;
                }
            }
        }
        let _stopped = Stopped(&self);
        let mut cursor = Cursor::new(now_ms());
        let mut ticks = tokio::time::interval(POLL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut sessions_checked = tokio::time::Instant::now();
        // PostgreSQL: woken by the database when jobs change (any instance's), looking on a
        // slower timer besides; SQLite, or while the listener is lost: looking every POLL.
        let mut listener = None;
        let mut listener_tried: Option<tokio::time::Instant> = None;
        // When the listener last heard anything, and when it was last asked to (a ping).
        let mut heard = tokio::time::Instant::now();
        let mut pinged: Option<tokio::time::Instant> = None;
        loop {
            if listener.is_none() && listener_tried.is_none_or(|at| at.elapsed() >= LISTEN_RETRY) {
                listener_tried = Some(tokio::time::Instant::now());
                match Listener::connect(&self.db).await {
                    Some(Ok(connected)) => {
                        listener = Some(connected);
                        (heard, pinged) = (tokio::time::Instant::now(), None);
                    }
                    Some(Err(error)) => tracing::warn!(%error, "live updates: could not listen for changes; looking every 250 ms"),
                    None => {}
                }
            }
            match listener.as_mut() {
                Some(connected) => {
                    tokio::select! {
                        changed = connected.changed() => match changed {
                            Ok(()) => {
                                self.lock().stats.notifications += 1;
                                (heard, pinged) = (tokio::time::Instant::now(), None);
                            }
                            Err(error) => {
                                tracing::warn!(%error, "live updates: the listener was lost; looking every 250 ms");
                                listener = None;
                            }
                        },
                        _ = tokio::time::sleep(LISTENING_POLL) => {}
                    }
                    // Quiet for long: the database is asked to notify; nothing back means the
                    // connection is gone without having said so (notifications lost): connect anew.
                    match pinged {
                        None if heard.elapsed() >= QUIET => {
                            if let Err(error) = super::listen::ping(&self.db).await {
                                tracing::warn!(%error, "live updates: could not ask for a notification");
                            }
                            pinged = Some(tokio::time::Instant::now());
                        }
                        Some(at) if at.elapsed() >= PING_DEADLINE => {
                            tracing::warn!("live updates: the listener hears nothing; connecting again");
                            (listener, listener_tried) = (None, None);
                        }
                        _ => {}
                    }
                    // However many changes, at most one look per POLL.
                    ticks.tick().await;
                }
                None => {
                    ticks.tick().await;
                }
            }
            {
                let mut inner = self.lock();
                if inner.streams.is_empty() {
                    inner.polling = false;
                    return;
                }
            }
            let reads_before = cursor.reads;
            match cursor.look(&self, None).await {
                Ok((changes, _)) if !changes.is_empty() => {
                    // No receiver: every stream closed meanwhile; nothing to do.
                    let _ = self.changes.send(Arc::new(changes));
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "live updates: could not read changes"),
            }
            {
                let mut inner = self.lock();
                inner.stats.rounds += 1;
                inner.stats.poll_reads += cursor.reads - reads_before;
            }
            if sessions_checked.elapsed() >= self.session_check {
                self.close_ended_sessions().await;
                sessions_checked = tokio::time::Instant::now();
            }
        }
    }

    /// One page of changes after `after` (time, job ID), in that order; of every tenant, or
    /// of `scope` only.
    async fn read_page(&self, scope: Option<Scope>, after: &(i64, String)) -> Result<Vec<ChangeRow>, sqlx::Error> {
        let (condition, scope_id, first) = match scope.map(Scope::condition) {
            Some((condition, scope_id)) => (format!("{condition} AND "), Some(scope_id), 2),
            None => (String::new(), None, 1),
        };
        let sql = format!(
            "SELECT j.id, j.kind, j.mailbox_id, m.organisation_id, o.reseller_id, j.status, j.updated_at FROM jobs j \
             JOIN mailboxes m ON m.id = j.mailbox_id JOIN organisations o ON o.id = m.organisation_id \
             WHERE {condition}(j.updated_at > ${first} OR (j.updated_at = ${first} AND j.id > ${})) \
             ORDER BY j.updated_at, j.id LIMIT ${}",
            first + 1,
            first + 2
        );
        let mut query = sqlx::query_as(&sql);
        if let Some(scope_id) = scope_id {
            query = query.bind(scope_id);
        }
        query.bind(after.0).bind(&after.1).bind(PAGE).fetch_all(&self.db).await
    }

    /// Closes the streams whose session (or API token) has ended, with one query per 500. One
    /// that cannot be read counts as open (the error is logged; the next check tries again).
    async fn close_ended_sessions(&self) {
        let mut hashes: Vec<String> = self.lock().streams.values().flatten().map(|entry| entry.session_hash.clone()).collect();
        hashes.sort_unstable();
        hashes.dedup();
        let mut ended: HashSet<String> = HashSet::new();
        let (tokens, sessions): (Vec<String>, Vec<String>) = hashes.into_iter().partition(|h| h.starts_with(TOKEN_HOLDER));
        let chunks = sessions.chunks(SESSIONS_PER_READ).map(|chunk| (chunk, false)).chain(tokens.chunks(SESSIONS_PER_READ).map(|chunk| (chunk, true)));
        for (chunk, of_tokens) in chunks {
            self.lock().stats.session_reads += 1;
            let placeholders: Vec<String> = (2..chunk.len() + 2).map(|n| format!("${n}")).collect();
            let sql = if of_tokens {
                format!(
                    "SELECT '{TOKEN_HOLDER}' || id FROM api_tokens WHERE expires_at > $1 AND revoked_at IS NULL AND '{TOKEN_HOLDER}' || id IN ({})",
                    placeholders.join(", ")
                )
            } else {
                format!("SELECT id_hash FROM sessions WHERE expires_at > $1 AND id_hash IN ({})", placeholders.join(", "))
            };
            let mut query = sqlx::query_as::<_, (String,)>(&sql).bind(now_ms());
            for hash in chunk {
                query = query.bind(hash);
            }
            match query.fetch_all(&self.db).await {
                Ok(rows) => {
                    let open: HashSet<String> = rows.into_iter().map(|(hash,)| hash).collect();
                    ended.extend(chunk.iter().filter(|hash| !open.contains(*hash)).cloned());
                }
                Err(error) => tracing::warn!(%error, "live updates: could not check the streams' sessions"),
            }
        }
        if ended.is_empty() {
            return;
        }
        let mut inner = self.lock();
        for queue in inner.streams.values_mut() {
            let (gone, kept): (VecDeque<Entry>, VecDeque<Entry>) =
                queue.drain(..).partition(|entry| ended.contains(&entry.session_hash));
            *queue = kept;
            for entry in gone {
                let _ = entry.end.send(Ended::SessionEnded);
            }
        }
        inner.streams.retain(|_, queue| !queue.is_empty());
    }
}

/// What a stream opened with an API token is held by: this, then the token's ID (a session's
/// stream is held by the session's hash).
pub const TOKEN_HOLDER: &str = "token:";

/// A job row as read: ID, kind, mailbox, organisation, reseller, status, change time.
type ChangeRow = (String, String, i64, i64, i64, String, i64);

/// Where a reader of changes is: the latest change time taken, and the changes taken lately
/// (so that re-reading the grace window does not take one twice).
pub struct Cursor {
    since: i64,
    taken: HashMap<String, i64>,
    /// Queries made so far.
    pub reads: u64,
}

impl Cursor {
    /// A cursor after `since` (Unix ms).
    pub fn new(since: i64) -> Cursor {
        Cursor { since, taken: HashMap::new(), reads: 0 }
    }

    /// Reads the changes (of `scope`, or of every tenant) from a little before the latest one
    /// taken, page by page, and returns those not taken yet; `true` when it read up to the
    /// newest (`false`: it stopped at [`MOST_PER_LOOK`]; look again for the rest).
    pub async fn look(&mut self, hub: &Hub, scope: Option<Scope>) -> Result<(Vec<Change>, bool), sqlx::Error> {
        let mut after = (self.since.saturating_sub(GRACE_MS), String::new());
        let mut found = Vec::new();
        let complete = loop {
            self.reads += 1;
            let rows = hub.read_page(scope, &after).await?;
            let full = rows.len() as i64 == PAGE;
            if let Some((id, _, _, _, _, _, updated_at)) = rows.last() {
                after = (*updated_at, id.clone());
            }
            for row in rows {
                if let Some(change) = self.take_row(row) {
                    found.push(change);
                }
            }
            if !full {
                break true;
            }
            if found.len() >= MOST_PER_LOOK {
                break false;
            }
        };
        self.forget_old();
        Ok((found, complete))
    }

    /// Records a change read elsewhere (the poller's); whether it is new to this cursor.
    pub fn take(&mut self, change: &Change) -> bool {
        self.note(&change.job_id, change.at)
    }

    fn note(&mut self, job_id: &str, at: i64) -> bool {
        if self.taken.get(job_id) == Some(&at) {
            return false;
        }
        self.since = self.since.max(at);
        self.taken.insert(job_id.to_owned(), at);
        true
    }

    /// Forgets the changes before the grace window (they are never read again).
    pub fn forget_old(&mut self) {
        let oldest_kept = self.since.saturating_sub(GRACE_MS);
        self.taken.retain(|_, at| *at >= oldest_kept);
    }

    fn take_row(&mut self, row: ChangeRow) -> Option<Change> {
        let (id, kind, mailbox_id, organisation_id, reseller_id, status, at) = row;
        if !self.note(&id, at) {
            return None;
        }
        // A kind or status this build does not know is skipped (and not read again).
        let (kind, status) = (JobKind::parse(&kind)?, JobStatus::parse(&status)?);
        let json = serde_json::to_string(&JobChanged { id: id.clone(), kind, mailbox_id, status }).ok()?;
        Some(Change { job_id: id, owner: Owner { mailbox_id, organisation_id, reseller_id }, at, json })
    }
}
