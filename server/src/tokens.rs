//! Account Settings › API tokens: created by an organisation admin or a reseller, signed in in
//! person; a token acts as its owner within the owner's scope, limited to its access level.
//! The token is shown once; only its SHA-256 is kept (`auth::token`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use portal_api::{Action, ActivityAction, ApiToken, CreatedApiToken, FieldError, NewApiToken, TokenAccess};

use crate::activity::store::{self as activity, Target};
use crate::auth::token::{hash_token, new_token};
use crate::auth::CurrentUser;
use crate::db::{now_ms, rfc3339};
use crate::error::{AppError, AppResult};
use crate::extract::{ApiJson, ApiPath};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/tokens", get(list_tokens).post(create_token)).route("/api/tokens/{id}", delete(revoke_token))
}

/// Tokens one user may hold that are not revoked nor expired: a leak is bounded, and a
/// script that creates tokens in a loop runs into this.
const MAX_LIVE_TOKENS: i64 = 50;

#[derive(sqlx::FromRow)]
struct TokenRow {
    id: String,
    name: String,
    #[sqlx(try_from = "String")]
    access: TokenAccess,
    prefix: String,
    owner: String,
    created_at: i64,
    expires_at: i64,
    last_used_at: Option<i64>,
    last_used_from: Option<String>,
    revoked_at: Option<i64>,
}

impl From<TokenRow> for ApiToken {
    fn from(row: TokenRow) -> ApiToken {
        ApiToken {
            id: row.id,
            name: row.name,
            access: row.access,
            prefix: row.prefix,
            owner: row.owner,
            created_at: rfc3339(row.created_at),
            expires_at: rfc3339(row.expires_at),
            last_used_at: row.last_used_at.map(rfc3339),
            last_used_from: row.last_used_from,
            revoked_at: row.revoked_at.map(rfc3339),
        }
    }
}

const TOKEN_COLUMNS: &str = "t.id, t.name, t.access, t.prefix, u.email AS owner, t.created_at, t.expires_at, \
                             t.last_used_at, t.last_used_from, t.revoked_at";

/// The API tokens of the people whose tokens you manage (yours, your organisation's admins';
/// a reseller's also those of the organisations it serves), newest first.
#[utoipa::path(
    get, path = "/api/tokens", tag = "tokens",
    responses(
        (status = 200, description = "Newest first, revoked and expired ones included", body = [ApiToken]),
        (status = 401, description = "Not signed in", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an organisation admin nor a reseller, or asked with a token", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_tokens(State(state): State<AppState>, user: CurrentUser) -> AppResult<Json<Vec<ApiToken>>> {
    crate::access::require(&user, Action::ManageTokens)?;
    let Some((condition, scope_id)) = crate::access::scope(&user).token_owner_condition() else {
        return Ok(Json(Vec::new()));
    };
    let rows: Vec<TokenRow> = sqlx::query_as(&format!(
        "SELECT {TOKEN_COLUMNS} FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE {condition} \
         ORDER BY t.created_at DESC, t.id DESC LIMIT 500"
    ))
    .bind(scope_id)
    .fetch_all(&state.db)
    .await?;
    Ok(Json(rows.into_iter().map(ApiToken::from).collect()))
}

/// A new token for yourself. The answer is the only time the token is shown.
#[utoipa::path(
    post, path = "/api/tokens", tag = "tokens",
    request_body = NewApiToken,
    responses(
        (status = 201, description = "Created; `token` is shown this once", body = CreatedApiToken),
        (status = 401, description = "Not signed in", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an organisation admin nor a reseller, asked with a token, or without the CSRF token", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 409, description = "You already hold the most live tokens one person may", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is wrong: each is named", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_token(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(request): ApiJson<NewApiToken>,
) -> AppResult<(StatusCode, Json<CreatedApiToken>)> {
    crate::access::require(&user, Action::ManageTokens)?;
    let mut errors = Vec::new();
    let name = request.name.trim();
    if name.is_empty() {
        errors.push(FieldError::new("name", "Name the token after what will use it, e.g. “HaloPSA sync”."));
    } else if request.name.chars().count() > 100 {
        errors.push(FieldError::new("name", "A name is at most 100 characters."));
    } else if request.name.chars().any(char::is_control) {
        errors.push(FieldError::new("name", "A name cannot hold control characters."));
    }
    let access = TokenAccess::parse(&request.access);
    if access.is_none() {
        errors.push(FieldError::new("access", "Choose “read” (read only) or “act” (read, Force Backup and new jobs)."));
    }
    if !(1..=365).contains(&request.expires_in_days) {
        errors.push(FieldError::new("expires_in_days", "A token lasts 1 to 365 days."));
    }
    let (Some(access), true) = (access, errors.is_empty()) else {
        return Err(AppError::Validation(errors));
    };
    let now = now_ms();
    let (live,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM api_tokens WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2")
            .bind(user.user_id)
            .bind(now)
            .fetch_one(&state.db)
            .await?;
    if live >= MAX_LIVE_TOKENS {
        return Err(AppError::Conflict(format!("You hold {MAX_LIVE_TOKENS} live API tokens already: revoke one you no longer use first.")));
    }
    let token = new_token();
    let id = format!("tok_{}", &crate::auth::session::random_token()[..16]);
    let prefix = format!("{}…", &token[..12]);
    sqlx::query(
        "INSERT INTO api_tokens (id, token_hash, prefix, user_id, name, access, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&id)
    .bind(hash_token(&token))
    .bind(&prefix)
    .bind(user.user_id)
    .bind(name)
    .bind(access.as_str())
    .bind(now)
    .bind(now + request.expires_in_days * 86_400_000)
    .execute(&state.db)
    .await?;
    activity::record(&state.db, &user, ActivityAction::TokenCreated, Target::default().named(name).id(&id)).await;
    let row: TokenRow =
        sqlx::query_as(&format!("SELECT {TOKEN_COLUMNS} FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.id = $1"))
            .bind(&id)
            .fetch_one(&state.db)
            .await?;
    Ok((StatusCode::CREATED, Json(CreatedApiToken { token, api_token: row.into() })))
}

/// Revoke a token: from the next request on, it answers 401, on every instance.
#[utoipa::path(
    delete, path = "/api/tokens/{id}", tag = "tokens",
    params(("id" = String, Path, description = "The token's ID (`tok_…`)")),
    responses(
        (status = 204, description = "Revoked (or it was already)"),
        (status = 401, description = "Not signed in", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an organisation admin nor a reseller, asked with a token, or without the CSRF token", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such token among those you manage", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn revoke_token(State(state): State<AppState>, user: CurrentUser, ApiPath(id): ApiPath<String>) -> AppResult<StatusCode> {
    let (name, owner_organisation) = crate::access::api_token(&state.db, &user, &id, Action::ManageTokens).await?;
    let revoked = sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
        .bind(now_ms())
        .bind(&id)
        .execute(&state.db)
        .await?
        .rows_affected();
    if revoked > 0 {
        // Under the owner's organisation: its admins see their colleague's token revoked by the reseller.
        let target = Target { organisation_id: owner_organisation, ..Target::default() }.named(name).id(&id);
        activity::record(&state.db, &user, ActivityAction::TokenRevoked, target).await;
    }
    Ok(StatusCode::NO_CONTENT)
}
