//! A passkey ceremony from end to end: the server's options, the browser's prompt, the
//! server's check. What fails is said where it happened: by the server (its problem), by the
//! browser (cancelled, not supported), or because this page is at another address than the
//! one passkeys work at (a link there).

use leptos::prelude::*;
use portal_api::{NewPasskey, PasskeyAssertion, PasskeyOptions, PasskeyRegistered, SessionInfo};

use crate::api::{self, ApiError};
use crate::components::error_notice::ErrorNotice;
use crate::webauthn;

#[derive(Clone, Debug)]
pub enum PasskeyFailure {
    Api(ApiError),
    Browser(String),
    /// Passkeys work at this origin, not at the page's.
    Elsewhere(String),
}

impl From<ApiError> for PasskeyFailure {
    fn from(error: ApiError) -> Self {
        PasskeyFailure::Api(error)
    }
}

impl From<webauthn::BrowserRefused> for PasskeyFailure {
    fn from(refused: webauthn::BrowserRefused) -> Self {
        PasskeyFailure::Browser(refused.0)
    }
}

impl PasskeyFailure {
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            PasskeyFailure::Api(error) => Some(error),
            _ => None,
        }
    }
}

fn here_or_there(options: &PasskeyOptions) -> Result<(), PasskeyFailure> {
    match webauthn::elsewhere(&options.origin) {
        Some(origin) => Err(PasskeyFailure::Elsewhere(origin)),
        None => Ok(()),
    }
}

/// Registers a new passkey of the signed-in person.
pub async fn register(name: String, passwordless: bool) -> Result<PasskeyRegistered, PasskeyFailure> {
    let options = api::passkey_creation_options().await?;
    here_or_there(&options)?;
    let credential = webauthn::create(&options.public_key).await?;
    Ok(api::add_passkey(&NewPasskey { ceremony: options.ceremony, name, passwordless, credential }).await?)
}

/// The second step of signing in, with a passkey.
pub async fn second_factor() -> Result<SessionInfo, PasskeyFailure> {
    let options = api::second_factor_passkey_options().await?;
    here_or_there(&options)?;
    let credential = webauthn::get(&options.public_key).await?;
    Ok(api::sign_in_second_factor_passkey(&PasskeyAssertion { ceremony: options.ceremony, credential }).await?)
}

/// Signing in with a passkey alone.
pub async fn sign_in() -> Result<SessionInfo, PasskeyFailure> {
    let options = api::passkey_sign_in_options().await?;
    here_or_there(&options)?;
    let credential = webauthn::get(&options.public_key).await?;
    Ok(api::sign_in_with_passkey(&PasskeyAssertion { ceremony: options.ceremony, credential }).await?)
}

/// The failure, where the person pressed the button.
#[component]
pub fn PasskeyNotice(failure: PasskeyFailure, #[prop(optional)] signing_in: bool) -> impl IntoView {
    match failure {
        // The ceremony ran out or the key's answer was refused: the server's own words, as the
        // person has no field to correct.
        PasskeyFailure::Api(error) if error.field_error("credential").or_else(|| error.field_error("ceremony")).is_some() => {
            let text = error.field_error("credential").or_else(|| error.field_error("ceremony")).unwrap_or_default();
            view! { <p class="passkey-notice" role="alert">{text}</p> }.into_any()
        }
        PasskeyFailure::Api(error) => view! { <ErrorNotice error signing_in /> }.into_any(),
        PasskeyFailure::Browser(text) => view! { <p class="passkey-notice" role="alert">{text}</p> }.into_any(),
        PasskeyFailure::Elsewhere(origin) => {
            let href = format!("{origin}{}", web_sys::window().and_then(|w| w.location().pathname().ok()).unwrap_or_default());
            view! {
                <p class="passkey-notice" role="alert">
                    "Passkeys are tied to the portal's own address. "
                    <a href=href rel="external">{format!("Open the portal at {origin}")}</a>
                    " and try again there."
                </p>
            }
            .into_any()
        }
    }
}
