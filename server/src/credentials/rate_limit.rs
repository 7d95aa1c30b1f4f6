//! Re-authentication attempts are limited per organisation and per client, so a password
//! cannot be guessed through us and a provider is not flooded. Sliding windows, counted by
//! every instance together on PostgreSQL; over the limit the answer is 429 with `Retry-After`.

use std::time::Duration;

use crate::db::Db;
use crate::error::AppError;
use crate::rate_limit::{too_many, Window};

pub struct RateLimiter {
    per_organisation: Window,
    per_client: Window,
}

impl RateLimiter {
    /// At most `per_minute` attempts a minute by one client, and `per_organisation` attempts
    /// in 10 minutes on one organisation.
    /// Counted in `db` when it is PostgreSQL, else in memory.
    pub fn new(per_minute: u32, per_organisation: u32, db: Option<&Db>) -> RateLimiter {
        let window = |name: &'static str, limit: u32, span: Duration| match db {
            Some(db) => Window::on(db, name, limit as usize, span),
            None => Window::new(limit as usize, span),
        };
        RateLimiter {
            per_organisation: window("reauth_organisation", per_organisation, Duration::from_secs(600)),
            per_client: window("reauth_client", per_minute, Duration::from_secs(60)),
        }
    }

    /// Counts one attempt, or says when the next one is allowed.
    pub async fn attempt(&self, organisation_id: i64, client: &str) -> Result<(), AppError> {
        if let Some(wait) = self.per_client.try_record(client).await? {
            return Err(too_many(wait, "You have tried this too often in the last minute"));
        }
        if let Some(wait) = self.per_organisation.try_record(&organisation_id.to_string()).await? {
            // Refused, so not counted against the client either.
            self.per_client.take_back(client).await?;
            return Err(too_many(wait, "This organisation's credentials were tried too often in the last 10 minutes"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn past_the_limit_the_answer_says_when_to_come_back() {
        let limiter = RateLimiter::new(6, 10, None);
        for _ in 0..6 {
            limiter.attempt(1, "client-a").await.unwrap();
        }
        match limiter.attempt(1, "client-a").await {
            Err(AppError::RateLimited { retry_after_secs, .. }) => assert!((1..=60).contains(&retry_after_secs)),
            other => panic!("{other:?}"),
        }
        // Another client of the same organisation still may, up to the organisation's limit.
        for _ in 0..4 {
            limiter.attempt(1, "client-b").await.unwrap();
        }
        assert!(matches!(limiter.attempt(1, "client-c").await, Err(AppError::RateLimited { .. })));
        limiter.attempt(2, "client-d").await.unwrap();
    }
}
