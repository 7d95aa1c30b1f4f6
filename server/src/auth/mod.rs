//! Signing in and out: `/api/session`.

pub mod challenge;
pub mod factor;
pub mod passkey;
pub(crate) mod passkey_sign_in;
pub mod password;
pub mod session;
pub mod throttle;
pub mod token;
pub mod user;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use portal_api::{FieldError, SessionInfo, SignInRequest};

use crate::error::{AppError, AppResult};
use crate::extract::ApiJson;
use crate::state::AppState;
pub use session::CurrentUser;
use throttle::ClientAddress;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/session", get(current_session).post(sign_in).delete(sign_out))
        .route("/api/session/second-factor", get(challenge::second_factor_challenge).post(challenge::second_factor))
        .route("/api/session/second-factor/passkey/options", axum::routing::post(passkey_sign_in::second_factor_passkey_options))
        .route("/api/session/second-factor/passkey", axum::routing::post(passkey_sign_in::second_factor_passkey))
        .route("/api/session/passkey/options", axum::routing::post(passkey_sign_in::passkey_sign_in_options))
        .route("/api/session/passkey", axum::routing::post(passkey_sign_in::sign_in_with_passkey))
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: i64,
    password_hash: String,
}

/// Sign in with email and password; sets the session cookie.
#[utoipa::path(
    post, path = "/api/session", tag = "session",
    request_body = SignInRequest,
    responses(
        (status = 200, description = "Signed in; the session cookie is set", body = SessionInfo),
        (status = 202, description = "The password is right and the account has a second factor: answer with `POST /api/session/second-factor` (the challenge is in a cookie)", body = portal_api::SecondFactorChallenge),
        (status = 401, description = "Email or password not recognised", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Sent from another site (the browser's Origin is not this portal), or the user's organisation signs in with Microsoft only (Enforce SSO)", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing or empty", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many wrong passwords for this address, or from this network, lately: wait Retry-After seconds", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 503, description = "Too many sign-ins at once: wait Retry-After seconds", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn sign_in(
    State(state): State<AppState>,
    client: ClientAddress,
    headers: HeaderMap,
    ApiJson(request): ApiJson<SignInRequest>,
) -> AppResult<Response> {
    reject_cross_site(&state.config, &headers)?;
    let client = client.ip(state.config.trust_forwarded_for);
    let email = request.email.trim().to_lowercase();
    let mut errors = Vec::new();
    if email.is_empty() {
        errors.push(FieldError::new("email", "Enter your email address."));
    } else if email.len() > 254 {
        errors.push(FieldError::new("email", "An email address is at most 254 characters."));
    } else if !email.contains('@') {
        errors.push(FieldError::new("email", "Enter an email address, like name@example.com."));
    }
    if request.password.is_empty() {
        errors.push(FieldError::new("password", "Enter your password."));
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }

    // Counted before any password is checked: a flood costs us nothing but this.
    state.sign_in.begin(&email, client).await?;
    let user: Option<UserRow> =
        sqlx::query_as("SELECT id, password_hash FROM users WHERE email = $1")
            .bind(&email)
            .fetch_optional(&state.db)
            .await?;
    // Verify even for an unknown email, so the answer's timing does not tell which emails exist.
    let stored = user.as_ref().map(|u| u.password_hash.clone()).unwrap_or_else(|| password::decoy_hash().to_owned());
    let matches = state.sign_in.verify(request.password, stored).await?;
    let address = client.map(|ip| ip.to_string());
    let user = match user {
        Some(user) if matches => user,
        Some(user) => {
            // A wrong password for an account that exists: its organisation's log says so,
            // written after the answer so that its timing does not tell the account exists.
            let (state, user_id) = (state.clone(), user.id);
            tokio::spawn(async move {
                if let Ok(mut known) = load_user(&state, user_id, String::new()).await {
                    known.address = address;
                    let target = crate::activity::store::Target::default().named("wrong password");
                    crate::activity::store::record(&state.db, &known, portal_api::ActivityAction::SignInFailed, target).await;
                }
            });
            return Err(AppError::InvalidCredentials);
        }
        None => {
            tracing::info!(client = ?address, "sign-in with an email that has no account");
            return Err(AppError::InvalidCredentials);
        }
    };
    state.sign_in.succeeded(&email, client).await;
    // Asked only once the password is right: a guesser learns nothing of the organisation.
    refuse_if_sso_only(&state, user.id, &address, "password", "your password").await?;
    if factor::has_second_factor(&state, user.id).await? {
        return challenge::start(&state, user.id).await;
    }
    let target = crate::activity::store::Target::default();
    let (cookie, info) = begin_session(&state, &headers, user.id, address, portal_api::ActivityAction::SignIn, target).await?;
    Ok(([(header::SET_COOKIE, cookie)], Json(info)).into_response())
}

/// Refuses (403, and a failed sign-in in the activity log) a user whose organisation signs in
/// with Microsoft only, unless they are its break-glass admin. `refused`: what was refused
/// ("password"); `instead_of`: the same in the message ("your password").
pub(crate) async fn refuse_if_sso_only(
    state: &AppState,
    user_id: i64,
    address: &Option<String>,
    refused: &str,
    instead_of: &str,
) -> AppResult<()> {
    let Some(organisation) = sso_only(state, user_id).await? else {
        return Ok(());
    };
    let mut known = load_user(state, user_id, String::new()).await?;
    known.address = address.clone();
    let target = crate::activity::store::Target::default().named(format!("{refused} refused: sign-in with Microsoft required"));
    crate::activity::store::record(&state.db, &known, portal_api::ActivityAction::SignInFailed, target).await;
    Err(AppError::Forbidden(format!("{organisation} signs in with Microsoft: choose “Sign in with Microsoft” instead of {instead_of}.")))
}

/// A new session for a user who has proved who they are: stored, recorded in the activity log
/// (`action`), and its `Set-Cookie` value with what `GET /api/session` would answer.
pub(crate) async fn begin_session(
    state: &AppState,
    headers: &HeaderMap,
    user_id: i64,
    address: Option<String>,
    action: portal_api::ActivityAction,
    target: crate::activity::store::Target,
) -> AppResult<(String, SessionInfo)> {
    let user_agent = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok());
    let (cookie, csrf_token) = session::create(state, user_id, address.clone(), user_agent).await?;
    let mut user = load_user(state, user_id, csrf_token).await?;
    user.address = address;
    crate::activity::store::record(&state.db, &user, action, target).await;
    Ok((cookie, session_info(state, &user).await?))
}

/// The signed-in user and the session's CSRF token.
#[utoipa::path(
    get, path = "/api/session", tag = "session",
    responses(
        (status = 200, description = "The signed-in user", body = SessionInfo),
        (status = 401, description = "Not signed in, or the session ended", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn current_session(State(state): State<AppState>, user: CurrentUser) -> AppResult<Json<SessionInfo>> {
    Ok(Json(session_info(&state, &user).await?))
}

/// Sign out: ends this session and every other session of the same user (a person who signs
/// out on one device is signed out everywhere), and clears the cookie.
#[utoipa::path(
    delete, path = "/api/session", tag = "session",
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, description = "Not signed in", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The CSRF token is missing or wrong", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn sign_out(State(state): State<AppState>, user: CurrentUser) -> AppResult<Response> {
    crate::access::in_person(&user)?;
    sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(user.user_id).execute(&state.db).await?;
    // At once on this instance; the others look sessions up again within SESSION_CACHE_TTL.
    state.sessions.remove_user(user.user_id);
    state.live.close_user(user.user_id);
    crate::activity::store::record(&state.db, &user, portal_api::ActivityAction::SignOut, crate::activity::store::Target::default()).await;
    let cookie = session::session_cookie(None, 0, state.config.https());
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response())
}

/// Sign-in has no session yet to carry a CSRF token; a JSON body already forces a CORS
/// preflight, and a browser's `Origin` naming another site is refused outright. The portal's
/// origin is `--public-url` (behind a proxy the `Host` header is the proxy's business); without
/// one configured, the `Host` the browser used.
pub(crate) fn reject_cross_site(config: &crate::config::Config, headers: &HeaderMap) -> AppResult<()> {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return Ok(());
    };
    // A public URL at a loopback address is also reached at localhost, where passkeys work
    // (`passkey::relying_party_origin`).
    let passkeys_at = || passkey::relying_party_origin(config).map(|(_, url)| url.origin().ascii_serialization());
    let allowed = match &config.public_url {
        Some(_) => {
            origin_of(&config.public_url()).is_some_and(|public| public.eq_ignore_ascii_case(origin))
                || passkeys_at().is_some_and(|at| at.eq_ignore_ascii_case(origin))
        }
        None => {
            let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
            let origin_host = origin.split_once("://").map(|(_, rest)| rest).unwrap_or(origin);
            !host.is_empty() && origin_host.eq_ignore_ascii_case(host)
        }
    };
    if allowed {
        Ok(())
    } else {
        Err(AppError::CsrfRejected)
    }
}

