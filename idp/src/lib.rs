//! The embedded identity provider, a stand-in for Microsoft: a small OAuth 2.0 authorization
//! server on its own routes, shaped like the Microsoft identity platform's endpoints, so that
//! the portal's OAuth client can run its flows without the internet. The server mounts
//! [`router`] only with `--idp embedded` (the default), built from its configuration.
//!
//! Routes (`{tenant}` is a tenant ID, a domain, or `organizations`):
//!
//! - `GET|POST /idp/{tenant}/oauth2/v2.0/authorize`: admin consent with a sign-in form
//!   (authorization code with PKCE S256 only).
//! - `POST /idp/{tenant}/oauth2/v2.0/token`: grants `authorization_code`, `password`,
//!   `urn:ietf:params:oauth:grant-type:device_code` and `refresh_token`.
//! - `POST /idp/{tenant}/oauth2/v2.0/devicecode` (a known tenant only), and the pages
//!   `GET|POST /idp/device` where people enter the code.
//! - `GET /idp/v1.0/organization`: the token's organisation, in Microsoft Graph's shape.
//! - `GET /idp/{tenant}/v2.0/.well-known/openid-configuration`: where the endpoints are.
//! - `GET /idp/{tenant}/discovery/v2.0/keys`: the keys that verify its ID tokens (OpenID
//!   Connect sign-in: `scope=openid` with a `nonce`, without `prompt=admin_consent`).
//!
//! The client is the one in the configuration ([`IdpConfig`]: its ID and secret); its redirect
//! URIs are any address on the origin of [`IdpConfig::public_url`], the server that mounts it.
//! The directory is fixed demo data ([`directory`]); all state is in memory ([`store`]).
//!
//! What a caller sends is bounded (at most 64 parameters of 2 KB each, else `invalid_request`)
//! and so is what the provider keeps: every entry expires, and each kind is capped ([`store`];
//! when full, 503 `temporarily_unavailable`, or that error through the redirect).
//!
//! JSON answers carry `Cache-Control: no-store`; errors are OAuth's own JSON
//! (`{"error","error_description"}`, RFC 6749 §5.2) and pages are HTML. Each of these
//! answers carries the response extension [`OwnFormat`].

mod authorize;
mod device;
pub mod directory;
mod graph;
mod oidc;
mod pages;
pub mod store;
mod token;

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore;
use serde_json::{json, Value};

pub use directory::{tenant_id_for_domain, Tenant, DEMO_IDP_PASSWORD, TENANTS};
pub use store::{consent_granted, grant_consent, revoke_consent};

/// The application's name as the identity provider shows it.
const APP_NAME: &str = "Backup Portal";

/// The longest parameter value accepted, in bytes. Ours are far shorter (codes and tokens under
/// 100 characters, a PKCE verifier at most 128), and some of what a caller sends is kept for a
/// while (a consent page's request, a device code's scope), so a longer value is refused with
/// `invalid_request` rather than stored.
const MAX_PARAM_BYTES: usize = 2048;
/// The most parameters one request may carry (ours send about ten).
const MAX_PARAMS: usize = 64;
/// How long a caller is asked to wait when the provider's store is full (`Retry-After`).
const BUSY_RETRY_SECONDS: u64 = 60;

/// On every answer of the identity provider (OAuth's JSON errors, RFC 6749 §5.2, Graph's JSON
/// errors, HTML pages): an error layer must leave it as it is.
pub use portal_html::OwnFormat;

/// What the identity provider needs to know: its one client, and where it is reached.
#[derive(Clone, Debug)]
pub struct IdpConfig {
    /// The OAuth client ID of the one application it knows.
    pub client_id: String,
    /// That client's secret.
    pub client_secret: String,
    /// The base address of the server that mounts it, as others reach it (no trailing slash):
    /// the provider is at `{public_url}/idp`, and the client's redirect URIs are on its origin.
    pub public_url: String,
    /// How long a device code lives, in seconds.
    pub device_code_seconds: u32,
    /// The polling interval it asks device code clients for, in seconds.
    pub device_interval_seconds: u32,
}

/// The handlers' state: the configuration (the rest is in [`store`], one per process).
type Config = Arc<IdpConfig>;

