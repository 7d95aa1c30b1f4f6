//! The four kinds of job on the System Status pages, their statuses, and what each status
//! means and asks of the user (reference: "Errors & Statuses"; the wording is our own).

use serde::{Deserialize, Serialize};

use crate::named_enum;

/// How many times a job is retried after an unknown error, by default.
pub const DEFAULT_MAX_RETRIES: u32 = 25;
/// Minutes between two retries, by default.
pub const DEFAULT_RETRY_MINUTES: u32 = 30;

named_enum! {
    pub enum JobKind("job kind") {
        Backup = "backup",
        Migrate = "migrate",
        Restore = "restore",
        Download = "download",
    }
}

impl JobKind {
    /// The System Status tab's name.
    pub fn plural(self) -> &'static str {
        match self {
            JobKind::Backup => "Backups",
            JobKind::Migrate => "Migrates",
            JobKind::Restore => "Restores",
            JobKind::Download => "Downloads",
        }
    }

    /// The name of the ID that support asks for.
    pub fn id_label(self) -> &'static str {
        match self {
            JobKind::Backup => "Mailbox Email ID",
            JobKind::Migrate => "Migration ID",
            JobKind::Restore => "Restore ID",
            JobKind::Download => "Download ID",
        }
    }

    /// The statuses a job of this kind can be in, in the order the portal lists them.
    pub fn statuses(self) -> &'static [JobStatus] {
        use JobStatus::*;
        match self {
            JobKind::Backup => &[
                PreparingBackup,
                InProgress,
                Completed,
                Retrying,
                ConnectionError,
                AuthenticationError,
                SpaceFull,
                PartiallyComplete,
            ],
            JobKind::Migrate | JobKind::Restore => &[
                OnQueue,
                InProgress,
                Completed,
                Retrying,
                Cancelled,
                Failed,
                ConnectionError,
                AuthenticationError,
                SpaceFull,
                PartiallyComplete,
            ],
            JobKind::Download => &[OnQueue, InProgress, Completed, Expired, Retrying, Cancelled, Failed],
        }
    }

    pub fn allows(self, status: JobStatus) -> bool {
        self.statuses().contains(&status)
    }
}

named_enum! {
    /// Every status of every kind: one scale, one set of names.
    pub enum JobStatus("job status") {
        PreparingBackup = "preparing_backup",
        OnQueue = "on_queue",
        InProgress = "in_progress",
        Completed = "completed",
        Retrying = "retrying",
        Cancelled = "cancelled",
        Failed = "failed",
        ConnectionError = "connection_error",
        AuthenticationError = "authentication_error",
        SpaceFull = "space_full",
        PartiallyComplete = "partially_complete",
        Expired = "expired",
    }
}

/// How a status reads at a glance; one colour scale for every kind of job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    /// Waiting: nothing to do.
    Neutral,
    /// Working.
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

impl JobStatus {
    /// The status as the portal shows it.
    pub fn label(self) -> &'static str {
        match self {
            JobStatus::PreparingBackup => "Preparing Backup",
            JobStatus::OnQueue => "On Queue",
            JobStatus::InProgress => "In Progress",
            JobStatus::Completed => "Completed",
            JobStatus::Retrying => "Retrying",
            JobStatus::Cancelled => "Cancelled",
            JobStatus::Failed => "Failed",
            JobStatus::ConnectionError => "Connection Error",
            JobStatus::AuthenticationError => "Authentication Error",
            JobStatus::SpaceFull => "Space Full",
            JobStatus::PartiallyComplete => "Partially Complete",
            JobStatus::Expired => "Expired",
        }
    }

    pub fn tone(self) -> Tone {
        match self {
            JobStatus::PreparingBackup | JobStatus::OnQueue | JobStatus::Expired => Tone::Neutral,
            JobStatus::InProgress => Tone::Active,
            JobStatus::Completed => Tone::Success,
            JobStatus::Retrying | JobStatus::ConnectionError | JobStatus::PartiallyComplete => Tone::Warning,
            JobStatus::Cancelled | JobStatus::Failed | JobStatus::AuthenticationError | JobStatus::SpaceFull => Tone::Danger,
        }
    }

    /// Whether a migration, restore or download in this status may be deleted: it has finished
    /// and nothing will run it again unless someone asks.
    pub fn is_deletable(self) -> bool {
        matches!(
            self,
            JobStatus::Completed | JobStatus::PartiallyComplete | JobStatus::Cancelled | JobStatus::Failed | JobStatus::Expired
        )
    }

    /// Whether the job is waiting or working (it will change by itself).
    pub fn is_active(self) -> bool {
        matches!(self, JobStatus::PreparingBackup | JobStatus::OnQueue | JobStatus::InProgress | JobStatus::Retrying)
    }
}

