//! What a load balancer or an orchestrator asks an instance: is it alive (`/api/health`), and
//! may it be sent requests (`/api/ready`).

use axum::extract::State;
use axum::Json;
use serde::Serialize;

use crate::error::{AppError, AppResult};
use crate::state::AppState;

#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok`: alive; `ready`: may be sent requests.
    status: &'static str,
}

/// Liveness: the process answers. Nothing else is checked, so that an outage of the database
/// does not get every instance restarted at once (readiness says that).
#[utoipa::path(
    get, path = "/api/health", tag = "session",
    responses((status = 200, description = "The server process answers", body = Health))
)]
pub async fn health() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Readiness: the database answers, every migration this build knows is applied, and the
/// instance is not shutting down. A load balancer sends requests only to a ready instance.
#[utoipa::path(
    get, path = "/api/ready", tag = "session",
    responses((status = 200, description = "Ready: the database answers with this build's schema, and the instance is not shutting down", body = Health))
)]
pub async fn ready(State(state): State<AppState>) -> AppResult<Json<Health>> {
    if state.shutting_down() {
        return Err(unavailable("this instance is shutting down"));
    }
    let applied: Vec<(i64,)> = sqlx::query_as("SELECT version FROM _sqlx_migrations WHERE success").fetch_all(&state.db).await?;
    let missing = crate::db::MIGRATOR
        .iter()
        .filter(|migration| !migration.migration_type.is_down_migration())
        .any(|migration| !applied.iter().any(|(version,)| *version == migration.version));
    if missing {
        return Err(unavailable("the database lacks a migration of this build"));
    }
    Ok(Json(Health { status: "ready" }))
}

fn unavailable(cause: &str) -> AppError {
    AppError::NotReady(cause.to_owned())
}