/// The identity provider's routes (all under `/idp/`), their state applied: merge them into
/// the server's router.
pub fn router<S: Clone + Send + Sync + 'static>(config: IdpConfig) -> Router<S> {
    Router::new()
        .route("/idp/{tenant}/oauth2/v2.0/authorize", get(authorize::show).post(authorize::decide))
        .route("/idp/{tenant}/oauth2/v2.0/token", post(token::token))
        .route("/idp/{tenant}/oauth2/v2.0/devicecode", post(device::device_authorization))
        .route("/idp/{tenant}/v2.0/.well-known/openid-configuration", get(discovery))
        .route("/idp/{tenant}/discovery/v2.0/keys", get(oidc::keys))
        .route("/idp/device", get(device::code_page).post(device::code_submit))
        .route("/idp/v1.0/organization", get(graph::organization))
        .with_state(Arc::new(config))
}

/// The identity provider's base address, e.g. `http://127.0.0.1:8080/idp`.
fn base_url(config: &IdpConfig) -> String {
    format!("{}/idp", config.public_url)
}

/// Where the endpoints are (OpenID Connect discovery). As Entra's, the issuer of
/// `organizations` names no tenant but a placeholder: each token's `iss` carries its `tid`.
async fn discovery(State(config): State<Config>, Path(tenant): Path<String>) -> Response {
    let Some(scope) = directory::TenantScope::parse(&tenant) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", unknown_tenant(&tenant));
    };
    let base = format!("{}/{}", base_url(&config), scope.segment());
    let issuer = match scope {
        directory::TenantScope::Any => oidc::issuer(&config, "{tenantid}"),
        directory::TenantScope::One(tenant) => oidc::issuer(&config, tenant.id),
    };
    json_ok(json!({
        "issuer": issuer,
        "jwks_uri": format!("{base}/discovery/v2.0/keys"),
        "id_token_signing_alg_values_supported": ["ES256"],
        "subject_types_supported": ["pairwise"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "claims_supported": ["iss", "aud", "sub", "iat", "nbf", "exp", "nonce", "tid", "oid", "name", "preferred_username", "email"],
        "authorization_endpoint": format!("{base}/oauth2/v2.0/authorize"),
        "token_endpoint": format!("{base}/oauth2/v2.0/token"),
        "device_authorization_endpoint": format!("{base}/oauth2/v2.0/devicecode"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": [
            "authorization_code", "password", token::DEVICE_CODE_GRANT, "refresh_token"
        ],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    }))
}

fn unknown_tenant(segment: &str) -> String {
    format!(
        "AADSTS90002: Tenant '{}' not found. Use a tenant ID, a verified domain of the organisation, or 'organizations'.",
        shorten(segment)
    )
}

/// At most 100 characters of something the client sent, for an error description.
fn shorten(text: &str) -> String {
    text.chars().take(100).collect()
}

/// A JSON answer that must not be cached (tokens, device codes).
fn json_ok(body: Value) -> Response {
    own_format(json_response(StatusCode::OK, &body))
}

/// An OAuth error (RFC 6749 §5.2): `{"error": ..., "error_description": ...}`.
fn oauth_error(status: StatusCode, error: &'static str, description: impl Into<String>) -> Response {
    OAuthError::new(status, error, description).into_response()
}

/// What the token and device authorization endpoints answer when the store has no room left
/// for what they would issue: 503 `temporarily_unavailable` with `Retry-After`. RFC 6749 names
/// that code for the authorization endpoint (§4.1.2.1, where a redirect cannot carry a 503);
/// the Microsoft identity platform answers its token endpoint the same way.
fn busy() -> Response {
    let mut response = oauth_error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", BUSY_DESCRIPTION);
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(BUSY_RETRY_SECONDS));
    response
}

const BUSY_DESCRIPTION: &str = "The identity provider has too many sign-ins under way to keep another. Try again in a minute.";

/// An OAuth error on its way to becoming an answer.
struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
    /// Answer with `WWW-Authenticate: Basic` (the client tried HTTP Basic, RFC 6749 §5.2).
    basic_challenge: bool,
}

impl OAuthError {
    fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        Self { status, error, description: description.into(), basic_challenge: false }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.error, "error_description": self.description });
        let mut response = own_format(json_response(self.status, &body));
        if self.basic_challenge {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"Backup Portal identity provider\""));
        }
        response
    }
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, serde_json::to_vec(body).unwrap_or_default()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

fn own_format(mut response: Response) -> Response {
    response.extensions_mut().insert(OwnFormat);
    response
}

/// A random secret of `bytes` random bytes, base64url without padding.
fn random_token(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buffer);
    URL_SAFE_NO_PAD.encode(buffer)
}

