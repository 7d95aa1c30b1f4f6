//! Sign in with Microsoft (OpenID Connect): through the identity provider built in, over real
//! HTTP, as a person does it; against a stand-in provider on loopback that hands out forged ID
//! tokens (a foreign key's signature, another audience, another issuer, another nonce, another
//! organisation's tenant), each refused; and Enforce SSO, which stops the passwords of an
//! organisation's users but its break-glass admin's.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::response::Response;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use common::*;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use portal_api::demo::{DEMO_BREAK_GLASS_ADMIN, DEMO_PASSWORD, DEMO_SSO_ADMIN};
use portal_api::{Role, SessionInfo, SignInPolicy};
use portal_idp::{tenant_id_for_domain, DEMO_IDP_PASSWORD};
use serde_json::{json, Value};

fn location(response: &Response) -> String {
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "a redirect");
    response.headers()[header::LOCATION].to_str().unwrap().to_owned()
}


fn query_value(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

async fn get(app: &TestApp, uri: &str, cookie: Option<&str>) -> Response {
    let mut request = Request::get(uri);
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    app.send(request.body(Body::empty()).unwrap()).await
}

async fn password_sign_in(app: &TestApp, email: &str) -> Response {
    app.send(json_request(Method::POST, "/api/session", json!({ "email": email, "password": DEMO_PASSWORD }))).await
}

/// "Sign in with Microsoft" through the built-in provider's own page, as `email`: where the
/// portal's callback sends the browser, and the session cookie it set (if any).
async fn through_the_built_in_provider(app: &TestApp, email: &str) -> (String, Option<String>) {
    let (to, session, _) = through_the_built_in_provider_with_challenge(app, email).await;
    (to, session)
}

/// The same, also with the second-factor challenge's cookie it set (if any).
async fn through_the_built_in_provider_with_challenge(app: &TestApp, email: &str) -> (String, Option<String>, Option<String>) {
    let start = get(app, "/api/sso/microsoft", None).await;
    let provider_page = location(&start);
    let sso_cookie = set_cookie(&start, "portal_sso").expect("the sign-in's cookie");
    assert!(provider_page.contains("/idp/organizations/oauth2/v2.0/authorize") && provider_page.contains("nonce="));
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let page = http.get(&provider_page).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Sign in to Backup Portal"), "{page}");
    let form = [
        ("request", hidden_value(&page, "request")),
        ("email", email.to_owned()),
        ("password", DEMO_IDP_PASSWORD.to_owned()),
        ("decision", "approve".to_owned()),
    ];
    let action = provider_page.split('?').next().unwrap();
    let answer = http.post(action).form(&form).send().await.unwrap();
    assert_eq!(answer.status(), reqwest::StatusCode::SEE_OTHER);
    let back = answer.headers()["location"].to_str().unwrap().to_owned();
    let path = back.split_once("://").map(|(_, rest)| &rest[rest.find('/').unwrap()..]).unwrap().to_owned();
    assert!(path.starts_with("/api/sso/microsoft/callback?"), "{path}");
    let callback = get(app, &path, Some(&sso_cookie)).await;
    (location(&callback), set_cookie(&callback, "portal_session"), set_cookie(&callback, "portal_challenge"))
}

#[tokio::test]
async fn a_person_signs_in_with_microsoft_through_the_built_in_provider() {
    let app = served_test_app(|_| {}).await;
    let (to, session) = through_the_built_in_provider(&app, "admin@acme-legal.example").await;
    assert_eq!(to, "/");
    let me: SessionInfo = body_json(get(&app, "/api/session", Some(&session.unwrap())).await).await;
    assert_eq!(me.email, "admin@acme-legal.example");
    assert_eq!(me.role, Role::OrgAdmin);

    // A user with an authenticator gives its code after Microsoft, as after a password.
    let chloe = "chloe.garcia@acme-legal.example";
    let (to, session, challenge) = through_the_built_in_provider_with_challenge(&app, chloe).await;
    assert_eq!((to.as_str(), session), ("/sign-in?sso=second_factor", None));
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let code = portal_totp::format(portal_totp::code(&portal_totp::demo_secret(chloe), portal_totp::step_at(now)));
    let answer = Request::post("/api/session/second-factor")
        .header(header::COOKIE, challenge.expect("the challenge's cookie"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(json!({ "code": code }).to_string()))
        .unwrap();
    let signed_in: SessionInfo = body_json(app.send(answer).await).await;
    assert_eq!(signed_in.email, chloe);

    // A work account the portal has no user for: back to the sign-in page, saying so.
    let (to, session) = through_the_built_in_provider(&app, "global.admin@acme-legal.example").await;
    assert_eq!((to.as_str(), session), ("/sign-in?sso=no_account", None));

    // A callback without the cookie of the browser that began the sign-in finishes nothing.
    let start = get(&app, "/api/sso/microsoft", None).await;
    let state = query_value(&location(&start), "state").unwrap();
    let forged = get(&app, &format!("/api/sso/microsoft/callback?code=x&state={state}"), None).await;
    assert_eq!(location(&forged), "/sign-in?sso=expired");
    // Cancelled at the provider.
    let sso_cookie = set_cookie(&start, "portal_sso").unwrap();
    let denied = get(&app, &format!("/api/sso/microsoft/callback?error=access_denied&state={state}"), Some(&sso_cookie)).await;
    assert_eq!(location(&denied), "/sign-in?sso=cancelled");

    // The sign-in is in the organisation's activity log.
    let sam = app.sign_in(Role::OrgAdmin).await;
    let log: portal_api::Page<portal_api::ActivityEntry> = body_json(app.get_as(&sam, "/api/activity?per_page=50").await).await;
    assert!(log.items.iter().any(|e| e.action == portal_api::ActivityAction::SsoSignIn && e.actor == "admin@acme-legal.example"));
}

#[tokio::test]
async fn enforce_sso_stops_passwords_but_the_break_glass_admins() {
    let app = served_test_app(|_| {}).await;
    // The demo's Cedar Logistics enforces it.
    let refused = problem(password_sign_in(&app, DEMO_SSO_ADMIN).await, StatusCode::FORBIDDEN).await;
    assert!(refused.detail.as_deref().unwrap_or("").contains("Sign in with Microsoft"), "{:?}", refused.detail);
    assert_eq!(password_sign_in(&app, DEMO_BREAK_GLASS_ADMIN).await.status(), StatusCode::OK);
    let (to, session) = through_the_built_in_provider(&app, DEMO_SSO_ADMIN).await;
    assert_eq!((to.as_str(), session.is_some()), ("/", true));
    // A wrong password says only that it is wrong, enforced or not.
    let wrong = json!({ "email": DEMO_SSO_ADMIN, "password": "not it" });
    problem(app.send(json_request(Method::POST, "/api/session", wrong)).await, StatusCode::UNAUTHORIZED).await;

    // Acme's admin turns it on for Acme: a break-glass admin must be named, and be an admin.
    let sam = app.sign_in(Role::OrgAdmin).await;
    let put = |body: Value| app.send_as(&sam, Method::PUT, "/api/organisations/1/sign-in-policy", Some(body));
    let missing = problem(put(json!({"require_two_factor": false, "enforce_sso": true})).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(missing.errors[0].field, "break_glass_email");
    let body = json!({"require_two_factor": false, "enforce_sso": true, "break_glass_email": "alice.archer@acme-legal.example"});
    let not_admin = problem(put(body).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(not_admin.errors[0].field, "break_glass_email");
    let body = json!({"require_two_factor": false, "enforce_sso": true, "break_glass_email": "ADMIN@acme-legal.example"});
    let policy: SignInPolicy = body_json(put(body).await).await;
    assert!(policy.enforce_sso && policy.sso_available);
    assert_eq!(policy.break_glass_email.as_deref(), Some("admin@acme-legal.example"));
    problem(password_sign_in(&app, "alice.archer@acme-legal.example").await, StatusCode::FORBIDDEN).await;
    assert_eq!(password_sign_in(&app, "admin@acme-legal.example").await.status(), StatusCode::OK);
    // Setting only the second factor leaves SSO as it is.
    let policy: SignInPolicy = body_json(put(json!({"require_two_factor": false})).await).await;
    assert!(policy.enforce_sso);
    let policy: SignInPolicy = body_json(put(json!({"require_two_factor": false, "enforce_sso": false})).await).await;
    assert!(!policy.enforce_sso);
    assert_eq!(password_sign_in(&app, "alice.archer@acme-legal.example").await.status(), StatusCode::OK);
    // Resellers set it per organisation, never reseller-wide.
    let nora = app.sign_in(Role::Reseller).await;
    let body = json!({"require_two_factor": false, "enforce_sso": true});
    let refused = app.send_as(&nora, Method::PUT, "/api/reseller/sign-in-policy", Some(body)).await;
    assert_eq!(problem(refused, StatusCode::UNPROCESSABLE_ENTITY).await.errors[0].field, "enforce_sso");
}

/// What the stand-in provider puts into its next ID token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Forgery {
    None,
    ForeignKey,
    OtherAudience,
    OtherIssuer,
    OtherNonce,
    OtherTenant,
}

struct StandIn {
    url: String,
    key: SigningKey,
    forgery: Mutex<Forgery>,
    /// The nonce of the sign-in under way (from the authorization request).
    nonce: Mutex<String>,
}

fn jwk(key: &SigningKey) -> Value {
    let point = key.verifying_key().to_sec1_point(false);
    let bytes = point.as_bytes();
    json!({"kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": "k1",
           "x": URL_SAFE_NO_PAD.encode(&bytes[1..33]), "y": URL_SAFE_NO_PAD.encode(&bytes[33..65])})
}

fn signed(key: &SigningKey, claims: &Value) -> String {
    let header = json!({"typ": "JWT", "alg": "ES256", "kid": "k1"});
    let input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
    let signature: Signature = key.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
}

impl StandIn {
    fn id_token(&self) -> String {
        let forgery = *self.forgery.lock().unwrap();
        let acme = tenant_id_for_domain("acme-legal.example").unwrap();
        let bluebird = tenant_id_for_domain("bluebird-clinics.example").unwrap();
        let tid = if forgery == Forgery::OtherTenant { bluebird } else { acme };
        let issuer_tid = if forgery == Forgery::OtherIssuer { bluebird } else { tid };
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
        let nonce = if forgery == Forgery::OtherNonce { "another".to_owned() } else { self.nonce.lock().unwrap().clone() };
        let claims = json!({
            "iss": format!("{}/{issuer_tid}/v2.0", self.url),
            "aud": if forgery == Forgery::OtherAudience { "another-app" } else { "backup-portal" },
            "sub": "s", "iat": now, "exp": now + 600, "nonce": nonce, "tid": tid,
            "preferred_username": "admin@acme-legal.example",
        });
        let key = if forgery == Forgery::ForeignKey { SigningKey::from_slice(&[7_u8; 32]).unwrap() } else { self.key.clone() };
        signed(&key, &claims)
    }
}

/// A provider on loopback: its keys and its token endpoint (the authorization page is skipped:
/// the test plays the redirect back itself).
async fn stand_in() -> Arc<StandIn> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let provider =
        Arc::new(StandIn { url, key: SigningKey::from_slice(&[3_u8; 32]).unwrap(), forgery: Mutex::new(Forgery::None), nonce: Mutex::default() });
    let keys = provider.clone();
    let tokens = provider.clone();
    let router = axum::Router::new()
        .route("/common/discovery/v2.0/keys", axum::routing::get(move || async move { axum::Json(json!({"keys": [jwk(&keys.key)]})) }))
        .route(
            "/organizations/oauth2/v2.0/token",
            axum::routing::post(move || async move {
                axum::Json(json!({"token_type": "Bearer", "access_token": "a", "expires_in": 3600, "id_token": tokens.id_token()}))
            }),
        );
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    provider
}

#[tokio::test]
async fn id_tokens_with_a_foreign_signature_audience_issuer_nonce_or_tenant_are_refused() {
    let provider = stand_in().await;
    let authority = provider.url.clone();
    let app = test_app_with(move |config| config.idp_authority = Some(authority)).await;
    let attempt = |forgery: Forgery| {
        let app = &app;
        let provider = provider.clone();
        async move {
            *provider.forgery.lock().unwrap() = forgery;
            let start = get(app, "/api/sso/microsoft", None).await;
            let to_provider = location(&start);
            assert!(to_provider.starts_with(&format!("{}/organizations/oauth2/v2.0/authorize?", provider.url)), "{to_provider}");
            for asked in ["code_challenge", "nonce", "state"] {
                assert!(query_value(&to_provider, asked).is_some(), "{asked} in {to_provider}");
            }
            *provider.nonce.lock().unwrap() = query_value(&to_provider, "nonce").unwrap();
            let state = query_value(&to_provider, "state").unwrap();
            let callback =
                get(app, &format!("/api/sso/microsoft/callback?code=c&state={state}"), set_cookie(&start, "portal_sso").as_deref()).await;
            (location(&callback), set_cookie(&callback, "portal_session").is_some())
        }
    };
    assert_eq!(attempt(Forgery::None).await, ("/".to_owned(), true), "the genuine token signs in");
    for forgery in [Forgery::ForeignKey, Forgery::OtherAudience, Forgery::OtherIssuer, Forgery::OtherNonce] {
        assert_eq!(attempt(forgery).await, ("/sign-in?sso=failed".to_owned(), false), "{forgery:?}");
    }
    // Acme's admin's address from Bluebird's tenant is nobody of Bluebird.
    assert_eq!(attempt(Forgery::OtherTenant).await, ("/sign-in?sso=no_account".to_owned(), false));
}
