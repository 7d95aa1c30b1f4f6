//! The organisation's webhook endpoints: made with a signing secret shown once, listed, removed,
//! and sent a test event.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use portal_api::{Action, CreatedWebhook, Delivery, EventType, FieldError, NewWebhook, Webhook};

use crate::auth::CurrentUser;
use crate::error::{AppError, AppResult};
use crate::extract::{ApiJson, ApiPath};
use crate::notify::settings;
use crate::outbox::{self, NewEvent};
use crate::state::AppState;

/// The most endpoints an organisation may have.
const MAX_WEBHOOKS: usize = 10;

/// The organisation's webhook endpoints.
#[utoipa::path(
    get, path = "/api/organisations/{id}/webhooks", tag = "integrations",
    params(("id" = i64, Path, description = "The organisation")),
    responses(
        (status = 200, description = "The endpoints (their secrets are never sent again)", body = [Webhook]),
        (status = 403, description = "Not an admin of the organisation nor its reseller", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation among yours", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_webhooks(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<Vec<Webhook>>> {
    let organisation = crate::access::organisation(&state.db, &user, id, Action::ManageIntegrations).await?;
    Ok(Json(settings::webhooks(&state.db, organisation).await?))
}

/// Add an endpoint: every delivery to it is signed (Standard Webhooks) with the secret in the
/// answer, shown this once.
#[utoipa::path(
    post, path = "/api/organisations/{id}/webhooks", tag = "integrations",
    request_body = NewWebhook,
    params(("id" = i64, Path, description = "The organisation")),
    responses(
        (status = 201, description = "Made; `secret` (whsec_…) verifies its deliveries' `webhook-signature`", body = CreatedWebhook),
        (status = 403, description = "Not an admin of the organisation nor its reseller", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation among yours", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The organisation has as many endpoints as it may", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "The address or an event type is wrong, each named", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_webhook(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(request): ApiJson<NewWebhook>,
) -> AppResult<(StatusCode, Json<CreatedWebhook>)> {
    let organisation = crate::access::organisation(&state.db, &user, id, Action::ManageIntegrations).await?;
    let mut errors = Vec::new();
    let url = request.url.trim();
    if url.len() > 2000 {
        errors.push(FieldError::new("url", "An address is at most 2,000 characters."));
    } else if let Err(refused) = state.outgoing.check_url(url) {
        errors.push(FieldError::new("url", refused.0));
    }
    let mut events = Vec::new();
    for name in request.events.iter().flatten() {
        match EventType::parse(name) {
            Some(event) if event != EventType::WebhookTest => {
                if !events.contains(&event) {
                    events.push(event);
                }
            }
            _ => {
                let known: Vec<&str> = EventType::subscribable().map(|e| e.as_str()).collect();
                errors
                    .push(FieldError::new("events", format!("{name:?} is not an event type; choose from {}.", known.join(", "))));
            }
        }
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    if settings::webhooks(&state.db, organisation).await?.len() >= MAX_WEBHOOKS {
        return Err(AppError::Conflict(format!("An organisation can have at most {MAX_WEBHOOKS} webhooks; remove one first.")));
    }
    let created = settings::create_webhook(&state.db, &state.secrets, organisation, url, &events).await?;
    crate::activity::store::record(&state.db, &user, portal_api::ActivityAction::WebhookCreated, crate::activity::store::Target::organisation(organisation).named(host_of(url)).id(&created.webhook.id)).await;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Remove an endpoint. Its deliveries stay on the Deliveries page; waiting ones are not sent.
#[utoipa::path(
    delete, path = "/api/organisations/{id}/webhooks/{webhook_id}", tag = "integrations",
    params(("id" = i64, Path, description = "The organisation"), ("webhook_id" = String, Path, description = "The endpoint")),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, description = "Not an admin of the organisation nor its reseller", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such endpoint or organisation among yours", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete_webhook(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath((id, webhook_id)): ApiPath<(i64, String)>,
) -> AppResult<StatusCode> {
    let organisation = crate::access::organisation(&state.db, &user, id, Action::ManageIntegrations).await?;
    if !settings::delete_webhook(&state.db, organisation, &webhook_id).await? {
        return Err(AppError::not_found("This organisation has no such webhook."));
    }
    crate::activity::store::record(&state.db, &user, portal_api::ActivityAction::WebhookDeleted, crate::activity::store::Target::organisation(organisation).id(&webhook_id)).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Send a test event (`webhook.test`) to one endpoint, through the outbox like any other.
#[utoipa::path(
    post, path = "/api/organisations/{id}/webhooks/{webhook_id}/test", tag = "integrations",
    params(("id" = i64, Path, description = "The organisation"), ("webhook_id" = String, Path, description = "The endpoint")),
    responses(
        (status = 202, description = "Queued; its attempts show on the Deliveries page", body = Delivery),
        (status = 403, description = "Not an admin of the organisation nor its reseller", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such endpoint or organisation among yours", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 409, description = "A test event to it is still on its way", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn test_webhook(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath((id, webhook_id)): ApiPath<(i64, String)>,
) -> AppResult<(StatusCode, Json<Delivery>)> {
    let organisation = crate::access::organisation(&state.db, &user, id, Action::ManageIntegrations).await?;
    if !settings::has_webhook(&state.db, organisation, &webhook_id).await? {
        return Err(AppError::not_found("This organisation has no such webhook."));
    }
    if outbox::test_pending(&state.db, &webhook_id).await? {
        return Err(AppError::Conflict("A test event to this webhook is still on its way: see Deliveries.".into()));
    }
    let mut tx = state.db.begin().await?;
    let event = NewEvent {
        organisation_id: organisation,
        event_type: EventType::WebhookTest,
        subject: format!("webhook:{webhook_id}"),
        mailbox_id: None,
        summary: "A test event, sent on demand".into(),
        data: serde_json::json!({ "webhook_id": webhook_id, "message": "A test event from the Backup Portal." }),
        dedupe_key: None,
        only_webhook: Some(webhook_id.clone()),
    };
    let event_id = outbox::record(&mut tx, event).await?.ok_or_else(|| AppError::internal("a test event was not recorded"))?;
    tx.commit().await?;
    let (delivery_id,): (String,) =
        sqlx::query_as("SELECT id FROM deliveries WHERE notification_id = $1").bind(&event_id).fetch_one(&state.db).await?;
    let delivery = outbox::one(&state.db, organisation, &delivery_id)
        .await?
        .ok_or_else(|| AppError::internal("a test delivery vanished"))?;
    Ok((StatusCode::ACCEPTED, Json(delivery)))
}

/// The host of a webhook's address, for the activity log: the rest (a path, a query) may be
/// the receiver's secret, and the log is read more widely than the webhooks.
fn host_of(url: &str) -> String {
    url::Url::parse(url).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_default()
}
