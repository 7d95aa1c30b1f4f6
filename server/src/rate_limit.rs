//! Sliding windows of attempts, counted in memory per instance: how many times a key (a user,
//! an organisation, an address, a client) did something in the last span, and how long until
//! it may again. Memory stays bounded whatever the keys: past `MAX_KEYS`, keys whose attempts
//! have all aged out are dropped, and if that is not enough, the oldest half goes.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::AppError;

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

pub struct Window {
    limit: usize,
    span: Duration,
    seen: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl Window {
    /// At most `limit` attempts per key in `span`. A limit of 0 allows nothing (never panics).
    pub fn new(limit: usize, span: Duration) -> Window {
        Window { limit, span, seen: Mutex::new(HashMap::new()) }
    }

    /// How long `key` must wait before its next attempt, if it is over the limit now.
    pub fn wait(&self, key: &str, now: Instant) -> Option<Duration> {
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
    pub fn record(&self, key: &str, now: Instant) {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        self.push(&mut seen, key, now);
    }

    /// Counts one attempt of `key` unless it is over the limit (then: how long to wait), in
    /// one step, so that requests arriving together cannot all pass before any is counted.
    pub fn try_record(&self, key: &str, now: Instant) -> Option<Duration> {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(wait) = self.wait_in(&mut seen, key, now) {
            return Some(wait);
        }
        self.push(&mut seen, key, now);
        None
    }

    /// Takes back the latest attempt of `key` (it turned out not to count).
    pub fn take_back(&self, key: &str) {
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
    pub fn forget(&self, key: &str) {
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
        let window = Window::new(2, Duration::from_secs(60));
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
        let window = Window::new(2, Duration::from_secs(60));
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
        let window = Window::new(0, Duration::from_secs(60));
        let now = Instant::now();
        assert_eq!(window.wait("a", now), Some(Duration::from_secs(60)));
        window.record("a", now);
        assert!(window.wait("a", now).is_some());
    }

    #[test]
    fn memory_stays_bounded_whatever_the_keys() {
        let window = Window::new(3, Duration::from_secs(60));
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
