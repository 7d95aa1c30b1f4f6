//! Passkeys: the person's own (Account › Security), and signing in with one (after the
//! password, or alone). The browser's part is in `webauthn.rs`.

use gloo_net::http::Method;
use portal_api::{NewPasskey, PasskeyAssertion, PasskeyChange, PasskeyOptions, PasskeyRegistered, PasskeyRow, SessionInfo};

use super::{encode, get, remember_session, request, ApiError};

pub async fn passkeys() -> Result<Vec<PasskeyRow>, ApiError> {
    get("/api/account/passkeys").await
}

/// Options for the browser to create a new passkey with.
pub async fn passkey_creation_options() -> Result<PasskeyOptions, ApiError> {
    request(Method::POST, "/api/account/passkeys/options", None::<&()>).await
}

pub async fn add_passkey(new: &NewPasskey) -> Result<PasskeyRegistered, ApiError> {
    request(Method::POST, "/api/account/passkeys", Some(new)).await
}

pub async fn change_passkey(id: &str, change: &PasskeyChange) -> Result<PasskeyRow, ApiError> {
    request(Method::PATCH, &format!("/api/account/passkeys/{}", encode(id)), Some(change)).await
}

/// Removes it; the person's other sessions end.
pub async fn remove_passkey(id: &str) -> Result<(), ApiError> {
    request(Method::DELETE, &format!("/api/account/passkeys/{}", encode(id)), None::<&()>).await
}

/// The second step under way (after Sign in with Microsoft): how it can be answered.
pub async fn second_factor_challenge() -> Result<portal_api::SecondFactorChallenge, ApiError> {
    get("/api/session/second-factor").await
}

/// Options naming the passkeys of the account whose password was just accepted.
pub async fn second_factor_passkey_options() -> Result<PasskeyOptions, ApiError> {
    request(Method::POST, "/api/session/second-factor/passkey/options", None::<&()>).await
}

pub async fn sign_in_second_factor_passkey(answer: &PasskeyAssertion) -> Result<SessionInfo, ApiError> {
    let session: SessionInfo = request(Method::POST, "/api/session/second-factor/passkey", Some(answer)).await?;
    remember_session(&session);
    Ok(session)
}

/// Options for any passkey the browser finds (signing in without the password).
pub async fn passkey_sign_in_options() -> Result<PasskeyOptions, ApiError> {
    request(Method::POST, "/api/session/passkey/options", None::<&()>).await
}

pub async fn sign_in_with_passkey(answer: &PasskeyAssertion) -> Result<SessionInfo, ApiError> {
    let session: SessionInfo = request(Method::POST, "/api/session/passkey", Some(answer)).await?;
    remember_session(&session);
    Ok(session)
}
