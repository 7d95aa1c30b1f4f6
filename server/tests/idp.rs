//! The embedded identity provider as an OAuth client sees it: the real app on a loopback port,
//! over real HTTP (reqwest, redirects not followed).
//!
//! The identity provider's state is one per process, shared by these tests: each test uses its
//! own codes and tokens, and only `consent_can_be_revoked_and_granted_again` touches Delta Foods.

mod common;

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use portal_idp::{self as idp, tenant_id_for_domain, DEMO_IDP_PASSWORD};
use portal_server::config::Config;
use rand::RngCore;
use reqwest::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, LOCATION};
use reqwest::{StatusCode, Url};
use serde_json::Value;
use sha2::{Digest, Sha256};

const CLIENT_ID: &str = "backup-portal";
const CLIENT_SECRET: &str = "demo-client-secret";
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
const ACME: &str = "acme-legal.example";
const BLUEBIRD: &str = "bluebird-clinics.example";
const CEDAR: &str = "cedar-logistics.example";
const DELTA: &str = "delta-foods.example";

struct Idp {
    base: String,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

async fn start() -> Idp {
    start_with(|_| {}).await
}

/// Starts the whole app on a free loopback port, its public URL that port.
async fn start_with(adjust: impl FnOnce(&mut Config)) -> Idp {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = Config::for_database(common::database_url(dir.path()).await);
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

fn user(local: &str, domain: &str) -> String {
    format!("{local}@{domain}")
}

/// A PKCE verifier and its S256 challenge.
fn pkce() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let verifier = URL_SAFE_NO_PAD.encode(bytes);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

impl Idp {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn redirect_uri(&self) -> String {
        self.url("/api/auth/callback")
    }

    /// The token endpoint, client authentication in the form.
    async fn token(&self, tenant: &str, params: &[(&str, &str)]) -> reqwest::Response {
        let mut form = vec![("client_id", CLIENT_ID), ("client_secret", CLIENT_SECRET)];
        form.extend_from_slice(params);
        self.http.post(self.url(&format!("/idp/{tenant}/oauth2/v2.0/token"))).form(&form).send().await.unwrap()
    }

    /// The token endpoint, client authentication by HTTP Basic.
    async fn token_basic(&self, tenant: &str, id: &str, secret: &str, params: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(self.url(&format!("/idp/{tenant}/oauth2/v2.0/token")))
            .basic_auth(id, Some(secret))
            .form(params)
            .send()
            .await
            .unwrap()
    }

    async fn password_grant(&self, tenant: &str, username: &str, password: &str) -> reqwest::Response {
        let params = [("grant_type", "password"), ("username", username), ("password", password), ("scope", "offline_access")];
        self.token(tenant, &params).await
    }

    /// The consent page for a fresh request; returns the page's request ID and its HTML.
    async fn consent_page(&self, tenant: &str, challenge: &str, state: &str) -> (String, String) {
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

    async fn consent(&self, tenant: &str, request: &str, email: &str, password: &str, decision: &str) -> reqwest::Response {
        let form = [("request", request), ("email", email), ("password", password), ("decision", decision)];
        self.http.post(self.url(&format!("/idp/{tenant}/oauth2/v2.0/authorize"))).form(&form).send().await.unwrap()
    }

    /// Runs the consent page to a code: approve as `email`; returns the code.
    async fn code_for(&self, tenant: &str, email: &str, challenge: &str) -> String {
        let (request, _) = self.consent_page(tenant, challenge, "s").await;
        let response = self.consent(tenant, &request, email, DEMO_IDP_PASSWORD, "approve").await;
        redirect_params(&response, &self.redirect_uri())["code"].clone()
    }

    async fn device_code(&self, tenant: &str) -> Value {
        let form = [("client_id", CLIENT_ID), ("scope", "https://outlook.office365.com/.default offline_access")];
        let response =
            self.http.post(self.url(&format!("/idp/{tenant}/oauth2/v2.0/devicecode"))).form(&form).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[CACHE_CONTROL], "no-store");
        response.json().await.unwrap()
    }

    async fn poll(&self, tenant: &str, device_code: &str) -> reqwest::Response {
        self.token(tenant, &[("grant_type", DEVICE_GRANT), ("device_code", device_code)]).await
    }

    /// Posts the device page's form.
    async fn device_page(&self, form: &[(&str, &str)]) -> String {
        let response = self.http.post(self.url("/idp/device")).form(form).send().await.unwrap();
        html(response, StatusCode::OK).await
    }

    async fn organization(&self, access_token: &str) -> reqwest::Response {
        self.http.get(self.url("/idp/v1.0/organization")).bearer_auth(access_token).send().await.unwrap()
    }

    /// The tenant ID that `/idp/v1.0/organization` names for a token.
    async fn tenant_of(&self, access_token: &str) -> String {
        let response = self.organization(access_token).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        body["value"][0]["id"].as_str().unwrap().to_owned()
    }
}

async fn html(response: reqwest::Response, status: StatusCode) -> String {
    assert_eq!(response.status(), status);
    assert_eq!(response.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
    assert!(response.headers().get(LOCATION).is_none());
    let html = response.text().await.unwrap();
    assert!(html.starts_with("<!doctype html>") && html.contains("<html lang=\"en\">"), "{html}");
    assert!(html.contains("<meta name=\"viewport\"") && html.contains("<main>"), "{html}");
    assert!(!html.contains(DEMO_IDP_PASSWORD), "a page never shows the password");
    html
}

fn hidden_value(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap_or_else(|| panic!("no {name} in {html}")) + marker.len();
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}

/// The query of a 303 back to `redirect_uri`.
fn redirect_params(response: &reqwest::Response, redirect_uri: &str) -> std::collections::HashMap<String, String> {
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers()[LOCATION].to_str().unwrap();
    assert!(location.starts_with(&format!("{redirect_uri}?")), "{location}");
    Url::parse(location).unwrap().query_pairs().into_owned().collect()
}

/// Asserts an OAuth error answer (RFC 6749 §5.2); returns its error code and description.
async fn oauth_error(response: reqwest::Response, status: StatusCode) -> (String, String) {
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
async fn tokens(response: reqwest::Response) -> Value {
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

#[tokio::test]
async fn authorization_code_with_pkce_from_consent_to_tokens() {
    let idp = start().await;
    let (verifier, challenge) = pkce();
    let (request, page) = idp.consent_page(ACME, &challenge, "xyz").await;
    assert!(page.contains("offline_access") && page.contains("Approve") && page.contains("Deny"), "{page}");
    assert!(page.contains("<label for=\"email\">") && page.contains("<label for=\"password\">"), "{page}");
    assert!(!page.contains(&challenge), "the request stays on the server");

    // Wrong password, a locked account, a user without the right, another organisation: the page again.
    let inline = [
        (user("global.admin", ACME), "not the password", "email address or password is not right"),
        (user("nobody", ACME), DEMO_IDP_PASSWORD, "email address or password is not right"),
        (user("former.admin", ACME), DEMO_IDP_PASSWORD, "account is locked"),
        (user("helpdesk", ACME), DEMO_IDP_PASSWORD, "only a global administrator can grant consent"),
        (user("backup.admin", ACME), DEMO_IDP_PASSWORD, "only a global administrator can grant consent"),
        (user("global.admin", BLUEBIRD), DEMO_IDP_PASSWORD, "this account belongs to another organisation"),
    ];
    for (email, password, message) in inline {
        let page = html(idp.consent(ACME, &request, &email, password, "approve").await, StatusCode::OK).await;
        assert!(page.to_lowercase().contains(message), "{email}: {page}");
        assert!(page.contains("role=\"alert\""), "{page}");
        assert!(page.contains(&format!("value=\"{email}\"")), "the email is kept: {page}");
    }

    let response = idp.consent(ACME, &request, &user("global.admin", ACME), DEMO_IDP_PASSWORD, "approve").await;
    let back = redirect_params(&response, &idp.redirect_uri());
    assert_eq!(back["state"], "xyz");
    let code = &back["code"];
    assert!(idp::consent_granted(tenant_id_for_domain(ACME).unwrap()));

    // The page is used up.
    let again = idp.consent(ACME, &request, &user("global.admin", ACME), DEMO_IDP_PASSWORD, "approve").await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);

    let redirect_uri = idp.redirect_uri();
    let exchange = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect_uri.as_str()),
        ("code_verifier", verifier.as_str()),
    ];
    let body = tokens(idp.token_basic(ACME, CLIENT_ID, CLIENT_SECRET, &exchange).await).await;
    assert_eq!(body["scope"], "https://outlook.office365.com/.default offline_access");
    let access_token = body["access_token"].as_str().unwrap();
    assert_eq!(idp.tenant_of(access_token).await, tenant_id_for_domain(ACME).unwrap());

    // A code works once; its second use revokes what the first gave.
    let (error, description) =
        oauth_error(idp.token_basic(ACME, CLIENT_ID, CLIENT_SECRET, &exchange).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(error, "invalid_grant");
    assert!(description.starts_with("AADSTS54005:"), "{description}");
    assert_eq!(idp.organization(access_token).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn organizations_takes_the_tenant_of_the_user_who_consents() {
    let idp = start().await;
    let (verifier, challenge) = pkce();
    let code = idp.code_for("organizations", &user("global.admin", BLUEBIRD), &challenge).await;
    let redirect_uri = idp.redirect_uri();
    let exchange = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect_uri.as_str()),
        ("code_verifier", verifier.as_str()),
    ];
    let body = tokens(idp.token("organizations", &exchange).await).await;
    let organization: Value = idp.organization(body["access_token"].as_str().unwrap()).await.json().await.unwrap();
    assert_eq!(organization["value"][0]["id"], tenant_id_for_domain(BLUEBIRD).unwrap());
    assert_eq!(organization["value"][0]["displayName"], "Bluebird Clinics");
    assert_eq!(organization["value"][0]["verifiedDomains"][0]["name"], BLUEBIRD);
}

#[tokio::test]
async fn a_wrong_code_verifier_is_refused_and_uses_up_the_code() {
    let idp = start().await;
    let (verifier, challenge) = pkce();
    let code = idp.code_for(ACME, &user("global.admin", ACME), &challenge).await;
    let redirect_uri = idp.redirect_uri();
    let (other_verifier, _) = pkce();
    let exchange = |verifier: &str| {
        [
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.clone()),
            ("redirect_uri", redirect_uri.clone()),
            ("code_verifier", verifier.to_owned()),
        ]
    };
    let wrong = exchange(&other_verifier);
    let wrong: Vec<(&str, &str)> = wrong.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (error, description) = oauth_error(idp.token(ACME, &wrong).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(error, "invalid_grant");
    assert!(description.starts_with("AADSTS50148:"), "{description}");

    let right = exchange(&verifier);
    let right: Vec<(&str, &str)> = right.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (error, _) = oauth_error(idp.token(ACME, &right).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(error, "invalid_grant", "one redemption per code");

    // A code that was never issued.
    let (error, description) = oauth_error(
        idp.token(
            ACME,
            &[
                ("grant_type", "authorization_code"),
                ("code", "made-up"),
                ("redirect_uri", &redirect_uri),
                ("code_verifier", &verifier),
            ],
        )
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(error, "invalid_grant");
    assert!(description.starts_with("AADSTS70008:"), "{description}");
}

#[tokio::test]
async fn deny_goes_back_with_access_denied_and_the_state() {
    let idp = start().await;
    let (_, challenge) = pkce();
    let (request, _) = idp.consent_page(ACME, &challenge, "state with spaces & more").await;
    let response = idp.consent(ACME, &request, "", "", "deny").await;
    let back = redirect_params(&response, &idp.redirect_uri());
    assert_eq!(back["error"], "access_denied");
    assert!(back["error_description"].starts_with("AADSTS65004:"));
    assert_eq!(back["state"], "state with spaces & more");
    assert!(!back.contains_key("code"));
}

#[tokio::test]
async fn bad_authorization_requests() {
    let idp = start().await;
    let redirect_uri = idp.redirect_uri();
    let authorize = |query: Vec<(&'static str, String)>| {
        let url = idp.url(&format!("/idp/{ACME}/oauth2/v2.0/authorize"));
        let request = idp.http.get(url).query(&query);
        async move { request.send().await.unwrap() }
    };
    let base = |client_id: &str, redirect_uri: &str| {
        vec![
            ("client_id", client_id.to_owned()),
            ("redirect_uri", redirect_uri.to_owned()),
            ("response_type", "code".to_owned()),
            ("scope", "offline_access".to_owned()),
            ("state", "s1".to_owned()),
        ]
    };

    // An unknown client or a foreign redirect URI: an error page, never a redirect.
    let page = html(authorize(base("someone-else", &redirect_uri)).await, StatusCode::BAD_REQUEST).await;
    assert!(page.contains("AADSTS700016"), "{page}");
    let page = html(authorize(base(CLIENT_ID, "https://evil.example/cb")).await, StatusCode::BAD_REQUEST).await;
    assert!(page.contains("AADSTS50011"), "{page}");

    // No PKCE, or not S256: back to the client with invalid_request.
    let back = redirect_params(&authorize(base(CLIENT_ID, &redirect_uri)).await, &redirect_uri);
    assert_eq!(back["error"], "invalid_request");
    assert_eq!(back["state"], "s1");
    let mut plain = base(CLIENT_ID, &redirect_uri);
    plain.push(("code_challenge", "a".repeat(43)));
    plain.push(("code_challenge_method", "plain".to_owned()));
    let back = redirect_params(&authorize(plain).await, &redirect_uri);
    assert_eq!(back["error"], "invalid_request");

    let mut token = base(CLIENT_ID, &redirect_uri);
    token[2].1 = "token".to_owned();
    let back = redirect_params(&authorize(token).await, &redirect_uri);
    assert_eq!(back["error"], "unsupported_response_type");
}

#[tokio::test]
async fn oversized_parameters_are_refused_with_invalid_request() {
    let idp = start().await;
    let redirect_uri = idp.redirect_uri();
    let long = "x".repeat(3000);
    let (_, challenge) = pkce();
    let authorize = |state: &str, scope: &str, redirect_uri: &str| {
        let query = [
            ("client_id", CLIENT_ID),
            ("redirect_uri", redirect_uri),
            ("response_type", "code"),
            ("scope", scope),
            ("state", state),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        idp.http.get(idp.url(&format!("/idp/{ACME}/oauth2/v2.0/authorize"))).query(&query).send()
    };

    // Back to the client with invalid_request, and its state, unless that is what is too long.
    let back = redirect_params(&authorize("s1", &long, &redirect_uri).await.unwrap(), &redirect_uri);
    assert_eq!(back["error"], "invalid_request");
    assert!(back["error_description"].contains("'scope' is too long"), "{back:?}");
    assert_eq!(back["state"], "s1");
    let back = redirect_params(&authorize(&long, "openid", &redirect_uri).await.unwrap(), &redirect_uri);
    assert_eq!(back["error"], "invalid_request");
    assert!(!back.contains_key("state"), "a state too long is not sent back");
    // A redirect URI too long is not one of the client's: a page, no redirect.
    let page = html(authorize("s1", "openid", &format!("{redirect_uri}?{long}")).await.unwrap(), StatusCode::BAD_REQUEST).await;
    assert!(page.contains("AADSTS50011"), "{page}");

    // The token and device authorization endpoints: 400 invalid_request.
    let password = [("grant_type", "password"), ("username", "x"), ("password", "y"), ("scope", long.as_str())];
    let (error, description) = oauth_error(idp.token(ACME, &password).await, StatusCode::BAD_REQUEST).await;
    assert_eq!((error.as_str(), description.contains("'scope' is too long")), ("invalid_request", true), "{description}");
    let form = [("client_id", CLIENT_ID), ("scope", long.as_str())];
    let response = idp.http.post(idp.url(&format!("/idp/{ACME}/oauth2/v2.0/devicecode"))).form(&form).send().await.unwrap();
    assert_eq!(oauth_error(response, StatusCode::BAD_REQUEST).await.0, "invalid_request");
    let many: Vec<(String, &str)> = (0..100).map(|n| (format!("p{n}"), "x")).collect();
    let response = idp.http.post(idp.url(&format!("/idp/{ACME}/oauth2/v2.0/token"))).form(&many).send().await.unwrap();
    assert_eq!(oauth_error(response, StatusCode::BAD_REQUEST).await.0, "invalid_request");
}

#[tokio::test]
async fn password_grant_for_each_kind_of_user() {
    let idp = start().await;
    let check = |response: reqwest::Response, prefix: &'static str| async move {
        let (error, description) = oauth_error(response, StatusCode::BAD_REQUEST).await;
        assert_eq!(error, "invalid_grant");
        assert!(description.starts_with(prefix), "{prefix}: {description}");
    };
    check(idp.password_grant(ACME, &user("global.admin", ACME), "wrong").await, "AADSTS50126:").await;
    check(idp.password_grant(ACME, &user("backup.admin", ACME), "wrong").await, "AADSTS50126:").await;
    check(idp.password_grant(ACME, &user("nobody", ACME), DEMO_IDP_PASSWORD).await, "AADSTS50126:").await;
    check(idp.password_grant(ACME, &user("backup.admin", BLUEBIRD), DEMO_IDP_PASSWORD).await, "AADSTS50126:").await;
    check(idp.password_grant(ACME, &user("former.admin", ACME), DEMO_IDP_PASSWORD).await, "AADSTS50053:").await;
    check(idp.password_grant(ACME, &user("former.admin", ACME), "wrong").await, "AADSTS50126:").await;
    check(idp.password_grant(ACME, &user("helpdesk", ACME), DEMO_IDP_PASSWORD).await, "AADSTS50105:").await;

    let body = tokens(idp.password_grant(ACME, &user("backup.admin", ACME), DEMO_IDP_PASSWORD).await).await;
    assert_eq!(body["scope"], "offline_access");
    assert_eq!(idp.tenant_of(body["access_token"].as_str().unwrap()).await, tenant_id_for_domain(ACME).unwrap());
    // By tenant ID, or with `organizations`; a global administrator has the role too.
    let acme_id = tenant_id_for_domain(ACME).unwrap();
    tokens(idp.password_grant(acme_id, &user("global.admin", ACME), DEMO_IDP_PASSWORD).await).await;
    let body = tokens(idp.password_grant("organizations", &user("backup.admin", CEDAR), DEMO_IDP_PASSWORD).await).await;
    assert_eq!(idp.tenant_of(body["access_token"].as_str().unwrap()).await, tenant_id_for_domain(CEDAR).unwrap());
}

#[tokio::test]
async fn client_authentication() {
    let idp = start_with(|config| config.oauth_client_secret = "p@ss:w+rd%".into()).await;
    let params = [("grant_type", "password"), ("username", "backup.admin@acme-legal.example"), ("password", DEMO_IDP_PASSWORD)];
    // RFC 6749 §2.3.1: the secret is form-encoded before Basic.
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:p%40ss%3Aw%2Brd%25"));
    let response = idp
        .http
        .post(idp.url(&format!("/idp/{ACME}/oauth2/v2.0/token")))
        .header(AUTHORIZATION, format!("Basic {basic}"))
        .form(&params)
        .send()
        .await
        .unwrap();
    tokens(response).await;

    let mut form = vec![("client_id", CLIENT_ID), ("client_secret", "p@ss:w+rd%")];
    form.extend_from_slice(&params);
    let response = idp.http.post(idp.url(&format!("/idp/{ACME}/oauth2/v2.0/token"))).form(&form).send().await.unwrap();
    tokens(response).await;

    let response = idp.token_basic(ACME, CLIENT_ID, "wrong", &params).await;
    assert!(response.headers().contains_key(reqwest::header::WWW_AUTHENTICATE));
    assert_eq!(oauth_error(response, StatusCode::UNAUTHORIZED).await.0, "invalid_client");
    let response = idp.token_basic(ACME, "someone-else", "p@ss:w+rd%", &params).await;
    assert_eq!(oauth_error(response, StatusCode::UNAUTHORIZED).await.0, "invalid_client");
    // The default secret is not this app's secret.
    assert_eq!(oauth_error(idp.token(ACME, &params).await, StatusCode::UNAUTHORIZED).await.0, "invalid_client");
    let response = idp.http.post(idp.url(&format!("/idp/{ACME}/oauth2/v2.0/token"))).form(&params).send().await.unwrap();
    assert_eq!(oauth_error(response, StatusCode::UNAUTHORIZED).await.0, "invalid_client");
}

#[tokio::test]
async fn unsupported_grants_and_unknown_tenants() {
    let idp = start().await;
    let (error, description) =
        oauth_error(idp.token(ACME, &[("grant_type", "client_credentials")]).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(error, "unsupported_grant_type");
    assert!(description.starts_with("AADSTS70003:"), "{description}");
    let (error, _) = oauth_error(idp.token(ACME, &[]).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(error, "invalid_request");
    let (error, _) = oauth_error(
        idp.password_grant("northwind.example", &user("backup.admin", ACME), DEMO_IDP_PASSWORD).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(error, "invalid_request");

    // The device flow needs a known tenant.
    for tenant in ["northwind.example", "organizations"] {
        let response = idp
            .http
            .post(idp.url(&format!("/idp/{tenant}/oauth2/v2.0/devicecode")))
            .form(&[("client_id", CLIENT_ID), ("scope", "offline_access")])
            .send()
            .await
            .unwrap();
        let (error, description) = oauth_error(response, StatusCode::BAD_REQUEST).await;
        assert_eq!(error, "invalid_request");
        assert!(description.starts_with("AADSTS90002:"), "{description}");
    }

    // Graph with no token, or a made-up one.
    let response = idp.http.get(idp.url("/idp/v1.0/organization")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = idp.organization("made-up").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers()[CONTENT_TYPE].to_str().unwrap().starts_with("application/json"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");

    // Discovery names the endpoints.
    let discovery: Value = idp
        .http
        .get(idp.url(&format!("/idp/{ACME}/v2.0/.well-known/openid-configuration")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let acme_id = tenant_id_for_domain(ACME).unwrap();
    assert_eq!(discovery["token_endpoint"], idp.url(&format!("/idp/{acme_id}/oauth2/v2.0/token")));
}

#[tokio::test]
async fn device_flow_pending_then_approved_then_tokens_once() {
    let idp = start_with(|config| config.idp_device_interval_seconds = 1).await;
    let device = idp.device_code(ACME).await;
    let user_code = device["user_code"].as_str().unwrap();
    let device_code = device["device_code"].as_str().unwrap();
    assert_eq!(device["verification_uri"], idp.url("/idp/device"));
    assert_eq!(device["expires_in"], 900);
    assert_eq!(device["interval"], 1);
    assert!(device["message"].as_str().unwrap().contains(user_code));
    assert_eq!(user_code.len(), 9);
    assert_eq!(&user_code[4..5], "-");
    assert!(device_code.len() >= 40);

    let (error, _) = oauth_error(idp.poll(ACME, device_code).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(error, "authorization_pending");

    let page = html(idp.http.get(idp.url("/idp/device")).send().await.unwrap(), StatusCode::OK).await;
    assert!(page.contains("Enter the code shown in Backup Portal") && page.contains("<label for=\"code\">Code</label>"));
    let page = idp.device_page(&[("code", "BBBB-BBBB")]).await;
    assert!(page.contains("do not recognise this code"), "{page}");

    // Lower case, no dash.
    let typed = user_code.replace('-', "").to_lowercase();
    let page = idp.device_page(&[("code", &typed)]).await;
    assert!(page.contains("Acme Legal") && page.contains("Backup Portal") && page.contains("Approve"), "{page}");

    for (email, message) in [
        (user("helpdesk", ACME), "does not have the role"),
        (user("backup.admin", BLUEBIRD), "belongs to another organisation"),
        (user("former.admin", ACME), "locked"),
    ] {
        let page = idp
            .device_page(&[("code", user_code), ("email", &email), ("password", DEMO_IDP_PASSWORD), ("decision", "approve")])
            .await;
        assert!(page.contains(message), "{email}: {page}");
    }
    let page = idp
        .device_page(&[
            ("code", user_code),
            ("email", &user("backup.admin", ACME)),
            ("password", DEMO_IDP_PASSWORD),
            ("decision", "approve"),
        ])
        .await;
    assert!(page.contains("You can close this page and return to Backup Portal"), "{page}");

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let body = tokens(idp.poll(ACME, device_code).await).await;
    assert_eq!(idp.tenant_of(body["access_token"].as_str().unwrap()).await, tenant_id_for_domain(ACME).unwrap());

    // Single use; and the code cannot be entered again.
    let (error, _) = oauth_error(idp.poll(ACME, device_code).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(error, "invalid_grant");
    let page = idp.device_page(&[("code", user_code)]).await;
    assert!(page.contains("already been used"), "{page}");
}

#[tokio::test]
async fn device_flow_denied() {
    let idp = start_with(|config| config.idp_device_interval_seconds = 1).await;
    let device = idp.device_code(BLUEBIRD).await;
    let page = idp.device_page(&[("code", device["user_code"].as_str().unwrap()), ("decision", "deny")]).await;
    assert!(page.contains("Access was denied"), "{page}");
    let (error, _) =
        oauth_error(idp.poll(BLUEBIRD, device["device_code"].as_str().unwrap()).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(error, "access_denied");
}

#[tokio::test]
async fn device_codes_expire() {
    let idp = start_with(|config| config.idp_device_code_seconds = 1).await;
    let device = idp.device_code(ACME).await;
    assert_eq!(device["expires_in"], 1);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (error, _) = oauth_error(idp.poll(ACME, device["device_code"].as_str().unwrap()).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(error, "expired_token");
    let page = idp.device_page(&[("code", device["user_code"].as_str().unwrap())]).await;
    assert!(page.to_lowercase().contains("this code has expired; ask for a new one"), "{page}");
}

#[tokio::test]
async fn polling_too_early_slows_down_and_the_interval_grows() {
    let idp = start_with(|config| config.idp_device_interval_seconds = 1).await;
    let device = idp.device_code(ACME).await;
    let device_code = device["device_code"].as_str().unwrap();
    assert_eq!(oauth_error(idp.poll(ACME, device_code).await, StatusCode::BAD_REQUEST).await.0, "authorization_pending");
    let (error, description) = oauth_error(idp.poll(ACME, device_code).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(error, "slow_down");
    assert!(description.contains("6 seconds"), "{description}");
    // The interval is now 6 s: a poll after 1 s is still too early.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(oauth_error(idp.poll(ACME, device_code).await, StatusCode::BAD_REQUEST).await.0, "slow_down");
}

#[tokio::test]
async fn a_busy_provider_slows_down_the_first_poll() {
    let idp = start_with(|config| config.idp_device_interval_seconds = 1).await;
    let device = idp.device_code(CEDAR).await;
    let device_code = device["device_code"].as_str().unwrap();
    let (error, description) = oauth_error(idp.poll(CEDAR, device_code).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(error, "slow_down");
    assert!(description.contains("6 seconds"), "{description}");
    // Waiting the grown interval (1 + 5 s) from that poll is enough.
    tokio::time::sleep(Duration::from_millis(6100)).await;
    assert_eq!(oauth_error(idp.poll(CEDAR, device_code).await, StatusCode::BAD_REQUEST).await.0, "authorization_pending");

    // Another tenant's first poll is not slowed down.
    let device = idp.device_code(BLUEBIRD).await;
    let device_code = device["device_code"].as_str().unwrap();
    assert_eq!(oauth_error(idp.poll(BLUEBIRD, device_code).await, StatusCode::BAD_REQUEST).await.0, "authorization_pending");
}

#[tokio::test]
async fn refresh_tokens_give_new_tokens() {
    let idp = start().await;
    let first = tokens(idp.password_grant(BLUEBIRD, &user("backup.admin", BLUEBIRD), DEMO_IDP_PASSWORD).await).await;
    let refresh_token = first["refresh_token"].as_str().unwrap();
    let second = tokens(idp.token(BLUEBIRD, &[("grant_type", "refresh_token"), ("refresh_token", refresh_token)]).await).await;
    assert_ne!(second["access_token"], first["access_token"]);
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    assert_eq!(idp.tenant_of(second["access_token"].as_str().unwrap()).await, tenant_id_for_domain(BLUEBIRD).unwrap());
    // The new refresh token works too.
    tokens(
        idp.token(
            "organizations",
            &[("grant_type", "refresh_token"), ("refresh_token", second["refresh_token"].as_str().unwrap())],
        )
        .await,
    )
    .await;

    let (error, description) = oauth_error(
        idp.token(BLUEBIRD, &[("grant_type", "refresh_token"), ("refresh_token", "made-up")]).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(error, "invalid_grant");
    assert!(description.starts_with("AADSTS700082:"), "{description}");
}

#[tokio::test]
async fn consent_can_be_revoked_and_granted_again() {
    let idp = start().await;
    let delta = tenant_id_for_domain(DELTA).unwrap();
    let body = tokens(idp.password_grant(DELTA, &user("backup.admin", DELTA), DEMO_IDP_PASSWORD).await).await;
    let refresh = [("grant_type", "refresh_token"), ("refresh_token", body["refresh_token"].as_str().unwrap())];
    tokens(idp.token(DELTA, &refresh).await).await;

    assert!(idp::revoke_consent(delta));
    assert!(!idp::consent_granted(delta));
    let (error, description) = oauth_error(idp.token(DELTA, &refresh).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(error, "invalid_grant");
    assert!(description.starts_with("AADSTS65001:"), "{description}");
    assert_eq!(idp.organization(body["access_token"].as_str().unwrap()).await.status(), StatusCode::UNAUTHORIZED);
    let (_, description) =
        oauth_error(idp.password_grant(DELTA, &user("backup.admin", DELTA), DEMO_IDP_PASSWORD).await, StatusCode::BAD_REQUEST)
            .await;
    assert!(description.starts_with("AADSTS65001:"), "{description}");

    // A global administrator's consent mends it.
    let (verifier, challenge) = pkce();
    let code = idp.code_for(DELTA, &user("global.admin", DELTA), &challenge).await;
    assert!(idp::consent_granted(delta));
    let redirect_uri = idp.redirect_uri();
    let exchange = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect_uri.as_str()),
        ("code_verifier", verifier.as_str()),
    ];
    tokens(idp.token(DELTA, &exchange).await).await;
    tokens(idp.token(DELTA, &refresh).await).await;
    assert!(!idp::revoke_consent("northwind.example"));
}
