//! Re-authentication attempts are limited per organisation and per client, so a password
//! cannot be guessed through us and a provider is not flooded. Counted in memory per
//! instance (a sliding window); over the limit the answer is 429 with `Retry-After`.

use std::time::{Duration, Instant};

use crate::error::AppError;
use crate::rate_limit::{too_many, Window};

pub struct RateLimiter {
    per_organisation: Window,
    per_client: Window,
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
            return Err(too_many(wait, "You have tried this too often in the last minute"));
        }
        if let Some(wait) = self.per_organisation.wait(&organisation_id.to_string(), now) {
            return Err(too_many(wait, "This organisation's credentials were tried too often in the last 10 minutes"));
        }
        self.per_client.record(client, now);
        self.per_organisation.record(&organisation_id.to_string(), now);
        Ok(())
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
