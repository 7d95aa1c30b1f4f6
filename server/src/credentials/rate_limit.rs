//! Re-authentication attempts are limited per organisation and per client, so a password
//! cannot be guessed through us and a provider is not flooded. Counted in memory per
//! instance (a sliding window); over the limit the answer is 429 with `Retry-After`.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::AppError;

pub struct RateLimiter {
    per_organisation: Window,
    per_client: Window,
}

struct Window {
    limit: usize,
    span: Duration,
    seen: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl RateLimiter {
    /// At most `per_minute` attempts a minute by one client, and `per_organisation` attempts
    /// in 10 minutes on one organisation.
    pub fn new(per_minute: u32, per_organisation: u32) -> RateLimiter {
        RateLimiter {
            per_organisation: Window::new(per_organisation as usize, Duration::from_secs(600)),
            per_client: Window::new(per_minute as usize, Duration::from_secs(60)),
        }
    }

    /// Counts one attempt, or says when the next one is allowed.
    pub fn attempt(&self, organisation_id: i64, client: &str) -> Result<(), AppError> {
        let now = Instant::now();
        if let Some(wait) = self.per_client.wait(client, now) {
            return Err(limited(wait, "You have tried this too often in the last minute"));
        }
        if let Some(wait) = self.per_organisation.wait(&organisation_id.to_string(), now) {
            return Err(limited(wait, "This organisation's credentials were tried too often in the last 10 minutes"));
        }
        self.per_client.record(client, now);
        self.per_organisation.record(&organisation_id.to_string(), now);
        Ok(())
    }
}

fn limited(wait: Duration, what: &str) -> AppError {
    let secs = wait.as_secs().max(1);
    AppError::RateLimited { retry_after_secs: secs, detail: format!("{what}. Wait {secs} s, then try again.") }
}

impl Window {
    fn new(limit: usize, span: Duration) -> Window {
        Window { limit, span, seen: Mutex::new(HashMap::new()) }
    }

    fn wait(&self, key: &str, now: Instant) -> Option<Duration> {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let times = seen.entry(key.to_owned()).or_default();
        while times.front().is_some_and(|t| now.duration_since(*t) >= self.span) {
            times.pop_front();
        }
        (times.len() >= self.limit).then(|| self.span - now.duration_since(*times.front().expect("over the limit: not empty")))
    }

    fn record(&self, key: &str, now: Instant) {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).entry(key.to_owned()).or_default().push_back(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_the_limit_the_answer_says_when_to_come_back() {
        let limiter = RateLimiter::new(6, 10);
        for _ in 0..6 {
            limiter.attempt(1, "client-a").unwrap();
        }
        match limiter.attempt(1, "client-a") {
            Err(AppError::RateLimited { retry_after_secs, .. }) => assert!((1..=60).contains(&retry_after_secs)),
            other => panic!("{other:?}"),
        }
        // Another client of the same organisation still may, up to the organisation's limit.
        for _ in 0..4 {
            limiter.attempt(1, "client-b").unwrap();
        }
        assert!(matches!(limiter.attempt(1, "client-c"), Err(AppError::RateLimited { .. })));
        limiter.attempt(2, "client-d").unwrap();
    }
}
