//! The organisation's HaloPSA: saved with its client secret sealed, and Test connection, which
//! asks Halo for a token and reads the client tickets go under, naming any failure on the field
//! to change, with Halo's own status and message.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use portal_api::{Action, FieldError, HaloAppliedToAll, HaloSettings, HaloSettingsInput, HaloTest};

use crate::auth::CurrentUser;
use crate::error::{AppError, AppResult};
use crate::extract::{ApiJson, ApiPath};
use crate::notify::settings::{self, HaloInput};
use crate::outgoing::halo::{self as client, HaloAccount, HaloError, Step};
use crate::secrets::SecretString;
use crate::state::AppState;

/// The organisation's HaloPSA connection, or `null` when none is set up.
#[utoipa::path(
    get, path = "/api/organisations/{id}/integrations/halo", tag = "integrations",
    params(("id" = i64, Path, description = "The organisation")),
    responses(
        (status = 200, description = "The connection (the secret never comes back), or null", body = Option<HaloSettings>),
        (status = 403, description = "Not an admin of the organisation nor its reseller", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation among yours", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_halo(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<Option<HaloSettings>>> {
    let organisation = crate::access::organisation(&state.db, &user, id, Action::ManageIntegrations).await?;
    Ok(Json(settings::halo_settings(&state.db, organisation).await?))
}

/// Checks the form. The secret may be left empty to keep (or test with) the saved one only
/// while the Halo and the application are the ones it was given for: it is never sent anywhere
/// else (typing another address must not be a way to read it).
fn checked(state: &AppState, input: &HaloSettingsInput, saved: Option<&HaloSettings>) -> AppResult<HaloInput> {
    let same_halo = saved.is_some_and(|saved| {
        saved.secret_saved
            && saved.url == input.url.trim().trim_end_matches('/')
            && saved.tenant == input.tenant.trim()
            && saved.client_id == input.client_id.trim()
    });
    let mut errors = Vec::new();
    let url = input.url.trim();
    if url.is_empty() {
        errors.push(FieldError::new("url", "Enter your Halo's address, like https://yourcompany.halopsa.com."));
    } else if let Err(refused) = state.outgoing.check_url(url) {
        errors.push(FieldError::new("url", refused.0));
    }
    let tenant = input.tenant.trim();
    if tenant.len() > 100 || !tenant.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
        errors.push(FieldError::new(
            "tenant",
            "A tenant is a short name of letters, digits, dashes and dots; leave it empty for a Halo of your own.",
        ));
    }
    let client_id = input.client_id.trim();
    if client_id.is_empty() || client_id.len() > 200 {
        errors.push(FieldError::new(
            "client_id",
            "Enter the API application's client ID (Halo: Configuration › Integrations › Halo API).",
        ));
    }
    if input.client_secret.chars().count() > 500 {
        errors.push(FieldError::new("client_secret", "A client secret is at most 500 characters."));
    } else if input.client_secret.is_empty() && saved.is_some_and(|s| s.secret_saved) && !same_halo {
        errors.push(FieldError::new(
            "client_secret",
            "Enter the client secret again: the address, tenant or client ID changed, and the saved secret is only ever sent to the Halo it was given for.",
        ));
    } else if input.client_secret.is_empty() && !same_halo {
        errors.push(FieldError::new("client_secret", "Enter the API application's client secret."));
    }
    let number = |field: &str, text: &str, required: bool, errors: &mut Vec<FieldError>| -> Option<i64> {
        let text = text.trim();
        if text.is_empty() {
            if required {
                errors.push(FieldError::new(field, "Enter the number of the Halo client (customer) tickets are filed under."));
            }
            return None;
        }
        match text.parse::<i64>() {
            Ok(n) if n > 0 => Some(n),
            _ => {
                errors.push(FieldError::new(field, "Enter a whole number above 0, as Halo shows it (or leave it empty)."));
                None
            }
        }
    };
    let halo_client_id = number("halo_client_id", &input.halo_client_id, true, &mut errors);
    let ticket_type_id = number("ticket_type_id", &input.ticket_type_id, false, &mut errors);
    let priority_id = number("priority_id", &input.priority_id, false, &mut errors);
    match halo_client_id {
        Some(halo_client_id) if errors.is_empty() => Ok(HaloInput {
            url: url.trim_end_matches('/').to_owned(),
            tenant: tenant.to_owned(),
            client_id: client_id.to_owned(),
            client_secret: (!input.client_secret.is_empty()).then(|| SecretString::new(input.client_secret.clone())),
            halo_client_id,
            ticket_type_id,
            priority_id,
        }),
        _ => Err(AppError::Validation(errors)),
    }
}

