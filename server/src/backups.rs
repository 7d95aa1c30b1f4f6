//! Backups: `/api/backups`, one row per mailbox the user may see.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use portal_api::page::{DEFAULT_PER_PAGE, MAX_PER_PAGE};
use portal_api::{BackupRow, BackupStatus, BackupsQuery, FieldError, Page};

use crate::auth::{CurrentUser, Scope};
use crate::db::rfc3339;
use crate::error::{AppError, AppResult};
use crate::extract::ApiQuery;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/backups", get(list_backups))
        .route("/api/backups/{mailbox_id}", get(get_backup))
}

#[derive(sqlx::FromRow)]
struct BackupRecord {
    mailbox_id: i64,
    email: String,
    organisation: String,
    status: String,
    last_backup_at: Option<i64>,
    last_success_at: Option<i64>,
}

impl BackupRecord {
    fn into_row(self) -> AppResult<BackupRow> {
        let status = BackupStatus::parse(&self.status)
            .ok_or_else(|| AppError::internal(format!("unknown backup status {:?} stored", self.status)))?;
        Ok(BackupRow {
            mailbox_id: self.mailbox_id,
            mailbox_email: self.email,
            organisation: self.organisation,
            status,
            last_backup_at: self.last_backup_at.map(rfc3339),
            last_success_at: self.last_success_at.map(rfc3339),
        })
    }
}

const SELECT_BACKUPS: &str = "SELECT m.id AS mailbox_id, m.email, o.name AS organisation, b.status, \
            b.last_backup_at, b.last_success_at \
     FROM backups b \
     JOIN mailboxes m ON m.id = b.mailbox_id \
     JOIN organisations o ON o.id = m.organisation_id";

/// The scope's condition on the joined rows; its one parameter is `$1`.
fn scope_condition(scope: Scope) -> (&'static str, i64) {
    match scope {
        Scope::Mailbox(id) => ("m.id = $1", id),
        Scope::Organisation(id) => ("m.organisation_id = $1", id),
        Scope::Reseller(id) => ("o.reseller_id = $1", id),
    }
}

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
    let filter = Filter::from_query(&query)?;
    let (scope, scope_id) = scope_condition(user.scope());
    // Fixed SQL with every parameter always bound: an empty filter matches everything.
    let conditions = format!(
        "WHERE {scope} \
           AND ($2 = '' OR LOWER(m.email) LIKE $3 ESCAPE '\\' OR LOWER(o.name) LIKE $3 ESCAPE '\\') \
           AND ($4 = '' OR b.status = $4)"
    );
    let (total,): (i64,) = sqlx::query_as(&format!(
        "SELECT COUNT(*) FROM backups b JOIN mailboxes m ON m.id = b.mailbox_id \
         JOIN organisations o ON o.id = m.organisation_id {conditions}"
    ))
    .bind(scope_id)
    .bind(&filter.text)
    .bind(&filter.pattern)
    .bind(&filter.status)
    .fetch_one(&state.db)
    .await?;
    let records: Vec<BackupRecord> =
        sqlx::query_as(&format!("{SELECT_BACKUPS} {conditions} ORDER BY m.email LIMIT $5 OFFSET $6"))
            .bind(scope_id)
            .bind(&filter.text)
            .bind(&filter.pattern)
            .bind(&filter.status)
            .bind(i64::from(filter.per_page))
            .bind(i64::from(filter.page - 1) * i64::from(filter.per_page))
            .fetch_all(&state.db)
            .await?;
    Ok(Json(Page {
        items: records.into_iter().map(BackupRecord::into_row).collect::<AppResult<_>>()?,
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
    Path(mailbox_id): Path<i64>,
) -> AppResult<Json<BackupRow>> {
    let (scope, scope_id) = scope_condition(user.scope());
    let record: Option<BackupRecord> = sqlx::query_as(&format!("{SELECT_BACKUPS} WHERE {scope} AND m.id = $2"))
        .bind(scope_id)
        .bind(mailbox_id)
        .fetch_optional(&state.db)
        .await?;
    let record = record.ok_or_else(|| {
        AppError::not_found(format!("No mailbox with ID {mailbox_id} is among the mailboxes you can see."))
    })?;
    Ok(Json(record.into_row()?))
}

/// A validated `BackupsQuery`.
struct Filter {
    text: String,
    pattern: String,
    status: String,
    page: u32,
    per_page: u32,
}

impl Filter {
    fn from_query(query: &BackupsQuery) -> AppResult<Filter> {
        let mut errors = Vec::new();
        let text = query.q.as_deref().unwrap_or("").trim().to_lowercase();
        let status = query.status.as_deref().unwrap_or("").trim().to_owned();
        if !status.is_empty() && BackupStatus::parse(&status).is_none() {
            let known: Vec<&str> = BackupStatus::ALL.iter().map(|s| s.as_str()).collect();
            errors.push(FieldError::new("status", format!("Use one of: {}.", known.join(", "))));
        }
        let page = query.page.unwrap_or(1);
        if page == 0 {
            errors.push(FieldError::new("page", "Pages are numbered from 1."));
        }
        let per_page = query.per_page.unwrap_or(DEFAULT_PER_PAGE);
        if per_page == 0 || per_page > MAX_PER_PAGE {
            errors.push(FieldError::new("per_page", format!("Ask for 1 to {MAX_PER_PAGE} rows per page.")));
        }
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        let escaped = text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        Ok(Filter { pattern: format!("%{escaped}%"), text, status, page, per_page })
    }
}
