//! Signing in and out: `/api/session`.

pub mod password;
pub mod session;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use portal_api::{FieldError, SessionInfo, SignInRequest};

use crate::db::now_ms;
use crate::error::{AppError, AppResult};
use crate::extract::ApiJson;
use crate::state::AppState;
pub use session::{CurrentUser, Scope};

pub fn router() -> Router<AppState> {
    Router::new().route("/api/session", get(current_session).post(sign_in).delete(sign_out))
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
        (status = 401, description = "Email or password not recognised", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is missing or empty", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<SignInRequest>,
) -> AppResult<Response> {
    reject_cross_site(&headers)?;
    let email = request.email.trim().to_lowercase();
    let mut errors = Vec::new();
    if email.is_empty() {
        errors.push(FieldError::new("email", "Enter your email address."));
    } else if !email.contains('@') {
        errors.push(FieldError::new("email", "Enter an email address, like name@example.com."));
    }
    if request.password.is_empty() {
        errors.push(FieldError::new("password", "Enter your password."));
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }

    let user: Option<UserRow> =
        sqlx::query_as("SELECT id, password_hash FROM users WHERE email = $1").bind(&email).fetch_optional(&state.db).await?;
    // Verify even for an unknown email, so the answer's timing does not tell which emails exist.
    let stored = user.as_ref().map(|u| u.password_hash.clone()).unwrap_or_else(|| password::decoy_hash().to_owned());
    let password = request.password;
    let matches = tokio::task::spawn_blocking(move || password::verify(&password, &stored)).await.map_err(AppError::internal)?;
    let user = match user {
        Some(user) if matches => user,
        _ => return Err(AppError::InvalidCredentials),
    };

    let now = now_ms();
    let lifetime_ms = i64::from(state.config.session_hours) * 3_600_000;
    sqlx::query("DELETE FROM sessions WHERE expires_at <= $1").bind(now).execute(&state.db).await?;
    let session_id = session::random_token();
    let csrf_token = session::random_token();
    sqlx::query("INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(session::hash_session_id(&session_id))
        .bind(user.id)
        .bind(&csrf_token)
        .bind(now)
        .bind(now + lifetime_ms)
        .execute(&state.db)
        .await?;

    let current = load_user(&state, user.id, csrf_token).await?;
    let cookie = session::session_cookie(Some(&session_id), (lifetime_ms / 1000) as u64, state.config.secure_cookies);
    let info = session_info(&state, &current).await?;
    Ok(([(header::SET_COOKIE, cookie)], Json(info)).into_response())
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

/// Sign out: ends the session and clears the cookie.
#[utoipa::path(
    delete, path = "/api/session", tag = "session",
    params(("x-csrf-token" = String, Header, description = "The session's CSRF token")),
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, description = "Not signed in", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The CSRF token is missing or wrong", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn sign_out(State(state): State<AppState>, user: CurrentUser) -> AppResult<Response> {
    sqlx::query("DELETE FROM sessions WHERE id_hash = $1").bind(&user.session_hash).execute(&state.db).await?;
    state.sessions.remove(&user.session_hash);
    let cookie = session::session_cookie(None, 0, state.config.secure_cookies);
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response())
}

/// Sign-in has no session yet to carry a CSRF token; a JSON body already forces a CORS
/// preflight, and a browser's `Origin` naming another host is refused outright.
fn reject_cross_site(headers: &HeaderMap) -> AppResult<()> {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return Ok(());
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    let origin_host = origin.split_once("://").map(|(_, rest)| rest).unwrap_or(origin);
    if origin_host == host {
        Ok(())
    } else {
        Err(AppError::CsrfRejected)
    }
}

async fn load_user(state: &AppState, user_id: i64, csrf_token: String) -> AppResult<CurrentUser> {
    let mut user: CurrentUser = sqlx::query_as(
        "SELECT id AS user_id, email, display_name, role, reseller_id, organisation_id, mailbox_id, \
                '' AS csrf_token FROM users WHERE id = $1",
    )
    .bind(user_id)
    .fetch_one(&state.db)
    .await?;
    user.csrf_token = csrf_token;
    Ok(user)
}

async fn session_info(state: &AppState, user: &CurrentUser) -> AppResult<SessionInfo> {
    let scope = match user.scope() {
        Scope::Mailbox(id) => sqlx::query_as::<_, (String,)>("SELECT email FROM mailboxes WHERE id = $1").bind(id),
        Scope::Organisation(id) => sqlx::query_as::<_, (String,)>("SELECT name FROM organisations WHERE id = $1").bind(id),
        Scope::Reseller(id) => sqlx::query_as::<_, (String,)>("SELECT name FROM resellers WHERE id = $1").bind(id),
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
    })
}
