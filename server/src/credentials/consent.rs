//! The Main App's admin consent, the first re-authentication: an authorization code flow with
//! PKCE, whose callback saves the new refresh token.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use portal_api::{ConsentStart, CredentialKind, DeviceFlowStatus};
use serde::Deserialize;

use super::oauth::Provider;
use super::store::FlowKind;
use super::{administered, client_key, flow_context, mark_working, upstream};
use crate::auth::CurrentUser;
use crate::db::now_ms;
use crate::error::AppResult;
use crate::extract::ApiPath;
use crate::state::AppState;

/// How long an admin has to give consent once started.
const CONSENT_MINUTES: i64 = 10;

/// Continue: a new admin-consent flow; the portal sends the admin to `authorize_url`.
#[utoipa::path(
    post, path = "/api/organisations/{id}/credentials/main-app/consent", tag = "credentials",
    params(("id" = i64, Path, description = "The organisation's ID")),
    responses(
        (status = 201, description = "Go to the provider's admin-consent page", body = ConsentStart),
        (status = 403, description = "Not an admin of this organisation, nor its reseller", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts; see Retry-After", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn start_consent(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<(StatusCode, Json<ConsentStart>)> {
    let organisation = administered(&state, &user, id).await?;
    state.reauth_limits.attempt(organisation.id, &client_key(&user)).await?;
    let provider = Provider::from_config(&state.config);
    let flow_id = crate::auth::session::random_token();
    let (authorize_url, verifier) = provider.consent_url(&flow_id).map_err(|failure| upstream(&failure))?;
    let sealed = state.secrets.seal(&state.db, organisation.id, &flow_context(&flow_id), verifier.as_bytes()).await?;
    let now = now_ms();
    sqlx::query(
        "INSERT INTO oauth_flows (id, organisation_id, kind, started_by, sealed_secret, status, expires_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
    )
    .bind(&flow_id)
    .bind(organisation.id)
    .bind(FlowKind::Consent.as_str())
    .bind(user.user_id)
    .bind(&sealed)
    .bind(DeviceFlowStatus::Pending.as_str())
    .bind(now + CONSENT_MINUTES * 60_000)
    .bind(now)
    .execute(&state.db)
    .await?;
    crate::activity::store::record(&state.db, &user, portal_api::ActivityAction::ConsentStarted, crate::activity::store::Target::organisation(organisation.id)).await;
    Ok((StatusCode::CREATED, Json(ConsentStart { authorize_url })))
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// Where the provider sends the admin back after consent. Always answers with a redirect to
/// the credentials page, which says what happened (`?consent=fixed|denied|wrong_tenant|...`).
pub async fn consent_callback(State(state): State<AppState>, user: CurrentUser, Query(query): Query<CallbackQuery>) -> Response {
    let (organisation_id, outcome) = match finish_consent(&state, &user, &query).await {
        Ok((organisation_id, outcome)) => (Some(organisation_id), outcome),
        Err((organisation_id, outcome)) => (organisation_id, outcome),
    };
    let target = match organisation_id {
        Some(id) => format!("/settings/credentials?organisation={id}&consent={outcome}"),
        None => format!("/settings/credentials?consent={outcome}"),
    };
    Redirect::to(&target).into_response()
}

type ConsentOutcome = Result<(i64, &'static str), (Option<i64>, &'static str)>;

async fn finish_consent(state: &AppState, user: &CurrentUser, query: &CallbackQuery) -> ConsentOutcome {
    // The flow is found by `state` only; nothing else in the redirect is trusted.
    let flow_id = query.state.as_deref().unwrap_or("");
    let flow: Option<(i64, String, String, i64, Option<i64>)> = sqlx::query_as(
        "SELECT organisation_id, sealed_secret, status, expires_at, started_by FROM oauth_flows WHERE id = $1 AND kind = $2",
    )
    .bind(flow_id)
    .bind(FlowKind::Consent.as_str())
    .fetch_optional(&state.db)
    .await
    .map_err(|_| (None, "failed"))?;
    let Some((organisation_id, sealed, status, expires_at, started_by)) = flow else { return Err((None, "state_mismatch")) };
    if started_by != Some(user.user_id) {
        // Someone else's flow: not even which organisation it was for.
        return Err((None, "state_mismatch"));
    }
    let fail = |outcome| (Some(organisation_id), outcome);
    if status != DeviceFlowStatus::Pending.as_str() {
        return Err(fail("state_mismatch"));
    }
    let organisation = administered(state, user, organisation_id).await.map_err(|_| fail("state_mismatch"))?;
    let set_status = |status: DeviceFlowStatus| async move {
        let _ = sqlx::query("UPDATE oauth_flows SET status = $1, updated_at = $2 WHERE id = $3")
            .bind(status.as_str())
            .bind(now_ms())
            .bind(flow_id)
            .execute(&state.db)
            .await;
    };
    if expires_at < now_ms() {
        set_status(DeviceFlowStatus::Expired).await;
        return Err(fail("expired"));
    }
    if query.error.is_some() {
        set_status(DeviceFlowStatus::Denied).await;
        return Err(fail("denied"));
    }
    let Some(code) = query.code.as_deref() else {
        set_status(DeviceFlowStatus::Failed).await;
        return Err(fail("failed"));
    };
    let verifier =
        state.secrets.open(&state.db, organisation_id, &flow_context(flow_id), &sealed).await.map_err(|_| fail("failed"))?;
    let provider = Provider::from_config(&state.config);
    let verifier = String::from_utf8_lossy(&verifier).into_owned();
    let tokens = match provider.exchange_code(code, &verifier).await {
        Ok(tokens) => tokens,
        Err(error) => {
            tracing::warn!(?error, "admin consent: code exchange refused");
            set_status(DeviceFlowStatus::Failed).await;
            return Err(fail("failed"));
        }
    };
    // Which tenant consented comes from the directory, with the token: never from the redirect.
    let tenant = provider.tenant_of(&tokens.access_token).await.map_err(|_| fail("failed"))?;
    if Some(tenant.as_str()) != organisation.tenant_id.as_deref() {
        set_status(DeviceFlowStatus::Failed).await;
        return Err(fail("wrong_tenant"));
    }
    let secret = tokens.refresh_token.unwrap_or(tokens.access_token);
    mark_working(
        state,
        &organisation,
        CredentialKind::MainApp,
        Some(&secret),
        None,
        None,
        "Consent given again by a global administrator.",
    )
    .await
    .map_err(|_| fail("failed"))?;
    set_status(DeviceFlowStatus::Completed).await;
    let target = crate::activity::store::Target::organisation(organisation.id);
    crate::activity::store::record(&state.db, user, portal_api::ActivityAction::ConsentCompleted, target).await;
    Ok((organisation_id, "fixed"))
}