/// `scheme://host[:port]` of a URL, as a browser's `Origin` names it.
fn origin_of(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    let end = rest.find('/').map_or(url.len(), |i| scheme.len() + 3 + i);
    Some(&url[..end])
}

/// The name of the user's organisation when it enforces sign-in with Microsoft and the user is
/// not the admin it named to keep their password (break glass).
async fn sso_only(state: &AppState, user_id: i64) -> AppResult<Option<String>> {
    let found: Option<(String,)> = sqlx::query_as(
        "SELECT o.name FROM users u LEFT JOIN mailboxes m ON m.id = u.mailbox_id \
         JOIN organisations o ON o.id = COALESCE(u.organisation_id, m.organisation_id) \
         WHERE u.id = $1 AND o.enforce_sso <> 0 AND (o.break_glass_user_id IS NULL OR o.break_glass_user_id <> u.id)",
    )
    .bind(user_id)
    .fetch_optional(&state.db)
    .await?;
    Ok(found.map(|(name,)| name))
}

#[derive(sqlx::FromRow)]
struct LoadedUser {
    #[sqlx(flatten)]
    user: CurrentUser,
    must_enrol: i64,
}

pub(crate) async fn load_user(state: &AppState, user_id: i64, csrf_token: String) -> AppResult<CurrentUser> {
    let loaded: LoadedUser = sqlx::query_as(&format!(
        "SELECT u.id AS user_id, u.email, u.display_name, u.role, u.reseller_id, u.organisation_id, u.mailbox_id, \
                '' AS csrf_token, {} AS must_enrol FROM users u WHERE u.id = $1",
        session::MUST_ENROL_SQL
    ))
    .bind(user_id)
    .fetch_one(&state.db)
    .await?;
    let mut user = loaded.user;
    user.csrf_token = csrf_token;
    user.must_enrol = loaded.must_enrol != 0;
    Ok(user)
}