/// Why a job of this kind is in this status, and what the user can do: our own words,
/// from the facts of the reference.
pub fn explain(kind: JobKind, status: JobStatus) -> Explanation {
    use JobKind::*;
    use JobStatus::*;
    let (cause, todo): (&str, &str) = match (kind, status) {
        (Backup, PreparingBackup) => (
            "The backup is getting ready to start.",
            "Nothing to do: it starts by itself in a few minutes.",
        ),
        (_, OnQueue) => (
            "The job is waiting for its turn; other work is being done first.",
            "Nothing to do. If it has waited for hours, contact support with the ID.",
        ),
        (Backup, InProgress) => ("The mailbox is being backed up now.", "Nothing to do."),
        (Migrate, InProgress) => ("The mailbox is being copied to its destination now.", "Nothing to do."),
        (Restore, InProgress) => ("Messages are being put back into the destination mailbox now.", "Nothing to do."),
        (Download, InProgress) => ("The download file is being prepared now.", "Nothing to do."),
        (Download, Completed) => (
            "The download file is ready.",
            "Download it before the link expires; after that, request it again.",
        ),
        (_, Completed) => ("Finished, with every item done.", "Nothing to do."),
        (Backup, Retrying) => (
            "The last attempt failed for a reason we could not identify.",
            "Nothing to do: it is retried every 30 minutes, up to 25 times. A reseller can Force Backup to try now.",
        ),
        (_, Retrying) => (
            "The last attempt failed for a reason we could not identify.",
            "Nothing to do: it is retried every 30 minutes, up to 25 times.",
        ),
        (_, Cancelled) => (
            "Every retry failed, so the job was stopped.",
            "Try again. If it is cancelled again, contact support with the ID.",
        ),
        (Download, Failed) => (
            "The file could not be prepared because of an error on our side.",
            "Contact support with the Download ID.",
        ),
        (_, Failed) => (
            "The job stopped because of an error on our side.",
            "We look into failed jobs within a few hours. If it stays failed, contact support with the ID.",
        ),
        (Backup, ConnectionError) => (
            "The mail server could not be reached, or it asked us to slow down (throttling, or the service is down).",
            "Nothing to do at first: this usually clears by itself within a few hours. If it does not, contact support with the Mailbox Email ID.",
        ),
        (Migrate, ConnectionError) => (
            "The destination mail server could not be reached.",
            "Check the destination's server settings, then try again.",
        ),
        (_, ConnectionError) => (
            "The destination mail server could not be reached.",
            "Contact support with the ID if it does not clear.",
        ),
        (Backup, AuthenticationError) => (
            "The mail service refused our sign-in: the account's password changed or expired, or a permission was removed.",
            "Fix the credentials on Account Settings › Credentials; the next backup then runs normally.",
        ),
        (Migrate, AuthenticationError) => (
            "The destination mailbox refused the password given for it.",
            "Choose Edit and enter the destination mailbox's current password; the migration then retries.",
        ),
        (_, AuthenticationError) => (
            "The destination mailbox refused its password.",
            "Choose Edit and enter the destination mailbox's current password; the restore then retries.",
        ),
        (Backup, SpaceFull) => (
            "The subscription's storage is full, so nothing more can be backed up.",
            "Upgrade the subscription's storage, or remove accounts you no longer need backed up.",
        ),
        (_, SpaceFull) => (
            "The destination mailbox has no room for the messages.",
            "Free space in the destination mailbox or raise its size limit, then try again.",
        ),
        (Backup, PartiallyComplete) => (
            "Some items could not be read (malformed messages or attachments); everything else was saved.",
            "Nothing to do at first: the next backups try those items again. The skipped items are listed.",
        ),
        (_, PartiallyComplete) => (
            "Some items did not arrive: the destination may be full or limit how much it accepts.",
            "Contact support with the ID; the items that did not arrive are listed.",
        ),
        (_, Expired) => ("The download link is no longer valid.", "Request the download again."),
        (_, PreparingBackup) => ("Getting ready to start.", "Nothing to do."),
    };
    Explanation { cause, what_to_do: todo }
}

