//! Account Settings › Credentials: the three credentials an organisation on Microsoft 365
//! gives the backup service, their state, and the three "Need Reauthentication" flows.

use serde::{Deserialize, Serialize};

use crate::named_enum;

named_enum! {
    /// Which credential.
    pub enum CredentialKind("credential") {
        /// The admin consent a global administrator gave the backup app (Main App).
        MainApp = "main_app",
        /// The backup admin account (username and password) the service signs in with.
        BackupAdmin = "backup_admin",
        /// The delegated token from the Device Authorization step.
        Device = "device",
    }
}

impl CredentialKind {
    pub fn label(self) -> &'static str {
        match self {
            CredentialKind::MainApp => "Main App consent (global admin)",
            CredentialKind::BackupAdmin => "Backup Admin",
            CredentialKind::Device => "Device Authorization",
        }
    }

    /// The error type's name in PSA tickets, for its break and its fix.
    pub fn event_title(self, resolved: bool) -> &'static str {
        match (self, resolved) {
            (CredentialKind::MainApp, false) => "Main App (Global Admin) Token authorization error was detected",
            (CredentialKind::MainApp, true) => "Main App (Global Admin) Token authorization error is resolved",
            (CredentialKind::BackupAdmin, false) => "Delegated Token authorization error was detected",
            (CredentialKind::BackupAdmin, true) => "Delegated Token authorization error is resolved",
            (CredentialKind::Device, false) => "Device Token authorization error was detected",
            (CredentialKind::Device, true) => "Device Token authorization error is resolved",
        }
    }

    /// The button that starts the flow that fixes it.
    pub fn fix_action(self) -> &'static str {
        match self {
            CredentialKind::MainApp => "Continue",
            CredentialKind::BackupAdmin => "Re Authenticate",
            CredentialKind::Device => "Device Authorization",
        }
    }

    /// What it means when it is broken, and what the fix does, in our words.
    pub fn broken_explanation(self) -> &'static str {
        match self {
            CredentialKind::MainApp => {
                "The global administrator who consented to the backup app was deleted or lost the role, or the consent was revoked. \
                 Backups cannot start until a global administrator consents again."
            }
            CredentialKind::BackupAdmin => {
                "The backup admin account can no longer sign in with the password we have, or it lost a permission the backups need. \
                 Enter its current username and password; we check them with Microsoft before saving them."
            }
            CredentialKind::Device => {
                "The delegated token from the Device Authorization step was deleted or has expired. \
                 Authorise the device again with a new code."
            }
        }
    }
}

named_enum! {
    pub enum CredentialState("credential state") {
        Working = "working",
        Broken = "broken",
    }
}

/// One credential of an organisation, as Account Settings › Credentials shows it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Credential {
    pub kind: CredentialKind,
    pub state: CredentialState,
    /// Broken: since when (RFC 3339) and why, in plain words.
    pub broken_since: Option<String>,
    pub reason: Option<String>,
    /// Backup Admin: the username (the password is never sent).
    pub username: Option<String>,
    /// Device Authorization: when the delegated token expires (RFC 3339).
    pub expires_at: Option<String>,
    /// When the service last checked it with the identity provider (RFC 3339).
    pub last_verified_at: Option<String>,
}

/// A break or a fix, for the credentials page's short history.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CredentialEvent {
    pub id: String,
    pub kind: CredentialKind,
    /// The error type's name ("... was detected" / "... is resolved").
    pub title: String,
    pub resolved: bool,
    pub detail: Option<String>,
    pub at: String,
}

named_enum! {
    /// Where a Device Authorization stands.
    pub enum DeviceFlowStatus("device flow status") {
        /// Waiting for someone to enter the code at the provider.
        Pending = "pending",
        /// The provider authorised the device: Verify & Continue completes the step.
        Authorized = "authorized",
        Denied = "denied",
        Expired = "expired",
        /// Verified and saved.
        Completed = "completed",
        /// The provider answered something we could not use.
        Failed = "failed",
    }
}

/// A Device Authorization under way (RFC 8628).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceFlow {
    pub id: String,
    pub user_code: String,
    pub verification_uri: String,
    /// When the code stops working (RFC 3339).
    pub expires_at: String,
    pub status: DeviceFlowStatus,
    /// How often the server asks the provider, in seconds (grows by 5 on each `slow_down`).
    pub interval_seconds: u32,
    /// How many times the provider asked us to slow down.
    pub slow_downs: u32,
    pub detail: Option<String>,
}

/// An organisation's credentials (`GET /api/organisations/{id}/credentials`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Credentials {
    pub organisation_id: i64,
    pub organisation: String,
    /// The organisation's Microsoft 365 domain.
    pub domain: String,
    pub items: Vec<Credential>,
    /// Newest first, at most 20.
    pub events: Vec<CredentialEvent>,
    /// The latest Device Authorization, while it matters (not completed).
    pub device_flow: Option<DeviceFlow>,
}

/// Re Authenticate: the backup admin's username and password (checked with the provider, then
/// stored encrypted; never sent back).
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
// A field the server does not know is refused (422), never silently ignored.
#[serde(deny_unknown_fields)]
pub struct BackupAdminSignIn {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for BackupAdminSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackupAdminSignIn").field("username", &self.username).finish_non_exhaustive()
    }
}

/// Continue: where to send the admin (the provider's admin-consent page).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConsentStart {
    pub authorize_url: String,
}

/// A broken credential, for the dashboard's "Need Reauthentication" banner.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BrokenCredential {
    pub organisation_id: i64,
    pub organisation: String,
    pub kind: CredentialKind,
    pub reason: Option<String>,
    pub broken_since: Option<String>,
}

/// A working credential whose token runs out soon (within `EXPIRING_WITHIN_DAYS`), for the
/// dashboard's "Renew soon" notice: renewed in time, backups never stop.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExpiringCredential {
    pub organisation_id: i64,
    pub organisation: String,
    pub kind: CredentialKind,
    /// When its token expires (RFC 3339).
    pub expires_at: String,
}

/// How far ahead the dashboard warns of a token that expires.
pub const EXPIRING_WITHIN_DAYS: i64 = 14;

/// An organisation whose credentials the user may manage (`GET /api/organisations`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrganisationSummary {
    pub id: i64,
    pub name: String,
    /// How many of its credentials are broken.
    pub broken: u32,
}
