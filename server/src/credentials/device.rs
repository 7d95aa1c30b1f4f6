//! Device Authorization (RFC 8628), the third re-authentication: a code shown in the portal,
//! entered at the provider, polled for here in the background, then verified and saved.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use portal_api::{CredentialKind, Credentials, DeviceFlow, DeviceFlowStatus};

use super::oauth::{OAuthFailure, Provider};
use super::store::{FlowKind, DELEGATED_TOKEN_DAYS};
use super::{
    administered, client_key, credentials_of, flow_context, internal, mark_working, token_context, upstream, Organisation,
};
use crate::auth::CurrentUser;
use crate::db::{now_ms, rfc3339, Db};
use crate::error::{AppError, AppResult};
use crate::extract::ApiPath;
use crate::state::AppState;

#[derive(sqlx::FromRow)]
pub(super) struct FlowRow {
    id: String,
    #[sqlx(try_from = "String")]
    kind: FlowKind,
    sealed_secret: String,
    #[sqlx(try_from = "String")]
    pub(super) status: DeviceFlowStatus,
    user_code: Option<String>,
    verification_uri: Option<String>,
    interval_seconds: Option<i32>,
    slow_downs: i32,
    sealed_token: Option<String>,
    detail: Option<String>,
    expires_at: i64,
    organisation_id: i64,
}

impl FlowRow {
    pub(super) fn device_flow(&self) -> DeviceFlow {
        DeviceFlow {
            id: self.id.clone(),
            user_code: self.user_code.clone().unwrap_or_default(),
            verification_uri: self.verification_uri.clone().unwrap_or_default(),
            expires_at: rfc3339(self.expires_at),
            status: self.status,
            interval_seconds: self.interval_seconds.unwrap_or(5).max(0) as u32,
            slow_downs: self.slow_downs.max(0) as u32,
            detail: self.detail.clone(),
        }
    }
}

pub(super) const FLOW_COLUMNS: &str =
    "id, kind, sealed_secret, status, user_code, verification_uri, interval_seconds, slow_downs, \
     sealed_token, detail, expires_at, organisation_id";

/// Device Authorization, step 2: a new code from the provider; the server then asks the
/// provider, at the interval it sets, whether someone authorised it.
#[utoipa::path(
    post, path = "/api/organisations/{id}/credentials/device", tag = "credentials",
    params(("id" = i64, Path, description = "The organisation's ID")),
    responses(
        (status = 201, description = "The code to enter at the provider", body = DeviceFlow),
        (status = 403, description = "Not an admin of this organisation, nor its reseller", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts; see Retry-After", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 502, description = "The provider could not be reached", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn start_device(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<(StatusCode, Json<DeviceFlow>)> {
    let organisation = administered(&state, &user, id).await?;
    state.reauth_limits.attempt(organisation.id, &client_key(&user)).await?;
    let provider = Provider::from_config(&state.config);
    let tenant = organisation.tenant()?.to_owned();
    let start = provider.start_device(&tenant).await.map_err(|failure| upstream(&failure))?;
    let flow_id = crate::auth::session::random_token();
    let sealed = state.secrets.seal(&state.db, organisation.id, &flow_context(&flow_id), start.device_code.as_bytes()).await?;
    let now = now_ms();
    let interval = start.interval.clamp(1, 60) as i32;
    // A newer code replaces any earlier one still waiting.
    sqlx::query("UPDATE oauth_flows SET status = $1, updated_at = $2 WHERE organisation_id = $3 AND kind = $4 AND status = $5")
        .bind(DeviceFlowStatus::Expired.as_str())
        .bind(now)
        .bind(organisation.id)
        .bind(FlowKind::Device.as_str())
        .bind(DeviceFlowStatus::Pending.as_str())
        .execute(&state.db)
        .await?;
    sqlx::query(
        "INSERT INTO oauth_flows (id, organisation_id, kind, started_by, sealed_secret, status, user_code, verification_uri, \
                                  interval_seconds, expires_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)",
    )
    .bind(&flow_id)
    .bind(organisation.id)
    .bind(FlowKind::Device.as_str())
    .bind(user.user_id)
    .bind(&sealed)
    .bind(DeviceFlowStatus::Pending.as_str())
    .bind(&start.user_code)
    .bind(&start.verification_uri)
    .bind(interval)
    .bind(now + start.expires_in as i64 * 1000)
    .bind(now)
    .execute(&state.db)
    .await?;
    tokio::spawn(poll_device(state.clone(), organisation.clone(), flow_id.clone()));
    let flow = load_flow(&state.db, &flow_id).await?.ok_or_else(|| AppError::internal("the new device flow vanished"))?;
    crate::activity::store::record(&state.db, &user, portal_api::ActivityAction::DeviceAuthorizationStarted, crate::activity::store::Target::organisation(organisation.id)).await;
    Ok((StatusCode::CREATED, Json(flow.device_flow())))
}

async fn load_flow(db: &Db, flow_id: &str) -> Result<Option<FlowRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {FLOW_COLUMNS} FROM oauth_flows WHERE id = $1")).bind(flow_id).fetch_optional(db).await
}

