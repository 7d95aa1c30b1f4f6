//! Backups: `/api/backups`, one row per mailbox the user may see, with its current run;
//! and Force Backup, for one account or every account of a filter.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use portal_api::backups::BACKUP_HISTORY_RUNS;
use portal_api::{
    ActivityAction,
    BackupHistory, BackupRow, BackupRunEntry, BackupsQuery, FieldError, ForceBackupsRequest, ForceBackupsResult, JobKind,
    JobStatus, Page, Storage,
};

use crate::activity::store::Target;
use crate::auth::CurrentUser;
use crate::db::rfc3339;
use crate::error::{AppError, AppResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::listing;
use crate::listing::RunColumns;
use crate::queue;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/backups", get(list_backups))
        .route("/api/backups/force", post(force_backups))
        .route("/api/backups/{mailbox_id}", get(get_backup))
        .route("/api/backups/{mailbox_id}/force", post(force_backup))
        .route("/api/backups/{mailbox_id}/history", get(backup_history))
        .route("/api/backups/{mailbox_id}/folders", get(backup_folders))
}

/// A mailbox and its backup's status.
#[derive(sqlx::FromRow)]
struct MailboxStatus {
    id: i64,
    #[sqlx(try_from = "String")]
    status: JobStatus,
}

#[derive(sqlx::FromRow)]
struct BackupRecord {
    mailbox_id: i64,
    email: String,
    organisation: String,
    #[sqlx(try_from = "String")]
    status: JobStatus,
    last_backup_at: Option<i64>,
    last_success_at: Option<i64>,
    #[sqlx(flatten)]
    run: RunColumns,
    storage_used: Option<i64>,
    storage_quota: Option<i64>,
    ticket_id: Option<i64>,
}

impl BackupRecord {
    fn into_row(self, max_retries: u32) -> AppResult<BackupRow> {
        let status = backup_status(self.status)?;
        Ok(BackupRow {
            mailbox_id: self.mailbox_id,
            mailbox_email: self.email,
            organisation: self.organisation,
            status,
            last_backup_at: self.last_backup_at.map(rfc3339),
            last_success_at: self.last_success_at.map(rfc3339),
            run: self.run.into_run(status, max_retries, None),
            storage: match (status, self.storage_used, self.storage_quota) {
                (JobStatus::SpaceFull, Some(used), Some(quota)) => {
                    Some(Storage { used_bytes: used.max(0) as u64, quota_bytes: quota.max(0) as u64 })
                }
                _ => None,
            },
            ticket: self.ticket_id.map(|id| portal_api::TicketRef { id, system: "HaloPSA".to_owned() }),
        })
    }
}

const FROM_BACKUPS: &str = "FROM backups b \
     JOIN mailboxes m ON m.id = b.mailbox_id \
     JOIN organisations o ON o.id = m.organisation_id \
     LEFT JOIN jobs j ON j.id = b.current_job_id";

/// A status the Backups list can show (a backup's), or an error: a bad row is never shown as another.
fn backup_status(status: JobStatus) -> AppResult<JobStatus> {
    if !JobKind::Backup.allows(status) {
        return Err(AppError::internal(format!("a backup stored in status {status}")));
    }
    Ok(status)
}

static BACKUP_COLUMNS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "m.id AS mailbox_id, m.email, o.name AS organisation, b.status, \
         b.last_backup_at, b.last_success_at, j.started_at, j.items_done, j.items_total, j.bytes_done, \
         j.bytes_total, j.retries, j.next_run_at, j.detail, j.lease_until, \
         CASE WHEN b.status = '{}' THEN (SELECT CAST(SUM(sm.storage_used_bytes) AS BIGINT) FROM mailboxes sm \
                                          WHERE sm.organisation_id = o.id) END AS storage_used, \
         o.storage_quota_bytes AS storage_quota, \
         (SELECT t.halo_ticket_id FROM tickets t JOIN halo_settings h ON h.organisation_id = t.organisation_id \
          WHERE t.mailbox_id = m.id AND t.closed_at IS NULL AND t.halo_url = {} \
          ORDER BY t.opened_at DESC LIMIT 1) AS ticket_id",
        JobStatus::SpaceFull.as_str(),
        crate::notify::settings::HALO_KEY_SQL
    )
});

/// The filter's conditions: `$2` the text (empty: any), `$3` its LIKE pattern, `$4` the status (empty: any).
const FILTER_CONDITIONS: &str = "($2 = '' OR LOWER(m.email) LIKE $3 ESCAPE '\\' OR LOWER(o.name) LIKE $3 ESCAPE '\\') \
     AND ($4 = '' OR b.status = $4)";

