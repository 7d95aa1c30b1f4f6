//! The backup dashboard: what needs attention, at a glance.

use serde::{Deserialize, Serialize};

use crate::jobs::{JobKind, StatusCount};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Dashboard {
    /// For each kind, a count for every one of its statuses.
    pub kinds: Vec<KindCounts>,
    pub storage: Storage,
    /// Accounts whose last complete backup is older than 24 hours (the oldest first, at most 20).
    pub stale: Vec<StaleAccount>,
    pub stale_over_24h: u64,
    pub stale_over_48h: u64,
    /// Credentials that are broken in the organisations the user administers ("Need
    /// Reauthentication"); empty for end users.
    #[serde(default)]
    pub need_reauthentication: Vec<crate::credentials::BrokenCredential>,
    /// Working credentials whose token expires within 14 days, soonest first, in the
    /// organisations the user administers; empty for end users.
    #[serde(default)]
    pub expiring: Vec<crate::credentials::ExpiringCredential>,
    /// Deliveries to a PSA or a webhook that gave up after their last retry, in the
    /// organisations the user administers (Account Settings › Integrations › Deliveries).
    #[serde(default)]
    pub failed_deliveries: u64,
    /// The service's own backup storage is short of room (under the server's
    /// `--min-free-space-mb`): shown to resellers, who run the service. `None` when there is
    /// room, and for everyone else.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_warning: Option<ServiceStorage>,
    /// Storage per organisation the user administers, with what the last pruning by retention
    /// removed (so the figure before it is `used_bytes + last_pruned_bytes`); empty for end users.
    #[serde(default)]
    pub organisations: Vec<OrganisationStorage>,
}

/// One organisation's backups: what they hold, against its quota, and the last pruning.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrganisationStorage {
    pub organisation_id: i64,
    pub organisation: String,
    pub used_bytes: u64,
    /// 0: no limit.
    pub quota_bytes: u64,
    /// Days a message deleted from its mailbox is kept; none: for ever.
    pub keep_deleted_days: Option<u32>,
    /// When retention last pruned its backups (RFC 3339), and what it removed then.
    pub last_pruned_at: Option<String>,
    pub last_pruned_bytes: u64,
}

/// The room left where this service keeps its backups (the file system of its data folder).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServiceStorage {
    /// Free to the service.
    pub free_bytes: u64,
    pub total_bytes: u64,
    /// The warning shows under this.
    pub threshold_bytes: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KindCounts {
    pub kind: JobKind,
    pub counts: Vec<StatusCount>,
}

/// Storage used by backups against the subscriptions' quota, over the user's scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Storage {
    pub used_bytes: u64,
    pub quota_bytes: u64,
}

impl Storage {
    /// Percent of the quota used (can pass 100 when over).
    pub fn percent(&self) -> u64 {
        if self.quota_bytes == 0 {
            0
        } else {
            self.used_bytes * 100 / self.quota_bytes
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StaleAccount {
    pub mailbox_id: i64,
    pub mailbox_email: String,
    /// When its last complete backup ended (RFC 3339); none if it never had one.
    pub last_success_at: Option<String>,
}
