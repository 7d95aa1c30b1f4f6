//! Account › Security: the second factor (an authenticator app, recovery codes), the
//! password, the user's sessions, and who must use a second factor (sign-in policy).

use serde::{Deserialize, Serialize};

use crate::named_enum;

named_enum! {
    /// How a person proves it is them after the password.
    pub enum SecondFactorMethod("second factor") {
        /// A six-digit code from an authenticator app (TOTP, RFC 6238).
        Totp = "totp",
        /// One of the ten single-use recovery codes shown at enrolment.
        RecoveryCode = "recovery_code",
        /// A passkey or security key (WebAuthn).
        Passkey = "passkey",
    }
}

/// `POST /api/session` answers 202 with this when the password was right and a second factor
/// is needed; the challenge travels in an HttpOnly cookie of its own.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SecondFactorChallenge {
    pub methods: Vec<SecondFactorMethod>,
    /// Seconds left to answer; after that, sign in with the password again.
    pub expires_in_secs: u32,
}

/// `POST /api/session/second-factor`, and what confirms or removes an authenticator.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SecondFactorCode {
    /// The six digits the authenticator app shows, or a recovery code (`xxxxx-xxxxx`).
    #[cfg_attr(feature = "openapi", schema(max_length = 64))]
    pub code: String,
}

/// `GET /api/account/two-factor`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TwoFactorStatus {
    /// Whether an authenticator app is enrolled.
    pub totp: bool,
    /// RFC 3339, when it was.
    pub totp_enrolled_at: Option<String>,
    /// Unused recovery codes.
    pub recovery_codes_left: u32,
    /// Passkeys and security keys registered.
    #[serde(default)]
    pub passkeys: u32,
    /// Whether the user's organisation or reseller requires a second factor.
    pub required: bool,
}

/// `POST /api/account/two-factor/totp` (201): a new secret to put into an authenticator app.
/// It takes effect once a code from it is confirmed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TotpEnrolment {
    /// Base32, as apps take it typed in.
    pub secret: String,
    /// `otpauth://totp/…`, what the QR code holds.
    pub otpauth_uri: String,
    /// The QR code as an SVG document (drawn by the server: no outside service sees the secret).
    pub qr_svg: String,
}

/// Recovery codes, shown once: the server keeps only their hashes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecoveryCodes {
    pub codes: Vec<String>,
}

/// One of the user's sessions, as Account › Security lists them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionRow {
    /// Names the session for ending it; not the session's secret.
    pub id: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339, to the minute.
    pub last_seen_at: String,
    /// The client's address, last seen.
    pub address: Option<String>,
    /// The browser and system, from its User-Agent (e.g. "Chrome on Windows").
    pub browser: String,
    /// The session this request came with.
    pub current: bool,
}

/// `POST /api/account/sessions/end-others`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionsEnded {
    pub ended: u32,
}

/// `POST /api/account/password`: ends every other session of the user.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    #[cfg_attr(feature = "openapi", schema(max_length = 1024))]
    pub current_password: String,
    /// 12 to 1,024 characters.
    #[cfg_attr(feature = "openapi", schema(max_length = 1024))]
    pub new_password: String,
}

/// The shortest password the portal accepts.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// Who must sign in with a second factor: an organisation's policy
/// (`/api/organisations/{id}/sign-in-policy`) or a reseller's (`/api/reseller/sign-in-policy`,
/// which covers the reseller's own users and every organisation it serves).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignInPolicy {
    pub require_two_factor: bool,
    /// For an organisation: its reseller requires it already (then it cannot be turned off here).
    pub required_by_reseller: bool,
    /// For an organisation: its users sign in with Microsoft only, except the break-glass admin.
    #[serde(default)]
    pub enforce_sso: bool,
    /// The one admin of the organisation who may still sign in with a password.
    #[serde(default)]
    pub break_glass_email: Option<String>,
    /// For an organisation: whether its Microsoft tenant is known (then SSO can be used).
    #[serde(default)]
    pub sso_available: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SignInPolicyInput {
    /// Left as it is when absent. For an organisation, its own rule (its reseller's stays).
    #[serde(default)]
    pub require_two_factor: Option<bool>,
    /// An organisation's only: Enforce SSO on or off; left as it is when absent.
    #[serde(default)]
    pub enforce_sso: Option<bool>,
    /// An organisation's only: the break-glass admin's address (an admin of the organisation);
    /// empty to name none; left as it is when absent. Needed while SSO is enforced.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 254))]
    pub break_glass_email: Option<String>,
}
