//! What the identity provider's test files share: the app on a loopback port, the demo
//! tenants and the OAuth steps a client takes.
#![allow(unused_imports)]

pub use std::time::Duration;

pub use base64::engine::general_purpose::URL_SAFE_NO_PAD;
pub use base64::Engine as _;
pub use portal_idp::{self as idp, tenant_id_for_domain, DEMO_IDP_PASSWORD};
pub use portal_server::config::Config;
pub use rand::RngCore;
pub use reqwest::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, LOCATION};
pub use reqwest::{StatusCode, Url};
pub use serde_json::Value;
pub use sha2::{Digest, Sha256};

pub const CLIENT_ID: &str = "backup-portal";
pub const CLIENT_SECRET: &str = "demo-client-secret";
pub const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
pub const ACME: &str = "acme-legal.example";
pub const BLUEBIRD: &str = "bluebird-clinics.example";
pub const CEDAR: &str = "cedar-logistics.example";
pub const DELTA: &str = "delta-foods.example";

pub struct Idp {
    pub base: String,
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
}

pub async fn start() -> Idp {
    start_with(|_| {}).await
}

/// Starts the whole app on a free loopback port, its public URL that port.
pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Idp {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = Config::for_database(super::database_url(dir.path()).await);
    config.addr = addr;
    config.public_url = Some(format!("http://{addr}"));
    // The identity provider needs no demo data.
    config.seed_demo = false;
    adjust(&mut config);
    let state = portal_server::prepare(config).await.unwrap();
    tokio::spawn(async move { axum::serve(listener, portal_server::app(state)).await });
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    Idp { base: format!("http://{addr}"), http, _dir: dir }
}

pub fn user(local: &str, domain: &str) -> String {
    format!("{local}@{domain}")
}

/// A PKCE verifier and its S256 challenge.
pub fn pkce() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let verifier = URL_SAFE_NO_PAD.encode(bytes);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

impl Idp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn redirect_uri(&self) -> String {
        self.url("/api/auth/callback")
    }

    /// The token endpoint, client authentication in the form.
    pub async fn token(&self, tenant: &str, params: &[(&str, &str)]) -> reqwest::Response {
        let mut form = vec![("client_id", CLIENT_ID), ("client_secret", CLIENT_SECRET)];
        form.extend_from_slice(params);
        self.http.post(self.url(&format!("/idp/{tenant}/oauth2/v2.0/token"))).form(&form).send().await.unwrap()
    }

    /// The token endpoint, client authentication by HTTP Basic.
    pub async fn token_basic(&self, tenant: &str, id: &str, secret: &str, params: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(self.url(&format!("/idp/{tenant}/oauth2/v2.0/token")))
            .basic_auth(id, Some(secret))
            .form(params)
            .send()
            .await
            .unwrap()
    }

    pub async fn password_grant(&self, tenant: &str, username: &str, password: &str) -> reqwest::Response {
        let params = [("grant_type", "password"), ("username", username), ("password", password), ("scope", "offline_access")];
        self.token(tenant, &params).await
    }

    /// The consent page for a fresh request; returns the page's request ID and its HTML.
    pub async fn consent_page(&self, tenant: &str, challenge: &str, state: &str) -> (String, String) {
        let redirect_uri = self.redirect_uri();
        let query = [
            ("client_id", CLIENT_ID),
            ("redirect_uri", redirect_uri.as_str()),
            ("response_type", "code"),
            ("scope", "https://outlook.office365.com/.default offline_access"),
            ("state", state),
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
            ("prompt", "admin_consent"),
        ];
        let response =
            self.http.get(self.url(&format!("/idp/{tenant}/oauth2/v2.0/authorize"))).query(&query).send().await.unwrap();
        let html = html(response, StatusCode::OK).await;
        assert!(html.contains("Backup Portal asks for admin consent"), "{html}");
        (hidden_value(&html, "request"), html)
    }

    pub async fn consent(&self, tenant: &str, request: &str, email: &str, password: &str, decision: &str) -> reqwest::Response {
        let form = [("request", request), ("email", email), ("password", password), ("decision", decision)];
        self.http.post(self.url(&format!("/idp/{tenant}/oauth2/v2.0/authorize"))).form(&form).send().await.unwrap()
    }

    /// Runs the consent page to a code: approve as `email`; returns the code.
    pub async fn code_for(&self, tenant: &str, email: &str, challenge: &str) -> String {
        let (request, _) = self.consent_page(tenant, challenge, "s").await;
        let response = self.consent(tenant, &request, email, DEMO_IDP_PASSWORD, "approve").await;
        redirect_params(&response, &self.redirect_uri())["code"].clone()
    }

    pub async fn device_code(&self, tenant: &str) -> Value {
        let form = [("client_id", CLIENT_ID), ("scope", "https://outlook.office365.com/.default offline_access")];
        let response =
            self.http.post(self.url(&format!("/idp/{tenant}/oauth2/v2.0/devicecode"))).form(&form).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[CACHE_CONTROL], "no-store");
        response.json().await.unwrap()
    }

    pub async fn poll(&self, tenant: &str, device_code: &str) -> reqwest::Response {
        self.token(tenant, &[("grant_type", DEVICE_GRANT), ("device_code", device_code)]).await
    }

    /// Posts the device page's form.
    pub async fn device_page(&self, form: &[(&str, &str)]) -> String {
        let response = self.http.post(self.url("/idp/device")).form(form).send().await.unwrap();
        html(response, StatusCode::OK).await
    }

    pub async fn organization(&self, access_token: &str) -> reqwest::Response {
        self.http.get(self.url("/idp/v1.0/organization")).bearer_auth(access_token).send().await.unwrap()
    }

    /// The tenant ID that `/idp/v1.0/organization` names for a token.
    pub async fn tenant_of(&self, access_token: &str) -> String {
        let response = self.organization(access_token).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        body["value"][0]["id"].as_str().unwrap().to_owned()
    }
}

