//! Account Settings › Credentials: an organisation's three credentials, their history, and
//! the three flows that fix them — admin consent (Continue), the backup admin's password
//! (Re Authenticate) and Device Authorization (Verify & Continue). Only that organisation's
//! admins and its reseller may read or change them (`crate::access` decides).

pub mod consent;
pub mod device;
pub mod oauth;
pub mod rate_limit;
pub mod store;

use axum::extract::State;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use portal_api::{
    Action, BackupAdminSignIn, Credential, CredentialEvent, CredentialKind, CredentialState, Credentials, DeviceFlowStatus,
    FieldError, OrganisationSummary,
};

use crate::auth::CurrentUser;
use crate::db::{now_ms, rfc3339};
use crate::error::{AppError, AppResult};
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;
use consent::{consent_callback, start_consent};
use device::{complete_device, start_device, FlowRow, FLOW_COLUMNS};
use oauth::{OAuthFailure, Provider};
use store::{mark_broken, FlowKind};

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
        "SELECT o.id, o.name, (SELECT COUNT(*) FROM credentials c WHERE c.organisation_id = o.id AND c.state = $2) \
         FROM organisations o WHERE {condition} ORDER BY o.name"
    ))
    .bind(id)
    .bind(CredentialState::Broken.as_str())
    .fetch_all(&state.db)
    .await?;
    Ok(Json(rows.into_iter().map(|(id, name, broken)| OrganisationSummary { id, name, broken: broken.max(0) as u32 }).collect()))
}

#[derive(sqlx::FromRow)]
struct CredentialRow {
    #[sqlx(try_from = "String")]
    kind: CredentialKind,
    #[sqlx(try_from = "String")]
    state: CredentialState,
    broken_since: Option<i64>,
    reason: Option<String>,
    username: Option<String>,
    expires_at: Option<i64>,
    last_verified_at: Option<i64>,
}

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
        .filter_map(|kind| rows.iter().find(|r| r.kind == kind).map(|row| (kind, row)))
        .map(|(kind, row)| Credential {
            kind,
            state: row.state,
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
        .map(|(id, kind, resolved, detail, at)| {
            let kind: CredentialKind = kind.parse().map_err(AppError::internal)?;
            Ok(CredentialEvent {
                id,
                kind,
                title: kind.event_title(resolved == 1).into(),
                resolved: resolved == 1,
                detail,
                at: rfc3339(at),
            })
        })
        .collect::<AppResult<_>>()?;
    let flow: Option<FlowRow> = sqlx::query_as(&format!(
        "SELECT {FLOW_COLUMNS} FROM oauth_flows WHERE organisation_id = $1 AND kind = $2 ORDER BY created_at DESC LIMIT 1"
    ))
    .bind(organisation.id)
    .bind(FlowKind::Device.as_str())
    .fetch_optional(&state.db)
    .await?;
    Ok(Credentials {
        organisation_id: organisation.id,
        organisation: organisation.name.clone(),
        domain: organisation.domain.clone().unwrap_or_default(),
        items,
        events,
        device_flow: flow.filter(|f| f.status != DeviceFlowStatus::Completed).map(|f| f.device_flow()),
    })
}

fn client_key(user: &CurrentUser) -> String {
    format!("user:{}", user.user_id)
}

/// Re Authenticate: the backup admin's username and password, checked with the provider
/// before they are stored (encrypted).
#[utoipa::path(
    put, path = "/api/organisations/{id}/credentials/backup-admin", tag = "credentials",
    request_body = BackupAdminSignIn,
    params(("id" = i64, Path, description = "The organisation's ID")),
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
    state.reauth_limits.attempt(organisation.id, &client_key(&user)).await?;
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
    crate::activity::store::record(&state.db, &user, portal_api::ActivityAction::BackupAdminSignedIn, crate::activity::store::Target::organisation(organisation.id)).await;
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

/// Check now: each working credential that we hold a secret for is tried with the provider
/// (the backup admin signs in; a consent's or a device's refresh token is exchanged for new
/// tokens). What the provider refuses is marked broken, with the break in the history.
#[utoipa::path(
    post, path = "/api/organisations/{id}/credentials/verify", tag = "credentials",
    params(("id" = i64, Path, description = "The organisation's ID")),
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
    state.reauth_limits.attempt(organisation.id, &client_key(&user)).await?;
    let tenant = organisation.tenant()?;
    let provider = Provider::from_config(&state.config);
    let held: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT kind, sealed_secret, username FROM credentials WHERE organisation_id = $1 AND state = $2 AND sealed_secret IS NOT NULL",
    )
    .bind(organisation.id)
    .bind(CredentialState::Working.as_str())
    .fetch_all(&state.db)
    .await?;
    for (kind, sealed, username) in held {
        let kind: CredentialKind = kind.parse().map_err(AppError::internal)?;
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
                store::renew_secret(&state.db, organisation.id, kind, &sealed).await?;
            }
            Err(failure @ OAuthFailure::Refused { .. }) => {
                let mut conn = state.db.acquire().await?;
                mark_broken(&mut conn, organisation.id, kind, &refusal_reason(kind, &failure), now).await?;
            }
            Err(failure) => return Err(upstream(&failure)),
        }
    }
    crate::activity::store::record(&state.db, &user, portal_api::ActivityAction::CheckNow, crate::activity::store::Target::organisation(organisation.id)).await;
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
    store::save_working(&state.db, organisation.id, kind, username, sealed.as_deref(), expires_at, detail).await?;
    recover_backups(state, organisation.id).await
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
