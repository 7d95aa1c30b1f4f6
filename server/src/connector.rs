//! Where mailbox data comes from and goes to. A connector does the work of one run of a job
//! and reports how it ended; the engine turns that into a status (design.md, "Connectors").

use std::future::Future;
use std::pin::Pin;

use portal_api::JobKind;

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
    /// Which connector the mailbox uses: `demo` or `imap`.
    pub connector: String,
    /// What the job was asked to do (`jobs.params`: destination, folders, on_conflict, format).
    pub params: serde_json::Value,
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
        match work.connector.as_str() {
            "imap" => self.imap.run(work, progress),
            _ => self.demo.run(work, progress),
        }
    }
}
