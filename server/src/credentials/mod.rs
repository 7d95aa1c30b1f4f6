//! Account Settings › Credentials: an organisation's three credentials, their history, and
//! the three flows that fix them — admin consent (Continue), the backup admin's password
//! (Re Authenticate) and Device Authorization (Verify & Continue). Only that organisation's
//! admins and its reseller may read or change them (`crate::access` decides).

pub mod oauth;
pub mod rate_limit;
pub mod store;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use portal_api::{
    Action, BackupAdminSignIn, BrokenCredential, ConsentStart, Credential, CredentialEvent, CredentialKind, CredentialState,
    Credentials, DeviceFlow, DeviceFlowStatus, FieldError, OrganisationSummary,
};
use serde::Deserialize;

use crate::auth::CurrentUser;
use crate::db::{now_ms, rfc3339, Db};
use crate::error::{AppError, AppResult};
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;
use oauth::{OAuthFailure, Provider};

/// How long a consent or device flow may take before it is abandoned.
const CONSENT_MINUTES: i64 = 10;
/// How long a delegated token from Device Authorization is good for, unless revoked.
const DELEGATED_TOKEN_DAYS: i64 = 90;
const PROVIDER: &str = "The identity provider";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/organisations", get(list_organisations))
        .route("/api/organisations/{id}/credentials", get(get_credentials))
        .route("/api/organisations/{id}/credentials/main-app/consent", post(start_consent))
        .route("/api/organisations/{id}/credentials/backup-admin", put(reauthenticate_backup_admin))
        .route("/api/organisations/{id}/credentials/device", post(start_device))
        .route("/api/organisations/{id}/credentials/device/{flow}/complete", post(complete_device))
        .route("/api/organisations/{id}/credentials/verify", post(verify_credentials))
        .route("/api/oauth/consent/callback", get(consent_callback))
}

#[derive(sqlx::FromRow, Clone)]
pub(crate) struct Organisation {
    pub(crate) id: i64,
    pub(crate) name: String,
    domain: Option<String>,
    tenant_id: Option<String>,
}

impl Organisation {
    fn tenant(&self) -> AppResult<&str> {
        self.tenant_id.as_deref().ok_or_else(|| AppError::Conflict(format!("{} is not connected to Microsoft 365.", self.name)))
    }
}

/// The organisation, if the user may change its credentials (its admins, its reseller): 403
/// for any other role, 404 outside the user's scope (`crate::access` decides).
async fn administered(state: &AppState, user: &CurrentUser, organisation_id: i64) -> AppResult<Organisation> {
    crate::access::organisation(&state.db, user, organisation_id, Action::ChangeCredentials).await?;
    Ok(sqlx::query_as("SELECT id, name, domain, tenant_id FROM organisations WHERE id = $1")
        .bind(organisation_id)
        .fetch_one(&state.db)
        .await?)
}

/// The organisations whose credentials the user may manage, with how many are broken.
#[utoipa::path(
    get, path = "/api/organisations", tag = "credentials",
    responses((status = 200, description = "Organisations the user administers", body = Vec<OrganisationSummary>))
)]
pub async fn list_organisations(State(state): State<AppState>, user: CurrentUser) -> AppResult<Json<Vec<OrganisationSummary>>> {
    let Some((condition, id)) = crate::access::scope(&user).organisation_condition() else {
        return Ok(Json(Vec::new()));
    };
    let rows: Vec<(i64, String, i64)> = sqlx::query_as(&format!(
        "SELECT o.id, o.name, (SELECT COUNT(*) FROM credentials c WHERE c.organisation_id = o.id AND c.state = 'broken') \
         FROM organisations o WHERE {condition} ORDER BY o.name"
    ))
    .bind(id)
    .fetch_all(&state.db)
    .await?;
    Ok(Json(rows.into_iter().map(|(id, name, broken)| OrganisationSummary { id, name, broken: broken.max(0) as u32 }).collect()))
}

