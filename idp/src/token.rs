//! `POST /idp/{tenant}/oauth2/v2.0/token`: client authentication and the four grants.
//!
//! Every answer is JSON with `Cache-Control: no-store`; errors follow RFC 6749 §5.2, with the
//! Microsoft identity platform's `AADSTS` codes at the start of `error_description`.

use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::directory::{sign_in, SignIn, TenantScope};
use super::store::{self, DeviceStatus, Grant, Store, ACCESS_TOKEN_SECONDS};
use super::{
    busy, json_ok, oauth_error, parse_params, secrets_match, shorten, too_long, too_long_description, unknown_tenant, Config,
    IdpConfig, OAuthError,
};

pub(crate) const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// `slow_down` adds this to the device code's interval (RFC 8628 §3.5).
const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);

/// The scope of a password grant that names none.
const DEFAULT_SCOPE: &str = "openid profile offline_access";

type Params = std::collections::HashMap<String, String>;

pub(crate) async fn token(State(config): State<Config>, Path(tenant): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    let params = match form_params(&headers, &body) {
        Ok(params) => params,
        Err(error) => return error.into_response(),
    };
    let Some(scope) = TenantScope::parse(&tenant) else {
        return invalid_request(unknown_tenant(&tenant));
    };
    if let Err(error) = authenticate_client(&config, &headers, &params, true) {
        return error.into_response();
    }
    let client_id = config.client_id.as_str();
    match params.get("grant_type").map(String::as_str) {
        None => invalid_request(missing("grant_type")),
        Some("authorization_code") => authorization_code(&config, scope, client_id, &params),
        Some("password") => password(scope, client_id, &params),
        Some(DEVICE_CODE_GRANT) => match params.get("device_code") {
            Some(device_code) => device_code_grant(scope, client_id, device_code),
            None => invalid_request(missing("device_code")),
        },
        Some("refresh_token") => refresh(scope, client_id, &params),
        Some(other) => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            format!("AADSTS70003: The app requested an unsupported grant type '{}'.", shorten(other)),
        ),
    }
}

/// The parameters of a form-encoded body; an OAuth error when it is not one.
pub(crate) fn form_params(headers: &HeaderMap, body: &[u8]) -> Result<Params, OAuthError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The request body must be form-encoded (Content-Type: application/x-www-form-urlencoded).",
        ));
    }
    let params =
        parse_params(body).map_err(|error| OAuthError::new(StatusCode::BAD_REQUEST, "invalid_request", error.describe()))?;
    if let Some(name) = too_long(&params) {
        return Err(OAuthError::new(StatusCode::BAD_REQUEST, "invalid_request", too_long_description(name)));
    }
    Ok(params)
}

/// Client authentication (RFC 6749 §2.3.1): HTTP Basic with the URL-encoded client ID and
/// secret, or the `client_id` and `client_secret` fields; not both. Without `secret_required`
/// (the device authorization request) a `client_id` alone is enough, but a secret sent is checked.
pub(crate) fn authenticate_client(
    config: &IdpConfig,
    headers: &HeaderMap,
    params: &Params,
    secret_required: bool,
) -> Result<(), OAuthError> {
    let basic = basic_credentials(headers);
    let (client_id, secret, by_header) = match basic {
        Some(Err(())) => return Err(invalid_client("The Authorization header is not valid HTTP Basic credentials.", true)),
        Some(Ok((id, secret))) => {
            if params.contains_key("client_secret") {
                return Err(OAuthError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "Authenticate the client one way only: the Authorization header or the client_secret field.",
                ));
            }
            if params.get("client_id").is_some_and(|form_id| *form_id != id) {
                return Err(invalid_client(
                    "AADSTS700016: The client_id field and the Authorization header name different applications.",
                    true,
                ));
            }
            (id, Some(secret), true)
        }
        None => match params.get("client_id") {
            Some(id) => (id.clone(), params.get("client_secret").cloned(), false),
            None => return Err(invalid_client("AADSTS900144: The request must contain the parameter 'client_id'.", false)),
        },
    };
    if client_id != config.client_id {
        return Err(invalid_client(
            format!("AADSTS700016: Application with identifier '{}' was not found in the directory.", shorten(&client_id)),
            by_header,
        ));
    }
    match secret {
        Some(secret) if secrets_match(&secret, &config.client_secret) => Ok(()),
        Some(_) => Err(invalid_client("AADSTS7000215: Invalid client secret provided.", by_header)),
        None if secret_required => Err(invalid_client(
            "AADSTS7000218: The request must contain client authentication: 'client_secret' or HTTP Basic.",
            by_header,
        )),
        None => Ok(()),
    }
}

