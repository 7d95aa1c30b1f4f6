//! Sign-in rules: whether an organisation's users (or a reseller's own users and those of
//! every organisation it serves) must sign in with a second factor.

use axum::extract::State;
use axum::Json;
use portal_api::{Action, ActivityAction, FieldError, Role, SignInPolicy, SignInPolicyInput};

use crate::activity::store::{record, Target};
use crate::auth::CurrentUser;
use crate::error::{AppError, AppResult};
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;

const FORBIDDEN: &str = "Not an admin of the organisation nor its reseller, or asked with an API token";

#[derive(sqlx::FromRow)]
struct OrganisationRow {
    own: i64,
    reseller: i64,
    enforce_sso: i64,
    break_glass_email: Option<String>,
    tenant_id: Option<String>,
}

async fn organisation_policy(state: &AppState, organisation: i64) -> AppResult<SignInPolicy> {
    Ok(organisation_policy_and_own(state, organisation).await?.0)
}

/// The policy, and whether the organisation's own rule (not its reseller's) requires two factors.
async fn organisation_policy_and_own(state: &AppState, organisation: i64) -> AppResult<(SignInPolicy, bool)> {
    let row: OrganisationRow = sqlx::query_as(
        "SELECT CAST(o.require_two_factor AS BIGINT) AS own, CAST(r.require_two_factor AS BIGINT) AS reseller, \
                CAST(o.enforce_sso AS BIGINT) AS enforce_sso, b.email AS break_glass_email, o.tenant_id \
         FROM organisations o JOIN resellers r ON r.id = o.reseller_id LEFT JOIN users b ON b.id = o.break_glass_user_id \
         WHERE o.id = $1",
    )
    .bind(organisation)
    .fetch_one(&state.db)
    .await?;
    let policy = SignInPolicy {
        require_two_factor: row.own != 0 || row.reseller != 0,
        required_by_reseller: row.reseller != 0,
        enforce_sso: row.enforce_sso != 0,
        break_glass_email: row.break_glass_email,
        sso_available: row.tenant_id.is_some_and(|t| !t.is_empty()),
    };
    Ok((policy, row.own != 0))
}

/// What SSO becomes: enforced or not, and the break-glass admin (checked: an admin of the
/// organisation; needed while enforced).
async fn sso_change(
    state: &AppState,
    organisation: i64,
    current: &SignInPolicy,
    input: &SignInPolicyInput,
) -> AppResult<(bool, Option<i64>)> {
    let enforce = input.enforce_sso.unwrap_or(current.enforce_sso);
    let mut errors = Vec::new();
    if enforce && !current.sso_available {
        errors.push(FieldError::new(
            "enforce_sso",
            "This organisation's Microsoft tenant is not known yet: give consent under Credentials first.",
        ));
    }
    if input.break_glass_email.as_ref().is_some_and(|e| e.chars().count() > 254) {
        return Err(AppError::Validation(vec![FieldError::new("break_glass_email", "An email address is at most 254 characters.")]));
    }
    let wanted = match &input.break_glass_email {
        Some(email) => Some(email.trim().to_lowercase()).filter(|e| !e.is_empty()),
        None => current.break_glass_email.clone(),
    };
    let break_glass = match &wanted {
        None => None,
        Some(email) => {
            let found: Option<(i64,)> =
                sqlx::query_as("SELECT id FROM users WHERE LOWER(email) = $1 AND role = $2 AND organisation_id = $3")
                    .bind(email)
                    .bind(Role::OrgAdmin.as_str())
                    .bind(organisation)
                    .fetch_optional(&state.db)
                    .await?;
            if found.is_none() {
                errors.push(FieldError::new("break_glass_email", format!("{email} is not an admin of this organisation.")));
            }
            found.map(|(id,)| id)
        }
    };
    if enforce && wanted.is_none() {
        errors.push(FieldError::new(
            "break_glass_email",
            "Name one admin who may still sign in with a password, for when Microsoft cannot be reached.",
        ));
    }
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    Ok((enforce, break_glass))
}

/// Whoever turns a requirement on has a second factor already: else the next thing they would
/// see is the enrolment page, locked out of the setting they just changed.
async fn refuse_without_own_factor(state: &AppState, user: &CurrentUser, turning_on: bool) -> AppResult<()> {
    if !turning_on {
        return Ok(());
    }
    if crate::auth::factor::has_second_factor(state, user.user_id).await? {
        Ok(())
    } else {
        Err(AppError::Conflict(
            "Set up your own second factor first (an authenticator app or a passkey, in Account › Security): the rule would otherwise stop you too.".into(),
        ))
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
        (status = 422, description = "Enforce SSO without a known tenant or a break-glass admin, or a break-glass address that is not an admin of the organisation", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn set_organisation_policy(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<SignInPolicyInput>,
) -> AppResult<Json<SignInPolicy>> {
    let organisation = crate::access::organisation(&state.db, &user, id, Action::ManageSignInPolicy).await?;
    let (current, own) = organisation_policy_and_own(&state, organisation).await?;
    let (enforce_sso, break_glass) = sso_change(&state, organisation, &current, &input).await?;
    let require = input.require_two_factor.unwrap_or(own);
    // Only when the rule comes into force: one already in force, or kept, locks nobody out anew.
    refuse_without_own_factor(&state, &user, require && !current.require_two_factor).await?;
    sqlx::query("UPDATE organisations SET require_two_factor = $1, enforce_sso = $2, break_glass_user_id = $3 WHERE id = $4")
        .bind(i32::from(require))
        .bind(i32::from(enforce_sso))
        .bind(break_glass)
        .bind(organisation)
        .execute(&state.db)
        .await?;
    state.sessions.clear();
    let what = format!(
        "two-factor sign-in {}; sign-in with Microsoft {}",
        if require { "required" } else { "not required" },
        if enforce_sso { "enforced" } else { "not enforced" }
    );
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
    Ok(SignInPolicy { require_two_factor: required != 0, required_by_reseller: false, ..SignInPolicy::default() })
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
        (status = 422, description = "`enforce_sso` or `break_glass_email` given: they are an organisation's", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn set_reseller_policy(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(input): ApiJson<SignInPolicyInput>,
) -> AppResult<Json<SignInPolicy>> {
    let reseller = own_reseller(&user)?;
    if input.enforce_sso.is_some() || input.break_glass_email.is_some() {
        let message = "Sign-in with Microsoft is set per organisation (its tenant), not reseller-wide.";
        let field = if input.enforce_sso.is_some() { "enforce_sso" } else { "break_glass_email" };
        return Err(AppError::Validation(vec![FieldError::new(field, message)]));
    }
    let current = reseller_policy(&state, reseller).await?;
    let require = input.require_two_factor.unwrap_or(current.require_two_factor);
    refuse_without_own_factor(&state, &user, require && !current.require_two_factor).await?;
    sqlx::query("UPDATE resellers SET require_two_factor = $1 WHERE id = $2")
        .bind(i32::from(require))
        .bind(reseller)
        .execute(&state.db)
        .await?;
    state.sessions.clear();
    let what = if require {
        "two-factor sign-in required of every organisation served"
    } else {
        "two-factor sign-in no longer required reseller-wide"
    };
    record(&state.db, &user, ActivityAction::SignInPolicyChanged, Target::default().named(what)).await;
    Ok(Json(reseller_policy(&state, reseller).await?))
}