/// Save: stores the connection (its secret sealed). Events from now on are delivered to it.
#[utoipa::path(
    put, path = "/api/organisations/{id}/integrations/halo", tag = "integrations",
    request_body = HaloSettingsInput,
    params(("id" = i64, Path, description = "The organisation")),
    responses(
        (status = 200, description = "Saved", body = HaloSettings),
        (status = 403, description = "Not an admin of the organisation nor its reseller", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation among yours", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Fields that are wrong, each named", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn save_halo(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<HaloSettingsInput>,
) -> AppResult<Json<HaloSettings>> {
    let organisation = crate::access::organisation(&state.db, &user, id, Action::ManageIntegrations).await?;
    let saved = settings::halo_settings(&state.db, organisation).await?;
    let input = checked(&state, &input, saved.as_ref())?;
    settings::save_halo(&state.db, &state.secrets, organisation, input).await?;
    crate::activity::store::record(&state.db, &user, portal_api::ActivityAction::HaloSaved, crate::activity::store::Target::organisation(organisation)).await;
    let saved = settings::halo_settings(&state.db, organisation).await?;
    saved.map(Json).ok_or_else(|| AppError::internal("the Halo settings just saved are not there"))
}

/// Every organisation the user serves (a reseller's; an organisation admin's one) files tickets
/// in this Halo: the connection is saved for each; one that already filed in this same Halo
/// keeps its Halo client, the others file under the one given. The secret must be typed: saved ones may differ.
#[utoipa::path(
    put, path = "/api/integrations/halo", tag = "integrations",
    request_body = HaloSettingsInput,
    responses(
        (status = 200, description = "Saved for every organisation the user serves", body = HaloAppliedToAll),
        (status = 403, description = "Not an organisation admin nor a reseller", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Fields that are wrong, each named", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn save_halo_for_all(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(input): ApiJson<HaloSettingsInput>,
) -> AppResult<Json<HaloAppliedToAll>> {
    let organisations = crate::access::organisations(&state.db, &user, Action::ManageIntegrations).await?;
    let input = checked(&state, &input, None)?;
    let mut applied = HaloAppliedToAll { organisations: Vec::new(), kept_their_client: Vec::new() };
    for (organisation, name) in organisations {
        // A client number means something only in its Halo: kept only when the Halo is the same.
        let own_client = settings::halo_settings(&state.db, organisation)
            .await?
            .filter(|saved| saved.url == input.url && saved.tenant == input.tenant)
            .map(|saved| saved.halo_client_id);
        let one = HaloInput {
            url: input.url.clone(),
            tenant: input.tenant.clone(),
            client_id: input.client_id.clone(),
            client_secret: input.client_secret.clone(),
            halo_client_id: own_client.unwrap_or(input.halo_client_id),
            ticket_type_id: input.ticket_type_id,
            priority_id: input.priority_id,
        };
        settings::save_halo(&state.db, &state.secrets, organisation, one).await?;
        crate::activity::store::record(&state.db, &user, portal_api::ActivityAction::HaloSaved, crate::activity::store::Target::organisation(organisation)).await;
        if own_client.is_some() {
            applied.kept_their_client.push(name.clone());
        }
        applied.organisations.push(name);
    }
    Ok(Json(applied))
}

/// Remove: events are no longer filed in Halo (tickets already open there stay open).
#[utoipa::path(
    delete, path = "/api/organisations/{id}/integrations/halo", tag = "integrations",
    params(("id" = i64, Path, description = "The organisation")),
    responses(
        (status = 204, description = "Removed (or there was none)"),
        (status = 403, description = "Not an admin of the organisation nor its reseller", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation among yours", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete_halo(State(state): State<AppState>, user: CurrentUser, ApiPath(id): ApiPath<i64>) -> AppResult<StatusCode> {
    let organisation = crate::access::organisation(&state.db, &user, id, Action::ManageIntegrations).await?;
    // Gone either way: removing what is not there is not an error.
    if settings::delete_halo(&state.db, organisation).await? {
        crate::activity::store::record(&state.db, &user, portal_api::ActivityAction::HaloRemoved, crate::activity::store::Target::organisation(organisation)).await;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Test connection: asks Halo for a token with these settings and reads the client; changes
/// nothing. A failure is named on the field to change, with Halo's status and message.
#[utoipa::path(
    post, path = "/api/organisations/{id}/integrations/halo/test", tag = "integrations",
    request_body = HaloSettingsInput,
    params(("id" = i64, Path, description = "The organisation")),
    responses(
        (status = 200, description = "What Halo answered: connected, or what failed and on which field", body = HaloTest),
        (status = 403, description = "Not an admin of the organisation nor its reseller", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation among yours", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Fields that are wrong before anything is sent, each named", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn test_halo(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<HaloSettingsInput>,
) -> AppResult<Json<HaloTest>> {
    let organisation = crate::access::organisation(&state.db, &user, id, Action::ManageIntegrations).await?;
    let saved = settings::halo_settings(&state.db, organisation).await?;
    let input = checked(&state, &input, saved.as_ref())?;
    // Only reached with an empty secret when the saved one is for this very Halo (`checked`).
    let saved_secret = match input.client_secret {
        Some(_) => None,
        None => settings::saved_halo_secret(&state.db, &state.secrets, organisation).await?,
    };
    let account = HaloAccount {
        url: input.url,
        tenant: input.tenant,
        client_id: input.client_id,
        client_secret: match (input.client_secret, saved_secret) {
            (Some(secret), _) | (None, Some(secret)) => secret,
            (None, None) => {
                return Err(AppError::Validation(vec![FieldError::new(
                    "client_secret",
                    "Enter the API application's client secret.",
                )]))
            }
        },
        halo_client_id: input.halo_client_id,
        ticket_type_id: input.ticket_type_id,
        priority_id: input.priority_id,
    };
    let outcome = async {
        let token = client::token(&state.outgoing, &account).await?;
        client::client_name(&state.outgoing, &account, &token).await
    };
    Ok(Json(match outcome.await {
        Ok(name) => HaloTest {
            ok: true,
            message: format!("Connected: tickets will be filed under {name}."),
            client_name: Some(name),
            field: None,
            halo_status: Some(200),
            halo_message: None,
            halo_errors: Vec::new(),
            retry_after_seconds: None,
        },
        Err(error) => explain(&account, error),
    }))
}

/// A failed test in our words, on the field to change.
fn explain(account: &HaloAccount, error: HaloError) -> HaloTest {
    let (field, message): (Option<&str>, String) = match (error.status, error.step) {
        (None, _) if error.timed_out => (Some("url"), "Halo did not answer in time. Check the address, or try again in a minute.".into()),
        (None, _) => (Some("url"), format!("Halo could not be reached at this address: {}", error.answer)),
        (Some(401), _) => (
            Some("client_secret"),
            "Halo refused the client ID and secret: check both, and that the API application is active and uses \
             \"Client ID and Secret (Services)\"."
                .into(),
        ),
        (Some(400), Step::Token) => (Some("client_id"), "Halo would not give this application a token: check its client ID and its authentication method.".into()),
        (Some(403), _) => (
            Some("client_id"),
            "The API application lacks a permission it needs (read:tickets, edit:tickets, read:customers): add it to the application in Halo.".into(),
        ),
        (Some(404), Step::Token) if !account.tenant.is_empty() => (Some("tenant"), "Halo does not know this tenant, or the address is wrong: check both.".into()),
        (Some(404), Step::Token) => (Some("url"), "There is no Halo API at this address: check the Halo URL.".into()),
        (Some(404), _) => (Some("halo_client_id"), format!("Halo has no client {}: check the client's number in Halo.", account.halo_client_id)),
        (Some(405), _) => (Some("url"), "This address answered as if it were not a Halo's API (405 Method Not Allowed): check the Halo URL.".into()),
        (Some(409), _) => (None, "Halo found a conflict with what it holds (409).".into()),
        (Some(422), _) => (None, "Halo refused some values (422); its reasons are listed below.".into()),
        (Some(429), _) => (None, "Halo asks us to slow down (429). Try again when the wait is over.".into()),
        (Some(504), _) | (Some(408), _) => (Some("url"), "Halo took too long to answer (timeout). Try again in a minute.".into()),
        (Some(status), _) if status >= 500 => (Some("url"), format!("Halo had a problem of its own ({status}). Try again later.")),
        (Some(status), _) => (Some("url"), format!("Halo answered {status}, which we did not expect.")),
    };
    HaloTest {
        ok: false,
        client_name: None,
        field: field.map(str::to_owned),
        message,
        halo_status: error.status,
        halo_message: error.message,
        halo_errors: error.errors,
        retry_after_seconds: if error.status == Some(429) { Some(error.retry_after.unwrap_or(60)) } else { None },
    }
}
