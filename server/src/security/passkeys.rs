//! One's passkeys and security keys: register several, name them, let one sign in without the
//! password, remove them (which ends the user's other sessions). Adding one, letting one sign in
//! alone and removing one need a recent sign-in: a session taken from someone's browser later
//! cannot plant a key of its own.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use portal_api::passkey::MAX_PASSKEY_NAME_CHARS;
use portal_api::{Action, ActivityAction, FieldError, NewPasskey, PasskeyChange, PasskeyOptions, PasskeyRegistered, PasskeyRow};

use crate::activity::store::{record, Target};
use crate::auth::{factor, passkey, CurrentUser};
use crate::error::{AppError, AppResult};
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;

const FORBIDDEN: &str = "Asked with an API token: only the person signed in changes their own sign-in";
const FORBIDDEN_RECENT: &str = "Asked with an API token, or the session signed in more than 10 minutes ago (sign in again)";

/// How recent the session's sign-in must be to add a passkey, let one sign in alone, or remove one.
const RECENT_SIGN_IN_MS: i64 = 10 * 60 * 1000;

/// Refuses unless this session signed in within the last ten minutes.
async fn require_recent_sign_in(state: &AppState, user: &CurrentUser) -> AppResult<()> {
    let created: Option<(i64,)> = sqlx::query_as("SELECT created_at FROM sessions WHERE id_hash = $1")
        .bind(&user.session_hash)
        .fetch_optional(&state.db)
        .await?;
    let (created_at,) = created.ok_or(AppError::Unauthenticated)?;
    if crate::db::now_ms() - created_at > RECENT_SIGN_IN_MS {
        return Err(AppError::Forbidden(
            "For your safety, passkeys are added, let sign in on their own or removed only within 10 minutes of signing in. Sign out, sign in again, then try once more.".into(),
        ));
    }
    Ok(())
}

fn checked_name(name: &str) -> AppResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_PASSKEY_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(AppError::Validation(vec![FieldError::new(
            "name",
            "Give the passkey a name of 1 to 60 characters, such as “YubiKey on my keyring” or “Laptop”.",
        )]));
    }
    Ok(name.to_owned())
}

fn not_found() -> AppError {
    AppError::NotFound("You have no passkey with this ID.".into())
}

