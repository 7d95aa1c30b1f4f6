//! One's authenticator app and recovery codes.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use portal_api::{Action, ActivityAction, FieldError, RecoveryCodes, SecondFactorCode, TotpEnrolment, TwoFactorStatus};

use crate::activity::store::{record, Target};
use crate::auth::factor;
use crate::auth::CurrentUser;
use crate::db::rfc3339;
use crate::error::{AppError, AppResult};
use crate::extract::ApiJson;
use crate::state::AppState;

/// What apps show as the account's issuer.
const ISSUER: &str = "Backup Portal";

const FORBIDDEN: &str = "Asked with an API token: only the person signed in changes their own sign-in";

#[derive(sqlx::FromRow)]
struct StatusRow {
    totp_enrolled_at: Option<i64>,
    recovery_codes_left: i64,
    passkeys: i64,
    required: i64,
}

async fn status_of(state: &AppState, user_id: i64) -> AppResult<StatusRow> {
    Ok(sqlx::query_as(&format!(
        "SELECT u.totp_enrolled_at, \
                (SELECT COUNT(*) FROM recovery_codes c WHERE c.user_id = u.id AND c.used_at IS NULL) AS recovery_codes_left, \
                (SELECT COUNT(*) FROM passkeys p WHERE p.user_id = u.id) AS passkeys, \
                {} AS required \
         FROM users u WHERE u.id = $1",
        crate::auth::session::TWO_FACTOR_REQUIRED_SQL
    ))
    .bind(user_id)
    .fetch_one(&state.db)
    .await?)
}

