//! Sliding windows of attempts: how many times a key (a user, an organisation, an address, a
//! client) did something in the last span, and how long until it may again.
//!
//! On PostgreSQL every instance counts in the database (`rate_limit_hits`, on the database's
//! clock), so that a second instance does not double a limit: a key's attempts are counted and
//! added under a lock of that key, and a sweep removes old rows once a minute. Each instance
//! remembers the keys the database refused, until when, and refuses them again without a
//! query (a flood does not queue on the database). On SQLite, which serves one instance, they
//! are counted in memory only. Memory stays
//! bounded whatever the keys: past `MAX_KEYS`, keys whose attempts have all aged out are
//! dropped, and if that is not enough, the oldest half goes.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::db::{Backend, Db};
use crate::error::AppError;

/// A limit, counted where every instance sees it.
pub struct Window {
    limit: usize,
    span: Duration,
    /// The whole count on SQLite (one instance).
    local: Memory,
    /// The database's `rate_limit_hits`, under this limit's name (PostgreSQL).
    shared: Option<(Db, &'static str)>,
    /// PostgreSQL: keys the database refused lately, until when. Refused again without a
    /// query, so that a flood does not queue on the database; while a key is refused no
    /// success can clear it anywhere, so this never refuses one the database would let in.
    refused: Mutex<HashMap<String, Instant>>,
}

/// The database's clock in Unix ms: every instance measures the windows on one clock.
const DATABASE_NOW: &str = "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT";

impl Window {
    /// Counted in this process only (one instance, and tests).
    pub fn new(limit: usize, span: Duration) -> Window {
        Window { limit, span, local: Memory::new(limit, span), shared: None, refused: Mutex::default() }
    }

    /// Counted in the database when it is PostgreSQL (every instance together), else in memory.
    /// `name` tells this limit's rows from the others'.
    pub fn on(db: &Db, name: &'static str, limit: usize, span: Duration) -> Window {
        assert!(span.as_millis() <= LONGEST_SPAN_MS as u128, "the sweep would remove attempts {name} still counts");
        let shared = (Backend::of(db) == Backend::Postgres).then(|| (db.clone(), name));
        Window { shared, ..Window::new(limit, span) }
    }

    /// Counts one attempt of `key` unless it is over the limit (then: how long to wait), in
    /// one step, so that requests arriving together (at any instance) cannot all pass before
    /// any is counted.
    pub async fn try_record(&self, key: &str) -> Result<Option<Duration>, sqlx::Error> {
        let now = Instant::now();
        let Some((db, name)) = &self.shared else {
            return Ok(self.local.try_record(key, now));
        };
        if let Some(until) = self.refused.lock().unwrap_or_else(|e| e.into_inner()).get(key).filter(|until| **until > now) {
            return Ok(Some((*until - now).max(Duration::from_secs(1))));
        }
        let wait = self.try_record_shared(db, name, key).await?;
        if let Some(wait) = wait {
            let mut refused = self.refused.lock().unwrap_or_else(|e| e.into_inner());
            // Bounded: past MAX_KEYS, the refusals that ran out go, then all (the database
            // still counts; only the shortcut is lost).
            if refused.len() >= MAX_KEYS {
                refused.retain(|_, until| *until > now);
                if refused.len() >= MAX_KEYS {
                    refused.clear();
                }
            }
            refused.insert(key.to_owned(), now + wait);
        }
        Ok(wait)
    }

    /// Takes back the latest attempt of `key` (it turned out not to count).
    pub async fn take_back(&self, key: &str) -> Result<(), sqlx::Error> {
        self.local.take_back(key);
        self.refused.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
        if let Some((db, name)) = &self.shared {
            sqlx::query(
                "DELETE FROM rate_limit_hits WHERE ctid = (SELECT ctid FROM rate_limit_hits \
                 WHERE name = $1 AND key = $2 ORDER BY at DESC LIMIT 1)",
            )
            .bind(*name)
            .bind(key)
            .execute(db)
            .await?;
        }
        Ok(())
    }

    /// Forgets `key` (a success clears its failures).
    pub async fn forget(&self, key: &str) -> Result<(), sqlx::Error> {
        self.local.forget(key);
        self.refused.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
        if let Some((db, name)) = &self.shared {
            sqlx::query("DELETE FROM rate_limit_hits WHERE name = $1 AND key = $2").bind(*name).bind(key).execute(db).await?;
        }
        Ok(())
    }