/// The user's passkeys, oldest first.
#[utoipa::path(
    get, path = "/api/account/passkeys", tag = "security",
    responses(
        (status = 200, description = "The user's passkeys and security keys", body = Vec<PasskeyRow>),
        (status = 403, description = FORBIDDEN, body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_passkeys(State(state): State<AppState>, user: CurrentUser) -> AppResult<Json<Vec<PasskeyRow>>> {
    crate::access::require(&user, Action::ManageOwnSecurity)?;
    Ok(Json(passkey::list(&state, user.user_id).await?.iter().map(passkey::StoredPasskey::row).collect()))
}

/// Creation options for a new passkey (the user's others excluded, so a key is not added twice).
#[utoipa::path(
    post, path = "/api/account/passkeys/options", tag = "security",
    responses(
        (status = 200, description = "Hand `public_key` to `navigator.credentials.create`, then send its answer within two minutes", body = PasskeyOptions),
        (status = 403, description = FORBIDDEN_RECENT, body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The portal is not reached at a host name (passkeys need one)", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn passkey_options(State(state): State<AppState>, user: CurrentUser) -> AppResult<Json<PasskeyOptions>> {
    crate::access::require(&user, Action::ManageOwnSecurity)?;
    require_recent_sign_in(&state, &user).await?;
    Ok(Json(passkey::begin_registration(&state, user.user_id, &user.email, &user.display_name).await?))
}

/// The browser's answer: the passkey is registered, and the user's other sessions end. The
/// first second factor of an account also brings ten recovery codes, shown this once.
#[utoipa::path(
    post, path = "/api/account/passkeys", tag = "security",
    request_body = NewPasskey,
    responses(
        (status = 201, description = "Registered; recovery codes when it is the user's first second factor; every other session of the user ended", body = PasskeyRegistered),
        (status = 403, description = FORBIDDEN_RECENT, body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 409, description = "This passkey is registered already, or the portal is not reached at a host name", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`name` is empty or too long, `ceremony` is unknown, used or ran out, `credential` did not check out, or `passwordless` was asked of a key that keeps no passkey on itself", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn add_passkey(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(input): ApiJson<NewPasskey>,
) -> AppResult<(StatusCode, Json<PasskeyRegistered>)> {
    crate::access::require(&user, Action::ManageOwnSecurity)?;
    require_recent_sign_in(&state, &user).await?;
    let name = checked_name(&input.name)?;
    let first_factor = !factor::has_second_factor(&state, user.user_id).await?;
    let stored =
        passkey::finish_registration(&state, user.user_id, &input.ceremony, input.credential, &name, input.passwordless).await?;
    // With the first second factor come recovery codes, as with an authenticator app.
    let recovery_codes = if first_factor { Some(factor::new_recovery_codes(&state, user.user_id).await?) } else { None };
    // As for an authenticator app: other sessions never gave this factor (one may be someone
    // who had only the password while a rule held them back), so they end; this one goes on,
    // let in at once (the session cache forgets the user).
    super::sessions::end_others(&state, &user).await?;
    crate::auth::challenge::forget(&state, user.user_id).await?;
    record(&state.db, &user, ActivityAction::PasskeyAdded, Target::default().named(format!("passkey “{}”", stored.name))).await;
    Ok((StatusCode::CREATED, Json(PasskeyRegistered { passkey: stored.row(), recovery_codes })))
}

/// Renames a passkey, or allows or stops its use without the password.
#[utoipa::path(
    patch, path = "/api/account/passkeys/{id}", tag = "security",
    params(("id" = String, Path, description = "The passkey's ID (`pk_…`)")),
    request_body = PasskeyChange,
    responses(
        (status = 200, description = "As it is now", body = PasskeyRow),
        (status = 403, description = "Asked with an API token, or `passwordless: true` more than 10 minutes after signing in (sign in again)", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "The user has no passkey with this ID", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Neither field sent, `name` empty or too long, or `passwordless: true` for a key that keeps no passkey on itself", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn change_passkey(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<String>,
    ApiJson(input): ApiJson<PasskeyChange>,
) -> AppResult<Json<PasskeyRow>> {
    crate::access::require(&user, Action::ManageOwnSecurity)?;
    if input.name.is_none() && input.passwordless.is_none() {
        return Err(AppError::Validation(vec![FieldError::new("name", "Send a new name, or whether it may sign in on its own.")]));
    }
    let name = input.name.as_deref().map(checked_name).transpose()?;
    let before = passkey::find(&state, user.user_id, &id).await?.ok_or_else(not_found)?;
    if input.passwordless == Some(true) {
        if before.discoverable == Some(0) {
            return Err(AppError::Validation(vec![FieldError::new("passwordless", passkey::NOT_DISCOVERABLE)]));
        }
        require_recent_sign_in(&state, &user).await?;
    }
    if !passkey::change(&state, user.user_id, &id, name.as_deref(), input.passwordless).await? {
        return Err(not_found());
    }
    let stored = passkey::find(&state, user.user_id, &id).await?.ok_or_else(not_found)?;
    let what = match input.passwordless {
        Some(true) => " may now sign in without the password",
        Some(false) => " no longer signs in without the password",
        None => "",
    };
    let renamed = if before.name == stored.name { String::new() } else { format!(" (renamed from “{}”)", before.name) };
    let named = format!("passkey “{}”{renamed}{what}", stored.name);
    record(&state.db, &user, ActivityAction::PasskeyChanged, Target::default().named(named)).await;
    Ok(Json(stored.row()))
}

/// Removes a passkey. Every other session of the user ends (one may have been opened with it),
/// and any sign-in waiting for a second factor.
#[utoipa::path(
    delete, path = "/api/account/passkeys/{id}", tag = "security",
    params(("id" = String, Path, description = "The passkey's ID (`pk_…`)")),
    responses(
        (status = 204, description = "Removed; the user's other sessions ended"),
        (status = 403, description = FORBIDDEN_RECENT, body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "The user has no passkey with this ID", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn remove_passkey(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<String>,
) -> AppResult<StatusCode> {
    crate::access::require(&user, Action::ManageOwnSecurity)?;
    let stored = passkey::find(&state, user.user_id, &id).await?.ok_or_else(not_found)?;
    require_recent_sign_in(&state, &user).await?;
    if !passkey::remove(&state, user.user_id, &id).await? {
        return Err(not_found());
    }
    super::sessions::end_others(&state, &user).await?;
    crate::auth::challenge::forget(&state, user.user_id).await?;
    record(&state.db, &user, ActivityAction::PasskeyRemoved, Target::default().named(format!("passkey “{}”", stored.name))).await;
    Ok(StatusCode::NO_CONTENT)
}