#[derive(sqlx::FromRow)]
struct CredentialRow {
    kind: String,
    state: String,
    broken_since: Option<i64>,
    reason: Option<String>,
    username: Option<String>,
    expires_at: Option<i64>,
    last_verified_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct FlowRow {
    id: String,
    kind: String,
    sealed_secret: String,
    status: String,
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
    fn device_flow(&self) -> DeviceFlow {
        DeviceFlow {
            id: self.id.clone(),
            user_code: self.user_code.clone().unwrap_or_default(),
            verification_uri: self.verification_uri.clone().unwrap_or_default(),
            expires_at: rfc3339(self.expires_at),
            status: parse_status(&self.status),
            interval_seconds: self.interval_seconds.unwrap_or(5).max(0) as u32,
            slow_downs: self.slow_downs.max(0) as u32,
            detail: self.detail.clone(),
        }
    }
}

fn parse_status(status: &str) -> DeviceFlowStatus {
    match status {
        "authorized" => DeviceFlowStatus::Authorized,
        "denied" => DeviceFlowStatus::Denied,
        "expired" => DeviceFlowStatus::Expired,
        "completed" => DeviceFlowStatus::Completed,
        "failed" => DeviceFlowStatus::Failed,
        _ => DeviceFlowStatus::Pending,
    }
}

fn status_name(status: DeviceFlowStatus) -> &'static str {
    match status {
        DeviceFlowStatus::Pending => "pending",
        DeviceFlowStatus::Authorized => "authorized",
        DeviceFlowStatus::Denied => "denied",
        DeviceFlowStatus::Expired => "expired",
        DeviceFlowStatus::Completed => "completed",
        DeviceFlowStatus::Failed => "failed",
    }
}

const FLOW_COLUMNS: &str = "id, kind, sealed_secret, status, user_code, verification_uri, interval_seconds, slow_downs, \
     sealed_token, detail, expires_at, organisation_id";

