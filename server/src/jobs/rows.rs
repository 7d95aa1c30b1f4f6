//! What the jobs lists read: a job's row as the database gives it and as the API answers it,
//! and the SQL that selects, filters, sorts and pages them.

use portal_api::{DownloadFormat, JobKind, JobRow, JobSort, JobStatus, OnConflict};
use serde::Deserialize;
use std::sync::LazyLock;

use crate::connector::JobParams;
use crate::db::rfc3339;
use crate::error::{AppError, AppResult};
use crate::listing;
use crate::state::AppState;

#[derive(sqlx::FromRow, Deserialize)]
pub(super) struct JobRecord {
    pub(super) id: String,
    #[sqlx(try_from = "String")]
    pub(super) kind: JobKind,
    pub(super) mailbox_id: i64,
    pub(super) email: String,
    pub(super) organisation: String,
    #[sqlx(try_from = "String")]
    pub(super) status: JobStatus,
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

impl JobRecord {
    pub(super) fn into_row(self, state: &AppState) -> AppResult<JobRow> {
        let max_retries = state.config.max_retries;
        let (kind, status) = (self.kind, self.status);
        if !kind.allows(status) {
            return Err(AppError::internal(format!("job status {status} for a {kind} job")));
        }
        let params = JobParams::try_from(self.params).map_err(|error| AppError::internal(format!("job parameters: {error}")))?;
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

fn describe_target(kind: JobKind, params: &JobParams) -> String {
    let destination = params.destination.as_deref().unwrap_or("the original mailbox");
    match kind {
        JobKind::Restore => {
            let folders = match (params.messages.len(), params.wanted_folders()) {
                (1, _) => "1 chosen message".to_owned(),
                (n @ 2.., _) => format!("{n} chosen messages"),
                (0, Some(folders)) => folders.join(", "),
                (0, None) => "all folders".to_owned(),
            };
            let folders = match &params.into_folder {
                Some(into) => format!("{folders} (into the folder {into})"),
                None => folders,
            };
            let conflict = match params.on_conflict() {
                OnConflict::KeepBoth => "keep both",
                OnConflict::Skip => "skip existing",
            };
            format!("{folders} into {destination} ({conflict})")
        }
        JobKind::Migrate => format!("to {destination}"),
        JobKind::Download if !params.messages.is_empty() => match params.format() {
            DownloadFormat::Eml => "1 chosen message as an EML file".to_owned(),
            _ => format!("{} chosen message(s) as EML files in a zip", params.messages.len()),
        },
        JobKind::Download => match params.format() {
            DownloadFormat::EmlZip => "EML files in a zip".to_owned(),
            DownloadFormat::Mbox => "mbox file".to_owned(),
            DownloadFormat::Eml => "one EML file".to_owned(),
        },
        JobKind::Backup => String::new(),
    }
}

static JOB_COLUMNS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "j.id, j.kind, j.mailbox_id, m.email, o.name AS organisation, j.status, j.created_at, \
         j.finished_at, j.params, j.started_at, j.items_done, j.items_total, j.bytes_done, j.bytes_total, j.retries, \
         j.next_run_at, j.detail, j.lease_until, j.expires_at, {} AS ahead",
        crate::queue::queued_ahead_column()
    )
});

/// The columns a `JobRecord` reads (`j` the job, `m` its mailbox, `o` its organisation).
pub(super) fn job_columns() -> &'static str {
    &JOB_COLUMNS
}

pub(super) const FROM_JOBS: &str = "FROM jobs j \
     JOIN mailboxes m ON m.id = j.mailbox_id \
     JOIN organisations o ON o.id = m.organisation_id";

pub(super) fn order_by(sort: JobSort) -> &'static str {
    match sort {
        // Both directions follow the index (kind, created_at, id): no sort, however many jobs.
        JobSort::Oldest => "j.created_at ASC, j.id ASC",
        JobSort::Mailbox => "m.email, j.created_at DESC, j.id DESC",
        JobSort::Status => "j.status, j.created_at DESC, j.id DESC",
        JobSort::Newest => "j.created_at DESC, j.id DESC",
    }
}

/// A page of jobs as one JSON array made by the database, in the page's order: one value
/// crosses from the database to the handler instead of one row per job, each with its own
/// hand-over between threads and its own conversion (measured: a third of a list request's CPU).
/// `$6` the page size, `$7` the offset.
pub(super) fn page_as_json(postgres: bool, conditions: &str, sort: JobSort) -> String {
    let columns = job_columns();
    let (array, object) = if postgres { ("json_agg", "json_build_object") } else { ("json_group_array", "json_object") };
    let fields: Vec<String> = JOB_FIELDS.iter().map(|name| format!("'{name}', p.{name}")).collect();
    // The same order outside, on the subquery's own column names.
    let outer_order = order_by(sort).replace("j.", "p.").replace("m.", "p.");
    format!(
        "SELECT COALESCE(CAST({array}({object}({}) ORDER BY {outer_order}) AS TEXT), '[]') \
         FROM (SELECT {columns} {FROM_JOBS} {conditions} ORDER BY {} LIMIT $6 OFFSET $7) p",
        fields.join(", "),
        order_by(sort)
    )
}
