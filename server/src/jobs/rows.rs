//! What the jobs lists read: a job's row as the database gives it and as the API answers it,
//! and the SQL that selects, filters, sorts and pages them.

use portal_api::{JobKind, JobRow, JobStatus};
use serde::Deserialize;

use crate::db::rfc3339;
use crate::error::{AppError, AppResult};
use crate::listing;
use crate::state::AppState;

#[derive(sqlx::FromRow, Deserialize)]
pub(super) struct JobRecord {
    pub(super) id: String,
    pub(super) kind: String,
    pub(super) mailbox_id: i64,
    pub(super) email: String,
    pub(super) organisation: String,
    pub(super) status: String,
    pub(super) created_at: i64,
    pub(super) finished_at: Option<i64>,
    pub(super) params: String,
    #[sqlx(flatten)]
    #[serde(flatten)]
    pub(super) run: listing::RunColumns,
    pub(super) expires_at: Option<i64>,
    pub(super) ahead: i64,
}

/// The names `JOB_COLUMNS` gives its columns, in order (the list's JSON page uses them).
const JOB_FIELDS: [&str; 20] = [
    "id",
    "kind",
    "mailbox_id",
    "email",
    "organisation",
    "status",
    "created_at",
    "finished_at",
    "params",
    "started_at",
    "items_done",
    "items_total",
    "bytes_done",
    "bytes_total",
    "retries",
    "next_run_at",
    "detail",
    "lease_until",
    "expires_at",
    "ahead",
];

/// What a job was asked to do (`jobs.params`).
#[derive(Deserialize, Default)]
struct Params {
    destination: Option<String>,
    folders: Option<Vec<String>>,
    on_conflict: Option<String>,
    format: Option<String>,
}

impl JobRecord {
    pub(super) fn into_row(self, state: &AppState) -> AppResult<JobRow> {
        let max_retries = state.config.max_retries;
        let kind = JobKind::parse(&self.kind).ok_or_else(|| AppError::internal(format!("job kind {:?}", self.kind)))?;
        let status = JobStatus::parse(&self.status)
            .filter(|s| kind.allows(*s))
            .ok_or_else(|| AppError::internal(format!("job status {:?} for {kind:?}", self.status)))?;
        let params: Params = serde_json::from_str(&self.params).unwrap_or_default();
        // A ready download's link; the file exists once the job completed.
        let download_url = (kind == JobKind::Download && status == JobStatus::Completed)
            .then_some(self.expires_at)
            .flatten()
            .map(|expires| state.links.url(&self.id, expires));
        Ok(JobRow {
            download_url,
            target: describe_target(kind, &params),
            destination: matches!(kind, JobKind::Restore | JobKind::Migrate).then(|| params.destination.clone()).flatten(),
            id: self.id,
            kind,
            mailbox_id: self.mailbox_id,
            mailbox_email: self.email,
            organisation: self.organisation,
            status,
            created_at: rfc3339(self.created_at),
            finished_at: self.finished_at.map(rfc3339),
            expires_at: self.expires_at.map(rfc3339),
            run: self.run.into_run(status, max_retries, (status == JobStatus::OnQueue).then_some(self.ahead.max(0) as u64)),
        })
    }
}

fn describe_target(kind: JobKind, params: &Params) -> String {
    let destination = params.destination.as_deref().unwrap_or("the original mailbox");
    match kind {
        JobKind::Restore => {
            let folders = match params.folders.as_deref() {
                Some(folders) if !folders.is_empty() => folders.join(", "),
                _ => "all folders".to_owned(),
            };
            let conflict = match params.on_conflict.as_deref() {
                Some("keep_both") => "keep both",
                _ => "skip existing",
            };
            format!("{folders} into {destination} ({conflict})")
        }
        JobKind::Migrate => format!("to {destination}"),
        JobKind::Download => match params.format.as_deref() {
            Some("eml_zip") => "EML files in a zip".to_owned(),
            _ => "mbox file".to_owned(),
        },
        JobKind::Backup => String::new(),
    }
}

pub(super) const JOB_COLUMNS: &str = "j.id, j.kind, j.mailbox_id, m.email, o.name AS organisation, j.status, j.created_at, \
     j.finished_at, j.params, j.started_at, j.items_done, j.items_total, j.bytes_done, j.bytes_total, j.retries, \
     j.next_run_at, j.detail, j.lease_until, j.expires_at, \
     CASE WHEN j.status = 'on_queue' THEN (SELECT COUNT(*) FROM jobs q WHERE q.kind = j.kind \
       AND q.status = 'on_queue' AND q.next_run_at < j.next_run_at) ELSE 0 END AS ahead";

pub(super) const FROM_JOBS: &str = "FROM jobs j \
     JOIN mailboxes m ON m.id = j.mailbox_id \
     JOIN organisations o ON o.id = m.organisation_id";

/// `$2` the kind, `$3` the search text (empty: any), `$4` its pattern.
pub(super) const JOB_FILTER: &str = "j.kind = $2 AND ($3 = '' OR LOWER(j.id) LIKE $4 ESCAPE '\\' \
     OR LOWER(m.email) LIKE $4 ESCAPE '\\' OR LOWER(o.name) LIKE $4 ESCAPE '\\')";

pub(super) fn order_by(sort: &str) -> &'static str {
    match sort {
        // Both directions follow the index (kind, created_at, id): no sort, however many jobs.
        "oldest" => "j.created_at ASC, j.id ASC",
        "mailbox" => "m.email, j.created_at DESC, j.id DESC",
        "status" => "j.status, j.created_at DESC, j.id DESC",
        _ => "j.created_at DESC, j.id DESC",
    }
}

/// A page of jobs as one JSON array made by the database, in the page's order: one value
/// crosses from the database to the handler instead of one row per job, each with its own
/// hand-over between threads and its own conversion (measured: a third of a list request's CPU).
/// `$6` the page size, `$7` the offset.
pub(super) fn page_as_json(postgres: bool, conditions: &str, sort: &str) -> String {
    let (array, object) = if postgres { ("json_agg", "json_build_object") } else { ("json_group_array", "json_object") };
    let fields: Vec<String> = JOB_FIELDS.iter().map(|name| format!("'{name}', p.{name}")).collect();
    // The same order outside, on the subquery's own column names.
    let outer_order = order_by(sort).replace("j.", "p.").replace("m.", "p.");
    format!(
        "SELECT COALESCE(CAST({array}({object}({}) ORDER BY {outer_order}) AS TEXT), '[]') \
         FROM (SELECT {JOB_COLUMNS} {FROM_JOBS} {conditions} ORDER BY {} LIMIT $6 OFFSET $7) p",
        fields.join(", "),
        order_by(sort)
    )
}