/// An organisation's three credentials, their last breaks and fixes, and a Device
/// Authorization under way.
#[utoipa::path(
    get, path = "/api/organisations/{id}/credentials", tag = "credentials",
    params(("id" = i64, Path, description = "The organisation's ID")),
    responses(
        (status = 200, description = "The organisation's credentials (never a password or token)", body = Credentials),
        (status = 403, description = "Not an admin of this organisation, nor its reseller", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_credentials(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<Credentials>> {
    let organisation = administered(&state, &user, id).await?;
    Ok(Json(credentials_of(&state, &organisation).await?))
}

async fn credentials_of(state: &AppState, organisation: &Organisation) -> AppResult<Credentials> {
    let rows: Vec<CredentialRow> = sqlx::query_as(
        "SELECT kind, state, broken_since, reason, username, expires_at, last_verified_at FROM credentials \
         WHERE organisation_id = $1",
    )
    .bind(organisation.id)
    .fetch_all(&state.db)
    .await?;
    let items = CredentialKind::ALL
        .into_iter()
        .filter_map(|kind| rows.iter().find(|r| r.kind == kind.as_str()).map(|row| (kind, row)))
        .map(|(kind, row)| Credential {
            kind,
            state: if row.state == "broken" { CredentialState::Broken } else { CredentialState::Working },
            broken_since: row.broken_since.map(rfc3339),
            reason: row.reason.clone(),
            username: row.username.clone(),
            expires_at: row.expires_at.map(rfc3339),
            last_verified_at: row.last_verified_at.map(rfc3339),
        })
        .collect();
    let events: Vec<(String, String, i32, Option<String>, i64)> = sqlx::query_as(
        "SELECT id, kind, resolved, detail, at FROM credential_events WHERE organisation_id = $1 ORDER BY at DESC, id DESC LIMIT 20",
    )
    .bind(organisation.id)
    .fetch_all(&state.db)
    .await?;
    let events = events
        .into_iter()
        .filter_map(|(id, kind, resolved, detail, at)| {
            let kind = CredentialKind::parse(&kind)?;
            Some(CredentialEvent {
                id,
                kind,
                title: kind.event_title(resolved == 1).into(),
                resolved: resolved == 1,
                detail,
                at: rfc3339(at),
            })
        })
        .collect();
    let flow: Option<FlowRow> = sqlx::query_as(&format!(
        "SELECT {FLOW_COLUMNS} FROM oauth_flows WHERE organisation_id = $1 AND kind = 'device' ORDER BY created_at DESC LIMIT 1"
    ))
    .bind(organisation.id)
    .fetch_optional(&state.db)
    .await?;
    Ok(Credentials {
        organisation_id: organisation.id,
        organisation: organisation.name.clone(),
        domain: organisation.domain.clone().unwrap_or_default(),
        items,
        events,
        device_flow: flow.filter(|f| f.status != "completed").map(|f| f.device_flow()),
    })
}

/// The broken credentials of the organisations the user administers (the dashboard's banner).
pub async fn need_reauthentication(state: &AppState, user: &CurrentUser) -> AppResult<Vec<BrokenCredential>> {
    let Some((condition, id)) = crate::access::scope(user).organisation_condition() else {
        return Ok(Vec::new());
    };
    let rows: Vec<(i64, String, String, Option<String>, Option<i64>)> = sqlx::query_as(&format!(
        "SELECT o.id, o.name, c.kind, c.reason, c.broken_since FROM credentials c JOIN organisations o ON o.id = c.organisation_id \
         WHERE {condition} AND c.state = 'broken' ORDER BY o.name, c.kind"
    ))
    .bind(id)
    .fetch_all(&state.db)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(organisation_id, organisation, kind, reason, since)| {
            Some(BrokenCredential {
                organisation_id,
                organisation,
                kind: CredentialKind::parse(&kind)?,
                reason,
                broken_since: since.map(rfc3339),
            })
        })
        .collect())
}

fn client_key(user: &CurrentUser) -> String {
    format!("user:{}", user.user_id)
}

/// Continue: a new admin-consent flow; the portal sends the admin to `authorize_url`.
#[utoipa::path(
    post, path = "/api/organisations/{id}/credentials/main-app/consent", tag = "credentials",
    params(("id" = i64, Path, description = "The organisation's ID"), ("x-csrf-token" = String, Header, description = "The session's CSRF token")),
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
    state.reauth_limits.attempt(organisation.id, &client_key(&user))?;
    let provider = Provider::from_config(&state.config);
    let flow_id = crate::auth::session::random_token();
    let (authorize_url, verifier) = provider.consent_url(&flow_id).map_err(|failure| upstream(&failure))?;
    let sealed = state.secrets.seal(&state.db, organisation.id, &flow_context(&flow_id), verifier.as_bytes()).await?;
    let now = now_ms();
    sqlx::query(
        "INSERT INTO oauth_flows (id, organisation_id, kind, started_by, sealed_secret, status, expires_at, created_at, updated_at) \
         VALUES ($1, $2, 'consent', $3, $4, 'pending', $5, $6, $6)",
    )
    .bind(&flow_id)
    .bind(organisation.id)
    .bind(user.user_id)
    .bind(&sealed)
    .bind(now + CONSENT_MINUTES * 60_000)
    .bind(now)
    .execute(&state.db)
    .await?;
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
        "SELECT organisation_id, sealed_secret, status, expires_at, started_by FROM oauth_flows WHERE id = $1 AND kind = 'consent'",
    )
    .bind(flow_id)
    .fetch_optional(&state.db)
    .await
    .map_err(|_| (None, "failed"))?;
    let Some((organisation_id, sealed, status, expires_at, started_by)) = flow else { return Err((None, "state_mismatch")) };
    if started_by != Some(user.user_id) {
        // Someone else's flow: not even which organisation it was for.
        return Err((None, "state_mismatch"));
    }
    let fail = |outcome| (Some(organisation_id), outcome);
    if status != "pending" {
        return Err(fail("state_mismatch"));
    }
    let organisation = administered(state, user, organisation_id).await.map_err(|_| fail("state_mismatch"))?;
    let set_status = |status: &'static str| async move {
        let _ = sqlx::query("UPDATE oauth_flows SET status = $1, updated_at = $2 WHERE id = $3")
            .bind(status)
            .bind(now_ms())
            .bind(flow_id)
            .execute(&state.db)
            .await;
    };
    if expires_at < now_ms() {
        set_status("expired").await;
        return Err(fail("expired"));
    }
    if query.error.is_some() {
        set_status("denied").await;
        return Err(fail("denied"));
    }
    let Some(code) = query.code.as_deref() else {
        set_status("failed").await;
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
            set_status("failed").await;
            return Err(fail("failed"));
        }
    };
    // Which tenant consented comes from the directory, with the token: never from the redirect.
    let tenant = provider.tenant_of(&tokens.access_token).await.map_err(|_| fail("failed"))?;
    if Some(tenant.as_str()) != organisation.tenant_id.as_deref() {
        set_status("failed").await;
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
    set_status("completed").await;
    Ok((organisation_id, "fixed"))
}