/// The backups the signed-in user may see, filtered and paged on the server.
#[utoipa::path(
    get, path = "/api/backups", tag = "backups",
    params(BackupsQuery),
    responses(
        (status = 200, description = "One page of backups, ordered by mailbox address", body = Page<BackupRow>),
        (status = 401, description = "Not signed in", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A filter or paging value is not valid", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_backups(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(query): ApiQuery<BackupsQuery>,
) -> AppResult<Json<Page<BackupRow>>> {
    let filter = Filter::new(query.q.as_deref(), query.status.as_deref(), query.page, query.per_page)?;
    let (scope, scope_id) = crate::access::scope(&user).condition();
    let (total,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) {FROM_BACKUPS} WHERE {scope} AND {FILTER_CONDITIONS}"))
        .bind(scope_id)
        .bind(&filter.text)
        .bind(&filter.pattern)
        .bind(&filter.status)
        .fetch_one(&state.db)
        .await?;
    let records: Vec<BackupRecord> = sqlx::query_as(&format!(
        "SELECT {} {FROM_BACKUPS} WHERE {scope} AND {FILTER_CONDITIONS} \
         ORDER BY m.email LIMIT $5 OFFSET $6",
        *BACKUP_COLUMNS
    ))
    .bind(scope_id)
    .bind(&filter.text)
    .bind(&filter.pattern)
    .bind(&filter.status)
    .bind(i64::from(filter.per_page))
    .bind(i64::from(filter.page - 1) * i64::from(filter.per_page))
    .fetch_all(&state.db)
    .await?;
    let max_retries = state.config.max_retries;
    Ok(Json(Page {
        items: records.into_iter().map(|r| r.into_row(max_retries)).collect::<AppResult<_>>()?,
        total: total as u64,
        page: filter.page,
        per_page: filter.per_page,
    }))
}

/// One mailbox's backup. A mailbox outside the user's scope is "not found": its existence is not revealed.
#[utoipa::path(
    get, path = "/api/backups/{mailbox_id}", tag = "backups",
    params(("mailbox_id" = i64, Path, description = "The mailbox's ID")),
    responses(
        (status = 200, description = "The mailbox's backup", body = BackupRow),
        (status = 401, description = "Not signed in", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such mailbox among those you may see", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_backup(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(mailbox_id): ApiPath<i64>,
) -> AppResult<Json<BackupRow>> {
    Ok(Json(find_backup(&state, &user, mailbox_id).await?))
}

#[derive(sqlx::FromRow)]
struct RunRecord {
    id: String,
    #[sqlx(try_from = "String")]
    status: JobStatus,
    created_at: i64,
    started_at: Option<i64>,
    finished_at: Option<i64>,
    items_done: i64,
    bytes_done: i64,
}

/// The folders a mailbox's backup holds: what a restore or download can choose from.
#[utoipa::path(
    get, path = "/api/backups/{mailbox_id}/folders", tag = "backups",
    params(("mailbox_id" = i64, Path, description = "The mailbox's ID")),
    responses(
        (status = 200, description = "The folders in the backup, by name", body = [String]),
        (status = 404, description = "No such mailbox among those you may see", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn backup_folders(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(mailbox_id): ApiPath<i64>,
) -> AppResult<Json<Vec<String>>> {
    find_backup(&state, &user, mailbox_id).await?;
    Ok(Json(crate::listing::folders_in_backup(&state.db, mailbox_id).await?))
}

/// An account's last backups, newest first, for its history chart.
#[utoipa::path(
    get, path = "/api/backups/{mailbox_id}/history", tag = "backups",
    params(("mailbox_id" = i64, Path, description = "The mailbox's ID")),
    responses(
        (status = 200, description = "The account's last 30 backups, newest first", body = BackupHistory),
        (status = 401, description = "Not signed in", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such mailbox among those you may see", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn backup_history(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(mailbox_id): ApiPath<i64>,
) -> AppResult<Json<BackupHistory>> {
    let backup = find_backup(&state, &user, mailbox_id).await?;
    let records: Vec<RunRecord> = sqlx::query_as(
        "SELECT id, status, created_at, started_at, finished_at, items_done, bytes_done FROM jobs \
         WHERE mailbox_id = $1 AND kind = $3 ORDER BY created_at DESC, id DESC LIMIT $2",
    )
    .bind(mailbox_id)
    .bind(BACKUP_HISTORY_RUNS as i64)
    .bind(JobKind::Backup.as_str())
    .fetch_all(&state.db)
    .await?;
    let runs = records
        .into_iter()
        .map(|r| {
            let status = backup_status(r.status)?;
            Ok(BackupRunEntry {
                job_id: r.id,
                status,
                created_at: rfc3339(r.created_at),
                started_at: r.started_at.map(rfc3339),
                finished_at: r.finished_at.map(rfc3339),
                items_done: r.items_done.max(0) as u64,
                bytes_done: r.bytes_done.max(0) as u64,
            })
        })
        .collect::<AppResult<_>>()?;
    Ok(Json(BackupHistory { mailbox_id, mailbox_email: backup.mailbox_email, runs }))
}

async fn find_backup(state: &AppState, user: &CurrentUser, mailbox_id: i64) -> AppResult<BackupRow> {
    let (scope, scope_id) = crate::access::scope(&user).condition();
    let record: Option<BackupRecord> =
        sqlx::query_as(&format!("SELECT {} {FROM_BACKUPS} WHERE {scope} AND m.id = $2", *BACKUP_COLUMNS))
            .bind(scope_id)
            .bind(mailbox_id)
            .fetch_optional(&state.db)
            .await?;
    record
        .ok_or_else(|| AppError::not_found(format!("No mailbox with ID {mailbox_id} is among the mailboxes you can see.")))?
        .into_row(state.config.max_retries)
}

/// Force Backup of one account: starts a backup now, or brings a pending retry forward to now.
#[utoipa::path(
    post, path = "/api/backups/{mailbox_id}/force", tag = "backups",
    params(
        ("mailbox_id" = i64, Path, description = "The mailbox's ID"),
    ),
    responses(
        (status = 202, description = "The backup starts now", body = BackupRow),
        (status = 403, description = "Only resellers and organisation admins may force a backup", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such mailbox among those you may see", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 409, description = "A backup of this mailbox is already running", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn force_backup(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(mailbox_id): ApiPath<i64>,
) -> AppResult<(StatusCode, Json<BackupRow>)> {
    crate::access::require(&user, portal_api::Action::ForceBackup)?;
    let row = find_backup(&state, &user, mailbox_id).await?;
    if matches!(row.status, JobStatus::PreparingBackup | JobStatus::InProgress) {
        return Err(AppError::Conflict(format!(
            "A backup of {} is already running (status: {}). It finishes by itself; force another once it has ended.",
            row.mailbox_email,
            row.status.label()
        )));
    }
    if !queue::force_backup(&state.db, mailbox_id, row.status, user.user_id).await? {
        return Err(AppError::Conflict(format!(
            "A backup of {} has just started. It finishes by itself; force another once it has ended.",
            row.mailbox_email
        )));
    }
    state.engine.wake();
    crate::activity::store::record(&state.db, &user, ActivityAction::ForceBackup, Target::mailbox(mailbox_id)).await;
    Ok((StatusCode::ACCEPTED, Json(find_backup(&state, &user, mailbox_id).await?)))
}

/// Force Backup of every account of a filter (the Backups list's `q` and `status`).
#[utoipa::path(
    post, path = "/api/backups/force", tag = "backups",
    request_body = ForceBackupsRequest,
    responses(
        (status = 202, description = "Backups started; how many, and how many were already running", body = ForceBackupsResult),
        (status = 403, description = "Only resellers and organisation admins may force a backup", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "The filter is not valid", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn force_backups(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(request): ApiJson<ForceBackupsRequest>,
) -> AppResult<(StatusCode, Json<ForceBackupsResult>)> {
    crate::access::require(&user, portal_api::Action::ForceBackup)?;
    let filter = Filter::new(request.q.as_deref(), request.status.as_deref(), None, None)?;
    let (scope, scope_id) = crate::access::scope(&user).condition();
    let matching: Vec<MailboxStatus> =
        sqlx::query_as(&format!("SELECT m.id, b.status {FROM_BACKUPS} WHERE {scope} AND {FILTER_CONDITIONS}"))
            .bind(scope_id)
            .bind(&filter.text)
            .bind(&filter.pattern)
            .bind(&filter.status)
            .fetch_all(&state.db)
            .await?;
    let mut result = ForceBackupsResult::default();
    for MailboxStatus { id: mailbox_id, status } in matching {
        if matches!(status, JobStatus::PreparingBackup | JobStatus::InProgress) {
            result.already_running += 1;
        } else if queue::force_backup(&state.db, mailbox_id, status, user.user_id).await? {
            result.started += 1;
            // One entry per mailbox: "who forced this mailbox's backup" has one answer.
            crate::activity::store::record(&state.db, &user, ActivityAction::ForceBackup, Target::mailbox(mailbox_id)).await;
        } else {
            result.already_running += 1;
        }
    }
    state.engine.wake();
    Ok((StatusCode::ACCEPTED, Json(result)))
}

/// A validated filter of the Backups list.
struct Filter {
    text: String,
    pattern: String,
    status: String,
    page: u32,
    per_page: u32,
}

impl Filter {
    fn new(q: Option<&str>, status: Option<&str>, page: Option<u32>, per_page: Option<u32>) -> AppResult<Filter> {
        let mut errors = Vec::new();
        // Empty is no filter; a name is taken exactly as the document lists it.
        let status = status.unwrap_or("").to_owned();
        if !status.is_empty() && !JobStatus::parse(&status).is_some_and(|s| JobKind::Backup.allows(s)) {
            let known: Vec<&str> = JobKind::Backup.statuses().iter().map(|s| s.as_str()).collect();
            errors.push(FieldError::new("status", format!("Use one of: {}.", known.join(", "))));
        }
        let (page, per_page) = listing::paging(page, per_page, &mut errors);
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        let (pattern, text) = listing::search(q);
        Ok(Filter { pattern, text, status, page, per_page })
    }
}
