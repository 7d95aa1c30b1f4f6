//! Single sign-on with Microsoft Entra ID ("Sign in with Microsoft"), OpenID Connect's code
//! flow through `oidc` (a connector below these handlers). Browser navigations, not JSON: each
//! answer is a redirect, to the provider or back to the portal (`/sign-in?sso=…` says why a
//! sign-in did not happen).
//!
//! The person is the portal user with the token's address whose organisation (an end user's:
//! their mailbox's) is the token's tenant (`tid`). A reseller's users belong to no tenant and
//! sign in with their password.

pub mod oidc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use portal_api::ActivityAction;
use serde::Deserialize;

use crate::activity::store::{record, Target};
use crate::auth::session;
use crate::auth::throttle::ClientAddress;
use crate::db::now_ms;
use crate::error::AppResult;
use crate::state::AppState;

/// Holds the sign-in's `state` in the browser, so that a callback finishes only the sign-in
/// its own browser began (no one can sign someone else in to their account).
const SSO_COOKIE: &str = "portal_sso";
/// How long a person has at the provider.
const REQUEST_SECS: i64 = 600;
/// How long the provider has to give the keys and the tokens.
const FINISH_DEADLINE: std::time::Duration = std::time::Duration::from_secs(20);

pub fn router() -> Router<AppState> {
    Router::new().route("/api/sso/microsoft", get(start)).route("/api/sso/microsoft/callback", get(callback))
}

fn sso_cookie(state: Option<&str>, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    let (value, age) = state.map_or(("", 0), |s| (s, REQUEST_SECS));
    // Lax: the provider's redirect back is a top-level navigation from another site.
    format!("{SSO_COOKIE}={value}; Path=/api/sso; HttpOnly; SameSite=Lax; Max-Age={age}{secure}")
}

fn see_other(location: &str, cookies: Vec<String>) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

/// Back to the sign-in page, saying why (`sso=…`, which the page words).
fn refused(state: &AppState, why: &str) -> Response {
    see_other(&format!("/sign-in?sso={why}"), vec![sso_cookie(None, state.config.https())])
}

#[derive(Deserialize)]
struct StartQuery {
    login_hint: Option<String>,
}

/// "Sign in with Microsoft": to the provider's sign-in page.
async fn start(State(state): State<AppState>, client: ClientAddress, query: Result<Query<StartQuery>, QueryRejection>) -> Response {
    if state.sign_in.begin_sso(client.ip(state.config.trust_forwarded_for)).await.is_err() {
        return refused(&state, "busy");
    }
    match begin(&state, query.ok().and_then(|q| q.0.login_hint)).await {
        Ok(Some(response)) => response,
        Ok(None) => refused(&state, "busy"),
        Err(error) => {
            tracing::error!(?error, "a sign-in with Microsoft could not begin");
            refused(&state, "unavailable")
        }
    }
}

/// Sign-ins under way at most: each is a row for ten minutes, and anyone may begin one.
const MAX_REQUESTS: i64 = 10_000;

