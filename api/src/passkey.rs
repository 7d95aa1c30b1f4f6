//! Passkeys and security keys (WebAuthn): registered in Account › Security, used as the second
//! factor after the password, or alone to sign in where the user allowed it.
//!
//! The options and the browser's answers pass through as the JSON of the WebAuthn standard
//! (`PublicKeyCredential.parseCreationOptionsFromJSON`, `toJSON()`): the portal hands them to
//! the browser as they are.

use serde::{Deserialize, Serialize};

/// The longest name of a passkey.
pub const MAX_PASSKEY_NAME_CHARS: usize = 60;

/// One of the user's passkeys or security keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PasskeyRow {
    /// `pk_…`
    pub id: String,
    pub name: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339; none before its first use.
    pub last_used_at: Option<String>,
    /// Whether it may sign in alone, without the password.
    pub passwordless: bool,
}

/// A ceremony begun: hand `public_key` to the browser, then send its answer with `ceremony`
/// within two minutes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PasskeyOptions {
    /// Names this ceremony when answering it; used once.
    pub ceremony: String,
    /// `PublicKeyCredentialCreationOptionsJSON` or `PublicKeyCredentialRequestOptionsJSON`.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub public_key: serde_json::Value,
    /// The address passkeys work at (`scheme://host:port`): a page opened at another address
    /// of the same server must go there first (browsers tie a passkey to a host name).
    pub origin: String,
}

/// `POST /api/account/passkeys`: the browser's answer to the creation options.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewPasskey {
    #[cfg_attr(feature = "openapi", schema(max_length = 64))]
    pub ceremony: String,
    /// 1 to 60 characters, e.g. "YubiKey on my keyring".
    #[cfg_attr(feature = "openapi", schema(max_length = 60))]
    pub name: String,
    /// May sign in alone, without the password.
    #[serde(default)]
    pub passwordless: bool,
    /// `RegistrationResponseJSON` (`PublicKeyCredential.toJSON()`).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub credential: serde_json::Value,
}

/// `POST /api/account/passkeys` (201).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PasskeyRegistered {
    pub passkey: PasskeyRow,
    /// Ten recovery codes, shown once, when the user had none left (for when the key is lost).
    pub recovery_codes: Option<Vec<String>>,
}

/// `PATCH /api/account/passkeys/{id}`: what is absent stays as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PasskeyChange {
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 60))]
    pub name: Option<String>,
    #[serde(default)]
    pub passwordless: Option<bool>,
}

/// The browser's answer to request options: a second factor
/// (`/api/session/second-factor/passkey`) or a sign-in without password (`/api/session/passkey`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PasskeyAssertion {
    #[cfg_attr(feature = "openapi", schema(max_length = 64))]
    pub ceremony: String,
    /// `AuthenticationResponseJSON` (`PublicKeyCredential.toJSON()`).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub credential: serde_json::Value,
}