/// Compares two byte strings in time that depends on their lengths only.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Compares two secrets by their SHA-256 digests, in constant time.
fn secrets_match(given: &str, expected: &str) -> bool {
    constant_time_eq(&store::key(given), &store::key(expected))
}

/// Why a request's parameters were refused.
#[derive(Debug, PartialEq, Eq)]
enum ParamError {
    /// A parameter appears twice (RFC 6749 §3.1, §3.2).
    Repeated(String),
    /// More than [`MAX_PARAMS`] parameters.
    TooMany,
}

impl ParamError {
    fn describe(&self) -> String {
        match self {
            ParamError::Repeated(name) => format!("The parameter '{}' appears more than once.", shorten(name)),
            ParamError::TooMany => format!("The request carries more than {MAX_PARAMS} parameters."),
        }
    }
}

/// Form-encoded parameters (a body or a query). Empty values count as absent. Their lengths
/// are checked by [`too_long`], where the endpoint can still answer in its own way.
fn parse_params(encoded: &[u8]) -> Result<HashMap<String, String>, ParamError> {
    let mut params = HashMap::new();
    for (name, value) in form_urlencoded::parse(encoded) {
        if value.is_empty() {
            continue;
        }
        if params.len() == MAX_PARAMS && !params.contains_key(name.as_ref()) {
            return Err(ParamError::TooMany);
        }
        if params.insert(name.to_string(), value.into_owned()).is_some() {
            return Err(ParamError::Repeated(name.into_owned()));
        }
    }
    Ok(params)
}

/// The name of a parameter longer than [`MAX_PARAM_BYTES`], if any.
fn too_long(params: &HashMap<String, String>) -> Option<&str> {
    params.iter().find(|(_, value)| value.len() > MAX_PARAM_BYTES).map(|(name, _)| name.as_str())
}

/// The `invalid_request` description for a parameter that is too long.
fn too_long_description(name: &str) -> String {
    format!("The parameter '{}' is too long: at most {MAX_PARAM_BYTES} bytes.", shorten(name))
}

/// `redirect_uri` with these query parameters added (after any it already has).
fn redirect_with(redirect_uri: &str, params: &[(&str, &str)]) -> Response {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (name, value) in params {
        query.append_pair(name, value);
    }
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    let location = format!("{redirect_uri}{separator}{}", query.finish());
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    own_format(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_parameters_are_refused() {
        assert_eq!(parse_params(b"a=1&b=2&a=3"), Err(ParamError::Repeated("a".to_owned())));
        let params = parse_params(b"a=1+2&b=%26&c=").unwrap();
        assert_eq!(params["a"], "1 2");
        assert_eq!(params["b"], "&");
        assert!(!params.contains_key("c"));
    }

    #[test]
    fn too_many_or_too_long_parameters_are_found() {
        let many: Vec<String> = (0..=MAX_PARAMS).map(|n| format!("p{n}=x")).collect();
        assert_eq!(parse_params(many.join("&").as_bytes()), Err(ParamError::TooMany));
        assert!(parse_params(many[..MAX_PARAMS].join("&").as_bytes()).is_ok(), "up to the limit is fine");

        let mut params = parse_params(b"scope=openid&state=abc").unwrap();
        assert_eq!(too_long(&params), None);
        params.insert("state".into(), "s".repeat(MAX_PARAM_BYTES));
        assert_eq!(too_long(&params), None, "the limit itself is allowed");
        params.insert("state".into(), "s".repeat(MAX_PARAM_BYTES + 1));
        assert_eq!(too_long(&params), Some("state"));
        // Bytes, not characters: é is two.
        params.insert("state".into(), "é".repeat(MAX_PARAM_BYTES / 2 + 1));
        assert_eq!(too_long(&params), Some("state"));
    }

    #[test]
    fn a_full_store_answers_503_temporarily_unavailable() {
        let response = busy();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "60");
        assert!(response.extensions().get::<OwnFormat>().is_some(), "OAuth's JSON, left as it is");
    }

    #[test]
    fn constant_time_eq_compares_bytes() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }

    #[test]
    fn redirects_keep_the_redirect_uris_own_query() {
        let response = redirect_with("http://h/cb?x=1", &[("code", "a b"), ("state", "s&t")]);
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(response.headers()[header::LOCATION], "http://h/cb?x=1&code=a+b&state=s%26t");
    }
}
