//! Deliveries: every event on its way to the organisation's HaloPSA and webhooks, each attempt
//! with its time, status and the answer's first lines, and Send again.

use axum::extract::State;
use axum::Json;
use portal_api::{Action, Delivery};

use crate::auth::CurrentUser;
use crate::error::{AppError, AppResult};
use crate::extract::ApiPath;
use crate::outbox;
use crate::state::AppState;

/// The most deliveries listed.
const LISTED: i64 = 100;

/// The organisation's last deliveries, newest first, with their attempts.
#[utoipa::path(
    get, path = "/api/organisations/{id}/deliveries", tag = "integrations",
    params(("id" = i64, Path, description = "The organisation")),
    responses(
        (status = 200, description = "At most 100, newest first", body = [Delivery]),
        (status = 403, description = "Not an admin of the organisation nor its reseller", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation among yours", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_deliveries(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<Vec<Delivery>>> {
    let organisation = crate::access::organisation(&state.db, &user, id, Action::ManageIntegrations).await?;
    Ok(Json(outbox::list(&state.db, organisation, LISTED).await?))
}

/// Send again: the delivery is due now, with the same event ID (a receiver that has it already
/// can tell). Its earlier attempts are kept.
#[utoipa::path(
    post, path = "/api/deliveries/{id}/send-again", tag = "integrations",
    params(("id" = String, Path, description = "The delivery")),
    responses(
        (status = 200, description = "Due now", body = Delivery),
        (status = 403, description = "Not an organisation admin nor a reseller", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such delivery among your organisations'", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 409, description = "It was delivered already, or its receiver was removed", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn send_again(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<String>,
) -> AppResult<Json<Delivery>> {
    let organisation = crate::access::delivery(&state.db, &user, &id, Action::ManageIntegrations).await?;
    if !outbox::send_again(&state.db, organisation, &id).await? {
        return Err(AppError::Conflict(
            "This delivery was delivered already, or its receiver was removed: there is nothing to send again.".into(),
        ));
    }
    state.notifier.wake();
    crate::activity::store::record(&state.db, &user, portal_api::ActivityAction::DeliverySentAgain, crate::activity::store::Target::organisation(organisation).id(&id)).await;
    outbox::one(&state.db, organisation, &id)
        .await?
        .map(Json)
        .ok_or_else(|| AppError::internal("a delivery just sent again vanished"))
}