    /// One key's attempts counted and added under a lock of that key (other keys do not
    /// wait): two statements, no rows locked, so nothing here waits on the sweep.
    async fn try_record_shared(&self, db: &Db, name: &str, key: &str) -> Result<Option<Duration>, sqlx::Error> {
        let span = i64::try_from(self.span.as_millis()).unwrap_or(i64::MAX);
        let mut tx = db.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 7405022))")
            .bind(format!("{name}:{key}"))
            .execute(&mut *tx)
            .await?;
        // The `limit`-th newest attempt still in the window: while it is, the key must wait
        // until it leaves (a limit of 0 allows nothing).
        let blocking: Option<(i64,)> = match self.limit.checked_sub(1) {
            Some(offset) => {
                sqlx::query_as(&format!(
                    "SELECT at + $3 - {DATABASE_NOW} FROM rate_limit_hits WHERE name = $1 AND key = $2 AND at > {DATABASE_NOW} - $3 \
                     ORDER BY at DESC LIMIT 1 OFFSET $4"
                ))
                .bind(name)
                .bind(key)
                .bind(span)
                .bind(offset as i64)
                .fetch_optional(&mut *tx)
                .await?
            }
            None => Some((span,)),
        };
        if let Some((left_ms,)) = blocking {
            tx.commit().await?;
            return Ok(Some(Duration::from_millis(u64::try_from(left_ms).unwrap_or(0)).max(Duration::from_secs(1))));
        }
        sqlx::query(&format!("INSERT INTO rate_limit_hits (name, key, at) VALUES ($1, $2, {DATABASE_NOW})"))
            .bind(name)
            .bind(key)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(None)
    }
}

/// The longest window any limit uses: rows older than this count for none.
const LONGEST_SPAN_MS: i64 = 15 * 60 * 1000;

/// Removes, once a minute, the attempts every window has forgotten (PostgreSQL; one instance at
/// a time does it, the others find it done). Keys that never come back leave no rows behind.
pub fn spawn_sweep(db: Db) {
    if Backend::of(&db) != Backend::Postgres {
        return;
    }
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(60));
        loop {
            every.tick().await;
            let swept = sqlx::query(&format!("DELETE FROM rate_limit_hits WHERE at <= {DATABASE_NOW} - $1"))
                .bind(LONGEST_SPAN_MS)
                .execute(&db)
                .await;
            if let Err(error) = swept {
                tracing::warn!(%error, "could not remove old rate-limit rows");
            }
        }
    });
}

/// 429 with `Retry-After`: `what` happened too often; wait this long.
pub fn too_many(wait: Duration, what: &str) -> AppError {
    let secs = wait.as_secs().max(1);
    AppError::RateLimited { retry_after_secs: secs, detail: format!("{what}. Wait {}, then try again.", in_words(secs)) }
}

/// "45 s", "14 min 57 s", "15 min": a wait as a person says it.
fn in_words(secs: u64) -> String {
    match (secs / 60, secs % 60) {
        (0, s) => format!("{s} s"),
        (m, 0) => format!("{m} min"),
        (m, s) => format!("{m} min {s} s"),
    }
}

/// Keys remembered at most by one window (a flood of made-up addresses cannot grow it).
const MAX_KEYS: usize = 50_000;

