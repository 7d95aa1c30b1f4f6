//! Backups: one row per mailbox, with the state of its backup.

use serde::{Deserialize, Serialize};

use crate::dashboard::Storage;
use crate::jobs::{JobRun, JobStatus};

/// One mailbox and the state of its backup, as the Backups list shows it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BackupRow {
    /// The mailbox's ID in the service.
    pub mailbox_id: i64,
    /// The Mailbox Email ID: the address support asks for.
    pub mailbox_email: String,
    pub organisation: String,
    /// One of `JobKind::Backup.statuses()`.
    pub status: JobStatus,
    /// Progress and retries of the current run.
    pub run: JobRun,
    /// When the last backup ran (RFC 3339), whatever its outcome; none before the first.
    pub last_backup_at: Option<String>,
    /// When the last backup that completed in full ended (RFC 3339).
    pub last_success_at: Option<String>,
    /// Space Full: the organisation's storage used against its subscription's quota.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<Storage>,
    /// The PSA ticket open about this mailbox's failing backup, if one was filed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<crate::TicketRef>,
}

/// One backup run of an account, for its history chart.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BackupRunEntry {
    /// The run's job ID.
    pub job_id: String,
    pub status: JobStatus,
    /// When the run was asked for (RFC 3339).
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub items_done: u64,
    pub bytes_done: u64,
}

/// An account's last backups, newest first (`GET /api/backups/{mailbox_id}/history`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BackupHistory {
    pub mailbox_id: i64,
    pub mailbox_email: String,
    /// At most `BACKUP_HISTORY_RUNS`, newest first.
    pub runs: Vec<BackupRunEntry>,
}

/// How many runs an account's history shows.
pub const BACKUP_HISTORY_RUNS: usize = 30;

/// Filter and paging of `GET /api/backups`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct BackupsQuery {
    /// Only rows whose mailbox address or organisation contains this text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    /// Only rows in this status (its snake_case name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// 1-based page number (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
    /// Rows per page (default 50, at most 200).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_page: Option<u32>,
}

/// Force Backup on every account of a filter (the same filter as the Backups list).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
// A field the server does not know is refused (422), never silently ignored.
#[serde(deny_unknown_fields)]
pub struct ForceBackupsRequest {
    #[serde(default)]
    pub q: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
}

/// What a bulk Force Backup did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ForceBackupsResult {
    /// Accounts whose backup was started (or whose pending retry was brought forward).
    pub started: u64,
    /// Accounts left alone because a backup of them is already running.
    pub already_running: u64,
}
