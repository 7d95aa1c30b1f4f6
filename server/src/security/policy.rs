//! Sign-in rules: whether an organisation's users (or a reseller's own users and those of
//! every organisation it serves) must sign in with a second factor.

use axum::extract::State;
use axum::Json;
use portal_api::{Action, ActivityAction, SignInPolicy, SignInPolicyInput};

use crate::activity::store::{record, Target};
use crate::auth::CurrentUser;
use crate::error::{AppError, AppResult};
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;

const FORBIDDEN: &str = "Not an admin of the organisation nor its reseller, or asked with an API token";

async fn organisation_policy(state: &AppState, organisation: i64) -> AppResult<SignInPolicy> {
    let (own, reseller): (i64, i64) = sqlx::query_as(
        "SELECT CAST(o.require_two_factor AS BIGINT), CAST(r.require_two_factor AS BIGINT) \
         FROM organisations o JOIN resellers r ON r.id = o.reseller_id WHERE o.id = $1",
    )
    .bind(organisation)
    .fetch_one(&state.db)
    .await?;
    Ok(SignInPolicy { require_two_factor: own != 0 || reseller != 0, required_by_reseller: reseller != 0 })
}

/// Whoever turns a requirement on has a second factor already: else the next thing they would
/// see is the enrolment page, locked out of the setting they just changed.
async fn refuse_without_own_factor(state: &AppState, user: &CurrentUser, turning_on: bool) -> AppResult<()> {
    if !turning_on {
        return Ok(());
    }
    let (enrolled,): (Option<i64>,) =
        sqlx::query_as("SELECT totp_enrolled_at FROM users WHERE id = $1").bind(user.user_id).fetch_one(&state.db).await?;
    match enrolled {
        Some(_) => Ok(()),
        None => Err(AppError::Conflict(
            "Set up your own authenticator app first (Account › Security): the rule would otherwise stop you too.".into(),
        )),
    }
}

/// The organisation's sign-in rules.
#[utoipa::path(
    get, path = "/api/organisations/{id}/sign-in-policy", tag = "security",
    params(("id" = i64, Path, description = "The organisation")),
    responses(
        (status = 200, description = "The rules", body = SignInPolicy),
        (status = 403, description = FORBIDDEN, body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation among those you manage", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_organisation_policy(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<SignInPolicy>> {
    let organisation = crate::access::organisation(&state.db, &user, id, Action::ManageSignInPolicy).await?;
    Ok(Json(organisation_policy(&state, organisation).await?))
}

/// Requires a second factor of the organisation's users (admins and end users), or stops
/// requiring it. Users without one must set it up at their next request.
#[utoipa::path(
    put, path = "/api/organisations/{id}/sign-in-policy", tag = "security",
    request_body = SignInPolicyInput,
    params(("id" = i64, Path, description = "The organisation")),
    responses(
        (status = 200, description = "Saved", body = SignInPolicy),
        (status = 403, description = FORBIDDEN, body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation among those you manage", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Turning it on without a second factor of one's own", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn set_organisation_policy(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<SignInPolicyInput>,
) -> AppResult<Json<SignInPolicy>> {
    let organisation = crate::access::organisation(&state.db, &user, id, Action::ManageSignInPolicy).await?;
    refuse_without_own_factor(&state, &user, input.require_two_factor).await?;
    sqlx::query("UPDATE organisations SET require_two_factor = $1 WHERE id = $2")
        .bind(i32::from(input.require_two_factor))
        .bind(organisation)
        .execute(&state.db)
        .await?;
    state.sessions.clear();
    let what = if input.require_two_factor { "two-factor sign-in required" } else { "two-factor sign-in not required" };
    record(&state.db, &user, ActivityAction::SignInPolicyChanged, Target::organisation(organisation).named(what)).await;
    Ok(Json(organisation_policy(&state, organisation).await?))
}

/// The reseller of a reseller's user (anyone else: 403 from the table of permissions).
fn own_reseller(user: &CurrentUser) -> AppResult<i64> {
    crate::access::require(user, Action::ManageResellerSignInPolicy)?;
    user.reseller_id.ok_or_else(|| AppError::not_found("There is no reseller among what you manage."))
}

async fn reseller_policy(state: &AppState, reseller: i64) -> AppResult<SignInPolicy> {
    let (required,): (i64,) = sqlx::query_as("SELECT CAST(require_two_factor AS BIGINT) FROM resellers WHERE id = $1")
        .bind(reseller)
        .fetch_one(&state.db)
        .await?;
    Ok(SignInPolicy { require_two_factor: required != 0, required_by_reseller: false })
}

/// The reseller's own sign-in rules (they cover its users and every organisation it serves).
#[utoipa::path(
    get, path = "/api/reseller/sign-in-policy", tag = "security",
    responses(
        (status = 200, description = "The rules", body = SignInPolicy),
        (status = 403, description = "Not a reseller, or asked with an API token", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_reseller_policy(State(state): State<AppState>, user: CurrentUser) -> AppResult<Json<SignInPolicy>> {
    let reseller = own_reseller(&user)?;
    Ok(Json(reseller_policy(&state, reseller).await?))
}

/// Requires a second factor of the reseller's own users and of every user of the
/// organisations it serves, or stops requiring it (organisations that require it themselves
/// still do).
#[utoipa::path(
    put, path = "/api/reseller/sign-in-policy", tag = "security",
    request_body = SignInPolicyInput,
    responses(
        (status = 200, description = "Saved", body = SignInPolicy),
        (status = 403, description = "Not a reseller, or asked with an API token", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 409, description = "Turning it on without a second factor of one's own", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn set_reseller_policy(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(input): ApiJson<SignInPolicyInput>,
) -> AppResult<Json<SignInPolicy>> {
    let reseller = own_reseller(&user)?;
    refuse_without_own_factor(&state, &user, input.require_two_factor).await?;
    sqlx::query("UPDATE resellers SET require_two_factor = $1 WHERE id = $2")
        .bind(i32::from(input.require_two_factor))
        .bind(reseller)
        .execute(&state.db)
        .await?;
    state.sessions.clear();
    let what = if input.require_two_factor {
        "two-factor sign-in required of every organisation served"
    } else {
        "two-factor sign-in no longer required reseller-wide"
    };
    record(&state.db, &user, ActivityAction::SignInPolicyChanged, Target::default().named(what)).await;
    Ok(Json(reseller_policy(&state, reseller).await?))
}