pub(crate) async fn session_info(state: &AppState, user: &CurrentUser) -> AppResult<SessionInfo> {
    let scope = match crate::access::scope(user) {
        crate::access::Scope::Mailbox(id) => sqlx::query_as::<_, (String,)>("SELECT email FROM mailboxes WHERE id = $1").bind(id),
        crate::access::Scope::Organisation(id) => {
            sqlx::query_as::<_, (String,)>("SELECT name FROM organisations WHERE id = $1").bind(id)
        }
        crate::access::Scope::Reseller(id) => sqlx::query_as::<_, (String,)>("SELECT name FROM resellers WHERE id = $1").bind(id),
    }
    .fetch_optional(&state.db)
    .await?
    .map(|(name,)| name)
    .unwrap_or_default();
    Ok(SessionInfo {
        email: user.email.clone(),
        display_name: user.display_name.clone(),
        role: user.role(),
        scope,
        csrf_token: user.csrf_token.clone(),
        must_enrol_two_factor: user.must_enrol,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_origin(origin: &str, host: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ORIGIN, HeaderValue::from_str(origin).unwrap());
        headers.insert(header::HOST, HeaderValue::from_str(host).unwrap());
        headers
    }

    #[test]
    fn behind_a_proxy_the_origin_is_compared_with_the_public_url_not_the_host() {
        let mut config = crate::config::Config::for_database("sqlite::memory:");
        config.public_url = Some("https://backup.example.com/".into());
        assert!(reject_cross_site(&config, &with_origin("https://backup.example.com", "10.0.0.5:8080")).is_ok());
        assert!(reject_cross_site(&config, &with_origin("https://evil.example", "backup.example.com")).is_err());
        assert!(reject_cross_site(&config, &with_origin("http://backup.example.com", "backup.example.com")).is_err());
        config.public_url = None;
        assert!(reject_cross_site(&config, &with_origin("http://127.0.0.1:8080", "127.0.0.1:8080")).is_ok());
        assert!(reject_cross_site(&config, &with_origin("http://evil.example", "127.0.0.1:8080")).is_err());
        assert_eq!(origin_of("https://a.example:8443/portal/"), Some("https://a.example:8443"));
    }
}
