//! One's sessions (list, end one, end the others) and one's password.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use portal_api::security::MIN_PASSWORD_CHARS;
use portal_api::{Action, ActivityAction, FieldError, PasswordChange, SessionRow, SessionsEnded};
use sha2::{Digest, Sha256};

use crate::activity::store::{record, Target};
use crate::auth::throttle::ClientAddress;
use crate::auth::CurrentUser;
use crate::db::{now_ms, rfc3339};
use crate::error::{AppError, AppResult};
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;

const FORBIDDEN: &str = "Asked with an API token: only the person signed in sees and ends their sessions";

/// The ID a session is listed under: derived from what the database keeps, never the cookie.
fn public_id(id_hash: &str) -> String {
    hex::encode(&Sha256::digest(format!("session-id:{id_hash}"))[..12])
}

#[derive(sqlx::FromRow)]
struct Row {
    id_hash: String,
    created_at: i64,
    last_seen_at: Option<i64>,
    address: Option<String>,
    user_agent: Option<String>,
}

async fn sessions_of(state: &AppState, user_id: i64) -> AppResult<Vec<Row>> {
    Ok(sqlx::query_as(
        "SELECT id_hash, created_at, last_seen_at, address, user_agent FROM sessions \
         WHERE user_id = $1 AND expires_at > $2 ORDER BY COALESCE(last_seen_at, created_at) DESC, created_at DESC",
    )
    .bind(user_id)
    .bind(now_ms())
    .fetch_all(&state.db)
    .await?)
}

/// The user's sessions that have not ended, the most recently used first.
#[utoipa::path(
    get, path = "/api/account/sessions", tag = "security",
    responses(
        (status = 200, description = "The sessions; `current` marks this one", body = [SessionRow]),
        (status = 403, description = FORBIDDEN, body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_sessions(State(state): State<AppState>, user: CurrentUser) -> AppResult<Json<Vec<SessionRow>>> {
    crate::access::require(&user, Action::ManageOwnSecurity)?;
    let rows = sessions_of(&state, user.user_id).await?;
    Ok(Json(
        rows.into_iter()
            .map(|row| SessionRow {
                id: public_id(&row.id_hash),
                created_at: rfc3339(row.created_at),
                last_seen_at: rfc3339(row.last_seen_at.unwrap_or(row.created_at)),
                address: row.address,
                browser: super::browser::describe(row.user_agent.as_deref()),
                current: row.id_hash == user.session_hash,
            })
            .collect(),
    ))
}

/// Ends one of the user's other sessions at once (on other instances within the session
/// cache's few seconds).
#[utoipa::path(
    delete, path = "/api/account/sessions/{id}", tag = "security",
    params(("id" = String, Path, description = "The session, as listed")),
    responses(
        (status = 204, description = "Ended"),
        (status = 403, description = FORBIDDEN, body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such session of yours (it may have ended already)", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 409, description = "It is the session this request came with: sign out instead", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn end_session(State(state): State<AppState>, user: CurrentUser, ApiPath(id): ApiPath<String>) -> AppResult<StatusCode> {
    crate::access::require(&user, Action::ManageOwnSecurity)?;
    let rows = sessions_of(&state, user.user_id).await?;
    let row = rows
        .into_iter()
        .find(|row| public_id(&row.id_hash) == id)
        .ok_or_else(|| AppError::not_found("There is no such session of yours; it may have ended already."))?;
    if row.id_hash == user.session_hash {
        return Err(AppError::Conflict("This is the session you are using now: sign out instead.".into()));
    }
    sqlx::query("DELETE FROM sessions WHERE id_hash = $1 AND user_id = $2").bind(&row.id_hash).bind(user.user_id).execute(&state.db).await?;
    state.sessions.remove(&row.id_hash);
    let what = super::browser::describe(row.user_agent.as_deref());
    record(&state.db, &user, ActivityAction::SessionEnded, Target::default().named(what)).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Ends every session of the user but this one. How many ended.
pub(super) async fn end_others(state: &AppState, user: &CurrentUser) -> AppResult<u64> {
    let ended = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id_hash <> $2")
        .bind(user.user_id)
        .bind(&user.session_hash)
        .execute(&state.db)
        .await?
        .rows_affected();
    state.sessions.remove_user(user.user_id);
    Ok(ended)
}

/// Ends every other session of the user ("sign out everywhere else").
#[utoipa::path(
    post, path = "/api/account/sessions/end-others", tag = "security",
    responses(
        (status = 200, description = "How many ended", body = SessionsEnded),
        (status = 403, description = FORBIDDEN, body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn end_other_sessions(State(state): State<AppState>, user: CurrentUser) -> AppResult<Json<SessionsEnded>> {
    crate::access::require(&user, Action::ManageOwnSecurity)?;
    let ended = end_others(&state, &user).await?;
    if ended > 0 {
        record(&state.db, &user, ActivityAction::SessionEnded, Target::default().named(format!("{ended} other session(s)"))).await;
    }
    Ok(Json(SessionsEnded { ended: u32::try_from(ended).unwrap_or(u32::MAX) }))
}

/// A new password, given the current one. Ends the user's other sessions.
#[utoipa::path(
    post, path = "/api/account/password", tag = "security",
    request_body = PasswordChange,
    responses(
        (status = 204, description = "Changed; every other session of the user ended"),
        (status = 403, description = FORBIDDEN, body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "The current password is wrong, or the new one is too short, too long or the same", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many wrong passwords lately: wait Retry-After seconds", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn change_own_password(
    State(state): State<AppState>,
    user: CurrentUser,
    client: ClientAddress,
    ApiJson(input): ApiJson<PasswordChange>,
) -> AppResult<StatusCode> {
    crate::access::require(&user, Action::ManageOwnSecurity)?;
    let mut errors = Vec::new();
    if input.current_password.is_empty() {
        errors.push(FieldError::new("current_password", "Enter your current password."));
    }
    let length = input.new_password.chars().count();
    if length < MIN_PASSWORD_CHARS {
        errors.push(FieldError::new("new_password", format!("Use at least {MIN_PASSWORD_CHARS} characters.")));
    } else if length > 1024 {
        errors.push(FieldError::new("new_password", "Use at most 1,024 characters."));
    } else if input.new_password == input.current_password {
        errors.push(FieldError::new("new_password", "The new password is the same as the current one."));
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    // Counted as a sign-in would be: this must not become a way round its limits.
    let client = client.ip(state.config.trust_forwarded_for);
    state.sign_in.begin(&user.email, client).await?;
    let (stored,): (String,) =
        sqlx::query_as("SELECT password_hash FROM users WHERE id = $1").bind(user.user_id).fetch_one(&state.db).await?;
    if !state.sign_in.verify(input.current_password, stored).await? {
        return Err(AppError::Validation(vec![FieldError::new("current_password", "That is not your current password.")]));
    }
    state.sign_in.succeeded(&user.email, client).await;
    let new_password = input.new_password;
    let hash = tokio::task::spawn_blocking(move || crate::auth::password::hash(&new_password)).await.map_err(AppError::internal)?;
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2").bind(hash).bind(user.user_id).execute(&state.db).await?;
    end_others(&state, &user).await?;
    crate::auth::challenge::forget(&state, user.user_id).await?;
    record(&state.db, &user, ActivityAction::PasswordChanged, Target::default()).await;
    Ok(StatusCode::NO_CONTENT)
}