/// `None` without Basic credentials; `Some(Err)` when they are malformed.
fn basic_credentials(headers: &HeaderMap) -> Option<Result<(String, String), ()>> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let encoded = encoded.trim();
    let decoded = STANDARD.decode(encoded).or_else(|_| STANDARD_NO_PAD.decode(encoded)).ok();
    let credentials = decoded.and_then(|bytes| String::from_utf8(bytes).ok()).and_then(|text| {
        let (id, secret) = text.split_once(':')?;
        Some((form_decode(id)?, form_decode(secret)?))
    });
    Some(credentials.ok_or(()))
}

/// `application/x-www-form-urlencoded` decoding of one value (`+` is a space); `None` if not UTF-8.
fn form_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            .and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
        match (bytes[i], hex) {
            (b'+', _) => out.push(b' '),
            (b'%', Some(decoded)) => {
                out.push(decoded);
                i += 2;
            }
            (byte, _) => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

fn authorization_code(config: &super::IdpConfig, scope: TenantScope, client_id: &str, params: &Params) -> Response {
    let Some(code) = params.get("code") else { return invalid_request(missing("code")) };
    let Some(redirect_uri) = params.get("redirect_uri") else { return invalid_request(missing("redirect_uri")) };
    let Some(verifier) = params.get("code_verifier") else { return invalid_request(missing("code_verifier")) };
    let code_key = store::key(code);
    store::with(|store| {
        // Asked first: a code spent on tokens that cannot be stored could not be used again.
        if !store.room_for_tokens() {
            return busy();
        }
        let Some(granted) = store.codes.get_mut(&code_key).filter(|c| c.expires > Instant::now()) else {
            return invalid_grant(
                "AADSTS70008: The provided authorization code has expired or is not valid. Send a new interactive authorization request.",
            );
        };
        if granted.redeemed {
            // RFC 6749 §4.1.2: a code used twice revokes what it gave.
            store.revoke_tokens_from_code(&code_key);
            return invalid_grant(
                "AADSTS54005: The authorization code was already redeemed; the tokens it gave are revoked. Send a new interactive authorization request.",
            );
        }
        // One redemption per code, whether or not it succeeds.
        granted.redeemed = true;
        if granted.client_id != client_id {
            return invalid_grant("AADSTS70000: The authorization code was issued to another application.");
        }
        if granted.redirect_uri != *redirect_uri {
            return invalid_grant("AADSTS70000: The redirect_uri is not the one of the authorization request.");
        }
        if !scope.allows(granted.user.tenant) {
            return invalid_grant("AADSTS70000: The authorization code belongs to another organisation's directory.");
        }
        if !pkce_matches(verifier, &granted.code_challenge) {
            return invalid_grant(
                "AADSTS50148: The code_verifier does not match the code_challenge supplied in the authorization request.",
            );
        }
        let user = granted.user;
        let nonce = granted.nonce.clone();
        let grant = Grant {
            client_id: client_id.to_owned(),
            user,
            scopes: granted.scopes.clone(),
            expires: Instant::now(),
            from_code: Some(code_key),
        };
        // A sign-in needs no admin consent (its scopes are the user's own profile).
        let Some(nonce) = nonce else {
            if !store.consent_usable(user.tenant) {
                return consent_missing(client_id, user.tenant.name);
            }
            return tokens(store, grant, None);
        };
        tokens(store, grant, Some(super::oidc::id_token(config, user, &nonce)))
    })
}

/// One poll of the token endpoint with a device code (RFC 8628 §3.4, §3.5).
fn device_code_grant(scope: TenantScope, client_id: &str, device_code: &str) -> Response {
    let now = Instant::now();
    store::with(|store| {
        // Asked first, as for a code: the device code is spent only on tokens that are stored.
        if !store.room_for_tokens() {
            return busy();
        }
        let Some(device) = store.devices.get_mut(&store::key(device_code)) else {
            return invalid_grant("AADSTS70000: The device_code is not valid.");
        };
        if device.client_id != client_id || !scope.allows(device.tenant) {
            return invalid_grant("AADSTS70000: The device_code was issued to another application or organisation.");
        }
        if device.expires <= now {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "expired_token",
                "AADSTS70019: The device code has expired. Ask for a new one and start again.",
            );
        }
        if device.status == DeviceStatus::Redeemed {
            return invalid_grant("AADSTS70000: The device_code was already used to get tokens.");
        }
        // Too soon after the previous poll, or a busy provider's first poll: slow down.
        let too_soon = match device.last_poll {
            None => device.tenant.slow_down_first_poll,
            Some(last) => now.duration_since(last) < device.interval,
        };
        device.last_poll = Some(now);
        if too_soon {
            device.interval += SLOW_DOWN_STEP;
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "slow_down",
                format!("Polling too often: wait at least {} seconds between two requests.", device.interval.as_secs()),
            );
        }
        match device.status {
            DeviceStatus::Pending => oauth_error(
                StatusCode::BAD_REQUEST,
                "authorization_pending",
                "AADSTS70016: The user has not yet finished signing in. Keep polling at the interval.",
            ),
            DeviceStatus::Denied => oauth_error(
                StatusCode::BAD_REQUEST,
                "access_denied",
                "The user denied the request. Ask for a new code to try again.",
            ),
            DeviceStatus::Approved(user) => {
                if !store.consent_usable(user.tenant) {
                    return consent_missing(client_id, user.tenant.name);
                }
                let device = store.devices.get_mut(&store::key(device_code)).expect("found above");
                device.status = DeviceStatus::Redeemed;
                let grant =
                    Grant { client_id: client_id.to_owned(), user, scopes: device.scopes.clone(), expires: now, from_code: None };
                tokens(store, grant, None)
            }
            DeviceStatus::Redeemed => invalid_grant("AADSTS70000: The device_code was already used to get tokens."),
        }
    })
}

