//! `POST /auth/token`: Halo's client-credentials grant. The application's ID and secret come in
//! the form body; hosted Halo also wants its tenant in the query. The token is granted the
//! scopes asked for that the application has (all of them when none are asked for): a scope
//! it lacks is left out rather than refused, as many OAuth servers do, so the caller learns
//! from `scope` (and later from a 403) what it may do.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use serde_json::json;

use crate::input::params;
use crate::respond::{json, oauth_error};
use crate::store::{constant_time_eq, TOKEN_SECONDS};
use crate::Halo;

pub(crate) async fn token(State(halo): State<Halo>, uri: Uri, body: Bytes) -> Response {
    let config = halo.config();
    if let Some(tenant) = &config.tenant {
        let query = crate::input::query(&uri);
        let given = query.get("tenant").map(String::as_str).unwrap_or_default();
        if given != tenant {
            let description = if given.is_empty() {
                "This Halo is hosted: name its tenant with ?tenant=.".to_owned()
            } else {
                format!("The tenant '{}' was not found.", shorten(given))
            };
            return oauth_error(StatusCode::NOT_FOUND, "invalid_tenant", description);
        }
    }
    let form = params(&body);
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    match field("grant_type") {
        "client_credentials" => {}
        "" => return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "The grant_type parameter is missing."),
        other => {
            let description = format!("The grant type '{}' is not supported: use client_credentials.", shorten(other));
            return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", description);
        }
    }
    let known = constant_time_eq(field("client_id").as_bytes(), config.client_id.as_bytes())
        & constant_time_eq(field("client_secret").as_bytes(), config.client_secret.as_bytes());
    if !known {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "The client ID or secret is wrong.");
    }

    let mut store = halo.store();
    let requested: Vec<&str> = field("scope").split_whitespace().collect();
    let granted: Vec<String> = if requested.is_empty() {
        store.permissions.clone()
    } else {
        let mut granted: Vec<String> = Vec::new();
        for scope in requested {
            if store.permissions.iter().any(|permission| permission == scope) && !granted.iter().any(|g| g == scope) {
                granted.push(scope.to_owned());
            }
        }
        granted
    };
    let scope = granted.join(" ");
    let access_token = store.issue_token(granted);
    json(
        StatusCode::OK,
        &json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": TOKEN_SECONDS,
            "scope": scope,
        }),
    )
}

/// At most 100 characters of something the caller sent, for an error's description.
pub(crate) fn shorten(text: &str) -> String {
    text.chars().take(100).collect()
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use crate::testing::{demo, demo_with, form_token, send};
    use crate::HaloConfig;

    #[tokio::test]
    async fn a_token_is_granted_the_scopes_asked_for_that_the_app_has() {
        let halo = demo();
        let (status, headers, body) =
            form_token(&halo, "", "grant_type=client_credentials&client_id=backup-portal-halo&client_secret=demo-halo-secret&scope=read:tickets+edit:assets").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 3600);
        assert_eq!(body["scope"], "read:tickets");
        assert!(body["access_token"].as_str().unwrap().len() >= 32);
        assert_eq!(headers["cache-control"], "no-store");
        assert_eq!(halo.token_requests(), 1);

        let (_, _, body) =
            form_token(&halo, "", "grant_type=client_credentials&client_id=backup-portal-halo&client_secret=demo-halo-secret")
                .await;
        assert_eq!(body["scope"], "read:tickets edit:tickets read:customers", "none asked for: all");
        assert_eq!(halo.requests(), vec!["POST /auth/token", "POST /auth/token"]);
    }

    #[tokio::test]
    async fn a_wrong_secret_or_grant_is_refused() {
        let halo = demo();
        let (status, _, body) =
            form_token(&halo, "", "grant_type=client_credentials&client_id=backup-portal-halo&client_secret=nope").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["error"], "invalid_client");
        assert!(body["error_description"].is_string());

        let (status, _, body) = form_token(&halo, "", "grant_type=password&client_id=backup-portal-halo").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"], "unsupported_grant_type");
        assert_eq!(halo.token_requests(), 0);
    }

    #[tokio::test]
    async fn hosted_halo_wants_its_tenant() {
        let halo = demo_with(|config: &mut HaloConfig| config.tenant = Some("contoso".into()));
        let form = "grant_type=client_credentials&client_id=backup-portal-halo&client_secret=demo-halo-secret";
        for query in ["", "?tenant=fabrikam"] {
            let (status, _, body) = form_token(&halo, query, form).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{query}");
            assert_eq!(body["error"], "invalid_tenant");
            assert!(body["error_description"].is_string());
        }
        let (status, _, _) = form_token(&halo, "?tenant=contoso", form).await;
        assert_eq!(status, StatusCode::OK);
    }

    #[tokio::test]
    async fn the_answer_is_own_format() {
        let halo = demo();
        let response = send(&halo, "POST", "/auth/token", None, "grant_type=client_credentials").await;
        assert!(response.extensions().get::<crate::OwnFormat>().is_some());
    }
}