/// Re Authenticate: the backup admin's username and password, checked with the provider
/// before they are stored (encrypted).
#[utoipa::path(
    put, path = "/api/organisations/{id}/credentials/backup-admin", tag = "credentials",
    request_body = BackupAdminSignIn,
    params(("id" = i64, Path, description = "The organisation's ID"), ("x-csrf-token" = String, Header, description = "The session's CSRF token")),
    responses(
        (status = 200, description = "Checked and saved", body = Credentials),
        (status = 403, description = "Not an admin of this organisation, nor its reseller", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Refused by the provider: wrong password, locked account or missing permission, on its field", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts; see Retry-After", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 502, description = "The provider could not be reached", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn reauthenticate_backup_admin(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(sign_in): ApiJson<BackupAdminSignIn>,
) -> AppResult<Json<Credentials>> {
    let organisation = administered(&state, &user, id).await?;
    let username = sign_in.username.trim().to_lowercase();
    let mut errors = Vec::new();
    if username.is_empty() {
        errors.push(FieldError::new("username", "Enter the backup admin's username (its email address)."));
    } else if !looks_like_an_address(&username) {
        errors.push(FieldError::new(
            "username",
            "The username is the backup admin's email address, like backup.admin@example.com.",
        ));
    }
    if sign_in.password.is_empty() {
        errors.push(FieldError::new("password", "Enter the backup admin's password."));
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    state.reauth_limits.attempt(organisation.id, &client_key(&user))?;
    let provider = Provider::from_config(&state.config);
    match provider.check_password(organisation.tenant()?, &username, &sign_in.password).await {
        Ok(_) => {}
        Err(failure) => return Err(password_refused(&failure)),
    }
    mark_working(
        &state,
        &organisation,
        CredentialKind::BackupAdmin,
        Some(&sign_in.password),
        Some(&username),
        None,
        "The backup admin signed in with the new password.",
    )
    .await?;
    Ok(Json(credentials_of(&state, &organisation).await?))
}

/// An email address's shape: something before and after one `@`, no spaces or control
/// characters (the provider decides the rest).
fn looks_like_an_address(text: &str) -> bool {
    let mut parts = text.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else { return false };
    !local.is_empty() && domain.contains('.') && !text.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// The provider's refusal, on the field it concerns, in our words.
fn password_refused(failure: &OAuthFailure) -> AppError {
    let field = |name: &str, message: &str| AppError::Validation(vec![FieldError::new(name, message)]);
    match failure.aadsts() {
        Some("AADSTS50126") => field("password", "Microsoft did not accept this username and password. Check both and try again."),
        Some("AADSTS50053") => field(
            "username",
            "This account is locked at Microsoft (too many sign-in attempts, or locked by an administrator). Unlock it in the Microsoft 365 admin center, or use another admin account.",
        ),
        Some("AADSTS50105") => field(
            "username",
            "This account signs in, but it lacks the role the backups need. Give it the role in the Microsoft 365 admin center, or use another admin account.",
        ),
        _ => upstream(failure),
    }
}

/// Device Authorization, step 2: a new code from the provider; the server then asks the
/// provider, at the interval it sets, whether someone authorised it.
#[utoipa::path(
    post, path = "/api/organisations/{id}/credentials/device", tag = "credentials",
    params(("id" = i64, Path, description = "The organisation's ID"), ("x-csrf-token" = String, Header, description = "The session's CSRF token")),
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
    state.reauth_limits.attempt(organisation.id, &client_key(&user))?;
    let provider = Provider::from_config(&state.config);
    let tenant = organisation.tenant()?.to_owned();
    let start = provider.start_device(&tenant).await.map_err(|failure| upstream(&failure))?;
    let flow_id = crate::auth::session::random_token();
    let sealed = state.secrets.seal(&state.db, organisation.id, &flow_context(&flow_id), start.device_code.as_bytes()).await?;
    let now = now_ms();
    let interval = start.interval.clamp(1, 60) as i32;
    // A newer code replaces any earlier one still waiting.
    sqlx::query("UPDATE oauth_flows SET status = 'expired', updated_at = $1 WHERE organisation_id = $2 AND kind = 'device' AND status = 'pending'")
        .bind(now)
        .bind(organisation.id)
        .execute(&state.db)
        .await?;
    sqlx::query(
        "INSERT INTO oauth_flows (id, organisation_id, kind, started_by, sealed_secret, status, user_code, verification_uri, \
                                  interval_seconds, expires_at, created_at, updated_at) \
         VALUES ($1, $2, 'device', $3, $4, 'pending', $5, $6, $7, $8, $9, $9)",
    )
    .bind(&flow_id)
    .bind(organisation.id)
    .bind(user.user_id)
    .bind(&sealed)
    .bind(&start.user_code)
    .bind(&start.verification_uri)
    .bind(interval)
    .bind(now + start.expires_in as i64 * 1000)
    .bind(now)
    .execute(&state.db)
    .await?;
    tokio::spawn(poll_device(state.clone(), organisation.clone(), flow_id.clone()));
    let flow = load_flow(&state.db, &flow_id).await?.ok_or_else(|| AppError::internal("the new device flow vanished"))?;
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
            // The database out of reach for a moment: look again, so that an authorisation
            // given meanwhile is still picked up.
            Err(error) if !state.shutting_down() => {
                tracing::warn!(%error, "device flow not read; trying again");
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                continue;
            }
            _ => return,
        };
        if flow.status != "pending" || state.shutting_down() {
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
    .bind(status_name(status))
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
        ("x-csrf-token" = String, Header, description = "The session's CSRF token"),
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
        .filter(|f| f.kind == "device" && f.organisation_id == organisation.id)
        .ok_or_else(|| AppError::not_found("There is no such Device Authorization; ask for a new code."))?;
    let sealed_token = match (parse_status(&flow.status), &flow.sealed_token) {
        (DeviceFlowStatus::Authorized, Some(token)) => token.clone(),
        (DeviceFlowStatus::Pending, _) => {
            return Err(AppError::Conflict(
                "The device has not been authorised at the provider yet. Enter the code there first.".into(),
            ))
        }
        (status, _) => {
            return Err(AppError::Conflict(format!(
                "This Device Authorization is {}; ask for a new code.",
                status_name(status).replace('_', " ")
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
    let _ = sqlx::query("UPDATE oauth_flows SET status = 'completed', sealed_token = NULL, updated_at = $1 WHERE id = $2")
        .bind(now_ms())
        .bind(&flow_id)
        .execute(&state.db)
        .await;
    Ok(Json(credentials_of(&state, &organisation).await?))
}

/// Check now: each working credential that we hold a secret for is tried with the provider
/// (the backup admin signs in; a consent's or a device's refresh token is exchanged for new
/// tokens). What the provider refuses is marked broken, with the break in the history.
#[utoipa::path(
    post, path = "/api/organisations/{id}/credentials/verify", tag = "credentials",
    params(("id" = i64, Path, description = "The organisation's ID"), ("x-csrf-token" = String, Header, description = "The session's CSRF token")),
    responses(
        (status = 200, description = "Checked: each credential's state and when it was last verified", body = Credentials),
        (status = 403, description = "Not an admin of this organisation, nor its reseller", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts; see Retry-After", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 502, description = "The provider could not be reached; nothing was changed", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn verify_credentials(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<Credentials>> {
    let organisation = administered(&state, &user, id).await?;
    state.reauth_limits.attempt(organisation.id, &client_key(&user))?;
    let tenant = organisation.tenant()?;
    let provider = Provider::from_config(&state.config);
    let held: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT kind, sealed_secret, username FROM credentials          WHERE organisation_id = $1 AND state = 'working' AND sealed_secret IS NOT NULL",
    )
    .bind(organisation.id)
    .fetch_all(&state.db)
    .await?;
    for (kind, sealed, username) in held {
        let Some(kind) = CredentialKind::parse(&kind) else { continue };
        let secret = state.secrets.open(&state.db, organisation.id, &credential_context(kind), &sealed).await?;
        let secret = String::from_utf8_lossy(&secret).into_owned();
        let checked = match kind {
            CredentialKind::BackupAdmin => {
                provider.check_password(tenant, username.as_deref().unwrap_or(""), &secret).await.map(|_| None)
            }
            CredentialKind::MainApp | CredentialKind::Device => {
                provider.refresh(tenant, &secret).await.map(|tokens| tokens.refresh_token)
            }
        };
        let now = now_ms();
        match checked {
            Ok(rotated) => {
                // A provider may rotate refresh tokens: keep the newest one.
                let sealed = match rotated {
                    Some(token) => {
                        state.secrets.seal(&state.db, organisation.id, &credential_context(kind), token.as_bytes()).await?
                    }
                    None => sealed,
                };
                sqlx::query(
                    "UPDATE credentials SET sealed_secret = $1, last_verified_at = $2, updated_at = $2                      WHERE organisation_id = $3 AND kind = $4 AND state = 'working'",
                )
                .bind(&sealed)
                .bind(now)
                .bind(organisation.id)
                .bind(kind.as_str())
                .execute(&state.db)
                .await?;
            }
            Err(failure @ OAuthFailure::Refused { .. }) => {
                let mut conn = state.db.acquire().await?;
                mark_broken(&mut conn, organisation.id, kind, &refusal_reason(kind, &failure), now).await?;
            }
            Err(failure) => return Err(upstream(&failure)),
        }
    }
    Ok(Json(credentials_of(&state, &organisation).await?))
}

/// Why the provider refused a stored credential, in our words (its AADSTS code, where it gave one).
fn refusal_reason(kind: CredentialKind, failure: &OAuthFailure) -> String {
    match (kind, failure.aadsts()) {
        (_, Some("AADSTS65001")) => {
            "Microsoft says the admin consent was revoked, or the global admin who gave it was removed.".into()
        }
        (CredentialKind::BackupAdmin, Some("AADSTS50126")) => {
            "Microsoft no longer accepts the backup admin's password; it was probably changed.".into()
        }
        (CredentialKind::BackupAdmin, Some("AADSTS50053")) => "The backup admin account is locked at Microsoft.".into(),
        (CredentialKind::BackupAdmin, Some("AADSTS50105")) => "The backup admin account lost the role the backups need.".into(),
        (CredentialKind::MainApp, _) => {
            "Microsoft no longer accepts the token from the last admin consent (expired or revoked).".into()
        }
        (CredentialKind::Device, _) => "Microsoft no longer accepts the delegated token (deleted or expired).".into(),
        (CredentialKind::BackupAdmin, _) => "Microsoft refused the backup admin's sign-in.".into(),
    }
}

/// Saves a fixed credential (its secret sealed), records the fix, and when nothing is broken
/// any more, backs up at once the accounts that stopped in Authentication Error.
async fn mark_working(
    state: &AppState,
    organisation: &Organisation,
    kind: CredentialKind,
    secret: Option<&str>,
    username: Option<&str>,
    expires_at: Option<i64>,
    detail: &str,
) -> AppResult<()> {
    let sealed = match secret {
        Some(secret) => Some(state.secrets.seal(&state.db, organisation.id, &credential_context(kind), secret.as_bytes()).await?),
        None => None,
    };
    let now = now_ms();
    let mut tx = state.db.begin().await?;
    let was: Option<(String,)> = sqlx::query_as("SELECT state FROM credentials WHERE organisation_id = $1 AND kind = $2")
        .bind(organisation.id)
        .bind(kind.as_str())
        .fetch_optional(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO credentials (organisation_id, kind, state, broken_since, reason, username, sealed_secret, expires_at, \
                                  last_verified_at, updated_at) \
         VALUES ($1, $2, 'working', NULL, NULL, $3, $4, $5, $6, $6) \
         ON CONFLICT (organisation_id, kind) DO UPDATE SET state = 'working', broken_since = NULL, reason = NULL, \
             username = COALESCE(excluded.username, credentials.username), sealed_secret = excluded.sealed_secret, \
             expires_at = excluded.expires_at, last_verified_at = excluded.last_verified_at, updated_at = excluded.updated_at",
    )
    .bind(organisation.id)
    .bind(kind.as_str())
    .bind(username)
    .bind(&sealed)
    .bind(expires_at)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if was.is_some_and(|(s,)| s == "broken") {
        record_event(&mut *tx, organisation.id, kind, true, Some(detail), now).await?;
    }
    tx.commit().await?;
    recover_backups(state, organisation.id).await
}

/// Marks a credential broken and records the break (the demo data; a backup run that finds it so).
pub async fn mark_broken(
    conn: &mut sqlx::AnyConnection,
    organisation_id: i64,
    kind: CredentialKind,
    reason: &str,
    since: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO credentials (organisation_id, kind, state, broken_since, reason, updated_at) VALUES ($1, $2, 'broken', $3, $4, $3) \
         ON CONFLICT (organisation_id, kind) DO UPDATE SET state = 'broken', broken_since = excluded.broken_since, \
             reason = excluded.reason, updated_at = excluded.updated_at",
    )
    .bind(organisation_id)
    .bind(kind.as_str())
    .bind(since)
    .bind(reason)
    .execute(&mut *conn)
    .await?;
    record_event(conn, organisation_id, kind, false, Some(reason), since).await
}

/// A working credential as the demo data has it (verified some time ago).
pub async fn seed_working<'e, E>(
    db: E,
    organisation_id: i64,
    kind: CredentialKind,
    username: Option<&str>,
    verified: i64,
) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    let expires = (kind == CredentialKind::Device).then_some(verified + DELEGATED_TOKEN_DAYS * 86_400_000);
    sqlx::query(
        "INSERT INTO credentials (organisation_id, kind, state, username, expires_at, last_verified_at, updated_at) \
         VALUES ($1, $2, 'working', $3, $4, $5, $5)",
    )
    .bind(organisation_id)
    .bind(kind.as_str())
    .bind(username)
    .bind(expires)
    .bind(verified)
    .execute(db)
    .await?;
    Ok(())
}

async fn record_event(
    conn: &mut sqlx::AnyConnection,
    organisation_id: i64,
    kind: CredentialKind,
    resolved: bool,
    detail: Option<&str>,
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO credential_events (id, organisation_id, kind, resolved, detail, at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(crate::auth::session::random_token()[..16].to_owned())
    .bind(organisation_id)
    .bind(kind.as_str())
    .bind(i32::from(resolved))
    .bind(detail)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Once nothing is broken, the accounts whose backup stopped in Authentication Error are
/// backed up at once (their next run), so the fix shows on System Status straight away.
async fn recover_backups(state: &AppState, organisation_id: i64) -> AppResult<()> {
    if !store::all_working(&state.db, organisation_id).await? {
        return Ok(());
    }
    crate::queue::restart_stopped_backups(&state.db, crate::queue::Stopped::Organisation(organisation_id), None).await?;
    state.engine.wake();
    Ok(())
}

fn flow_context(flow_id: &str) -> String {
    format!("oauth-flow:{flow_id}")
}

fn token_context(flow_id: &str) -> String {
    format!("oauth-flow-token:{flow_id}")
}

fn credential_context(kind: CredentialKind) -> String {
    format!("credential:{}", kind.as_str())
}

fn upstream(failure: &OAuthFailure) -> AppError {
    AppError::Upstream { service: PROVIDER, cause: format!("{failure:?}") }
}

fn internal(error: impl std::fmt::Display) -> AppError {
    AppError::internal(error)
}
