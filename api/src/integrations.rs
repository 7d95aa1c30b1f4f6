//! Account Settings › Integrations: where an organisation's events go (a HaloPSA, signed
//! webhooks), and every delivery of them with each attempt.

use serde::{Deserialize, Serialize};

use crate::named_enum;

named_enum! {
    /// What happened: one vocabulary for PSA tickets and webhooks, named after the tickets.
    pub enum EventType("event type") {
        /// A mailbox's backup ended in an error ("The email backup has failed"); a repeat while
        /// it lasts is the same problem again.
        BackupErrorDetected = "backup.error.detected",
        /// The mailbox's next backup completed.
        BackupErrorResolved = "backup.error.resolved",
        /// A credential (Main App, Backup Admin, Device Authorization) stopped working.
        CredentialBroken = "credential.broken",
        /// It works again.
        CredentialFixed = "credential.fixed",
        /// A credential's token expires in 14 days, then in 3.
        CredentialExpiring = "credential.expiring",
        /// A credential that was about to expire was renewed.
        CredentialRenewed = "credential.renewed",
        /// A restore ended without restoring.
        RestoreFailed = "restore.failed",
        /// A download's file is ready.
        DownloadReady = "download.ready",
        /// Sent on demand to check an endpoint.
        WebhookTest = "webhook.test",
    }
}

impl EventType {
    /// In a sentence, for the portal's lists.
    pub fn label(self) -> &'static str {
        match self {
            EventType::BackupErrorDetected => "A backup failed",
            EventType::BackupErrorResolved => "A failed backup is fixed",
            EventType::CredentialBroken => "A credential stopped working",
            EventType::CredentialFixed => "A credential works again",
            EventType::CredentialExpiring => "A credential expires soon",
            EventType::CredentialRenewed => "A credential was renewed",
            EventType::RestoreFailed => "A restore failed",
            EventType::DownloadReady => "A download is ready",
            EventType::WebhookTest => "Test event",
        }
    }

    /// The ones an endpoint can ask for (a test goes only where it is sent).
    pub fn subscribable() -> impl Iterator<Item = EventType> {
        EventType::ALL.into_iter().filter(|e| *e != EventType::WebhookTest)
    }
}

named_enum! {
    /// Where a delivery stands.
    pub enum DeliveryStatus("delivery status") {
        /// Waiting for its first attempt or its next retry.
        Pending = "pending",
        /// The receiver accepted it (2xx), or there was nothing to do in the PSA.
        Delivered = "delivered",
        /// Given up: the last retry failed, or the receiver refused it in a way retrying cannot fix.
        Failed = "failed",
        /// Not sent: its receiver (the webhook, the HaloPSA) was removed before its turn.
        Cancelled = "cancelled",
    }
}

/// The HaloPSA connection as saved (the secret never comes back).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HaloSettings {
    /// The Halo's address, e.g. `https://yourcompany.halopsa.com`.
    pub url: String,
    /// Hosted Halo's tenant; empty for a Halo of one's own.
    pub tenant: String,
    /// The API application's client ID.
    pub client_id: String,
    /// Whether a client secret is saved (it is sealed and never sent back).
    pub secret_saved: bool,
    /// The Halo client (customer) tickets are filed under.
    pub halo_client_id: i64,
    /// The ticket type; none: Halo's default.
    pub ticket_type_id: Option<i64>,
    /// The priority; none: Halo's default.
    pub priority_id: Option<i64>,
    /// When it was last saved (RFC 3339).
    pub updated_at: String,
}

/// What Save and Test connection send. Numbers travel as text so that a wrong one is named
/// with the field rather than refusing the whole body.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HaloSettingsInput {
    pub url: String,
    #[serde(default)]
    pub tenant: String,
    pub client_id: String,
    /// Empty: keep the saved one.
    #[serde(default)]
    pub client_secret: String,
    pub halo_client_id: String,
    #[serde(default)]
    pub ticket_type_id: String,
    #[serde(default)]
    pub priority_id: String,
}

/// `PUT /api/integrations/halo`: one connection for every organisation the user serves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HaloAppliedToAll {
    /// The organisations now filing tickets there, by name.
    pub organisations: Vec<String>,
    /// Those that kept the Halo client they had; the others file under the one given.
    pub kept_their_client: Vec<String>,
}

/// What Test connection found: the Halo client's name, or what failed, on the field to change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HaloTest {
    pub ok: bool,
    /// The client tickets will be filed under, when found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    /// The field to change (`url`, `tenant`, `client_id`, `client_secret`, `halo_client_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What failed and what to do, in our words.
    pub message: String,
    /// Halo's HTTP status, when it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub halo_status: Option<u16>,
    /// Halo's own message, as it gave it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub halo_message: Option<String>,
    /// Halo's field errors (422), one by one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub halo_errors: Vec<crate::FieldError>,
    /// 429: seconds until Halo takes requests again (`Retry-After`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_seconds: Option<u64>,
}

/// A webhook endpoint (its secret is shown once, at creation).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Webhook {
    /// `wh_…`
    pub id: String,
    pub url: String,
    /// What it is sent; every type when it asked for none.
    pub events: Vec<EventType>,
    /// RFC 3339.
    pub created_at: String,
}

/// `POST /api/organisations/{id}/webhooks`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewWebhook {
    /// An `https://` address.
    pub url: String,
    /// Event types; none or empty: every type.
    #[serde(default)]
    pub events: Option<Vec<String>>,
}

/// A webhook just made, with the secret that signs its deliveries (shown this once).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedWebhook {
    #[serde(flatten)]
    pub webhook: Webhook,
    /// `whsec_` and the key in base64 (Standard Webhooks).
    pub secret: String,
}

/// One attempt at a delivery.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryAttempt {
    pub number: u32,
    /// RFC 3339.
    pub at: String,
    /// The receiver's HTTP status; none when it did not answer.
    pub http_status: Option<u16>,
    /// The first lines of its answer, or why there was none.
    pub answer: String,
    pub duration_ms: u64,
}

/// One event on its way to one receiver.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Delivery {
    pub id: String,
    /// The event's ID: the `webhook-id`, the same on every attempt.
    pub event_id: String,
    pub event_type: EventType,
    /// What the event is about, in a line.
    pub summary: String,
    /// `HaloPSA`, or the webhook's address.
    pub target: String,
    pub status: DeliveryStatus,
    /// When the next attempt is due (RFC 3339), while pending.
    pub next_attempt_at: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// Oldest first.
    pub attempts: Vec<DeliveryAttempt>,
}

/// A PSA ticket open about something, as a row shows it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TicketRef {
    /// The ticket's number in the PSA.
    pub id: i64,
    /// `HaloPSA`.
    pub system: String,
}