/// `None` when too many sign-ins are under way.
async fn begin(state: &AppState, login_hint: Option<String>) -> AppResult<Option<Response>> {
    let relying = oidc::Relying::from_config(&state.config);
    let sign_in_state = session::random_token();
    let nonce = session::random_token();
    let hint = login_hint.filter(|h| h.len() <= 254 && h.contains('@'));
    let (url, verifier) = match relying.authorize_url(&sign_in_state, &nonce, hint.as_deref()) {
        Ok(found) => found,
        Err(refusal) => return Err(crate::error::AppError::internal(format!("{refusal:?}"))),
    };
    let now = now_ms();
    let state_hash = session::hash_session_id(&sign_in_state);
    sqlx::query("DELETE FROM sso_requests WHERE expires_at <= $1").bind(now).execute(&state.db).await?;
    let (under_way,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM sso_requests").fetch_one(&state.db).await?;
    if under_way >= MAX_REQUESTS {
        return Ok(None);
    }
    sqlx::query("INSERT INTO sso_requests (state_hash, nonce, sealed_verifier, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(&state_hash)
        .bind(&nonce)
        .bind(state.secrets.seal_for(&format!("sso:{state_hash}"), verifier.as_bytes()))
        .bind(now)
        .bind(now + REQUEST_SECS * 1000)
        .execute(&state.db)
        .await?;
    Ok(Some(see_other(&url, vec![sso_cookie(Some(&sign_in_state), state.config.https())])))
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// Where the provider sends the browser back: signed in, or back to the sign-in page.
async fn callback(
    State(state): State<AppState>,
    client: ClientAddress,
    headers: HeaderMap,
    query: Result<Query<CallbackQuery>, QueryRejection>,
) -> Response {
    let Ok(Query(query)) = query else { return refused(&state, "expired") };
    match finish(&state, &headers, client, query).await {
        Ok(Ok(Signed::In(session_cookie))) => see_other("/", vec![session_cookie, sso_cookie(None, state.config.https())]),
        Ok(Ok(Signed::SecondFactor(challenge))) => {
            see_other("/sign-in?sso=second_factor", vec![challenge, sso_cookie(None, state.config.https())])
        }
        Ok(Err(why)) => refused(&state, why),
        Err(error) => {
            tracing::error!(?error, "a sign-in with Microsoft could not finish");
            refused(&state, "unavailable")
        }
    }
}

type Outcome = AppResult<Result<Signed, &'static str>>;

async fn finish(state: &AppState, headers: &HeaderMap, client: ClientAddress, query: CallbackQuery) -> Outcome {
    // The sign-in is found by `state`, and only with the cookie of the browser that began it.
    let Some(sign_in_state) = query.state.filter(|s| s.len() <= 200) else { return Ok(Err("expired")) };
    let from_cookie = session::cookie(headers, SSO_COOKIE).unwrap_or("");
    if !session::constant_time_eq(from_cookie.as_bytes(), sign_in_state.as_bytes()) {
        return Ok(Err("expired"));
    }
    let state_hash = session::hash_session_id(&sign_in_state);
    let found: Option<(String, String, i64)> =
        sqlx::query_as("SELECT nonce, sealed_verifier, expires_at FROM sso_requests WHERE state_hash = $1")
            .bind(&state_hash)
            .fetch_optional(&state.db)
            .await?;
    // Used once, whatever happens next.
    let taken = sqlx::query("DELETE FROM sso_requests WHERE state_hash = $1").bind(&state_hash).execute(&state.db).await?;
    let Some((nonce, sealed, expires_at)) = found.filter(|_| taken.rows_affected() == 1) else { return Ok(Err("expired")) };
    if expires_at <= now_ms() {
        return Ok(Err("expired"));
    }
    if let Some(error) = query.error {
        return Ok(Err(if error == "access_denied" { "cancelled" } else { "failed" }));
    }
    let Some(code) = query.code.filter(|c| c.len() <= 4096) else { return Ok(Err("failed")) };
    let verifier = state.secrets.open_for(&format!("sso:{state_hash}"), &sealed)?;
    let verifier = String::from_utf8_lossy(&verifier).into_owned();
    let relying = oidc::Relying::from_config(&state.config);
    // Two calls to the provider (its keys, the code's exchange): one deadline for both, well
    // within the request's own.
    let verified = match tokio::time::timeout(FINISH_DEADLINE, relying.finish(&code, &verifier, &nonce)).await {
        Ok(Ok(verified)) => verified,
        Ok(Err(refusal)) => {
            tracing::warn!(?refusal, "a sign-in with Microsoft was refused");
            return Ok(Err("failed"));
        }
        Err(_) => {
            tracing::warn!("the identity provider took too long to finish a sign-in with Microsoft");
            return Ok(Err("unavailable"));
        }
    };
    // The user of that address whose organisation is that tenant: an address alone, or a
    // tenant alone, signs nobody in.
    let user: Option<(i64,)> = sqlx::query_as(
        "SELECT u.id FROM users u LEFT JOIN mailboxes m ON m.id = u.mailbox_id \
         JOIN organisations o ON o.id = COALESCE(u.organisation_id, m.organisation_id) \
         WHERE LOWER(u.email) = $1 AND LOWER(o.tenant_id) = LOWER($2)",
    )
    .bind(&verified.email)
    .bind(&verified.tenant_id)
    .fetch_optional(&state.db)
    .await?;
    let Some((user_id,)) = user else {
        tracing::info!(tenant = %verified.tenant_id, "a sign-in with Microsoft named no user of the portal in that organisation");
        return Ok(Err("no_account"));
    };
    // Microsoft proved who it is; an authenticator set up here is still asked for, as after a
    // password (the sign-in page takes the code: `sso=second_factor`).
    if crate::auth::factor::has_second_factor(state, user_id).await? {
        return Ok(Ok(Signed::SecondFactor(crate::auth::challenge::begin(state, user_id).await?)));
    }
    let address = client.ip(state.config.trust_forwarded_for).map(|ip| ip.to_string());
    let user_agent = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok());
    let (cookie, csrf_token) = session::create(state, user_id, address.clone(), user_agent).await?;
    let mut user = crate::auth::load_user(state, user_id, csrf_token).await?;
    user.address = address;
    record(&state.db, &user, ActivityAction::SsoSignIn, Target::default()).await;
    Ok(Ok(Signed::In(cookie)))
}

/// How a sign-in with Microsoft that named a user goes on.
enum Signed {
    /// Signed in: the session's cookie.
    In(String),
    /// Our second factor is asked next: the challenge's cookie.
    SecondFactor(String),
}
