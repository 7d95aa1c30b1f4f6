//! Backups: one row per mailbox, with the state of its backup.

use serde::{Deserialize, Serialize};

/// The statuses a backup can be in (reference: "Backup Errors & Statuses").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum BackupStatus {
    PreparingBackup,
    InProgress,
    Completed,
    Retrying,
    ConnectionError,
    AuthenticationError,
    SpaceFull,
    PartiallyComplete,
}

/// How a status reads at a glance; one colour scale for every kind of job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    /// Waiting or working: nothing to do.
    Neutral,
    Active,
    Success,
    /// The service is handling it, but the user should know.
    Warning,
    /// Someone must act.
    Danger,
}

impl Tone {
    pub fn as_str(self) -> &'static str {
        match self {
            Tone::Neutral => "neutral",
            Tone::Active => "active",
            Tone::Success => "success",
            Tone::Warning => "warning",
            Tone::Danger => "danger",
        }
    }
}

impl BackupStatus {
    pub const ALL: [BackupStatus; 8] = [
        BackupStatus::PreparingBackup,
        BackupStatus::InProgress,
        BackupStatus::Completed,
        BackupStatus::Retrying,
        BackupStatus::ConnectionError,
        BackupStatus::AuthenticationError,
        BackupStatus::SpaceFull,
        BackupStatus::PartiallyComplete,
    ];

    /// The name stored in the database and used in URLs and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            BackupStatus::PreparingBackup => "preparing_backup",
            BackupStatus::InProgress => "in_progress",
            BackupStatus::Completed => "completed",
            BackupStatus::Retrying => "retrying",
            BackupStatus::ConnectionError => "connection_error",
            BackupStatus::AuthenticationError => "authentication_error",
            BackupStatus::SpaceFull => "space_full",
            BackupStatus::PartiallyComplete => "partially_complete",
        }
    }

    pub fn parse(value: &str) -> Option<BackupStatus> {
        BackupStatus::ALL.into_iter().find(|s| s.as_str() == value)
    }

    /// The status as the portal shows it.
    pub fn label(self) -> &'static str {
        match self {
            BackupStatus::PreparingBackup => "Preparing Backup",
            BackupStatus::InProgress => "In Progress",
            BackupStatus::Completed => "Completed",
            BackupStatus::Retrying => "Retrying",
            BackupStatus::ConnectionError => "Connection Error",
            BackupStatus::AuthenticationError => "Authentication Error",
            BackupStatus::SpaceFull => "Space Full",
            BackupStatus::PartiallyComplete => "Partially Complete",
        }
    }

    pub fn tone(self) -> Tone {
        match self {
            BackupStatus::PreparingBackup => Tone::Neutral,
            BackupStatus::InProgress => Tone::Active,
            BackupStatus::Completed => Tone::Success,
            BackupStatus::Retrying | BackupStatus::ConnectionError | BackupStatus::PartiallyComplete => {
                Tone::Warning
            }
            BackupStatus::AuthenticationError | BackupStatus::SpaceFull => Tone::Danger,
        }
    }
}

/// One mailbox and the state of its backup, as the Backups list shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BackupRow {
    /// The mailbox's ID in the service.
    pub mailbox_id: i64,
    /// The Mailbox Email ID: the address support asks for.
    pub mailbox_email: String,
    pub organisation: String,
    pub status: BackupStatus,
    /// When the last backup ran (RFC 3339), whatever its outcome; none before the first.
    pub last_backup_at: Option<String>,
    /// When the last backup that completed in full ended (RFC 3339).
    pub last_success_at: Option<String>,
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_round_trips_and_serde_agrees_with_as_str() {
        for status in BackupStatus::ALL {
            assert_eq!(BackupStatus::parse(status.as_str()), Some(status));
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
        }
    }

    #[test]
    fn statuses_that_need_someone_to_act_read_as_danger() {
        assert_eq!(BackupStatus::AuthenticationError.tone(), Tone::Danger);
        assert_eq!(BackupStatus::Completed.tone(), Tone::Success);
    }
}