/// Whether the user has an authenticator, how many recovery codes are left, and whether their
/// organisation or reseller requires a second factor.
#[utoipa::path(
    get, path = "/api/account/two-factor", tag = "security",
    responses(
        (status = 200, description = "The user's second factor", body = TwoFactorStatus),
        (status = 403, description = FORBIDDEN, body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn two_factor_status(State(state): State<AppState>, user: CurrentUser) -> AppResult<Json<TwoFactorStatus>> {
    crate::access::require(&user, Action::ManageOwnSecurity)?;
    let row = status_of(&state, user.user_id).await?;
    Ok(Json(TwoFactorStatus {
        totp: row.totp_enrolled_at.is_some(),
        totp_enrolled_at: row.totp_enrolled_at.map(rfc3339),
        recovery_codes_left: u32::try_from(row.recovery_codes_left).unwrap_or(0),
        passkeys: u32::try_from(row.passkeys).unwrap_or(0),
        required: row.required != 0,
    }))
}

/// A new authenticator secret, its `otpauth://` URI and QR code. Nothing changes until a code
/// from it is confirmed (`…/totp/confirm`).
#[utoipa::path(
    post, path = "/api/account/two-factor/totp", tag = "security",
    responses(
        (status = 201, description = "Put this secret into the app, then confirm a code", body = TotpEnrolment),
        (status = 403, description = FORBIDDEN, body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 409, description = "An authenticator is set up already: remove it first (that takes a code from it)", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn begin_totp(State(state): State<AppState>, user: CurrentUser) -> AppResult<(StatusCode, Json<TotpEnrolment>)> {
    crate::access::require(&user, Action::ManageOwnSecurity)?;
    if status_of(&state, user.user_id).await?.totp_enrolled_at.is_some() {
        return Err(AppError::Conflict(
            "An authenticator app is set up already. Remove it first (that takes a code from it), then set up the new one.".into(),
        ));
    }
    let secret = factor::begin_enrolment(&state, user.user_id).await?;
    let otpauth_uri = portal_totp::otpauth_uri(ISSUER, &user.email, &secret);
    let qr = qrcode::QrCode::new(otpauth_uri.as_bytes()).map_err(AppError::internal)?;
    let svg = qr.render::<qrcode::render::svg::Color<'_>>().min_dimensions(200, 200).quiet_zone(true).build();
    // Without the XML declaration: the SVG goes inside an HTML page.
    let qr_svg = svg.find("<svg").map_or(svg.clone(), |at| svg[at..].to_owned());
    Ok((StatusCode::CREATED, Json(TotpEnrolment { secret: portal_totp::base32_encode(&secret), otpauth_uri, qr_svg })))
}

fn code_field_error(message: &str) -> AppError {
    AppError::Validation(vec![FieldError::new("code", message)])
}

/// The first code from the new secret: the authenticator is set up, and ten recovery codes
/// are made (shown this once). The user's other sessions end.
#[utoipa::path(
    post, path = "/api/account/two-factor/totp/confirm", tag = "security",
    request_body = SecondFactorCode,
    responses(
        (status = 200, description = "Set up; the recovery codes, shown once; every other session of the user ended", body = RecoveryCodes),
        (status = 403, description = FORBIDDEN, body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`code` is not the app's current code, or no setup was begun", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn confirm_totp(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(input): ApiJson<SecondFactorCode>,
) -> AppResult<Json<RecoveryCodes>> {
    crate::access::require(&user, Action::ManageOwnSecurity)?;
    if !factor::confirm_enrolment(&state, user.user_id, input.code.trim()).await? {
        return Err(code_field_error(
            "That is not the code the app shows now. Check that you added the secret shown here, that the phone's clock is right, and try the next code.",
        ));
    }
    let codes = factor::new_recovery_codes(&state, user.user_id).await?;
    // Other sessions of the account never gave this factor (one may be someone who had only
    // the password while a rule held them back): they end. This one goes on, let in at once.
    super::sessions::end_others(&state, &user).await?;
    crate::auth::challenge::forget(&state, user.user_id).await?;
    record(&state.db, &user, ActivityAction::TwoFactorEnrolled, Target::default()).await;
    Ok(Json(RecoveryCodes { codes }))
}

/// Takes the authenticator away (with a code from it or a recovery code). Ends the user's
/// other sessions. Where a second factor is required, the user must then set one up again
/// before anything else (a new phone: remove, then set up).
#[utoipa::path(
    post, path = "/api/account/two-factor/totp/remove", tag = "security",
    request_body = SecondFactorCode,
    responses(
        (status = 204, description = "Removed; the recovery codes too"),
        (status = 403, description = FORBIDDEN, body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 409, description = "No authenticator is set up", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`code` is not a current code nor an unused recovery code", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn remove_totp(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(input): ApiJson<SecondFactorCode>,
) -> AppResult<StatusCode> {
    crate::access::require(&user, Action::ManageOwnSecurity)?;
    if status_of(&state, user.user_id).await?.totp_enrolled_at.is_none() {
        return Err(AppError::Conflict("No authenticator app is set up.".into()));
    }
    spend_or_refuse(&state, &user, &input.code).await?;
    factor::remove(&state, user.user_id).await?;
    super::sessions::end_others(&state, &user).await?;
    crate::auth::challenge::forget(&state, user.user_id).await?;
    record(&state.db, &user, ActivityAction::TwoFactorRemoved, Target::default()).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Ten new recovery codes (with a code from the app or a recovery code); the old ones stop
/// working.
#[utoipa::path(
    post, path = "/api/account/two-factor/recovery-codes", tag = "security",
    request_body = SecondFactorCode,
    responses(
        (status = 200, description = "The new codes, shown once", body = RecoveryCodes),
        (status = 403, description = FORBIDDEN, body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 409, description = "No second factor (authenticator app or passkey) is set up", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`code` is not a current code nor an unused recovery code", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn renew_recovery_codes(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(input): ApiJson<SecondFactorCode>,
) -> AppResult<Json<RecoveryCodes>> {
    crate::access::require(&user, Action::ManageOwnSecurity)?;
    if !factor::has_second_factor(&state, user.user_id).await? {
        return Err(AppError::Conflict("Set up an authenticator app or a passkey first: recovery codes come with them.".into()));
    }
    spend_or_refuse(&state, &user, &input.code).await?;
    let codes = factor::new_recovery_codes(&state, user.user_id).await?;
    record(&state.db, &user, ActivityAction::RecoveryCodesRenewed, Target::default()).await;
    Ok(Json(RecoveryCodes { codes }))
}

/// A code that proves the person has the second factor (throttled as at sign-in).
async fn spend_or_refuse(state: &AppState, user: &CurrentUser, code: &str) -> AppResult<()> {
    let code = code.trim();
    if code.is_empty() || code.chars().count() > 64 {
        return Err(code_field_error("Enter the code your authenticator app shows, or a recovery code."));
    }
    let client = user.address.as_deref().and_then(|a| a.parse().ok());
    state.sign_in.begin_code(user.user_id, client).await?;
    if factor::spend(state, user.user_id, code).await?.is_none() {
        return Err(code_field_error("That code is not right, or it was used already."));
    }
    state.sign_in.code_succeeded(user.user_id, client).await;
    Ok(())
}
