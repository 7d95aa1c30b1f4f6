//! Account Settings › Activity: who did what, to which object, when, from where.

use serde::{Deserialize, Serialize};

use crate::named_enum;

named_enum! {
    /// What was done. Every change a person or a token makes is one of these.
    pub enum ActivityAction("activity") {
        SignIn = "session.signed_in",
        SignOut = "session.signed_out",
        ForceBackup = "backup.forced",
        StartRestore = "restore.started",
        StartMigration = "migration.started",
        StartDownload = "download.started",
        TryAgain = "job.retried",
        DeleteJob = "job.deleted",
        DestinationPassword = "job.destination_password_given",
        ConsentStarted = "credential.consent_started",
        ConsentCompleted = "credential.consent_completed",
        BackupAdminSignedIn = "credential.backup_admin_reauthenticated",
        DeviceAuthorizationStarted = "credential.device_authorization_started",
        DeviceAuthorizationCompleted = "credential.device_authorization_completed",
        CheckNow = "credential.checked",
        MailboxAdded = "mailbox.added",
        MailboxPasswordChanged = "mailbox.password_changed",
        HaloSaved = "integration.halo_saved",
        HaloRemoved = "integration.halo_removed",
        WebhookCreated = "integration.webhook_created",
        WebhookDeleted = "integration.webhook_deleted",
        DeliverySentAgain = "integration.delivery_sent_again",
        TokenCreated = "token.created",
        TokenRevoked = "token.revoked",
        RetentionChanged = "retention.changed",
        LegalHoldChanged = "mailbox.legal_hold_changed",
        /// The daily pruning removed messages that the retention released.
        MessagesPruned = "retention.pruned",
        /// A wrong password or second factor for an existing account.
        SignInFailed = "session.sign_in_failed",
        SecondFactorUsed = "session.second_factor_used",
        RecoveryCodeUsed = "session.recovery_code_used",
        TwoFactorEnrolled = "security.two_factor_enrolled",
        TwoFactorRemoved = "security.two_factor_removed",
        RecoveryCodesRenewed = "security.recovery_codes_renewed",
        PasswordChanged = "security.password_changed",
        SessionEnded = "security.session_ended",
        SignInPolicyChanged = "security.sign_in_policy_changed",
        SsoSignIn = "session.signed_in_with_microsoft",
        PasskeyAdded = "security.passkey_added",
        PasskeyChanged = "security.passkey_changed",
        PasskeyRemoved = "security.passkey_removed",
        PasskeySignIn = "session.signed_in_with_passkey",
    }
}

impl ActivityAction {
    /// In our words, for the Activity page and its CSV.
    pub fn label(self) -> &'static str {
        match self {
            ActivityAction::SignIn => "Signed in",
            ActivityAction::SignOut => "Signed out",
            ActivityAction::ForceBackup => "Force Backup",
            ActivityAction::StartRestore => "Restore started",
            ActivityAction::StartMigration => "Migration started",
            ActivityAction::StartDownload => "Download started",
            ActivityAction::TryAgain => "Try again",
            ActivityAction::DeleteJob => "Job deleted",
            ActivityAction::DestinationPassword => "Destination password given",
            ActivityAction::ConsentStarted => "Consent started",
            ActivityAction::ConsentCompleted => "Consent given again",
            ActivityAction::BackupAdminSignedIn => "Backup admin re-authenticated",
            ActivityAction::DeviceAuthorizationStarted => "Device Authorization started",
            ActivityAction::DeviceAuthorizationCompleted => "Device Authorization completed",
            ActivityAction::CheckNow => "Check now",
            ActivityAction::MailboxAdded => "Mailbox added",
            ActivityAction::MailboxPasswordChanged => "Mailbox password changed",
            ActivityAction::HaloSaved => "HaloPSA saved",
            ActivityAction::HaloRemoved => "HaloPSA removed",
            ActivityAction::WebhookCreated => "Webhook created",
            ActivityAction::WebhookDeleted => "Webhook deleted",
            ActivityAction::DeliverySentAgain => "Delivery sent again",
            ActivityAction::TokenCreated => "API token created",
            ActivityAction::TokenRevoked => "API token revoked",
            ActivityAction::RetentionChanged => "Retention changed",
            ActivityAction::LegalHoldChanged => "Legal hold changed",
            ActivityAction::MessagesPruned => "Deleted messages pruned",
            ActivityAction::SignInFailed => "Sign-in failed",
            ActivityAction::SecondFactorUsed => "Signed in with an authenticator code",
            ActivityAction::RecoveryCodeUsed => "Signed in with a recovery code",
            ActivityAction::TwoFactorEnrolled => "Authenticator app set up",
            ActivityAction::TwoFactorRemoved => "Authenticator app removed",
            ActivityAction::RecoveryCodesRenewed => "New recovery codes made",
            ActivityAction::PasswordChanged => "Password changed",
            ActivityAction::SessionEnded => "Session ended",
            ActivityAction::SignInPolicyChanged => "Sign-in rules changed",
            ActivityAction::SsoSignIn => "Signed in with Microsoft",
            ActivityAction::PasskeyAdded => "Passkey added",
            ActivityAction::PasskeyChanged => "Passkey changed",
            ActivityAction::PasskeyRemoved => "Passkey removed",
            ActivityAction::PasskeySignIn => "Signed in with a passkey",
        }
    }
}

/// One entry of the activity log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActivityEntry {
    /// `act_…`
    pub id: String,
    /// RFC 3339.
    pub at: String,
    /// The person's email; for a token, its owner's.
    pub actor: String,
    /// The token's name, when a token did it.
    pub token: Option<String>,
    pub action: ActivityAction,
    /// What it was done to, in words ("ann@acme.example", "Restore 42", "Acme Legal").
    pub object: Option<String>,
    /// Its ID (a job's Restore ID, a token's `tok_…`, a mailbox's number).
    pub object_id: Option<String>,
    pub organisation: Option<String>,
    /// The client's address.
    pub address: Option<String>,
    /// The request's ID (`x-request-id`), to find it in the server's log.
    pub request_id: String,
}

/// `GET /api/activity`: filters, as in the page's URL.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct ActivityQuery {
    /// Only this action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(value_type = Option<ActivityAction>))]
    pub action: Option<String>,
    /// Only entries whose actor's email, token, object or its ID contains this text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(max_length = 200))]
    pub q: Option<String>,
    /// Only entries of this organisation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organisation_id: Option<i64>,
    /// 1-based page number (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(minimum = 1))]
    pub page: Option<u32>,
    /// Rows per page (default 50, at most 200).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 200))]
    pub per_page: Option<u32>,
}