/// Where a job's current run stands: what the status line needs beyond the status.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobRun {
    /// When the current run started (RFC 3339).
    pub started_at: Option<String>,
    pub items_done: u64,
    /// None until the connector knows how many there are.
    pub items_total: Option<u64>,
    pub bytes_done: u64,
    pub bytes_total: Option<u64>,
    /// Retries made after unknown errors in this run, and the most there will be.
    pub retries: u32,
    pub max_retries: u32,
    /// When the engine will next work on it (a retry, or a queued start), RFC 3339.
    pub next_run_at: Option<String>,
    /// For On Queue: how many jobs of the same kind are ahead of this one.
    pub queue_position: Option<u64>,
    /// What the connector reported, in plain words (never a secret).
    pub detail: Option<String>,
    /// In Progress, but the instance running it stopped: when its claim lapsed (RFC 3339; the
    /// instance went quiet up to a lease before). It continues from what it saved when a worker is free.
    #[serde(default)]
    pub interrupted_at: Option<String>,
}

impl JobRun {
    /// Percent done, by bytes when known, else by items.
    pub fn percent(&self) -> Option<u8> {
        let (done, total) = match (self.bytes_total, self.items_total) {
            (Some(total), _) if total > 0 => (self.bytes_done, total),
            (_, Some(total)) if total > 0 => (self.items_done, total),
            _ => return None,
        };
        Some(((done.min(total) * 100) / total) as u8)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Explanation {
    pub cause: &'static str,
    pub what_to_do: &'static str,
}

/// One migration, restore or download on its System Status tab.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobRow {
    /// The Migration ID, Restore ID or Download ID.
    pub id: String,
    pub kind: JobKind,
    pub mailbox_id: i64,
    /// The mailbox the job is about (its backup is the source).
    pub mailbox_email: String,
    pub organisation: String,
    pub status: JobStatus,
    /// When it was asked for (RFC 3339).
    pub created_at: String,
    pub finished_at: Option<String>,
    /// Where it goes, in a few words: a destination mailbox, or a file format.
    pub target: String,
    /// Restores and migrations: the mailbox the messages go into.
    pub destination: Option<String>,
    pub run: JobRun,
    /// Downloads: when the link stops (or stopped) working (RFC 3339).
    pub expires_at: Option<String>,
    /// Downloads that are ready: the signed link to the file (works until `expires_at`).
    pub download_url: Option<String>,
}

/// Filter, sort and paging of `GET /api/jobs`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct JobsQuery {
    /// Migrations, restores or downloads (backups have `/api/backups`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<JobKind>,
    /// Only jobs whose ID, mailbox or organisation contains this text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    /// Only jobs in this status (one of the kind's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<JobStatus>,
    /// Newest first when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort: Option<JobSort>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_page: Option<u32>,
}

named_enum! {
    /// The sort orders of a jobs list.
    pub enum JobSort("sort") {
        Newest = "newest",
        Oldest = "oldest",
        Mailbox = "mailbox",
        Status = "status",
    }
}

impl JobSort {
    pub fn label(self) -> &'static str {
        match self {
            JobSort::Newest => "Newest first",
            JobSort::Oldest => "Oldest first",
            JobSort::Mailbox => "Mailbox",
            JobSort::Status => "Status",
        }
    }
}

named_enum! {
    /// A restore, when a message is already in the destination folder.
    pub enum OnConflict("choice") {
        /// Leave the message that is there; do not copy it again.
        Skip = "skip",
        /// Copy it anyway: the folder then holds both.
        KeepBoth = "keep_both",
    }
}

named_enum! {
    /// A download's file.
    pub enum DownloadFormat("format") {
        /// One mbox file.
        Mbox = "mbox",
        /// One EML file per message, in a zip.
        EmlZip = "eml_zip",
        /// One message as one EML file (a download of exactly one chosen message).
        Eml = "eml",
    }
}

/// A job changed: what a live page needs to know that it should refresh (server-sent event
/// `job` on `/api/events`; the event ID is the change's time, for `Last-Event-ID`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobChanged {
    pub id: String,
    pub kind: JobKind,
    pub mailbox_id: i64,
    pub status: JobStatus,
}

