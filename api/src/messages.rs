//! Messages inside backups: search, preview, and what a message's restore or download names
//! (System Status › Backups › Search messages; `GET /api/messages`).

use serde::{Deserialize, Serialize};

use crate::named_enum;

named_enum! {
    /// How search results are ordered.
    pub enum MessageSort("message sort") {
        /// Newest message first (by the date it was sent, else received).
        Newest = "newest",
        Oldest = "oldest",
        /// Best match of the words first (newest first without words).
        Relevance = "relevance",
        Largest = "largest",
        /// Most recently deleted from the mailbox first; messages still there after them.
        RecentlyDeleted = "recently_deleted",
    }
}

named_enum! {
    /// Where a restore of chosen messages puts them.
    pub enum RestoreTo("restore place") {
        /// Into the folder each message was in.
        OriginalFolder = "original_folder",
        /// Into a new folder named "Restored YYYY-MM-DD" (the day the restore was asked for, UTC).
        NewFolder = "new_folder",
    }
}

/// `GET /api/messages`: filters, as in the page's URL. Every filter narrows; none: every
/// message of every mailbox the user may see.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct MessagesQuery {
    /// Words in the subject, sender, recipients or body; each must appear (as a word or the
    /// start of one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(max_length = 200))]
    pub q: Option<String>,
    /// Text in the sender (name or address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(max_length = 200))]
    pub from: Option<String>,
    /// Text in a recipient (To or Cc: name or address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(max_length = 200))]
    pub to: Option<String>,
    /// Only this mailbox.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mailbox_id: Option<i64>,
    /// Only this folder (its name exactly).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(max_length = 500))]
    pub folder: Option<String>,
    /// Sent on or after this day (YYYY-MM-DD, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(format = Date))]
    pub after: Option<String>,
    /// Sent on or before this day (YYYY-MM-DD, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(format = Date))]
    pub before: Option<String>,
    /// Only messages with (true) or without (false) attachments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_attachment: Option<bool>,
    /// Only messages deleted from the mailbox (true) or still there (false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<bool>,
    /// Order (newest when not given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(value_type = Option<MessageSort>))]
    pub sort: Option<String>,
    /// 1-based page number (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(minimum = 1))]
    pub page: Option<u32>,
    /// Rows per page (default 50, at most 200).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 200))]
    pub per_page: Option<u32>,
}

/// A piece of a result's snippet: the words that matched are `hit`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SnippetPart {
    pub text: String,
    pub hit: bool,
}

/// One message found in the backups.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessageHit {
    /// The message's ID in the backup (for its preview, restore or download).
    pub id: i64,
    pub mailbox_id: i64,
    /// The mailbox's address.
    pub mailbox: String,
    pub folder: String,
    /// The sender as the message names it ("Ann Lee <ann@example.com>").
    pub from: String,
    /// Its recipients (To and Cc).
    pub to: String,
    pub subject: String,
    /// When it was sent (else received), RFC 3339.
    pub date: Option<String>,
    pub size: u64,
    pub has_attachments: bool,
    /// When a backup found it gone from the mailbox (RFC 3339); the backup keeps it.
    pub deleted_at: Option<String>,
    /// Part of its text around the words searched for (the start of its text without words).
    pub snippet: Vec<SnippetPart>,
}

/// One header of a previewed message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessageHeader {
    pub name: String,
    pub value: String,
}

/// One attachment of a previewed message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessageAttachment {
    /// Its number in the message (`GET /api/messages/{id}/attachments/{index}`).
    pub index: u32,
    pub name: String,
    pub content_type: String,
    pub size: u64,
}

/// A message of a backup, read for its preview (`GET /api/messages/{id}`). Its HTML body, made
/// safe, is at `GET /api/messages/{id}/html`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessagePreview {
    #[serde(flatten)]
    pub hit: MessageHit,
    /// The headers a reader looks at (From, To, Cc, Date, Subject, Message-ID, Reply-To).
    pub headers: Vec<MessageHeader>,
    /// The text body (or the HTML body turned into text when there is none).
    pub text: String,
    /// Whether it has an HTML body.
    pub has_html: bool,
    /// Whether its HTML body loads images from other sites (not shown unless asked for).
    pub remote_images: bool,
    pub attachments: Vec<MessageAttachment>,
}

/// An organisation's retention: how long a message deleted from its mailbox is kept in the
/// backup (`GET`/`PUT /api/organisations/{id}/retention`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Retention {
    /// Days a message is kept after a backup found it deleted from the mailbox; none: kept
    /// for ever (the default).
    pub keep_deleted_days: Option<u32>,
    /// When the daily pruning last ran for this organisation (RFC 3339).
    pub last_pruned_at: Option<String>,
    /// What that run removed.
    pub last_pruned_messages: u64,
    pub last_pruned_bytes: u64,
    /// What the organisation's backups hold now.
    pub storage_used_bytes: u64,
}

/// `PUT /api/organisations/{id}/retention`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RetentionInput {
    /// 1 to 36,500 days; null: keep everything.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 36500))]
    pub keep_deleted_days: Option<u32>,
}

/// `PUT /api/mailboxes/{id}/legal-hold`: a mailbox on hold loses nothing to retention.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LegalHold {
    pub on_hold: bool,
}
