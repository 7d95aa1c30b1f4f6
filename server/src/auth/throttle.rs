//! Sign-in is limited: wrong passwords are counted per address (whether it exists or not, so
//! the answer never tells which do) and per client address, and past the limit the answer is
//! 429 with `Retry-After` before any password is checked. Checking a password (Argon2id, about
//! 19 MiB and most of a core for a while) runs behind a semaphore, so a flood of sign-ins
//! cannot take every core from the rest of the server.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use tokio::sync::Semaphore;

use crate::db::Db;
use crate::error::{AppError, AppResult};
use crate::rate_limit::{too_many, Window};

/// Wrong passwords are counted over this span.
const SPAN: Duration = Duration::from_secs(15 * 60);
/// How long a sign-in waits for a free hashing slot before it is told to come back.
const HASHING_WAIT: Duration = Duration::from_secs(10);

pub struct SignInGuard {
    per_address: Window,
    per_client: Window,
    /// Wrong second factors, per account (its user ID) and per client: the same limits.
    codes_per_account: Window,
    codes_per_client: Window,
    /// Sign-ins with Microsoft begun per client (each keeps a row for ten minutes).
    sso_per_client: Window,
    /// Sign-ins with a passkey alone begun per client (each counted until it succeeds).
    passkeys_per_client: Window,
    hashing: Semaphore,
}