/// Start a migration, restore or download (`POST /api/jobs`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
// A field the server does not know is refused (422), never silently ignored.
#[serde(deny_unknown_fields)]
pub struct NewJob {
    /// Migrate, restore or download.
    pub kind: JobKind,
    /// The mailbox whose backup is the source.
    pub mailbox_id: i64,
    /// Folders to include; empty: the whole mailbox (restore, download).
    #[serde(default)]
    pub folders: Vec<String>,
    /// Restore: another mailbox to restore into (empty: the original); migrate: the mailbox to move to.
    #[serde(default)]
    pub destination: Option<String>,
    /// Restore: what to do when a message is already there (skip when not given).
    #[serde(default)]
    pub on_conflict: Option<OnConflict>,
    /// Download: the file's format (mbox when not given).
    #[serde(default)]
    pub format: Option<DownloadFormat>,
    /// Restore, download: only these messages of the backup (IDs from `GET /api/messages`,
    /// all of this mailbox); empty: the folders asked for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<i64>,
    /// Restore: into the folders the messages were in (default), or all into one new folder
    /// "Restored YYYY-MM-DD" (chosen messages, or whole folders alike).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_to: Option<crate::RestoreTo>,
}

/// The destination mailbox's password, for a restore or migration that stopped in
/// Authentication Error (`PUT /api/jobs/{id}/destination-password`). Stored encrypted, used
/// by the job's next run, never sent back.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
// A field the server does not know is refused (422), never silently ignored.
#[serde(deny_unknown_fields)]
pub struct DestinationPassword {
    pub password: String,
}

impl std::fmt::Debug for DestinationPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DestinationPassword { .. }")
    }
}

/// Whether Edit (a new destination password) is what fixes a job in this state.
pub fn destination_password_fixes(kind: JobKind, status: JobStatus) -> bool {
    matches!(kind, JobKind::Restore | JobKind::Migrate) && status == JobStatus::AuthenticationError
}

/// The folders a restore or download can be limited to.
pub const FOLDERS: [&str; 4] = ["Inbox", "Sent Items", "Archive", "Drafts"];

/// How many jobs of a kind are in one status (the status chips).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatusCount {
    pub status: JobStatus,
    pub count: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_round_trips_and_serde_agrees_with_as_str() {
        for status in JobStatus::ALL {
            assert_eq!(JobStatus::parse(status.as_str()), Some(status));
            assert_eq!(serde_json::to_string(&status).unwrap(), format!("\"{}\"", status.as_str()));
        }
        for kind in JobKind::ALL {
            assert_eq!(JobKind::parse(kind.as_str()), Some(kind));
        }
    }

    #[test]
    fn each_kind_has_exactly_the_statuses_of_the_reference() {
        assert_eq!(JobKind::Backup.statuses().len(), 8);
        assert_eq!(JobKind::Migrate.statuses().len(), 10);
        assert_eq!(JobKind::Restore.statuses().len(), 10);
        assert_eq!(JobKind::Download.statuses().len(), 7);
        assert!(!JobKind::Backup.allows(JobStatus::Cancelled));
        assert!(JobKind::Download.allows(JobStatus::Expired));
        assert!(!JobKind::Download.allows(JobStatus::AuthenticationError));
    }

    #[test]
    fn percent_prefers_bytes_and_never_passes_100() {
        let run = JobRun { items_done: 5, items_total: Some(10), bytes_done: 30, bytes_total: Some(40), ..Default::default() };
        assert_eq!(run.percent(), Some(75));
        let run = JobRun { items_done: 5, items_total: Some(10), ..Default::default() };
        assert_eq!(run.percent(), Some(50));
        let run = JobRun { items_done: 12, items_total: Some(10), ..Default::default() };
        assert_eq!(run.percent(), Some(100));
        assert_eq!(JobRun::default().percent(), None);
    }

    #[test]
    fn every_status_of_every_kind_is_explained_in_its_own_words() {
        for kind in JobKind::ALL {
            let mut seen = std::collections::HashSet::new();
            for &status in kind.statuses() {
                let text = explain(kind, status);
                assert!(!text.cause.is_empty() && !text.what_to_do.is_empty());
                assert!(seen.insert(text.cause) || status == JobStatus::Completed, "{kind:?} {status:?}");
            }
        }
        assert!(explain(JobKind::Restore, JobStatus::AuthenticationError).what_to_do.contains("Edit"));
        assert!(explain(JobKind::Backup, JobStatus::AuthenticationError).what_to_do.contains("Credentials"));
    }
}
