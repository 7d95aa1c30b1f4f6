//! Retention per organisation (how long a message that a backup found deleted from its mailbox
//! stays in the backup) and legal hold per mailbox (retention removes nothing of it). What
//! applies them is the daily pruning, `prune` (a service below these handlers).

pub mod prune;

use axum::extract::State;
use axum::routing::{get, put};
use axum::{Json, Router};
use portal_api::{Action, ActivityAction, FieldError, LegalHold, OrganisationMailbox, Retention, RetentionInput};

use crate::activity::store::{self as activity, Target};
use crate::auth::CurrentUser;
use crate::db::rfc3339;
use crate::error::{AppError, AppResult};
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/organisations/{id}/retention", get(get_retention).put(set_retention))
        .route("/api/mailboxes/{id}/legal-hold", put(set_legal_hold))
}

/// The most days a retention keeps deleted messages (a hundred years).
pub const MAX_KEEP_DAYS: u32 = 36_500;

/// The organisation's retention and what the last pruning removed.
#[utoipa::path(
    get, path = "/api/organisations/{id}/retention", tag = "retention",
    params(("id" = i64, Path, description = "The organisation")),
    responses(
        (status = 200, description = "The retention; `keep_deleted_days` null keeps everything (the default)", body = Retention),
        (status = 403, description = "Not an admin of the organisation nor its reseller, or asked with an API token", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_retention(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<Retention>> {
    let organisation = crate::access::organisation(&state.db, &user, id, Action::ManageRetention).await?;
    Ok(Json(retention_of(&state, organisation).await?))
}

/// Sets how long messages deleted from the organisation's mailboxes are kept in their backups;
/// null keeps them for ever. The daily pruning removes what is older, except in mailboxes on
/// legal hold.
#[utoipa::path(
    put, path = "/api/organisations/{id}/retention", tag = "retention",
    request_body = RetentionInput,
    params(("id" = i64, Path, description = "The organisation")),
    responses(
        (status = 200, description = "Saved", body = Retention),
        (status = 403, description = "Not an admin of the organisation nor its reseller, or asked with an API token", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`keep_deleted_days` is not null nor 1 to 36,500", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn set_retention(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<RetentionInput>,
) -> AppResult<Json<Retention>> {
    let organisation = crate::access::organisation(&state.db, &user, id, Action::ManageRetention).await?;
    if input.keep_deleted_days.is_some_and(|days| !(1..=MAX_KEEP_DAYS).contains(&days)) {
        return Err(AppError::Validation(vec![FieldError::new(
            "keep_deleted_days",
            "Keep deleted messages 1 to 36,500 days, or send null to keep them for ever.",
        )]));
    }
    sqlx::query(
        "INSERT INTO retention (organisation_id, keep_deleted_days, changed_by) VALUES ($1, $2, $3) \
         ON CONFLICT (organisation_id) DO UPDATE SET keep_deleted_days = excluded.keep_deleted_days, changed_by = excluded.changed_by",
    )
    .bind(organisation)
    .bind(input.keep_deleted_days.map(i64::from))
    .bind(user.user_id)
    .execute(&state.db)
    .await?;
    let what = match input.keep_deleted_days {
        Some(days) => format!("deleted messages kept {days} day(s)"),
        None => "deleted messages kept for ever".to_owned(),
    };
    activity::record(&state.db, &user, ActivityAction::RetentionChanged, Target::organisation(organisation).named(what)).await;
    Ok(Json(retention_of(&state, organisation).await?))
}

async fn retention_of(state: &AppState, organisation: i64) -> AppResult<Retention> {
    // Null where the organisation has no retention row (everything kept, never pruned).
    #[derive(sqlx::FromRow)]
    struct Row {
        keep_deleted_days: Option<i64>,
        last_pruned_at: Option<i64>,
        last_pruned_messages: Option<i64>,
        last_pruned_bytes: Option<i64>,
        storage_used_bytes: Option<i64>,
    }
    let row: Row = sqlx::query_as(
        "SELECT r.keep_deleted_days, r.last_pruned_at, r.last_pruned_messages, r.last_pruned_bytes, \
                (SELECT CAST(SUM(m.storage_used_bytes) AS BIGINT) FROM mailboxes m WHERE m.organisation_id = o.id) \
                AS storage_used_bytes \
         FROM organisations o LEFT JOIN retention r ON r.organisation_id = o.id WHERE o.id = $1",
    )
    .bind(organisation)
    .fetch_one(&state.db)
    .await?;
    let count = |value: Option<i64>| value.unwrap_or(0).max(0) as u64;
    Ok(Retention {
        keep_deleted_days: row.keep_deleted_days.and_then(|d| u32::try_from(d).ok()),
        last_pruned_at: row.last_pruned_at.map(rfc3339),
        last_pruned_messages: count(row.last_pruned_messages),
        last_pruned_bytes: count(row.last_pruned_bytes),
        storage_used_bytes: count(row.storage_used_bytes),
    })
}

/// Puts a mailbox on legal hold, or takes it off: while on hold, retention removes nothing
/// from its backups.
#[utoipa::path(
    put, path = "/api/mailboxes/{id}/legal-hold", tag = "retention",
    request_body = LegalHold,
    params(("id" = i64, Path, description = "The mailbox")),
    responses(
        (status = 200, description = "Saved: the mailbox", body = OrganisationMailbox),
        (status = 403, description = "Not an organisation admin nor a reseller, or asked with an API token", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such mailbox among those you manage", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn set_legal_hold(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(hold): ApiJson<LegalHold>,
) -> AppResult<Json<OrganisationMailbox>> {
    // The role first, so that an end user learns nothing of which mailboxes exist.
    crate::access::require(&user, Action::ManageRetention)?;
    let not_found = || AppError::not_found(format!("There is no mailbox {id} among those you manage."));
    let (organisation,): (i64,) = sqlx::query_as("SELECT organisation_id FROM mailboxes WHERE id = $1")
        .bind(id)
        .fetch_optional(&state.db)
        .await?
        .ok_or_else(not_found)?;
    match crate::access::organisation(&state.db, &user, organisation, Action::ManageRetention).await {
        Err(AppError::NotFound(_)) => return Err(not_found()),
        checked => checked?,
    };
    sqlx::query("UPDATE mailboxes SET legal_hold = $1 WHERE id = $2")
        .bind(i32::from(hold.on_hold))
        .bind(id)
        .execute(&state.db)
        .await?;
    let what = if hold.on_hold { "on legal hold" } else { "off legal hold" };
    activity::record(&state.db, &user, ActivityAction::LegalHoldChanged, Target::mailbox(id).named(what)).await;
    Ok(Json(crate::listing::mailbox(&state.db, id).await?))
}
