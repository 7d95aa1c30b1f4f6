//! Where mailbox data comes from and goes to. A connector does the work of one run of a job
//! and reports how it ended; the engine turns that into a status (design.md, "Connectors").

use std::future::Future;
use std::pin::Pin;

use portal_api::{DownloadFormat, JobKind, OnConflict};
use serde::{Deserialize, Serialize};

/// How one run of a job ended, as the connector saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every item done.
    Completed,
    /// Done, but these items could not be read or written.
    Partial { skipped: Vec<String> },
    /// Could not connect, connection reset, timeout, throttled (429/503).
    Connection(String),
    /// Credentials or permissions rejected (400/401/403).
    Authentication(String),
    /// The subscription's storage (backups) or the destination mailbox (restore, migrate) is full.
    SpaceFull(String),
    /// A known error on our side that retrying will not fix.
    Failed(String),
    /// Anything else: retried.
    Unknown(String),
    /// Something failed on our side (the database, the backup storage, a file): retried like
    /// an unknown error. The job says only what was being done; the error's own words (SQL,
    /// file paths) go to the server's log with the job's ID.
    Internal { during: String, error: String },
    /// The service's own storage (the data folder) is full while `during`: not the customer's
    /// subscription (that is `SpaceFull`). Retried; the job names the cause in our words.
    StorageFull { during: String },
}

impl Outcome {
    /// A failure on our side while `during` ("reading the backup").
    pub fn internal(during: &str, error: impl std::fmt::Display) -> Outcome {
        Outcome::Internal { during: during.to_owned(), error: error.to_string() }
    }

    /// A failure on our side while `during` with the service's own files: a full disk (or a
    /// quota on it) is `StorageFull`, logged with the system's words; anything else `Internal`.
    pub fn storage(during: &str, error: std::io::Error) -> Outcome {
        use std::io::ErrorKind;
        if matches!(error.kind(), ErrorKind::StorageFull | ErrorKind::QuotaExceeded) {
            tracing::error!(during, %error, "the data folder is full: backups wait until room is made");
            return Outcome::StorageFull { during: during.to_owned() };
        }
        Outcome::internal(during, error)
    }
}

/// What a connector is asked to do.
#[derive(Clone, Debug)]
pub struct Work {
    pub job_id: String,
    pub kind: JobKind,
    pub mailbox_id: i64,
    pub organisation_id: i64,
    pub mailbox_email: String,
    /// Which connector the mailbox uses.
    pub connector: portal_api::Connector,
    /// What the job was asked to do.
    pub params: JobParams,
    /// The mailbox's demo script (demo connector only).
    pub script: String,
    /// Which attempt of this run this is (1 for the first).
    pub attempt: u32,
    /// Backups: whether every credential of the mailbox's organisation works (Account
    /// Settings › Credentials); a backup that needs a broken one cannot sign in.
    pub credentials_ok: bool,
    /// Restore, migrate: the destination mailbox's password, when one was given (Edit).
    pub destination_password: Option<crate::secrets::SecretString>,
}

/// What a job was asked to do, stored with it as JSON (`jobs.params`) and read back as this
/// struct: a value of the wrong type is an error, never a default. A key this build does not
/// know is left alone (written by a newer instance during an upgrade).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobParams {
    /// Restore, migrate: the mailbox the messages go into (the source's own for a restore in place).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    /// Restore, download: the folders asked for; empty: all of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub folders: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_conflict: Option<OnConflict>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<DownloadFormat>,
    /// Restore, download: only these messages of the backup (chosen in a search); empty: the
    /// folders asked for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<MessageKey>,
    /// Restore: the one folder every message goes into ("Restored 2026-12-01"); none: each
    /// message into the folder it was in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub into_folder: Option<String>,
    /// Demo: this job's own script, instead of its mailbox's (a restore into a mailbox whose
    /// password is wrong...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script: Option<String>,
    /// Started by the demo's director to keep a status on show (`seed/director.rs`), which
    /// removes it some time after it has finished.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub demo_cycle: bool,
}

/// A message's place in a mailbox's backup: what a job names when it was asked for chosen
/// messages (a search's IDs are read into these when the job is created).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MessageKey {
    pub folder: String,
    pub uid_validity: i64,
    pub uid: i64,
}

impl JobParams {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("job parameters are plain data")
    }

    /// The folders asked for; `None`: all of them.
    pub fn wanted_folders(&self) -> Option<&[String]> {
        (!self.folders.is_empty()).then_some(self.folders.as_slice())
    }

    pub fn format(&self) -> DownloadFormat {
        self.format.unwrap_or(DownloadFormat::Mbox)
    }

    pub fn on_conflict(&self) -> OnConflict {
        self.on_conflict.unwrap_or(OnConflict::Skip)
    }
}

impl TryFrom<String> for JobParams {
    type Error = serde_json::Error;

    fn try_from(json: String) -> Result<Self, Self::Error> {
        serde_json::from_str(&json)
    }
}

/// Progress as the connector goes: items and bytes done of the totals it knows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    pub items_done: u64,
    pub items_total: Option<u64>,
    pub bytes_done: u64,
    pub bytes_total: Option<u64>,
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Receives progress while a run goes on; the engine stores it so the portal can show it.
pub trait ProgressSink: Send + Sync {
    fn report<'a>(&'a self, progress: Progress) -> BoxFuture<'a, ()>;
}

pub trait Connector: Send + Sync {
    fn run<'a>(&'a self, work: &'a Work, progress: &'a dyn ProgressSink) -> BoxFuture<'a, Outcome>;
}

/// Sends each job to the connector of its mailbox.
pub struct ByMailbox {
    pub demo: std::sync::Arc<dyn Connector>,
    pub imap: std::sync::Arc<dyn Connector>,
}

impl Connector for ByMailbox {
    fn run<'a>(&'a self, work: &'a Work, progress: &'a dyn ProgressSink) -> BoxFuture<'a, Outcome> {
        match work.connector {
            portal_api::Connector::Imap => self.imap.run(work, progress),
            portal_api::Connector::Demo => self.demo.run(work, progress),
        }
    }
}
