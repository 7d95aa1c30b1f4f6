//! Account Settings › Mailboxes: the mailboxes an organisation backs up, and adding a real
//! one over IMAP (host, port, security, username, password) after a test of the connection.

use serde::{Deserialize, Serialize};

use crate::named_enum;
use crate::JobStatus;

named_enum! {
    /// Where a mailbox's data comes from.
    pub enum Connector("connector") {
        /// The built-in scripted mailboxes of the demo.
        Demo = "demo",
        /// A real mailbox, over IMAP.
        Imap = "imap",
    }
}

/// An IMAP mailbox to add, or its settings to test (`POST …/mailboxes`, `…/mailboxes/test`).
/// The password is stored encrypted and never sent back.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
// A field the server does not know is refused (422), never silently ignored.
#[serde(deny_unknown_fields)]
pub struct ImapMailboxRequest {
    /// The mailbox's address, as the portal lists it.
    pub email: String,
    /// The IMAP server's host name (or address).
    pub host: String,
    /// 993 for TLS; 143 (or a test port) for plain.
    pub port: u32,
    /// `tls`, or `plain` (only for a server on the portal's own machine).
    pub security: String,
    /// The IMAP login name (often the address).
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for ImapMailboxRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImapMailboxRequest")
            .field("email", &self.email)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// A connection test that succeeded: what the server showed once signed in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConnectionTest {
    /// The folders the mailbox has.
    pub folders: Vec<String>,
    /// In words: "Signed in to mail.example.com:993 as ann; 6 folders."
    pub summary: String,
}

/// How the portal reaches an IMAP mailbox (never its password).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ImapSettings {
    pub host: String,
    pub port: u32,
    pub security: String,
    pub username: String,
}

/// A mailbox of an organisation, as Account Settings › Mailboxes lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrganisationMailbox {
    pub id: i64,
    pub email: String,
    pub connector: Connector,
    pub imap: Option<ImapSettings>,
    /// Its backup's status.
    pub backup_status: JobStatus,
    /// Messages its backups hold (IMAP mailboxes).
    pub messages: u64,
    pub storage_used_bytes: u64,
    /// On legal hold: retention removes nothing from its backups.
    pub legal_hold: bool,
}

/// A new password for an IMAP mailbox (after it changed at the mail server).
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ImapPassword {
    pub password: String,
}

impl std::fmt::Debug for ImapPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ImapPassword(..)")
    }
}

/// What a job skipped, listed with it (a Partially Complete job).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SkippedItem {
    /// The folder and the message ("Work, UID 2").
    pub item: String,
    /// Why it was skipped.
    pub reason: String,
}
