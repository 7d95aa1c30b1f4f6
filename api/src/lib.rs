//! The contract between the Backup Portal (wasm) and its server (native).
//!
//! Serde only: everything here compiles for both targets. With the `openapi` feature the
//! server also derives OpenAPI schemas from these same types, so the document cannot drift.

pub mod names;

#[cfg(feature = "openapi")]
#[doc(hidden)]
pub use utoipa as __utoipa;

pub mod access;
pub mod activity;
pub mod backups;
pub mod credentials;
pub mod dashboard;
pub mod demo;
pub mod error_types;
pub mod integrations;
pub mod jobs;
pub mod mailboxes;
pub mod messages;
pub mod page;
pub mod passkey;
pub mod problem;
pub mod problem_kind;
pub mod security;
pub mod session;
pub mod tokens;

pub use access::Action;
pub use activity::{ActivityAction, ActivityEntry, ActivityQuery};
pub use backups::{BackupHistory, BackupRow, BackupRunEntry, BackupsQuery, ForceBackupsRequest, ForceBackupsResult};
pub use credentials::{
    BackupAdminSignIn, BrokenCredential, ConsentStart, Credential, CredentialEvent, CredentialKind, CredentialState, Credentials,
    DeviceFlow, DeviceFlowStatus, ExpiringCredential, OrganisationSummary,
};
pub use dashboard::{Dashboard, KindCounts, OrganisationStorage, ServiceStorage, StaleAccount, Storage};
pub use integrations::{
    CreatedWebhook, Delivery, DeliveryAttempt, DeliveryStatus, EventType, HaloAppliedToAll, HaloSettings, HaloSettingsInput, HaloTest, NewWebhook,
    TicketRef, Webhook,
};
pub use jobs::{
    DownloadFormat, JobChanged, JobKind, JobRow, JobRun, JobSort, JobStatus, JobsQuery, NewJob, OnConflict, StatusCount,
};
pub use mailboxes::{
    ConnectionTest, Connector, ImapMailboxRequest, ImapPassword, ImapSettings, OrganisationMailbox, SkippedItem,
};
pub use messages::{
    LegalHold, MessageAttachment, MessageHeader, MessageHit, MessagePreview, MessageSort, MessagesQuery, RestoreTo, Retention,
    RetentionInput, SnippetPart,
};
pub use page::Page;
pub use passkey::{NewPasskey, PasskeyAssertion, PasskeyChange, PasskeyOptions, PasskeyRegistered, PasskeyRow};
pub use tokens::{ApiToken, CreatedApiToken, NewApiToken, TokenAccess};
pub use problem::{FieldError, Problem};
pub use problem_kind::{ProblemInfo, ProblemKind};
pub use security::{
    PasswordChange, RecoveryCodes, SecondFactorChallenge, SecondFactorCode, SecondFactorMethod, SessionRow, SessionsEnded, SignInPolicy,
    SignInPolicyInput, TotpEnrolment, TwoFactorStatus,
};
pub use session::{Role, SessionInfo, SignInRequest};

/// Header that carries the request ID on every API response (also in a problem's `instance`).
pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// Header that must carry the session's CSRF token on every state-changing request.
pub const CSRF_HEADER: &str = "x-csrf-token";
