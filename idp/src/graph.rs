//! `GET /idp/v1.0/organization`: the organisation of an access token, in Microsoft Graph's
//! shape, so that a client learns which tenant a token belongs to.

use std::time::Instant;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::store;

pub(crate) async fn organization(headers: HeaderMap) -> Response {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|token| !token.is_empty());
    let Some(token) = bearer else {
        return unauthorized("Access token is empty: send it as 'Authorization: Bearer <token>'.");
    };
    let tenant = store::with(|store| {
        let grant = store.access_tokens.get(&store::key(token)).filter(|g| g.expires > Instant::now())?;
        let tenant = grant.user.tenant;
        Some(store.consent_usable(tenant).then_some(tenant))
    });
    match tenant {
        None => unauthorized("Access token has expired or is not valid."),
        Some(None) => unauthorized("The organisation's administrator has revoked consent for this application."),
        Some(Some(tenant)) => super::json_ok(json!({
            "value": [{
                "id": tenant.id,
                "displayName": tenant.name,
                "verifiedDomains": [{ "name": tenant.domain, "isDefault": true, "isInitial": true, "type": "Managed" }],
            }]
        })),
    }
}

/// Graph's error shape, with RFC 6750's `WWW-Authenticate`.
fn unauthorized(message: &str) -> Response {
    let body = json!({ "error": { "code": "InvalidAuthenticationToken", "message": message } });
    let mut response = super::own_format(super::json_response(StatusCode::UNAUTHORIZED, &body));
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"Backup Portal identity provider\", error=\"invalid_token\""),
    );
    response
}