impl SignInGuard {
    /// At most `per_address` wrong passwords for one email and `per_client` from one client
    /// address in 15 minutes; passwords checked `hashing_slots` at a time. Counted in `db`
    /// when it is PostgreSQL (every instance together), else in memory.
    pub fn new(per_address: u32, per_client: u32, hashing_slots: usize, db: Option<&Db>) -> SignInGuard {
        let window = |name: &'static str, limit: u32| match db {
            Some(db) => Window::on(db, name, limit as usize, SPAN),
            None => Window::new(limit as usize, SPAN),
        };
        SignInGuard {
            per_address: window("sign_in_address", per_address),
            per_client: window("sign_in_client", per_client),
            codes_per_account: window("code_account", per_address),
            codes_per_client: window("code_client", per_client),
            sso_per_client: window("sso_client", per_client),
            passkeys_per_client: window("passkey_client", per_client),
            hashing: Semaphore::new(hashing_slots.max(1)),
        }
    }

    /// Half the cores (at least one): sign-ins never take the whole machine.
    pub fn default_hashing_slots() -> usize {
        std::thread::available_parallelism().map_or(1, |n| n.get() / 2).max(1)
    }

    /// Counts this sign-in as a failure before its password is checked, or answers 429 if the
    /// address or the client has failed too often lately. Counting first means requests sent
    /// together cannot all get past the limit while the first ones are being checked.
    pub async fn begin(&self, email: &str, client: Option<IpAddr>) -> AppResult<()> {
        if let Some(wait) = self.per_address.try_record(email).await? {
            return Err(too_many(wait, "There were too many wrong passwords for this email address lately"));
        }
        if let Some(wait) = client_attempt(&self.per_client, client).await? {
            self.per_address.take_back(email).await?;
            return Err(too_many(wait, "There were too many wrong passwords from your network lately"));
        }
        Ok(())
    }

    /// The password was right: it was no failure. That address starts afresh; the client's
    /// count loses this one (it may still be guessing others).
    pub async fn succeeded(&self, email: &str, client: Option<IpAddr>) {
        settle(self.per_address.forget(email).await);
        if let Some(ip) = client {
            settle(self.per_client.take_back(&client_key(ip)).await);
        }
    }

    /// The same for a second factor: counted as a failure before the code is checked, or 429
    /// if the account or the client has given too many wrong codes lately.
    pub async fn begin_code(&self, user_id: i64, client: Option<IpAddr>) -> AppResult<()> {
        let account = user_id.to_string();
        if let Some(wait) = self.codes_per_account.try_record(&account).await? {
            return Err(too_many(wait, "There were too many wrong codes for this account lately"));
        }
        if let Some(wait) = client_attempt(&self.codes_per_client, client).await? {
            self.codes_per_account.take_back(&account).await?;
            return Err(too_many(wait, "There were too many wrong codes from your network lately"));
        }
        Ok(())
    }

    /// A sign-in with Microsoft begins: at most as many per client as wrong passwords.
    pub async fn begin_sso(&self, client: Option<IpAddr>) -> AppResult<()> {
        match client_attempt(&self.sso_per_client, client).await? {
            Some(wait) => Err(too_many(wait, "There were too many sign-ins with Microsoft from your network lately")),
            None => Ok(()),
        }
    }

    /// A sign-in with a passkey alone begins: counted as a failure until it succeeds, at most
    /// as many per client as wrong passwords.
    pub async fn begin_passkey(&self, client: Option<IpAddr>) -> AppResult<()> {
        match client_attempt(&self.passkeys_per_client, client).await? {
            Some(wait) => Err(too_many(wait, "There were too many sign-ins with a passkey from your network lately")),
            None => Ok(()),
        }
    }

    /// The passkey was accepted: its attempt is not held against the client.
    pub async fn passkey_succeeded(&self, client: Option<IpAddr>) {
        if let Some(ip) = client {
            settle(self.passkeys_per_client.take_back(&client_key(ip)).await);
        }
    }

    /// The code was right: as [`SignInGuard::succeeded`].
    pub async fn code_succeeded(&self, user_id: i64, client: Option<IpAddr>) {
        settle(self.codes_per_account.forget(&user_id.to_string()).await);
        if let Some(ip) = client {
            settle(self.codes_per_client.take_back(&client_key(ip)).await);
        }
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

/// An IPv6 client is counted by its /64, which is what one network is usually given.
fn client_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// Where the request comes from: the connection's address (tests that call the router
/// directly have none), and the last address in `X-Forwarded-For` (the one a proxy of ours
/// adds; what comes before it the client could write). Which counts is the configuration's
/// choice ([`ClientAddress::ip`]), so this reads no state.
pub struct ClientAddress {
    connection: Option<IpAddr>,
    forwarded: Option<IpAddr>,
}

impl ClientAddress {
    /// The client: the forwarded address with `--trust-forwarded-for` (when there is one),
    /// else the connection's.
    pub fn ip(&self, trust_forwarded_for: bool) -> Option<IpAddr> {
        if trust_forwarded_for {
            self.forwarded.or(self.connection)
        } else {
            self.connection
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let connection = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip());
        let forwarded = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .next_back()
            .and_then(|last| last.trim().parse::<IpAddr>().ok());
        Ok(ClientAddress { connection, forwarded })
    }
}

/// One attempt of a client, counted (none when the client is not known).
async fn client_attempt(window: &Window, client: Option<IpAddr>) -> Result<Option<Duration>, sqlx::Error> {
    match client {
        Some(ip) => window.try_record(&client_key(ip)).await,
        None => Ok(None),
    }
}

/// A success that could not be written off only leaves a failure counted for the rest of its
/// window: named in the log, the sign-in goes on.
fn settle(result: Result<(), sqlx::Error>) {
    if let Err(error) = result {
        tracing::warn!(%error, "a success could not be taken off the sign-in limits");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_address_is_limited_whether_it_exists_or_not_and_a_client_across_addresses() {
        let guard = SignInGuard::new(3, 5, 1, None);
        let client = Some(IpAddr::from([192, 0, 2, 1]));
        for _ in 0..3 {
            guard.begin("nobody@example.com", client).await.unwrap();
        }
        assert!(matches!(guard.begin("nobody@example.com", None).await, Err(AppError::RateLimited { .. })));
        guard.begin("other@example.com", client).await.unwrap();
        guard.begin("third@example.com", client).await.unwrap();
        assert!(matches!(guard.begin("fourth@example.com", client).await, Err(AppError::RateLimited { .. })), "5 from one client");
        guard.begin("fourth@example.com", Some(IpAddr::from([192, 0, 2, 2]))).await.unwrap();
    }

    #[tokio::test]
    async fn a_right_password_is_no_failure_and_ipv6_counts_by_network() {
        let guard = SignInGuard::new(2, 2, 1, None);
        let client = Some(IpAddr::from([192, 0, 2, 1]));
        for _ in 0..5 {
            guard.begin("me@example.com", client).await.unwrap();
            guard.succeeded("me@example.com", client).await;
        }
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        assert_eq!(client_key(a), client_key(b));
        guard.begin("x@example.com", Some(a)).await.unwrap();
        guard.begin("y@example.com", Some(b)).await.unwrap();
        assert!(guard.begin("z@example.com", Some(b)).await.is_err(), "one /64 is one client");
    }
}
