//! Migrations, restores and downloads: `/api/jobs`, paged, filtered and sorted on the server,
//! with counts per status, and Try again / Request again.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use portal_api::jobs::{destination_password_fixes, DestinationPassword};
use portal_api::{
    ActivityAction,
    Action, DownloadFormat, FieldError, JobKind, JobRow, JobStatus, JobsQuery, NewJob, OnConflict, Page, StatusCount,
};
use serde::Deserialize;

use crate::access;
use crate::activity::store::{self as activity, Target};
use crate::auth::CurrentUser;
use crate::connector::JobParams;
use crate::error::{AppError, AppResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::listing;
use crate::queue;
use crate::state::AppState;

mod input;
mod rows;

use input::{require_kind_any, ListQuery, TextJobsQuery, TextNewJob};
use listing::JOB_FILTER;
use rows::{job_columns, page_as_json, JobRecord, FROM_JOBS};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/jobs", get(list_jobs).post(start_job))
        .route("/api/jobs/counts", get(count_jobs))
        .route("/api/jobs/{id}", get(get_job).delete(delete_job))
        .route("/api/jobs/{id}/retry", post(retry_job))
        .route("/api/jobs/{id}/skipped", get(skipped_items))
        .route("/api/jobs/{id}/destination-password", put(set_destination_password))
}

