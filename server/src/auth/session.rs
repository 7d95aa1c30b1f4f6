//! Sessions: a random ID in an HttpOnly, SameSite=Lax cookie; the database keeps only its
//! SHA-256, with the user and the session's CSRF token.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method};
use portal_api::{Role, CSRF_HEADER};

use crate::db::now_ms;
use crate::error::AppError;
use crate::state::AppState;

pub use super::user::CurrentUser;

pub const SESSION_COOKIE: &str = "portal_session";

#[derive(sqlx::FromRow)]
struct StoredSession {
    #[sqlx(flatten)]
    user: CurrentUser,
    expires_at: i64,
    must_enrol: i64,
    last_seen_at: Option<i64>,
}

/// Whether the user (as `u`) must sign in with a second factor: their organisation (a
/// mailbox's, for an end user), that organisation's reseller, or (for a reseller's own user)
/// their reseller requires one. A macro, so that both SQL texts below are constants.
macro_rules! two_factor_required {
    () => {
        "(EXISTS (SELECT 1 FROM organisations ro JOIN resellers rr ON rr.id = ro.reseller_id \
                  WHERE ro.id = COALESCE(u.organisation_id, (SELECT rm.organisation_id FROM mailboxes rm WHERE rm.id = u.mailbox_id)) \
                    AND (ro.require_two_factor <> 0 OR rr.require_two_factor <> 0)) \
          OR EXISTS (SELECT 1 FROM resellers r3 WHERE r3.id = u.reseller_id AND r3.require_two_factor <> 0))"
    };
}

/// Whether the user (as `u`) has a second factor: an authenticator app or a passkey.
macro_rules! has_second_factor {
    () => {
        "(u.totp_enrolled_at IS NOT NULL OR EXISTS (SELECT 1 FROM passkeys pk WHERE pk.user_id = u.id))"
    };
}

/// 1 when the user (as `u`) has a second factor, else 0.
pub const HAS_SECOND_FACTOR_SQL: &str = concat!("CAST(CASE WHEN ", has_second_factor!(), " THEN 1 ELSE 0 END AS BIGINT)");

/// 1 when a second factor is required of the user (as `u`), else 0.
pub const TWO_FACTOR_REQUIRED_SQL: &str = concat!("CAST(CASE WHEN ", two_factor_required!(), " THEN 1 ELSE 0 END AS BIGINT)");

/// 1 when the user (as `u`) must enrol a second factor before anything else: one is required
/// and they have none.
pub const MUST_ENROL_SQL: &str =
    concat!("CAST(CASE WHEN NOT ", has_second_factor!(), " AND ", two_factor_required!(), " THEN 1 ELSE 0 END AS BIGINT)");

/// How often a session's "last seen" is written at most.
const LAST_SEEN_EVERY_MS: i64 = 60_000;

/// What a user who must enrol a second factor may still reach: who they are, signing out,
/// and enrolling. Everything else is 403 until they have.
pub fn allowed_while_enrolling(method: &Method, path: &str) -> bool {
    matches!(
        (method.as_str(), path),
        ("GET" | "DELETE", "/api/session")
            | ("GET", "/api/account/two-factor" | "/api/account/sessions")
            | ("GET", "/api/account/passkeys")
            | ("POST", "/api/account/two-factor/totp" | "/api/account/two-factor/totp/confirm")
            | ("POST", "/api/account/passkeys/options" | "/api/account/passkeys")
    )
}

impl crate::access::Principal for CurrentUser {
    fn role(&self) -> Role {
        CurrentUser::role(self)
    }
    fn reseller_id(&self) -> Option<i64> {
        self.reseller_id
    }
    fn organisation_id(&self) -> Option<i64> {
        self.organisation_id
    }
    fn mailbox_id(&self) -> Option<i64> {
        self.mailbox_id
    }
    fn token_access(&self) -> Option<portal_api::TokenAccess> {
        self.token.as_ref().map(|token| token.access)
    }
}

impl CurrentUser {
    pub fn role(&self) -> Role {
        Role::parse(&self.role).unwrap_or(Role::EndUser)
    }
}

