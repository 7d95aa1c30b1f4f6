//! The backup dashboard: counts per status of every kind, storage against the quota, the
//! accounts whose last complete backup is getting old, and (for resellers) a warning when the
//! service's own backup storage runs short of room.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use portal_api::{Action, Dashboard, JobKind, KindCounts, ServiceStorage, StaleAccount, Storage};

use crate::auth::CurrentUser;
use crate::config::Config;
use crate::db::{now_ms, rfc3339};
use crate::error::AppResult;
use crate::state::AppState;

const HOUR: i64 = 3_600_000;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/dashboard", get(dashboard))
}

/// What needs attention in the user's scope.
#[utoipa::path(
    get, path = "/api/dashboard", tag = "backups",
    responses(
        (status = 200, description = "Counts, storage and stale accounts", body = Dashboard),
        (status = 401, description = "Not signed in", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn dashboard(State(state): State<AppState>, user: CurrentUser) -> AppResult<Json<Dashboard>> {
    let mut kinds = Vec::new();
    for kind in JobKind::ALL {
        kinds.push(KindCounts { kind, counts: crate::listing::status_counts(&state.db, &user, kind, None).await? });
    }
    let (scope, scope_id) = crate::access::scope(&user).condition();

    // Storage of the organisations the user sees (an end user: their organisation's).
    let (used, quota): (Option<i64>, Option<i64>) = sqlx::query_as(&format!(
        "SELECT (SELECT CAST(SUM(all_m.storage_used_bytes) AS BIGINT) FROM mailboxes all_m WHERE all_m.organisation_id IN \
                    (SELECT m.organisation_id FROM mailboxes m JOIN organisations o ON o.id = m.organisation_id WHERE {scope})), \
                (SELECT CAST(SUM(q.storage_quota_bytes) AS BIGINT) FROM organisations q WHERE q.id IN \
                    (SELECT m.organisation_id FROM mailboxes m JOIN organisations o ON o.id = m.organisation_id WHERE {scope}))"
    ))
    .bind(scope_id)
    .fetch_one(&state.db)
    .await?;

    let now = now_ms();
    let stale_condition = format!(
        "FROM backups b JOIN mailboxes m ON m.id = b.mailbox_id JOIN organisations o ON o.id = m.organisation_id \
         WHERE {scope} AND (b.last_success_at IS NULL OR b.last_success_at < $2)"
    );
    let count_older = |hours: i64| {
        let sql = format!("SELECT COUNT(*) {stale_condition}");
        let db = state.db.clone();
        async move {
            let (n,): (i64,) = sqlx::query_as(&sql).bind(scope_id).bind(now - hours * HOUR).fetch_one(&db).await?;
            Ok::<u64, sqlx::Error>(n as u64)
        }
    };
    let stale_over_24h = count_older(24).await?;
    let stale_over_48h = count_older(48).await?;
    let stale: Vec<(i64, String, Option<i64>)> = sqlx::query_as(&format!(
        "SELECT m.id, m.email, b.last_success_at {stale_condition} \
         ORDER BY CASE WHEN b.last_success_at IS NULL THEN 0 ELSE 1 END, b.last_success_at, m.email LIMIT 20"
    ))
    .bind(scope_id)
    .bind(now - 24 * HOUR)
    .fetch_all(&state.db)
    .await?;

    let need_reauthentication = crate::credentials::store::need_reauthentication(&state.db, &user).await?;
    let renew_by = now + portal_api::credentials::EXPIRING_WITHIN_DAYS * 24 * HOUR;
    let expiring = crate::credentials::store::expiring(&state.db, &user, renew_by).await?;
    let storage_warning =
        if crate::access::may(&user, Action::ViewServiceStorage) { service_storage_warning(&state.config).await } else { None };
    let failed_deliveries = match crate::access::scope(&user).organisation_condition() {
        Some((condition, id)) if crate::access::may(&user, Action::ManageIntegrations) => {
            crate::outbox::failed_count(&state.db, condition, id).await?
        }
        _ => 0,
    };
    let organisations = organisation_storage(&state, &user).await?;
    Ok(Json(Dashboard {
        organisations,
        failed_deliveries,
        need_reauthentication,
        expiring,
        storage_warning,
        kinds,
        storage: Storage { used_bytes: used.unwrap_or(0).max(0) as u64, quota_bytes: quota.unwrap_or(0).max(0) as u64 },
        stale: stale
            .into_iter()
            .map(|(mailbox_id, mailbox_email, last)| StaleAccount {
                mailbox_id,
                mailbox_email,
                last_success_at: last.map(rfc3339),
            })
            .collect(),
        stale_over_24h,
        stale_over_48h,
    }))
}

/// The room where the backups are written (the packs' folder, which may be a volume of its
/// own), when under `--min-free-space-mb`. Room that cannot be read is logged, not shown: the
/// dashboard still answers.
async fn service_storage_warning(config: &Config) -> Option<ServiceStorage> {
    if config.object_store.is_some() {
        // The shared store's room is its provider's to tell; the data folder holds no packs.
        return None;
    }
    let store = crate::imap::store::ObjectStore::new(&config.data_dir, None);
    let data_dir = config.data_dir.clone();
    let threshold = config.min_free_space_mb.saturating_mul(1 << 20);
    let room = move || crate::disk::room(if store.root().is_dir() { store.root() } else { &data_dir });
    match tokio::task::spawn_blocking(room).await {
        Ok(Ok(room)) if room.free < threshold => {
            Some(ServiceStorage { free_bytes: room.free, total_bytes: room.total, threshold_bytes: threshold })
        }
        Ok(Ok(_)) => None,
        Ok(Err(error)) => {
            tracing::warn!(%error, "the data folder's free space could not be read");
            None
        }
        Err(error) => {
            tracing::warn!(%error, "the data folder's free space could not be read");
            None
        }
    }
}

/// Storage per organisation the user administers, and what retention last pruned of it.
async fn organisation_storage(state: &AppState, user: &CurrentUser) -> AppResult<Vec<portal_api::OrganisationStorage>> {
    let Some((condition, id)) = crate::access::scope(user).organisation_condition() else { return Ok(Vec::new()) };
    #[allow(clippy::type_complexity)]
    let rows: Vec<(i64, String, Option<i64>, i64, Option<i64>, Option<i64>, Option<i64>)> = sqlx::query_as(&format!(
        "SELECT o.id, o.name, (SELECT CAST(SUM(m.storage_used_bytes) AS BIGINT) FROM mailboxes m WHERE m.organisation_id = o.id), \
                o.storage_quota_bytes, r.keep_deleted_days, r.last_pruned_at, r.last_pruned_bytes \
         FROM organisations o LEFT JOIN retention r ON r.organisation_id = o.id WHERE {condition} ORDER BY o.name"
    ))
    .bind(id)
    .fetch_all(&state.db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(organisation_id, organisation, used, quota, keep, pruned_at, pruned)| portal_api::OrganisationStorage {
            organisation_id,
            organisation,
            used_bytes: used.unwrap_or(0).max(0) as u64,
            quota_bytes: quota.max(0) as u64,
            keep_deleted_days: keep.and_then(|d| u32::try_from(d).ok()),
            last_pruned_at: pruned_at.map(rfc3339),
            last_pruned_bytes: pruned.unwrap_or(0).max(0) as u64,
        })
        .collect())
}