/// The migrations, restores or downloads the signed-in user may see.
#[utoipa::path(
    get, path = "/api/jobs", tag = "jobs",
    params(JobsQuery),
    responses(
        (status = 200, description = "One page of jobs of the kind", body = Page<JobRow>),
        (status = 401, description = "Not signed in", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A filter, sort or paging value is not valid", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_jobs(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(query): ApiQuery<TextJobsQuery>,
) -> AppResult<Json<Page<JobRow>>> {
    let ListQuery { kind, q, status, sort, page, per_page } = query.validate()?;
    let status = status.map(JobStatus::as_str).unwrap_or("").to_owned();
    let (pattern, text) = listing::search(q.as_deref());
    let (scope, scope_id) = access::scope(&user).condition();
    let conditions = format!("WHERE {scope} AND {JOB_FILTER} AND ($5 = '' OR j.status = $5)");

    let key = format!("jobs {scope} {scope_id} {} {text} {status}", kind.as_str());
    let count_sql = format!("SELECT COUNT(*) {FROM_JOBS} {conditions}");
    let (db, kind_name, count_text, count_pattern, count_status) =
        (state.db.clone(), kind.as_str(), text.clone(), pattern.clone(), status.clone());
    let total = state
        .counts
        .get_or_count(key, move || async move {
            let (total,): (i64,) = sqlx::query_as(&count_sql)
                .bind(scope_id)
                .bind(kind_name)
                .bind(count_text)
                .bind(count_pattern)
                .bind(count_status)
                .fetch_one(&db)
                .await?;
            Ok(total)
        })
        .await?;
    let (records,): (String,) = sqlx::query_as(&page_as_json(state.engine.postgres(), &conditions, sort))
        .bind(scope_id)
        .bind(kind.as_str())
        .bind(&text)
        .bind(&pattern)
        .bind(&status)
        .bind(i64::from(per_page))
        .bind(i64::from(page - 1) * i64::from(per_page))
        .fetch_one(&state.db)
        .await?;
    let records: Vec<JobRecord> =
        serde_json::from_str(&records).map_err(|error| AppError::internal(format!("a page of jobs as JSON: {error}")))?;
    Ok(Json(Page {
        items: records.into_iter().map(|r| r.into_row(&state)).collect::<AppResult<_>>()?,
        total: total as u64,
        page,
        per_page,
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CountsQuery {
    /// `backup`, `migrate`, `restore` or `download`.
    kind: Option<String>,
    /// The same text search as the list.
    q: Option<String>,
}

/// How many jobs of the kind are in each of its statuses (zero included), under the text search.
#[utoipa::path(
    get, path = "/api/jobs/counts", tag = "jobs",
    params(CountsQuery),
    responses(
        (status = 200, description = "A count for every status of the kind", body = Vec<StatusCount>),
        (status = 422, description = "The kind is missing or unknown", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn count_jobs(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(query): ApiQuery<CountsQuery>,
) -> AppResult<Json<Vec<StatusCount>>> {
    let mut errors = Vec::new();
    let Some(kind) = require_kind_any(query.kind.as_deref(), &mut errors) else {
        return Err(AppError::Validation(errors));
    };
    Ok(Json(listing::status_counts(&state.db, &user, kind, query.q.as_deref()).await?))
}

/// One migration, restore or download.
#[utoipa::path(
    get, path = "/api/jobs/{id}", tag = "jobs",
    params(("id" = String, Path, description = "The Migration, Restore or Download ID")),
    responses(
        (status = 200, description = "The job", body = JobRow),
        (status = 404, description = "No such job among those you may see", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_job(State(state): State<AppState>, user: CurrentUser, ApiPath(id): ApiPath<String>) -> AppResult<Json<JobRow>> {
    Ok(Json(find_job(&state, &user, &id).await?))
}

async fn find_job(state: &AppState, user: &CurrentUser, id: &str) -> AppResult<JobRow> {
    let (scope, scope_id) = access::scope(&user).condition();
    let record: Option<JobRecord> =
        sqlx::query_as(&format!("SELECT {} {FROM_JOBS} WHERE {scope} AND j.id = $2 AND j.kind <> $3", job_columns()))
            .bind(scope_id)
            .bind(id)
            .bind(JobKind::Backup.as_str())
            .fetch_optional(&state.db)
            .await?;
    record
        .ok_or_else(|| AppError::not_found(format!("There is no job {id} among those you can see. It may have been deleted.")))?
        .into_row(state)
}

/// What a run of a job (a backup too) skipped: each message and why.
#[utoipa::path(
    get, path = "/api/jobs/{id}/skipped", tag = "jobs",
    params(("id" = String, Path, description = "The Backup, Migration, Restore or Download ID")),
    responses(
        (status = 200, description = "What its last run skipped (empty if nothing)", body = [portal_api::SkippedItem]),
        (status = 404, description = "No such job among those you may see", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn skipped_items(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<Vec<portal_api::SkippedItem>>> {
    let (scope, scope_id) = access::scope(&user).condition();
    let found: Option<(String,)> = sqlx::query_as(&format!("SELECT j.id {FROM_JOBS} WHERE {scope} AND j.id = $2"))
        .bind(scope_id)
        .bind(&id)
        .fetch_optional(&state.db)
        .await?;
    if found.is_none() {
        return Err(AppError::not_found(format!("There is no job {id} among those you can see. It may have been deleted.")));
    }
    let items: Vec<(String, String)> =
        sqlx::query_as("SELECT item, reason FROM job_skipped_items WHERE job_id = $1 ORDER BY item")
            .bind(&id)
            .fetch_all(&state.db)
            .await?;
    Ok(Json(items.into_iter().map(|(item, reason)| portal_api::SkippedItem { item, reason }).collect()))
}

/// Delete a finished migration, restore or download: it leaves the lists, and a download's
/// file is deleted with it. What is still waiting or working is refused (409): it would come
/// back, or its work would be lost halfway.
#[utoipa::path(
    delete, path = "/api/jobs/{id}", tag = "jobs",
    params(
        ("id" = String, Path, description = "The Migration, Restore or Download ID"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such job among those you may see", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The job has not finished", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete_job(State(state): State<AppState>, user: CurrentUser, ApiPath(id): ApiPath<String>) -> AppResult<StatusCode> {
    let job = find_job(&state, &user, &id).await?;
    access::manage_job(&user, job.kind, &job.mailbox_email, job.destination.as_deref())?;
    let what = job.kind.id_label().trim_end_matches(" ID");
    if !job.status.is_deletable() {
        return Err(AppError::Conflict(format!(
            "{what} {id} is {}; it can be deleted once it has finished. Reload it to see its current state.",
            job.status.label()
        )));
    }
    if !queue::delete_finished(&state.db, &id).await? {
        return Err(AppError::Conflict(format!("{what} {id} changed while you asked; reload it to see its current state.")));
    }
    if job.kind == JobKind::Download {
        crate::downloads::file::remove_files(&state.config.data_dir, state.store.remote(), &id).await;
    }
    activity::record(&state.db, &user, ActivityAction::DeleteJob, Target::job(job.mailbox_id, &id)).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Try again (a cancelled or failed migration or restore) or Request again (a download that
/// failed, was cancelled or expired): the same job, with the same ID, goes back on the queue.
#[utoipa::path(
    post, path = "/api/jobs/{id}/retry", tag = "jobs",
    params(
        ("id" = String, Path, description = "The Migration, Restore or Download ID"),
    ),
    responses(
        (status = 202, description = "Back on the queue", body = JobRow),
        (status = 404, description = "No such job among those you may see", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The job is not in a state that can be tried again", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn retry_job(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<String>,
) -> AppResult<(StatusCode, Json<JobRow>)> {
    let job = find_job(&state, &user, &id).await?;
    access::manage_job(&user, job.kind, &job.mailbox_email, job.destination.as_deref())?;
    if !matches!(job.status, JobStatus::Cancelled | JobStatus::Failed | JobStatus::Expired) {
        return Err(AppError::Conflict(format!(
            "{} {id} is {}; only a cancelled, failed or expired job can be started again. Reload it to see its current state.",
            job.kind.id_label().trim_end_matches(" ID"),
            job.status.label()
        )));
    }
    access::rerun_destination(&state.db, &user, job.kind, job.mailbox_id, job.destination.as_deref()).await?;
    if !queue::retry(&state.db, &id).await? {
        return Err(AppError::Conflict(format!("{id} changed while you asked; reload it to see its current state.")));
    }
    state.engine.wake();
    activity::record(&state.db, &user, ActivityAction::TryAgain, Target::job(job.mailbox_id, &id)).await;
    Ok((StatusCode::ACCEPTED, Json(find_job(&state, &user, &id).await?)))
}

/// Edit: the destination mailbox's password for a restore or migration in Authentication
/// Error. It is stored encrypted (never returned) and the job goes back on the queue at once.
#[utoipa::path(
    put, path = "/api/jobs/{id}/destination-password", tag = "jobs",
    request_body = DestinationPassword,
    params(
        ("id" = String, Path, description = "The Restore or Migration ID"),
    ),
    responses(
        (status = 202, description = "Saved; the job is back on the queue", body = JobRow),
        (status = 404, description = "No such job among those you may see", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The job is not waiting for a password", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "The password is missing or too long", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn set_destination_password(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<DestinationPassword>,
) -> AppResult<(StatusCode, Json<JobRow>)> {
    let job = find_job(&state, &user, &id).await?;
    access::manage_job(&user, job.kind, &job.mailbox_email, job.destination.as_deref())?;
    if body.password.is_empty() {
        return Err(AppError::Validation(vec![FieldError::new("password", "Enter the destination mailbox's password.")]));
    }
    if body.password.chars().count() > 1024 {
        return Err(AppError::Validation(vec![FieldError::new("password", "A password can be at most 1,024 characters.")]));
    }
    if !destination_password_fixes(job.kind, job.status) {
        return Err(AppError::Conflict(format!(
            "{id} is {}; a password can be given only while a restore or migration is in Authentication Error. Reload it to see its current state.",
            job.status.label()
        )));
    }
    access::rerun_destination(&state.db, &user, job.kind, job.mailbox_id, job.destination.as_deref()).await?;
    let (organisation_id,): (i64,) =
        sqlx::query_as("SELECT m.organisation_id FROM jobs j JOIN mailboxes m ON m.id = j.mailbox_id WHERE j.id = $1")
            .bind(&id)
            .fetch_one(&state.db)
            .await?;
    let context = queue::destination_password_context(&id);
    let sealed = state
        .secrets
        .seal(&state.db, organisation_id, &context, body.password.as_bytes())
        .await
        .map_err(|error| AppError::Internal(format!("sealing a destination password: {error}")))?;
    if !queue::requeue_with_password(&state.db, &id, &sealed).await? {
        return Err(AppError::Conflict(format!("{id} changed while you asked; reload it to see its current state.")));
    }
    state.engine.wake();
    activity::record(&state.db, &user, ActivityAction::DestinationPassword, Target::job(job.mailbox_id, &id)).await;
    Ok((StatusCode::ACCEPTED, Json(find_job(&state, &user, &id).await?)))
}

/// Start a migration, restore or download; it is queued at once and shows in its list.
#[utoipa::path(
    post, path = "/api/jobs", tag = "jobs",
    request_body = NewJob,
    responses(
        (status = 201, description = "Queued", body = JobRow),
        (status = 422, description = "Fields that are missing or wrong, each named", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn start_job(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(new): ApiJson<TextNewJob>,
) -> AppResult<(StatusCode, Json<JobRow>)> {
    let mut errors = Vec::new();
    let (kind, new, wrong_choices) = new.read(&mut errors);
    if let Some(kind) = kind {
        access::require(&user, Action::start(kind))?;
    }
    let (scope, scope_id) = access::scope(&user).condition();
    let mailbox: Option<access::SourceMailbox> = sqlx::query_as(&format!(
        "SELECT m.email, m.connector, m.organisation_id FROM mailboxes m JOIN organisations o ON o.id = m.organisation_id \
         WHERE {scope} AND m.id = $2"
    ))
    .bind(scope_id)
    .bind(new.mailbox_id)
    .fetch_optional(&state.db)
    .await?;
    let backed_up = match &mailbox {
        Some(_) => listing::folders_in_backup(&state.db, new.mailbox_id).await?,
        None => {
            errors.push(FieldError::new("mailbox_id", "Choose one of your mailboxes."));
            Vec::new()
        }
    };
    let folders: Vec<String> = new.folders.iter().map(|f| f.trim().to_owned()).filter(|f| !f.is_empty()).collect();
    if let Some(unknown) = folders.iter().find(|f| !backed_up.contains(f)) {
        errors.push(FieldError::new("folders", format!("There is no folder {unknown:?} in the backup.")));
    }
    let chosen = match (&mailbox, new.messages.is_empty()) {
        (_, true) | (None, false) => Vec::new(),
        (Some(_), false) if new.messages.len() > listing::MAX_CHOSEN_MESSAGES => {
            errors.push(FieldError::new(
                "messages",
                format!("Choose at most {} messages; for more, restore or download their folders.", listing::MAX_CHOSEN_MESSAGES),
            ));
            Vec::new()
        }
        (Some(_), false) => match listing::chosen_messages(&state.db, new.mailbox_id, &new.messages).await? {
            Ok(keys) => keys,
            Err(missing) => {
                let named: Vec<String> = missing.iter().take(5).map(i64::to_string).collect();
                errors.push(FieldError::new(
                    "messages",
                    format!("Not in this mailbox's backup: {}. Search again and choose from the results.", named.join(", ")),
                ));
                Vec::new()
            }
        },
    };
    if !chosen.is_empty() && !folders.is_empty() {
        errors.push(FieldError::new("folders", "Choose folders or messages, not both."));
    }
    if new.format == Some(DownloadFormat::Eml) && (new.messages.len() != 1 || kind != Some(JobKind::Download)) {
        errors.push(FieldError::new("format", "An EML file holds exactly one chosen message; choose eml_zip for several."));
    }
    let destination = match (kind, &mailbox) {
        (Some(kind @ (JobKind::Restore | JobKind::Migrate)), Some(source)) => {
            match access::destination(&state.db, &user, kind, source, new.destination.as_deref()).await? {
                Ok(destination) => Some(destination),
                Err(error) => {
                    errors.push(error);
                    None
                }
            }
        }
        (Some(JobKind::Restore | JobKind::Migrate), None) => {
            // No mailbox to check it against; its form can still be told.
            let given = new.destination.as_deref().map(str::trim).filter(|d| !d.is_empty());
            if given.is_some_and(|d| !access::looks_like_email(d)) {
                errors.push(FieldError::new("destination", "Enter the mailbox's address, like name@example.com."));
            }
            None
        }
        _ => None,
    };
    errors.extend(wrong_choices);
    let (Some(kind), Some(source), true) = (kind, mailbox, errors.is_empty()) else {
        return Err(AppError::Validation(errors));
    };
    let params = JobParams {
        destination: Some(destination.unwrap_or(source.email)),
        folders: if matches!(kind, JobKind::Restore | JobKind::Download) { folders } else { Vec::new() },
        on_conflict: (kind == JobKind::Restore).then(|| new.on_conflict.unwrap_or(OnConflict::Skip)),
        format: (kind == JobKind::Download).then(|| new.format.unwrap_or(DownloadFormat::Mbox)),
        messages: if matches!(kind, JobKind::Restore | JobKind::Download) { chosen } else { Vec::new() },
        into_folder: (kind == JobKind::Restore && new.restore_to == Some(portal_api::RestoreTo::NewFolder)).then(restored_folder),
        ..JobParams::default()
    };
    let id = queue::enqueue(&state.db, kind, new.mailbox_id, &params, user.user_id).await?;
    state.engine.wake();
    let action = match kind {
        JobKind::Backup => ActivityAction::ForceBackup,
        JobKind::Restore => ActivityAction::StartRestore,
        JobKind::Migrate => ActivityAction::StartMigration,
        JobKind::Download => ActivityAction::StartDownload,
    };
    activity::record(&state.db, &user, action, Target::job(new.mailbox_id, &id)).await;
    Ok((StatusCode::CREATED, Json(find_job(&state, &user, &id).await?)))
}

/// The folder a restore into a new folder creates: "Restored 2026-12-01" (the day it was asked
/// for, UTC), so that what came back is easy to find and keep apart.
fn restored_folder() -> String {
    let today = time::OffsetDateTime::now_utc().date();
    format!("Restored {today}")
}