/// RFC 7636 S256: BASE64URL-no-pad(SHA256(ASCII(code_verifier))) == code_challenge.
fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    super::constant_time_eq(computed.as_bytes(), challenge.as_bytes())
}

fn password(scope: TenantScope, client_id: &str, params: &Params) -> Response {
    let Some(username) = params.get("username") else { return invalid_request(missing("username")) };
    let Some(password) = params.get("password") else { return invalid_request(missing("password")) };
    let scopes = params.get("scope").map_or(DEFAULT_SCOPE, String::as_str);
    let user = match sign_in(username, password) {
        SignIn::Valid(user) if scope.allows(user.tenant) => user,
        SignIn::Locked(user) if scope.allows(user.tenant) => {
            return invalid_grant(
                "AADSTS50053: The account is locked. Ask an administrator of the organisation to unlock it, then try again.",
            )
        }
        // A user of another directory is unknown in this one.
        SignIn::Valid(_) | SignIn::Locked(_) | SignIn::Invalid => {
            return invalid_grant("AADSTS50126: Error validating credentials due to invalid username or password.")
        }
    };
    if !user.backup_role {
        return invalid_grant(
            "AADSTS50105: The signed-in user is not assigned to a role for the application 'Backup Portal'. \
             An administrator of the organisation must assign the backup role to this account.",
        );
    }
    store::with(|store| {
        if !store.consent_usable(user.tenant) {
            return consent_missing(client_id, user.tenant.name);
        }
        let grant =
            Grant { client_id: client_id.to_owned(), user, scopes: scopes.to_owned(), expires: Instant::now(), from_code: None };
        tokens(store, grant, None)
    })
}

