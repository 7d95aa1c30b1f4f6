//! Requests signed with an API token (`Authorization: Bearer …`): the token's owner, limited
//! to the token's access level (`access::may`). Only the token's SHA-256 is stored.

use axum::http::{header, HeaderMap};
use portal_api::TokenAccess;
use sha2::{Digest, Sha256};

use super::user::{CurrentUser, TokenAuth};
use crate::db::{now_ms, Db};
use crate::error::{AppError, AppResult};

/// What every token starts with, so that a leaked one is recognised (secret scanners) and
/// one pasted into the wrong place is told apart from a session ID.
pub const TOKEN_PREFIX: &str = "bpt_";

/// A new random token: 32 bytes from the OS, hex (session IDs, CSRF tokens, flow IDs).
pub fn random_token() -> String {
    use rand::RngCore;
    let mut bytes = [0_u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// A new API token: the prefix and 32 random bytes, hex.
pub fn new_token() -> String {
    format!("{TOKEN_PREFIX}{}", random_token())
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The token of an `Authorization: Bearer` header: `None` without one, or with another scheme
/// (a proxy's own Basic authentication, say: the session cookie then decides); an error for a
/// Bearer header without a token.
pub fn bearer(headers: &HeaderMap) -> AppResult<Option<&str>> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().unwrap_or("").trim_start();
    let (scheme, token) = value.split_once(char::is_whitespace).unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Ok(None);
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(AppError::TokenRejected("The Authorization header has no token after `Bearer`.".into()));
    }
    Ok(Some(token))
}

#[derive(sqlx::FromRow)]
struct StoredToken {
    #[sqlx(flatten)]
    user: CurrentUser,
    token_id: String,
    token_name: String,
    #[sqlx(try_from = "String")]
    access: TokenAccess,
    expires_at: i64,
    revoked_at: Option<i64>,
    last_used_at: Option<i64>,
    last_used_from: Option<String>,
}

/// The owner of `token`, or 401 saying why not; 429 past the token's requests a minute
/// (`limits`), before its last use is written. Read from the database on every request (no
/// cache), so that a revoked token is refused at once on every instance.
pub async fn authenticate(
    db: &Db,
    token: &str,
    address: Option<String>,
    limits: &crate::rate_limit::Window,
    per_minute: u32,
) -> AppResult<CurrentUser> {
    let stored: Option<StoredToken> = sqlx::query_as(
        "SELECT u.id AS user_id, u.email, u.display_name, u.role, u.reseller_id, u.organisation_id, u.mailbox_id, \
                '' AS csrf_token, t.id AS token_id, t.name AS token_name, t.access, t.expires_at, t.revoked_at, \
                t.last_used_at, t.last_used_from \
         FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1",
    )
    .bind(hash_token(token))
    .fetch_optional(db)
    .await?;
    let Some(stored) = stored else {
        return Err(AppError::TokenRejected("This API token is not known. Check that it was copied whole.".into()));
    };
    let now = now_ms();
    if stored.revoked_at.is_some() {
        return Err(AppError::TokenRejected(format!("The API token “{}” was revoked. Create a new one.", stored.token_name)));
    }
    if stored.expires_at <= now {
        return Err(AppError::TokenRejected(format!("The API token “{}” has expired. Create a new one.", stored.token_name)));
    }
    if let Some(wait) = limits.try_record(&stored.token_id).await? {
        let what = format!("This API token made more than {per_minute} requests in the last minute");
        return Err(crate::rate_limit::too_many(wait, &what));
    }
    // Last use to the minute: a script's every request does not write.
    // (A new address counts sooner, but not on every request of a client whose address rotates.)
    let stale = stored.last_used_at.is_none_or(|at| now - at >= 60_000 || (stored.last_used_from != address && now - at >= 5_000));
    if stale {
        sqlx::query("UPDATE api_tokens SET last_used_at = $1, last_used_from = $2 WHERE id = $3")
            .bind(now)
            .bind(&address)
            .bind(&stored.token_id)
            .execute(db)
            .await?;
    }
    let mut user = stored.user;
    user.token = Some(TokenAuth { id: stored.token_id, name: stored.token_name, access: stored.access });
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn only_a_bearer_token_is_taken() {
        let mut headers = HeaderMap::new();
        assert!(matches!(bearer(&headers), Ok(None)));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer bpt_abc"));
        assert_eq!(bearer(&headers).unwrap(), Some("bpt_abc"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("bearer  bpt_abc "));
        assert_eq!(bearer(&headers).unwrap(), Some("bpt_abc"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic dXNlcjpwYXNz"));
        assert!(matches!(bearer(&headers), Ok(None)), "another scheme is not ours: the cookie decides");
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer\tbpt_abc"));
        assert_eq!(bearer(&headers).unwrap(), Some("bpt_abc"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert!(bearer(&headers).is_err());
        assert!(new_token().starts_with(TOKEN_PREFIX) && new_token().len() == TOKEN_PREFIX.len() + 64);
    }
}