/// A window counted in this process.
struct Memory {
    limit: usize,
    span: Duration,
    seen: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl Memory {
    /// At most `limit` attempts per key in `span`. A limit of 0 allows nothing (never panics).
    fn new(limit: usize, span: Duration) -> Memory {
        Memory { limit, span, seen: Mutex::new(HashMap::new()) }
    }

    /// How long `key` must wait before its next attempt, if it is over the limit now.
    #[cfg(test)]
    fn wait(&self, key: &str, now: Instant) -> Option<Duration> {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        self.wait_in(&mut seen, key, now)
    }

    fn wait_in(&self, seen: &mut HashMap<String, VecDeque<Instant>>, key: &str, now: Instant) -> Option<Duration> {
        let Some(times) = seen.get_mut(key) else {
            return (self.limit == 0).then_some(self.span);
        };
        while times.front().is_some_and(|t| now.duration_since(*t) >= self.span) {
            times.pop_front();
        }
        if times.len() < self.limit {
            return None;
        }
        // The oldest attempt that still counts ages out first; with a limit of 0 there is none.
        let oldest = times.len().checked_sub(self.limit).and_then(|i| times.get(i)).copied();
        Some(oldest.map_or(self.span, |t| self.span.saturating_sub(now.duration_since(t))).max(Duration::from_secs(1)))
    }

    /// Counts one attempt of `key`.
    #[cfg(test)]
    fn record(&self, key: &str, now: Instant) {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        self.push(&mut seen, key, now);
    }

    /// Counts one attempt of `key` unless it is over the limit (then: how long to wait), in
    /// one step, so that requests arriving together cannot all pass before any is counted.
    fn try_record(&self, key: &str, now: Instant) -> Option<Duration> {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(wait) = self.wait_in(&mut seen, key, now) {
            return Some(wait);
        }
        self.push(&mut seen, key, now);
        None
    }

    /// Takes back the latest attempt of `key` (it turned out not to count).
    fn take_back(&self, key: &str) {
        if let Some(times) = self.seen.lock().unwrap_or_else(|e| e.into_inner()).get_mut(key) {
            times.pop_back();
        }
    }

    fn push(&self, seen: &mut HashMap<String, VecDeque<Instant>>, key: &str, now: Instant) {
        if seen.len() >= MAX_KEYS && !seen.contains_key(key) {
            let (span, limit) = (self.span, self.limit);
            let live = |times: &VecDeque<Instant>| times.iter().filter(|t| now.duration_since(**t) < span).count();
            seen.retain(|_, times| live(times) > 0);
            // Keys held at their limit are kept: a flood of other keys must not free them.
            if seen.len() >= MAX_KEYS {
                seen.retain(|_, times| live(times) >= limit.max(1));
            }
            if seen.len() >= MAX_KEYS {
                let mut newest: Vec<Instant> = seen.values().filter_map(|t| t.back().copied()).collect();
                newest.sort_unstable();
                let cut = newest[newest.len() / 2];
                seen.retain(|_, times| times.back().is_some_and(|t| *t > cut));
            }
        }
        let times = seen.entry(key.to_owned()).or_default();
        times.push_back(now);
        // Only the last `limit` attempts matter for the answer.
        while times.len() > self.limit.max(1) {
            times.pop_front();
        }
    }

    /// Forgets `key` (a success clears its failures).
    fn forget(&self, key: &str) {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
    }

    #[cfg(test)]
    fn keys(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn over_the_limit_it_says_how_long_to_wait() {
        let window = Memory::new(2, Duration::from_secs(60));
        let start = Instant::now();
        assert_eq!(window.wait("a", start), None);
        window.record("a", start);
        window.record("a", start + Duration::from_secs(10));
        assert_eq!(window.wait("a", start + Duration::from_secs(20)), Some(Duration::from_secs(40)));
        assert_eq!(window.wait("b", start), None, "keys are counted apart");
        assert_eq!(window.wait("a", start + Duration::from_secs(61)), None, "the oldest aged out");
        window.forget("a");
        assert_eq!(window.wait("a", start + Duration::from_secs(20)), None);
    }

    #[test]
    fn counting_and_checking_is_one_step_and_can_be_taken_back() {
        let window = Memory::new(2, Duration::from_secs(60));
        let now = Instant::now();
        assert_eq!(window.try_record("a", now), None);
        assert_eq!(window.try_record("a", now), None);
        assert!(window.try_record("a", now).is_some(), "the third is refused before it is checked");
        window.take_back("a");
        assert_eq!(window.try_record("a", now), None);
    }

    #[test]
    fn a_wait_reads_in_minutes_and_seconds() {
        assert_eq!(in_words(45), "45 s");
        assert_eq!(in_words(897), "14 min 57 s");
        assert_eq!(in_words(900), "15 min");
    }

    #[test]
    fn a_limit_of_zero_allows_nothing_and_does_not_panic() {
        let window = Memory::new(0, Duration::from_secs(60));
        let now = Instant::now();
        assert_eq!(window.wait("a", now), Some(Duration::from_secs(60)));
        window.record("a", now);
        assert!(window.wait("a", now).is_some());
    }

    #[test]
    fn memory_stays_bounded_whatever_the_keys() {
        let window = Memory::new(3, Duration::from_secs(60));
        let now = Instant::now();
        for i in 0..(MAX_KEYS + 10) {
            window.record(&format!("made-up-{i}@example.com"), now + Duration::from_micros(i as u64));
        }
        assert!(window.keys() <= MAX_KEYS, "{}", window.keys());
        for _ in 0..10 {
            window.record("same", now);
        }
        assert_eq!(window.seen.lock().unwrap()["same"].len(), 3);
    }
}