fn refresh(scope: TenantScope, client_id: &str, params: &Params) -> Response {
    let Some(refresh_token) = params.get("refresh_token") else { return invalid_request(missing("refresh_token")) };
    store::with(|store| {
        if !store.room_for_tokens() {
            return busy();
        }
        let Some(grant) = store.refresh_tokens.get(&store::key(refresh_token)).filter(|g| g.expires > Instant::now()).cloned()
        else {
            return invalid_grant(
                "AADSTS700082: The refresh token has expired or is not valid. Send a new interactive authorization request.",
            );
        };
        if grant.client_id != client_id {
            return invalid_grant("AADSTS70000: The refresh token was issued to another application.");
        }
        if !scope.allows(grant.user.tenant) {
            return invalid_grant("AADSTS70000: The refresh token belongs to another organisation's directory.");
        }
        if !store.consent_usable(grant.user.tenant) {
            return consent_missing(client_id, grant.user.tenant.name);
        }
        // The old refresh token stays valid until it expires (as with the Microsoft identity platform).
        tokens(store, grant, None)
    })
}

/// A token response for `grant` (its lifetimes are set here); 503 if the store is full.
fn tokens(store: &mut Store, grant: Grant, id_token: Option<String>) -> Response {
    let scopes = grant.scopes.clone();
    let Ok((access_token, refresh_token)) = store.issue_tokens(grant) else { return busy() };
    let mut body = json!({
        "token_type": "Bearer",
        "access_token": access_token,
        "refresh_token": refresh_token,
        "expires_in": ACCESS_TOKEN_SECONDS,
        "scope": scopes,
    });
    if let Some(id_token) = id_token {
        body["id_token"] = json!(id_token);
    }
    json_ok(body)
}

fn consent_missing(client_id: &str, tenant_name: &str) -> Response {
    invalid_grant(format!(
        "AADSTS65001: The user or administrator has not consented to use the application with ID '{client_id}' \
         in {tenant_name}. Send an interactive authorization request for admin consent."
    ))
}

pub(crate) fn missing(name: &str) -> String {
    format!("AADSTS900144: The request body must contain the parameter '{name}'.")
}

pub(crate) fn invalid_request(description: impl Into<String>) -> Response {
    oauth_error(StatusCode::BAD_REQUEST, "invalid_request", description)
}

fn invalid_grant(description: impl Into<String>) -> Response {
    oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", description)
}

/// 401 `invalid_client`; with `WWW-Authenticate` when the client tried HTTP Basic (RFC 6749 §5.2).
fn invalid_client(description: impl Into<String>, by_header: bool) -> OAuthError {
    OAuthError { basic_challenge: by_header, ..OAuthError::new(StatusCode::UNAUTHORIZED, "invalid_client", description) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_matches_rfc7636_appendix_b() {
        assert!(pkce_matches("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
        assert!(!pkce_matches("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXl", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let mut headers = HeaderMap::new();
        let encoded = STANDARD.encode("my+app%3A1:s%C3%A9cret%25+x");
        headers.insert(header::AUTHORIZATION, format!("Basic {encoded}").parse().unwrap());
        assert_eq!(basic_credentials(&headers), Some(Ok(("my app:1".into(), "sécret% x".into()))));
        headers.insert(header::AUTHORIZATION, "Basic !!!".parse().unwrap());
        assert_eq!(basic_credentials(&headers), Some(Err(())));
        headers.insert(header::AUTHORIZATION, "Bearer abc".parse().unwrap());
        assert_eq!(basic_credentials(&headers), None);
    }

    #[test]
    fn form_decode_keeps_a_stray_percent() {
        assert_eq!(form_decode("a%2"), Some("a%2".into()));
        assert_eq!(form_decode("%zz"), Some("%zz".into()));
        assert_eq!(form_decode("%41%42"), Some("AB".into()));
        assert_eq!(form_decode("%FF"), None);
    }
}
