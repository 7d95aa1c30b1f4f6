//! The second step of signing in: the password was right, and the account has a second
//! factor. The browser holds the challenge in an HttpOnly cookie of its own (five minutes,
//! sent only to `/api/session`); `POST /api/session/second-factor` answers it with a code.

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{AppendHeaders, IntoResponse, Response};
use axum::Json;
use portal_api::{ActivityAction, FieldError, SecondFactorChallenge, SecondFactorCode, SessionInfo};

use super::factor::{self, Used};
use super::session;
use super::throttle::ClientAddress;
use crate::activity::store::{record, Target};
use crate::db::now_ms;
use crate::error::{AppError, AppResult};
use crate::extract::ApiJson;
use crate::state::AppState;

pub const CHALLENGE_COOKIE: &str = "portal_challenge";
/// How long a person has to type the code.
const CHALLENGE_SECS: u32 = 300;

fn challenge_cookie(id: Option<&str>, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    let (value, age) = id.map_or(("", 0), |id| (id, CHALLENGE_SECS));
    format!("{CHALLENGE_COOKIE}={value}; Path=/api/session; HttpOnly; SameSite=Strict; Max-Age={age}{secure}")
}

/// A challenge for the user: the 202 to answer the password with.
pub async fn start(state: &AppState, user_id: i64) -> AppResult<Response> {
    let cookie = begin(state, user_id).await?;
    let body = SecondFactorChallenge {
        methods: factor::methods(state, user_id).await?,
        expires_in_secs: CHALLENGE_SECS,
    };
    Ok((axum::http::StatusCode::ACCEPTED, [(header::SET_COOKIE, cookie)], Json(body)).into_response())
}

/// Stores a new challenge for the user: the `Set-Cookie` value that hands it to the browser
/// (after a password, or after Sign in with Microsoft: our second factor is asked either way).
pub async fn begin(state: &AppState, user_id: i64) -> AppResult<String> {
    let now = now_ms();
    sqlx::query("DELETE FROM sign_in_challenges WHERE expires_at <= $1").bind(now).execute(&state.db).await?;
    let id = session::random_token();
    sqlx::query("INSERT INTO sign_in_challenges (id_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(session::hash_session_id(&id))
        .bind(user_id)
        .bind(now)
        .bind(now + i64::from(CHALLENGE_SECS) * 1000)
        .execute(&state.db)
        .await?;
    Ok(challenge_cookie(Some(&id), state.config.https()))
}

/// Ends the user's challenges under way (a new password, a removed or new second factor: a
/// challenge won before must not be finished after).
pub async fn forget(state: &AppState, user_id: i64) -> AppResult<()> {
    sqlx::query("DELETE FROM sign_in_challenges WHERE user_id = $1").bind(user_id).execute(&state.db).await?;
    Ok(())
}

/// The challenge under way (after Sign in with Microsoft, the page learns it this way): what
/// it can be answered with, and the seconds left.
#[utoipa::path(
    get, path = "/api/session/second-factor", tag = "session",
    responses(
        (status = 200, description = "A second factor is awaited", body = SecondFactorChallenge),
        (status = 401, description = "None is awaited, or its time ran out (sign in again)", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn second_factor_challenge(State(state): State<AppState>, headers: HeaderMap) -> AppResult<Json<SecondFactorChallenge>> {
    let (challenge_hash, user_id) = challenged_user(&state, &headers).await?;
    let (expires_at,): (i64,) = sqlx::query_as("SELECT expires_at FROM sign_in_challenges WHERE id_hash = $1")
        .bind(&challenge_hash)
        .fetch_optional(&state.db)
        .await?
        .ok_or_else(expired)?;
    let left = u32::try_from((expires_at - now_ms()).max(0) / 1000).unwrap_or(0);
    Ok(Json(SecondFactorChallenge { methods: factor::methods(&state, user_id).await?, expires_in_secs: left }))
}

/// The second factor: a code from the authenticator app, or a recovery code.
#[utoipa::path(
    post, path = "/api/session/second-factor", tag = "session",
    request_body = SecondFactorCode,
    responses(
        (status = 200, description = "Signed in; the session cookie is set", body = SessionInfo),
        (status = 401, description = "The code is wrong or used already, or the time to give it ran out (sign in with the password again)", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Sent from another site", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "No code given, or longer than 64 characters", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many wrong codes for this account, or from this network, lately: wait Retry-After seconds", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn second_factor(
    State(state): State<AppState>,
    client: ClientAddress,
    headers: HeaderMap,
    ApiJson(request): ApiJson<SecondFactorCode>,
) -> AppResult<Response> {
    super::reject_cross_site(&state.config, &headers)?;
    let client = client.ip(state.config.trust_forwarded_for);
    let code = request.code.trim();
    if code.is_empty() || code.chars().count() > 64 {
        return Err(AppError::Validation(vec![FieldError::new("code", "Enter the six digits your authenticator app shows, or a recovery code.")]));
    }
    let (challenge_hash, user_id) = challenged_user(&state, &headers).await?;

    state.sign_in.begin_code(user_id, client).await?;
    let address = client.map(|ip| ip.to_string());
    let Some(used) = factor::spend(&state, user_id, code).await? else {
        let mut user = super::load_user(&state, user_id, String::new()).await?;
        user.address = address;
        record(&state.db, &user, ActivityAction::SignInFailed, Target::default().named("wrong second factor")).await;
        return Err(AppError::SecondFactorRejected(
            "That code is not right, or it was used already. Enter the code your app shows now, or a recovery code.".into(),
        ));
    };
    state.sign_in.code_succeeded(user_id, client).await;
    let action = match used {
        Used::Totp => ActivityAction::SecondFactorUsed,
        Used::RecoveryCode => ActivityAction::RecoveryCodeUsed,
    };
    finish(&state, &headers, &challenge_hash, user_id, address, action, Target::default()).await
}

fn expired() -> AppError {
    AppError::SecondFactorRejected("The time to give a second factor ran out. Sign in with your password again.".into())
}

/// The challenge the browser holds (the SHA-256 of its ID) and whose it is; 401 if none.
pub(super) async fn challenged_user(state: &AppState, headers: &HeaderMap) -> AppResult<(String, i64)> {
    let challenge = session::cookie(headers, CHALLENGE_COOKIE).ok_or_else(expired)?;
    let challenge_hash = session::hash_session_id(challenge);
    let found: Option<(i64,)> = sqlx::query_as("SELECT user_id FROM sign_in_challenges WHERE id_hash = $1 AND expires_at > $2")
        .bind(&challenge_hash)
        .bind(now_ms())
        .fetch_optional(&state.db)
        .await?;
    let (user_id,) = found.ok_or_else(expired)?;
    Ok((challenge_hash, user_id))
}

/// The challenge was answered: it is used up (a second answer finds none) and a session begins.
pub(super) async fn finish(
    state: &AppState,
    headers: &HeaderMap,
    challenge_hash: &str,
    user_id: i64,
    address: Option<String>,
    action: ActivityAction,
    target: Target,
) -> AppResult<Response> {
    let taken = sqlx::query("DELETE FROM sign_in_challenges WHERE id_hash = $1").bind(challenge_hash).execute(&state.db).await?;
    if taken.rows_affected() == 0 {
        return Err(expired());
    }
    let (cookie, info) = super::begin_session(state, headers, user_id, address, action, target).await?;
    let cookies = AppendHeaders([(header::SET_COOKIE, cookie), (header::SET_COOKIE, challenge_cookie(None, state.config.https()))]);
    Ok((cookies, Json(info)).into_response())
}