pub async fn html(response: reqwest::Response, status: StatusCode) -> String {
    assert_eq!(response.status(), status);
    assert_eq!(response.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
    assert!(response.headers().get(LOCATION).is_none());
    let html = response.text().await.unwrap();
    assert!(html.starts_with("<!doctype html>") && html.contains("<html lang=\"en\">"), "{html}");
    assert!(html.contains("<meta name=\"viewport\"") && html.contains("<main>"), "{html}");
    assert!(!html.contains(DEMO_IDP_PASSWORD), "a page never shows the password");
    html
}

pub fn hidden_value(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap_or_else(|| panic!("no {name} in {html}")) + marker.len();
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}

/// The query of a 303 back to `redirect_uri`.
pub fn redirect_params(response: &reqwest::Response, redirect_uri: &str) -> std::collections::HashMap<String, String> {
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()[LOCATION].to_str().unwrap();
    assert!(location.starts_with(&format!("{redirect_uri}?")), "{location}");
    Url::parse(location).unwrap().query_pairs().into_owned().collect()
}

/// Asserts an OAuth error answer (RFC 6749 §5.2); returns its error code and description.
pub async fn oauth_error(response: reqwest::Response, status: StatusCode) -> (String, String) {
    assert_eq!(response.status(), status);
    let content_type = response.headers()[CONTENT_TYPE].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("application/json"), "OAuth errors are plain JSON, not {content_type}");
    assert_eq!(response.headers()[CACHE_CONTROL], "no-store");
    let text = response.text().await.unwrap();
    assert!(!text.contains(DEMO_IDP_PASSWORD), "never the password: {text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    let object = body.as_object().unwrap();
    assert_eq!(object.len(), 2, "{body}");
    (body["error"].as_str().unwrap().to_owned(), body["error_description"].as_str().unwrap().to_owned())
}

/// Asserts a token answer; returns it.
pub async fn tokens(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[CACHE_CONTROL], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert!(body["access_token"].as_str().unwrap().len() >= 40, "{body}");
    assert!(body["refresh_token"].as_str().unwrap().len() >= 40, "{body}");
    assert!(body["scope"].is_string(), "{body}");
    body
}
