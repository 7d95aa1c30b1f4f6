//! Who may call an API route: a live bearer token (issued, not revoked, not expired) that was
//! granted the route's scope, of an application that still has that permission. The 403 names
//! the permission, so that the portal can say which one to give the application in Halo.

use axum::http::{header, HeaderMap, StatusCode};

use crate::respond::Refused;
use crate::Halo;

/// Reading tickets and their actions.
pub(crate) const READ_TICKETS: &str = "read:tickets";
/// Filing, changing and closing tickets, and adding actions.
pub(crate) const EDIT_TICKETS: &str = "edit:tickets";
/// Reading clients (customers).
pub(crate) const READ_CUSTOMERS: &str = "read:customers";

/// `Ok` when the request's token may use `scope`; else the answer (401 or 403).
pub(crate) fn require(halo: &Halo, headers: &HeaderMap, scope: &str) -> Result<(), Refused> {
    let Some(token) = bearer(headers) else {
        return Err(Refused::InvalidToken("Authorization has been denied for this request.".into()));
    };
    let store = halo.store();
    let Some(scopes) = store.token_scopes(token) else {
        return Err(Refused::InvalidToken("The access token is invalid, expired or revoked.".into()));
    };
    let granted = scopes.iter().any(|s| s == scope) && store.permissions.iter().any(|p| p == scope);
    if granted {
        Ok(())
    } else {
        Err(Refused::Message(StatusCode::FORBIDDEN, format!("The API application lacks the '{scope}' permission.")))
    }
}

/// The token of `Authorization: Bearer <token>` (the scheme in any case).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use crate::testing::{call, demo, token};

    #[tokio::test]
    async fn api_routes_want_a_live_bearer_token() {
        let halo = demo();
        for bearer in [None, Some("not-a-token")] {
            let (status, headers, body) = call(&halo, "GET", "/api/Tickets", bearer, "").await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
            assert_eq!(headers["www-authenticate"], "Bearer error=\"invalid_token\"");
            assert!(body["message"].is_string());
        }
        let token = token(&halo).await;
        let (status, _, _) = call(&halo, "GET", "/api/Tickets", Some(&token), "").await;
        assert_eq!(status, StatusCode::OK);

        halo.revoke_tokens();
        let (status, headers, _) = call(&halo, "GET", "/api/Tickets", Some(&token), "").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "revoked");
        assert!(headers.contains_key("www-authenticate"));
    }

    #[tokio::test]
    async fn a_missing_permission_is_named() {
        let halo = demo();
        halo.set_permissions(vec!["read:tickets".into()]);
        let token = token(&halo).await;
        let (status, _, body) = call(&halo, "POST", "/api/Tickets", Some(&token), r#"[{"summary":"x"}]"#).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(body["message"], "The API application lacks the 'edit:tickets' permission.");

        // Taken away from the application: a live token loses it at once.
        halo.set_permissions(vec![]);
        let (status, _, body) = call(&halo, "GET", "/api/Tickets", Some(&token), "").await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(body["message"], "The API application lacks the 'read:tickets' permission.");
    }
}