/// Asks the provider whether the device was authorised, no faster than the interval it set,
/// 5 s slower after each `slow_down`, until it is authorised, denied or expired (RFC 8628 §3.5).
async fn poll_device(state: AppState, organisation: Organisation, flow_id: String) {
    let provider = Provider::from_config(&state.config);
    let Some(tenant) = organisation.tenant_id.clone() else { return };
    loop {
        let flow = match load_flow(&state.db, &flow_id).await {
            Ok(Some(flow)) => flow,
            // A row this build cannot read does not become readable by waiting.
            Err(error @ (sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_))) => {
                tracing::error!(%error, flow = %flow_id, "a device flow could not be read; it is no longer polled");
                return;
            }
            // The database out of reach for a moment: look again, so that an authorisation
            // given meanwhile is still picked up.
            Err(error) if !state.shutting_down() => {
                tracing::warn!(%error, "device flow not read; trying again");
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                continue;
            }
            _ => return,
        };
        if flow.status != DeviceFlowStatus::Pending || state.shutting_down() {
            return;
        }
        let interval = flow.interval_seconds.unwrap_or(5).max(1) as u64;
        tokio::time::sleep(std::time::Duration::from_secs(interval)).await;
        let now = now_ms();
        if now >= flow.expires_at {
            set_flow(&state.db, &flow_id, DeviceFlowStatus::Expired, Some("The code expired before anyone authorised it."), None)
                .await;
            return;
        }
        let device_code = match state.secrets.open(&state.db, organisation.id, &flow_context(&flow_id), &flow.sealed_secret).await
        {
            Ok(code) => code,
            // Not the code's fault: asked again next round.
            Err(crate::secrets::SecretError::Database(_)) => continue,
            Err(_) => {
                set_flow(&state.db, &flow_id, DeviceFlowStatus::Failed, Some("The device code could not be read."), None).await;
                return;
            }
        };
        match provider.poll_device(&tenant, &String::from_utf8_lossy(&device_code)).await {
            Ok(tokens) => {
                let secret = tokens.refresh_token.unwrap_or(tokens.access_token.clone());
                // Kept, sealed, until Verify & Continue checks and saves it.
                let bundle = serde_json::json!({ "access_token": tokens.access_token, "refresh_token": secret }).to_string();
                let sealed =
                    state.secrets.seal(&state.db, organisation.id, &token_context(&flow_id), bundle.as_bytes()).await.ok();
                set_flow(&state.db, &flow_id, DeviceFlowStatus::Authorized, Some("Authorised at the provider."), sealed).await;
                return;
            }
            Err(OAuthFailure::Refused { error, .. }) => match error.as_str() {
                "authorization_pending" => {}
                "slow_down" => {
                    let _ = sqlx::query(
                        "UPDATE oauth_flows SET interval_seconds = interval_seconds + 5, slow_downs = slow_downs + 1, updated_at = $1 \
                         WHERE id = $2",
                    )
                    .bind(now_ms())
                    .bind(&flow_id)
                    .execute(&state.db)
                    .await;
                }
                "access_denied" | "authorization_declined" => {
                    set_flow(
                        &state.db,
                        &flow_id,
                        DeviceFlowStatus::Denied,
                        Some("Someone denied the request at the provider."),
                        None,
                    )
                    .await;
                    return;
                }
                "expired_token" => {
                    set_flow(
                        &state.db,
                        &flow_id,
                        DeviceFlowStatus::Expired,
                        Some("The code expired before anyone authorised it."),
                        None,
                    )
                    .await;
                    return;
                }
                other => {
                    tracing::warn!(error = other, "device authorization refused");
                    set_flow(&state.db, &flow_id, DeviceFlowStatus::Failed, Some("The provider refused the device code."), None)
                        .await;
                    return;
                }
            },
            Err(OAuthFailure::Unreachable(cause)) => {
                // Try again at the next interval; the code's expiry ends it at worst.
                tracing::warn!(%cause, "device authorization: provider not reached");
            }
        }
    }
}

