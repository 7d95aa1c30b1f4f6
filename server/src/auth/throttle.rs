//! Sign-in is limited: wrong passwords are counted per address (whether it exists or not, so
//! the answer never tells which do) and per client address, and past the limit the answer is
//! 429 with `Retry-After` before any password is checked. Checking a password (Argon2id, about
//! 19 MiB and most of a core for a while) runs behind a semaphore, so a flood of sign-ins
//! cannot take every core from the rest of the server.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use tokio::sync::Semaphore;

use crate::error::{AppError, AppResult};
use crate::rate_limit::{too_many, Window};

/// Wrong passwords are counted over this span.
const SPAN: Duration = Duration::from_secs(15 * 60);
/// How long a sign-in waits for a free hashing slot before it is told to come back.
const HASHING_WAIT: Duration = Duration::from_secs(10);

pub struct SignInGuard {
    per_address: Window,
    per_client: Window,
    hashing: Semaphore,
}

impl SignInGuard {
    /// At most `per_address` wrong passwords for one email and `per_client` from one client
    /// address in 15 minutes; passwords checked `hashing_slots` at a time.
    pub fn new(per_address: u32, per_client: u32, hashing_slots: usize) -> SignInGuard {
        SignInGuard {
            per_address: Window::new(per_address as usize, SPAN),
            per_client: Window::new(per_client as usize, SPAN),
            hashing: Semaphore::new(hashing_slots.max(1)),
        }
    }

    /// Half the cores (at least one): sign-ins never take the whole machine.
    pub fn default_hashing_slots() -> usize {
        std::thread::available_parallelism().map_or(1, |n| n.get() / 2).max(1)
    }

    /// 429 if this address or this client has failed too often lately.
    pub fn check(&self, email: &str, client: Option<IpAddr>) -> AppResult<()> {
        let now = Instant::now();
        if let Some(wait) = self.per_address.wait(email, now) {
            return Err(too_many(wait, "There were too many wrong passwords for this email address lately"));
        }
        if let Some(wait) = client.and_then(|ip| self.per_client.wait(&ip.to_string(), now)) {
            return Err(too_many(wait, "There were too many wrong passwords from your network lately"));
        }
        Ok(())
    }

    pub fn failed(&self, email: &str, client: Option<IpAddr>) {
        let now = Instant::now();
        self.per_address.record(email, now);
        if let Some(ip) = client {
            self.per_client.record(&ip.to_string(), now);
        }
    }

    /// A right password clears that address's count (the client's stays: it may be guessing
    /// others).
    pub fn succeeded(&self, email: &str) {
        self.per_address.forget(email);
    }

    /// Checks `password` against `stored` on a blocking thread, at most so many at a time;
    /// 503 with `Retry-After` if no slot frees up in time.
    pub async fn verify(&self, password: String, stored: String) -> AppResult<bool> {
        let _slot = tokio::time::timeout(HASHING_WAIT, self.hashing.acquire())
            .await
            .map_err(|_| AppError::Unavailable { retry_after_secs: 5, cause: "every password-hashing slot is busy".into() })?
            .map_err(AppError::internal)?;
        tokio::task::spawn_blocking(move || super::password::verify(&password, &stored)).await.map_err(AppError::internal)
    }
}

/// The address the connection comes from, when the server knows it (tests that call the
/// router directly have none). Behind a proxy this is the proxy's address.
pub struct ClientAddress(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddress(parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_limited_whether_it_exists_or_not_and_a_client_across_addresses() {
        let guard = SignInGuard::new(3, 5, 1);
        let client = Some(IpAddr::from([192, 0, 2, 1]));
        for _ in 0..3 {
            guard.check("nobody@example.com", client).unwrap();
            guard.failed("nobody@example.com", client);
        }
        assert!(matches!(guard.check("nobody@example.com", None), Err(AppError::RateLimited { .. })));
        guard.check("other@example.com", client).unwrap();
        guard.failed("other@example.com", client);
        guard.failed("third@example.com", client);
        assert!(matches!(guard.check("fourth@example.com", client), Err(AppError::RateLimited { .. })), "5 from one client");
        guard.check("fourth@example.com", Some(IpAddr::from([192, 0, 2, 2]))).unwrap();
    }
}