impl<S> FromRequestParts<S> for CurrentUser
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let state = AppState::from_ref(state);
        let address = {
            let Ok(client) = super::throttle::ClientAddress::from_request_parts(parts, &()).await;
            client.ip(state.config.trust_forwarded_for).map(|ip| ip.to_string())
        };
        // A token request is the token's alone: no cookie is read, and no CSRF token is needed
        // (a browser never adds an Authorization header to another site's request by itself).
        if let Some(token) = super::token::bearer(&parts.headers)? {
            let limit = state.config.token_requests_per_minute;
            let user = super::token::authenticate(&state.db, token, address.clone(), &state.token_limits, limit).await?;
            // A token acts as its owner: an owner who must enrol a second factor first is
            // stopped here too (everything enrolling needs is for a person, not a token).
            let (must_enrol,): (i64,) = sqlx::query_as(&format!("SELECT {MUST_ENROL_SQL} FROM users u WHERE u.id = $1"))
                .bind(user.user_id)
                .fetch_one(&state.db)
                .await?;
            if must_enrol != 0 {
                return Err(AppError::Forbidden(
                    "This token's owner must set up two-factor sign-in first (their organisation requires it): until then the token is refused.".into(),
                ));
            }
            return Ok(CurrentUser { address, ..user });
        }
        let session_id = cookie(&parts.headers, SESSION_COOKIE).ok_or(AppError::Unauthenticated)?;
        let session_hash = hash_session_id(session_id);
        let user = match state.sessions.get(&session_hash) {
            Some(user) => user,
            None => {
                let now = now_ms();
                let stored = sqlx::query_as::<_, StoredSession>(&format!(
                    "SELECT u.id AS user_id, u.email, u.display_name, u.role, u.reseller_id, u.organisation_id, \
                            u.mailbox_id, s.csrf_token, s.expires_at, s.last_seen_at, {MUST_ENROL_SQL} AS must_enrol \
                     FROM sessions s JOIN users u ON u.id = s.user_id \
                     WHERE s.id_hash = $1 AND s.expires_at > $2"
                ))
                .bind(&session_hash)
                .bind(now)
                .fetch_optional(&state.db)
                .await?
                .ok_or(AppError::Unauthenticated)?;
                if stored.last_seen_at.is_none_or(|seen| seen < now - LAST_SEEN_EVERY_MS) {
                    sqlx::query("UPDATE sessions SET last_seen_at = $1, address = COALESCE($2, address) WHERE id_hash = $3")
                        .bind(now)
                        .bind(&address)
                        .bind(&session_hash)
                        .execute(&state.db)
                        .await?;
                }
                let mut user = stored.user;
                user.session_hash = session_hash;
                user.must_enrol = stored.must_enrol != 0;
                state.sessions.put(user.clone(), stored.expires_at);
                user
            }
        };

        // The path as the client sent it (a nested router would see it without its prefix).
        let path = parts.extensions.get::<axum::extract::OriginalUri>().map_or(parts.uri.path(), |uri| uri.0.path());
        if user.must_enrol && !allowed_while_enrolling(&parts.method, path) {
            return Err(AppError::Forbidden(
                "Your organisation requires two-factor sign-in: set up an authenticator app or add a passkey in Account › Security first.".into(),
            ));
        }
        if changes_state(&parts.method) {
            let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
            if !constant_time_eq(sent.as_bytes(), user.csrf_token.as_bytes()) {
                return Err(AppError::CsrfRejected);
            }
        }
        Ok(CurrentUser { address, ..user })
    }
}

/// A new session for `user_id`: stored (its SHA-256, the client's address and browser), and the
/// `Set-Cookie` value and CSRF token to give the browser.
pub async fn create(state: &AppState, user_id: i64, address: Option<String>, user_agent: Option<&str>) -> Result<(String, String), AppError> {
    let now = now_ms();
    let lifetime_ms = i64::from(state.config.session_hours) * 3_600_000;
    sqlx::query("DELETE FROM sessions WHERE expires_at <= $1").bind(now).execute(&state.db).await?;
    let session_id = random_token();
    let csrf_token = random_token();
    // A User-Agent is the browser's to write: kept short, shown only as "Chrome on Windows".
    let user_agent: Option<String> = user_agent.map(|ua| ua.chars().take(300).collect());
    sqlx::query(
        "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, expires_at, last_seen_at, address, user_agent) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(hash_session_id(&session_id))
    .bind(user_id)
    .bind(&csrf_token)
    .bind(now)
    .bind(now + lifetime_ms)
    .bind(now)
    .bind(address)
    .bind(user_agent)
    .execute(&state.db)
    .await?;
    let cookie = session_cookie(Some(&session_id), (lifetime_ms / 1000) as u64, state.config.https());
    Ok((cookie, csrf_token))
}

pub fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

pub use super::token::random_token;

/// What the database keeps of a session ID: its SHA-256, as an API token's.
pub fn hash_session_id(session_id: &str) -> String {
    super::token::hash_token(session_id)
}

/// The `Set-Cookie` value that gives the browser a session, or (with `None`) takes it away.
pub fn session_cookie(session_id: Option<&str>, max_age_secs: u64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    match session_id {
        Some(id) => format!("{SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}"),
        None => format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}"),
    }
}

pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
        .filter(|value| !value.is_empty())
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0_u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn finds_the_session_cookie_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("theme=dark; portal_session=abc123; x=y"));
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("abc123"));
        headers.insert(header::COOKIE, HeaderValue::from_static("portal_session="));
        assert_eq!(cookie(&headers, SESSION_COOKIE), None);
    }

    #[test]
    fn cookie_is_http_only_and_lax_and_secure_when_asked() {
        let set = session_cookie(Some("id"), 60, true);
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Lax") && set.ends_with("; Secure"));
        assert!(session_cookie(None, 0, false).contains("Max-Age=0"));
    }

    #[test]
    fn tokens_are_random_and_compared_in_full() {
        assert_ne!(random_token(), random_token());
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