async fn set_flow(db: &Db, flow_id: &str, status: DeviceFlowStatus, detail: Option<&str>, sealed_token: Option<String>) {
    let result = sqlx::query(
        "UPDATE oauth_flows SET status = $1, detail = $2, sealed_token = COALESCE($3, sealed_token), updated_at = $4 WHERE id = $5",
    )
    .bind(status.as_str())
    .bind(detail)
    .bind(sealed_token)
    .bind(now_ms())
    .bind(flow_id)
    .execute(db)
    .await;
    if let Err(error) = result {
        tracing::warn!(%error, "device flow not updated");
    }
}

/// Verify & Continue: once the provider authorised the device, checks the token's tenant and
/// saves the delegated token.
#[utoipa::path(
    post, path = "/api/organisations/{id}/credentials/device/{flow}/complete", tag = "credentials",
    params(
        ("id" = i64, Path, description = "The organisation's ID"),
        ("flow" = String, Path, description = "The Device Authorization's ID"),
    ),
    responses(
        (status = 200, description = "Saved; the credential works again", body = Credentials),
        (status = 403, description = "Not an admin of this organisation, nor its reseller", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such Device Authorization", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not authorised at the provider (yet), or no longer usable", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn complete_device(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath((id, flow_id)): ApiPath<(i64, String)>,
) -> AppResult<Json<Credentials>> {
    let organisation = administered(&state, &user, id).await?;
    let flow = load_flow(&state.db, &flow_id)
        .await?
        .filter(|f| f.kind == FlowKind::Device && f.organisation_id == organisation.id)
        .ok_or_else(|| AppError::not_found("There is no such Device Authorization; ask for a new code."))?;
    let sealed_token = match (flow.status, &flow.sealed_token) {
        (DeviceFlowStatus::Authorized, Some(token)) => token.clone(),
        (DeviceFlowStatus::Pending, _) => {
            return Err(AppError::Conflict(
                "The device has not been authorised at the provider yet. Enter the code there first.".into(),
            ))
        }
        (status, _) => {
            return Err(AppError::Conflict(format!(
                "This Device Authorization is {}; ask for a new code.",
                status.as_str().replace('_', " ")
            )))
        }
    };
    let bundle = state.secrets.open(&state.db, organisation.id, &token_context(&flow_id), &sealed_token).await?;
    let bundle: serde_json::Value = serde_json::from_slice(&bundle).map_err(internal)?;
    let access = bundle["access_token"].as_str().unwrap_or_default();
    let provider = Provider::from_config(&state.config);
    let tenant = provider.tenant_of(access).await.map_err(|failure| upstream(&failure))?;
    if Some(tenant.as_str()) != organisation.tenant_id.as_deref() {
        set_flow(&state.db, &flow_id, DeviceFlowStatus::Failed, Some("Authorised by an account of another organisation."), None)
            .await;
        return Err(AppError::Conflict(
            "The device was authorised by an account of another organisation. Ask for a new code and sign in with an account of this organisation.".into(),
        ));
    }
    let refresh = bundle["refresh_token"].as_str().unwrap_or(access).to_owned();
    let expires = now_ms() + DELEGATED_TOKEN_DAYS * 86_400_000;
    mark_working(
        &state,
        &organisation,
        CredentialKind::Device,
        Some(&refresh),
        None,
        Some(expires),
        "The device was authorised again.",
    )
    .await?;
    let _ = sqlx::query("UPDATE oauth_flows SET status = $1, sealed_token = NULL, updated_at = $2 WHERE id = $3")
        .bind(DeviceFlowStatus::Completed.as_str())
        .bind(now_ms())
        .bind(&flow_id)
        .execute(&state.db)
        .await;
    crate::activity::store::record(&state.db, &user, portal_api::ActivityAction::DeviceAuthorizationCompleted, crate::activity::store::Target::organisation(organisation.id)).await;
    Ok(Json(credentials_of(&state, &organisation).await?))
}
