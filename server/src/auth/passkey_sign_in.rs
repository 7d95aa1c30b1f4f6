//! Signing in with a passkey: as the second factor after the password (the challenge cookie of
//! `challenge.rs` says whose), or alone where the user allowed that passkey to (it proves
//! both possession and, by its PIN or biometrics, the person: two factors in one).

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use portal_api::{ActivityAction, PasskeyAssertion, PasskeyOptions, SessionInfo};

use super::challenge;
use super::passkey;
use super::throttle::ClientAddress;
use crate::activity::store::{record, Target};
use crate::error::{AppError, AppResult};
use crate::extract::ApiJson;
use crate::state::AppState;

/// Request options naming the challenged user's passkeys.
#[utoipa::path(
    post, path = "/api/session/second-factor/passkey/options", tag = "session",
    responses(
        (status = 200, description = "Hand `public_key` to `navigator.credentials.get`, then answer within two minutes", body = PasskeyOptions),
        (status = 401, description = "No password was accepted lately (the challenge cookie is missing or ran out)", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Sent from another site", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The account has no passkey, or the portal is not reached at a host name (passkeys need one)", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn second_factor_passkey_options(State(state): State<AppState>, headers: HeaderMap) -> AppResult<Json<PasskeyOptions>> {
    super::reject_cross_site(&state.config, &headers)?;
    let (_, user_id) = challenge::challenged_user(&state, &headers).await?;
    passkey::begin_second_factor(&state, user_id)
        .await?
        .map(Json)
        .ok_or_else(|| AppError::Conflict("This account has no passkey: use the code from your authenticator app.".into()))
}

/// The passkey's answer as the second factor: the session begins.
#[utoipa::path(
    post, path = "/api/session/second-factor/passkey", tag = "session",
    request_body = PasskeyAssertion,
    responses(
        (status = 200, description = "Signed in; the session cookie is set", body = SessionInfo),
        (status = 401, description = "The passkey's answer did not check out, or the time to give it ran out", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Sent from another site", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The portal is not reached at a host name (passkeys need one)", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`ceremony` is unknown, used or ran out", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many refused second factors for this account, or from this network, lately: wait Retry-After seconds", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn second_factor_passkey(
    State(state): State<AppState>,
    client: ClientAddress,
    headers: HeaderMap,
    ApiJson(answer): ApiJson<PasskeyAssertion>,
) -> AppResult<Response> {
    super::reject_cross_site(&state.config, &headers)?;
    let client = client.ip(state.config.trust_forwarded_for);
    let address = client.map(|ip| ip.to_string());
    let (challenge_hash, user_id) = challenge::challenged_user(&state, &headers).await?;
    state.sign_in.begin_code(user_id, client).await?;
    let Some(used) = passkey::finish_second_factor(&state, user_id, &answer.ceremony, answer.credential).await? else {
        let mut user = super::load_user(&state, user_id, String::new()).await?;
        user.address = address;
        record(&state.db, &user, ActivityAction::SignInFailed, Target::default().named("passkey refused")).await;
        return Err(AppError::SecondFactorRejected(
            "The passkey's answer did not check out. Try again, or use another passkey or a code.".into(),
        ));
    };
    state.sign_in.code_succeeded(user_id, client).await;
    let target = Target::default().named(format!("passkey “{}”", used.name));
    challenge::finish(&state, &headers, &challenge_hash, user_id, address, ActivityAction::SecondFactorUsed, target).await
}

/// Request options for whichever passkey the browser finds (a sign-in without the password).
#[utoipa::path(
    post, path = "/api/session/passkey/options", tag = "session",
    responses(
        (status = 200, description = "Hand `public_key` to `navigator.credentials.get`, then answer within two minutes", body = PasskeyOptions),
        (status = 403, description = "Sent from another site", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The portal is not reached at a host name (passkeys need one)", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many sign-ins with a passkey from this network lately: wait Retry-After seconds", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn passkey_sign_in_options(
    State(state): State<AppState>,
    client: ClientAddress,
    headers: HeaderMap,
) -> AppResult<Json<PasskeyOptions>> {
    super::reject_cross_site(&state.config, &headers)?;
    passkey::relying_party(&state.config)?;
    state.sign_in.begin_passkey(client.ip(state.config.trust_forwarded_for)).await?;
    Ok(Json(passkey::begin_sign_in(&state).await?))
}

/// The passkey's answer, alone: the session begins if the passkey may sign in without the
/// password and the user's organisation does not require Microsoft sign-in.
#[utoipa::path(
    post, path = "/api/session/passkey", tag = "session",
    request_body = PasskeyAssertion,
    responses(
        (status = 200, description = "Signed in; the session cookie is set", body = SessionInfo),
        (status = 401, description = "Not a passkey of this portal that may sign in without the password, or its answer did not check out", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Sent from another site, or the user's organisation signs in with Microsoft only (Enforce SSO)", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The portal is not reached at a host name (passkeys need one)", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`ceremony` is unknown, used or ran out", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn sign_in_with_passkey(
    State(state): State<AppState>,
    client: ClientAddress,
    headers: HeaderMap,
    ApiJson(answer): ApiJson<PasskeyAssertion>,
) -> AppResult<Response> {
    super::reject_cross_site(&state.config, &headers)?;
    let client = client.ip(state.config.trust_forwarded_for);
    let address = client.map(|ip| ip.to_string());
    let Some(verified) = passkey::finish_sign_in(&state, &answer.ceremony, answer.credential).await? else {
        tracing::info!(client = ?address, "a passkey was refused for a sign-in without password");
        return Err(AppError::SecondFactorRejected(
            "This passkey cannot sign you in on its own: it is not registered here, or it is not allowed to sign in without the password (Account › Security). Sign in with your password.".into(),
        ));
    };
    let user_id = verified.user_id;
    super::refuse_if_sso_only(&state, user_id, &address, "passkey", "a passkey").await?;
    state.sign_in.passkey_succeeded(client).await;
    let Some(used) = passkey::used(&state, &verified).await? else {
        // Removed meanwhile, from a session of the user's.
        return Err(AppError::SecondFactorRejected("This passkey was removed just now. Sign in with your password.".into()));
    };
    let target = Target::default().named(format!("passkey “{}”", used.name));
    let (cookie, info) = super::begin_session(&state, &headers, user_id, address, ActivityAction::PasskeySignIn, target).await?;
    Ok(([(header::SET_COOKIE, cookie)], Json(info)).into_response())
}
