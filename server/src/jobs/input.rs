//! What the jobs resource accepts, read as text first so that one answer names every field
//! that is wrong (a typed body would stop at the first), then checked into the `api` types.

use portal_api::names::Named;
use portal_api::{DownloadFormat, FieldError, JobKind, JobSort, JobStatus, OnConflict, RestoreTo};
use serde::Deserialize;

use crate::error::{AppError, AppResult};
use crate::listing;

/// `GET /api/jobs` as sent (documented as `portal_api::JobsQuery`).
#[derive(Deserialize)]
pub struct TextJobsQuery {
    kind: Option<String>,
    q: Option<String>,
    status: Option<String>,
    sort: Option<String>,
    page: Option<u32>,
    per_page: Option<u32>,
}

/// A jobs list request that was checked.
pub(super) struct ListQuery {
    pub(super) kind: JobKind,
    pub(super) q: Option<String>,
    pub(super) status: Option<JobStatus>,
    pub(super) sort: JobSort,
    pub(super) page: u32,
    pub(super) per_page: u32,
}

impl TextJobsQuery {
    pub(super) fn validate(self) -> AppResult<ListQuery> {
        let mut errors = Vec::new();
        let kind = require_kind(self.kind.as_deref(), &mut errors);
        // Empty is no filter (a form's "every status"); a name is taken exactly as the document lists it.
        let status = self.status.as_deref().filter(|s| !s.is_empty());
        let status = match (kind, status) {
            (Some(kind), Some(status)) => {
                // A status this kind never reaches lists nothing; only an unknown name is wrong.
                let parsed = JobStatus::parse(status);
                if parsed.is_none() {
                    let known: Vec<&str> = kind.statuses().iter().map(|s| s.as_str()).collect();
                    errors.push(FieldError::new("status", format!("Use one of: {}.", known.join(", "))));
                }
                parsed
            }
            _ => None,
        };
        let sort = JobSort::parse(self.sort.as_deref().unwrap_or(JobSort::Newest.as_str()));
        if sort.is_none() {
            errors.push(FieldError::new("sort", format!("Use one of: {}.", JobSort::names().join(", "))));
        }
        let (page, per_page) = listing::paging(self.page, self.per_page, &mut errors);
        match (kind, sort) {
            (Some(kind), Some(sort)) if errors.is_empty() => Ok(ListQuery { kind, q: self.q, status, sort, page, per_page }),
            _ => Err(AppError::Validation(errors)),
        }
    }
}

/// `POST /api/jobs` as sent (documented as `portal_api::NewJob`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextNewJob {
    kind: String,
    mailbox_id: i64,
    #[serde(default)]
    folders: Vec<String>,
    #[serde(default)]
    destination: Option<String>,
    #[serde(default)]
    on_conflict: Option<String>,
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    messages: Vec<i64>,
    #[serde(default)]
    restore_to: Option<String>,
}

impl TextNewJob {
    /// The request with its names read; `None` where a name is wrong. A wrong kind goes into
    /// `errors` now; wrong choices (`on_conflict`, `format`) come back apart, for the answer to
    /// name them after the mailbox, folders and destination, in the form's order.
    pub(super) fn read(self, errors: &mut Vec<FieldError>) -> (Option<JobKind>, NewJobFields, Vec<FieldError>) {
        let kind = require_kind(Some(self.kind.as_str()), errors);
        let mut choices = Vec::new();
        let on_conflict = choice(self.on_conflict.as_deref(), kind == Some(JobKind::Restore), "on_conflict", &mut choices);
        let format = choice(self.format.as_deref(), kind == Some(JobKind::Download), "format", &mut choices);
        let restore_to = choice(self.restore_to.as_deref(), kind == Some(JobKind::Restore), "restore_to", &mut choices);
        if !self.messages.is_empty() && !matches!(kind, Some(JobKind::Restore | JobKind::Download) | None) {
            errors.push(FieldError::new("messages", "Only a restore or a download takes chosen messages."));
        }
        let fields = NewJobFields {
            mailbox_id: self.mailbox_id,
            folders: self.folders,
            destination: self.destination,
            on_conflict,
            format,
            messages: self.messages,
            restore_to,
        };
        (kind, fields, choices)
    }
}

/// A new job's fields but its kind (which may be wrong while the others are read).
pub(super) struct NewJobFields {
    pub(super) mailbox_id: i64,
    pub(super) folders: Vec<String>,
    pub(super) destination: Option<String>,
    pub(super) on_conflict: Option<OnConflict>,
    pub(super) format: Option<DownloadFormat>,
    pub(super) messages: Vec<i64>,
    pub(super) restore_to: Option<RestoreTo>,
}

/// A choice given by its name, read only where it applies (a field of another kind is
/// ignored); a wrong name is told with the names there are.
fn choice<T: Named>(text: Option<&str>, applies: bool, field: &str, wrong: &mut Vec<FieldError>) -> Option<T> {
    let parsed = text.filter(|_| applies)?.parse().ok();
    if parsed.is_none() {
        wrong.push(FieldError::new(field, format!("Choose {}.", T::names().join(" or "))));
    }
    parsed
}

/// The kind of a jobs list: migrate, restore or download.
fn require_kind(kind: Option<&str>, errors: &mut Vec<FieldError>) -> Option<JobKind> {
    match kind.and_then(JobKind::parse) {
        Some(JobKind::Backup) => {
            errors.push(FieldError::new("kind", "Backups are listed at /api/backups."));
            None
        }
        Some(kind) => Some(kind),
        None => {
            errors.push(FieldError::new("kind", "Use one of: migrate, restore, download."));
            None
        }
    }
}

/// Any kind, backups too (the counts).
pub(super) fn require_kind_any(kind: Option<&str>, errors: &mut Vec<FieldError>) -> Option<JobKind> {
    let parsed = kind.and_then(JobKind::parse);
    if parsed.is_none() {
        errors.push(FieldError::new("kind", format!("Use one of: {}.", JobKind::names().join(", "))));
    }
    parsed
}
