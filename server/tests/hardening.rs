//! The locked-down page and the safe defaults: security headers and caching on every answer,
//! sign-in throttled per address and per client, sign-out ending every session of the user,
//! a bare server with no account, and no demo secret with a real identity provider.

mod common;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::*;
use portal_api::demo::{DEMO_PASSWORD, DEMO_SIGN_INS};
use portal_api::Role;
use portal_server::config::Config;
use serde_json::json;

/// A page edited by hand may start the wasm inline (the build's starts it from a file).
const SCRIPT: &str = "import init from '/pkg/0123456789abcdef/portal.js';await init();";

#[tokio::test]
async fn every_answer_carries_the_policy_and_caching_that_suits_it() {
    let dir = tempfile::tempdir().unwrap();
    let dist = dir.path().join("dist");
    std::fs::create_dir_all(&dist).unwrap();
    std::fs::write(
        dist.join("index.html"),
        format!("<!DOCTYPE html><title>Backup Portal</title><script type=\"module\">{SCRIPT}</script>"),
    )
    .unwrap();
    std::fs::create_dir_all(dist.join("pkg/0123456789abcdef")).unwrap();
    std::fs::write(dist.join("pkg/0123456789abcdef/portal_bg.wasm"), b"\0asm").unwrap();
    let app = test_app_with(|config| config.dist = dist).await;

    let page = app.send(Request::get("/status/backups").body(Body::empty()).unwrap()).await;
    assert_eq!(page.status(), StatusCode::OK);
    let policy = page.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap().to_owned();
    assert!(policy.contains(&portal_server::headers::csp_hash(SCRIPT)), "the inline script by its hash: {policy}");
    for needed in [
        "default-src 'self'",
        "script-src 'self' 'wasm-unsafe-eval'",
        "frame-ancestors 'none'",
        "object-src 'none'",
        "base-uri 'none'",
    ] {
        assert!(policy.contains(needed), "{needed} in {policy}");
    }
    assert!(!policy.contains("unsafe-inline") && !policy.contains(" 'unsafe-eval'"), "{policy}");
    assert_eq!(page.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(page.headers()[header::REFERRER_POLICY], "no-referrer");
    assert_eq!(page.headers()[header::CACHE_CONTROL], "no-cache", "index.html is checked each time");
    assert!(page.headers().get(header::STRICT_TRANSPORT_SECURITY).is_none(), "not over HTTPS");

    let wasm = app.send(Request::get("/pkg/0123456789abcdef/portal_bg.wasm").body(Body::empty()).unwrap()).await;
    assert_eq!(wasm.headers()[header::CACHE_CONTROL], "public, max-age=31536000, immutable");
    // A build's file that is not there is not found (never index.html in its place), and not kept.
    let gone = app.send(Request::get("/pkg/0123456789abcdef/chunk_1.wasm").body(Body::empty()).unwrap()).await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    assert_ne!(gone.headers()[header::CACHE_CONTROL], "public, max-age=31536000, immutable");

    // The session carries the CSRF token: never stored by a browser or a proxy.
    let client = app.sign_in(Role::EndUser).await;
    let session = app.get_as(&client, "/api/session").await;
    assert_eq!(session.headers()[header::CACHE_CONTROL], "no-store");
    assert_eq!(session.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    let problem_answer = app.send(Request::get("/api/nothing-here").body(Body::empty()).unwrap()).await;
    assert_eq!(problem_answer.headers()[header::CACHE_CONTROL], "no-store");

    // The server's own pages keep their own, stricter policy: no inline style but theirs.
    let docs = app.send(Request::get("/problems").body(Body::empty()).unwrap()).await;
    let docs_policy = docs.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(docs_policy.starts_with("default-src 'none'; style-src 'sha256-"), "{docs_policy}");
    assert!(docs_policy.contains("frame-ancestors 'none'"), "{docs_policy}");
}

#[tokio::test]
async fn over_https_browsers_keep_to_it_and_the_cookie_is_secure() {
    let app = test_app_with(|config| config.public_url = Some("https://backup.example.com".into())).await;
    let mut request = json_request(Method::POST, "/api/session", json!({"email": DEMO_SIGN_INS[0].1, "password": DEMO_PASSWORD}));
    request.headers_mut().insert(header::ORIGIN, "https://backup.example.com".parse().unwrap());
    request.headers_mut().insert(header::HOST, "10.1.2.3:8080".parse().unwrap());
    let response = app.send(request).await;
    assert_eq!(response.status(), StatusCode::OK, "behind a proxy: the Origin is the public URL's, the Host is not");
    assert!(response.headers()[header::SET_COOKIE].to_str().unwrap().ends_with("; Secure"));
    assert!(response.headers()[header::STRICT_TRANSPORT_SECURITY].to_str().unwrap().starts_with("max-age="));
}

fn wrong_password(email: &str) -> Request<Body> {
    json_request(Method::POST, "/api/session", json!({"email": email, "password": "not the password"}))
}

#[tokio::test]
async fn wrong_passwords_for_one_address_are_throttled_whether_it_exists_or_not() {
    let app = test_app().await;
    for email in [DEMO_SIGN_INS[1].1, "nobody-at-all@acme-legal.example"] {
        for _ in 0..5 {
            problem(app.send(wrong_password(email)).await, StatusCode::UNAUTHORIZED).await;
        }
        let response = app.send(wrong_password(email)).await;
        let wait: u64 = response.headers()[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
        assert!((1..=900).contains(&wait), "{wait}");
        let p = problem(response, StatusCode::TOO_MANY_REQUESTS).await;
        assert!(p.detail.unwrap().contains("too many wrong passwords for this email address"));
    }
    // Even the right password waits: otherwise the limit would only slow a guesser down.
    let right = json_request(Method::POST, "/api/session", json!({"email": DEMO_SIGN_INS[1].1, "password": DEMO_PASSWORD}));
    problem(app.send(right).await, StatusCode::TOO_MANY_REQUESTS).await;
    // Another address is not held up by it.
    app.sign_in(Role::Reseller).await;
}

#[tokio::test]
async fn guesses_sent_all_at_once_get_no_more_tries_than_one_after_another() {
    let app = std::sync::Arc::new(test_app().await);
    let mut guesses = Vec::new();
    for _ in 0..20 {
        let app = app.clone();
        guesses.push(tokio::spawn(async move { app.send(wrong_password(DEMO_SIGN_INS[0].1)).await.status() }));
    }
    let mut checked = 0;
    for guess in guesses {
        match guess.await.unwrap() {
            StatusCode::UNAUTHORIZED => checked += 1,
            StatusCode::TOO_MANY_REQUESTS => {}
            other => panic!("{other}"),
        }
    }
    assert_eq!(checked, 5, "each guess is counted before its password is checked");
}

#[tokio::test]
async fn one_client_guessing_across_many_addresses_is_throttled_too() {
    let app = served_test_app(|config| config.sign_in_failures_per_client = 3).await;
    let base = app.state.config.public_url();
    let http = reqwest::Client::new();
    let mut statuses = Vec::new();
    for i in 0..4 {
        let body = json!({"email": format!("guess-{i}@example.com"), "password": "x"});
        statuses.push(http.post(format!("{base}/api/session")).json(&body).send().await.unwrap().status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 401, 429], "counted by the connection's address");
}

#[tokio::test]
async fn signing_out_ends_every_session_of_the_user() {
    let app = test_app().await;
    let laptop = app.sign_in(Role::OrgAdmin).await;
    let phone = app.sign_in(Role::OrgAdmin).await;
    let someone_else = app.sign_in(Role::Reseller).await;
    assert_eq!(app.get_as(&phone, "/api/session").await.status(), StatusCode::OK);
    assert_eq!(app.send_as(&laptop, Method::DELETE, "/api/session", None).await.status(), StatusCode::NO_CONTENT);
    problem(app.get_as(&phone, "/api/session").await, StatusCode::UNAUTHORIZED).await;
    assert_eq!(app.get_as(&someone_else, "/api/session").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn live_updates_end_when_the_session_is_signed_out_elsewhere() {
    let app = test_app().await;
    let phone = app.sign_in(Role::OrgAdmin).await;
    let laptop = app.sign_in(Role::OrgAdmin).await;
    let stream = app.get_as(&phone, "/api/events").await;
    assert_eq!(stream.status(), StatusCode::OK);
    assert_eq!(stream.headers()[header::CACHE_CONTROL], "no-store");
    assert_eq!(app.send_as(&laptop, Method::DELETE, "/api/session", None).await.status(), StatusCode::NO_CONTENT);
    // The stream would otherwise run for a minute; it ends within the session check's period.
    let body = tokio::time::timeout(std::time::Duration::from_secs(20), axum::body::to_bytes(stream.into_body(), 1 << 20)).await;
    assert!(body.expect("the stream ended").is_ok());
}

#[tokio::test]
async fn adding_a_mailbox_does_not_tell_which_addresses_other_organisations_back_up() {
    let app = test_app().await;
    let other = app.sign_in_as("reseller@harbour.example").await;
    let theirs: portal_api::Page<portal_api::BackupRow> = body_json(app.get_as(&other, "/api/backups").await).await;
    let address = &theirs.items[0].mailbox_email;
    let admin = app.sign_in(Role::OrgAdmin).await;
    let organisation = admin_organisation(&app, &admin).await;
    let uri = format!("/api/organisations/{organisation}/mailboxes");
    for email in [address.as_str(), "never-backed-up@delta-foods.example"] {
        let body = json!({"email": email, "host": "127.0.0.1", "port": 0, "security": "none", "username": "u", "password": "p"});
        let p = problem(app.send_as(&admin, Method::POST, &uri, Some(body)).await, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(p.field_error("email"), None, "the same answer for {email}: {p:?}");
    }
}

#[tokio::test]
async fn a_consent_callback_with_someone_elses_state_fixes_nothing_and_names_nothing() {
    let app = test_app().await;
    let admin = app.sign_in(Role::OrgAdmin).await;
    let organisation = admin_organisation(&app, &admin).await;
    let uri = format!("/api/organisations/{organisation}/credentials/main-app/consent");
    let start: portal_api::ConsentStart = body_json(app.send_as(&admin, Method::POST, &uri, None).await).await;
    let state = start.authorize_url.split("state=").nth(1).unwrap().split('&').next().unwrap().to_owned();
    // The reseller also administers the organisation, but did not start this flow.
    let reseller = app.sign_in(Role::Reseller).await;
    let landed = app.get_as(&reseller, &format!("/api/oauth/consent/callback?state={state}&code=stolen")).await;
    assert_eq!(landed.headers()[header::LOCATION], "/settings/credentials?consent=state_mismatch");
}

#[tokio::test]
async fn a_mail_server_on_this_machine_or_a_private_network_is_refused_before_any_connection() {
    let app = test_app_with(|config| config.allow_private_targets = false).await;
    let admin = app.sign_in(Role::OrgAdmin).await;
    let organisation = admin_organisation(&app, &admin).await;
    // Something listening where the host points: it must never be connected to.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    for host in ["127.0.0.1", "localhost"] {
        let body = json!({"email": "x@acme-legal.example", "host": host, "port": port, "security": "plain", "username": "u", "password": "p"});
        for uri in
            [format!("/api/organisations/{organisation}/mailboxes/test"), format!("/api/organisations/{organisation}/mailboxes")]
        {
            let p = problem(app.send_as(&admin, Method::POST, &uri, Some(body.clone())).await, StatusCode::UNPROCESSABLE_ENTITY)
                .await;
            assert!(p.field_error("host").is_some_and(|m| m.contains("private network")), "{host}: {p:?}");
        }
    }
    assert!(listener.accept().is_err_and(|e| e.kind() == std::io::ErrorKind::WouldBlock), "nothing connected");
}

async fn admin_organisation(app: &TestApp, admin: &Client) -> i64 {
    let list: Vec<portal_api::OrganisationSummary> = body_json(app.get_as(admin, "/api/organisations").await).await;
    list[0].id
}

#[tokio::test]
async fn a_bare_server_has_no_account_that_signs_in() {
    use clap::Parser;
    let dir = tempfile::tempdir().unwrap();
    let url = database_url(dir.path()).await;
    let config = Config::parse_from(["portal-server", "--database-url", &url, "--data-dir", dir.path().to_str().unwrap()]);
    assert!(!config.seed_demo, "seeding is asked for, never the default");
    let app = portal_server::app(portal_server::prepare(config).await.unwrap());
    let request = json_request(Method::POST, "/api/session", json!({"email": DEMO_SIGN_INS[2].1, "password": DEMO_PASSWORD}));
    let response = tower::ServiceExt::oneshot(app, request).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_real_provider_needs_a_real_secret_and_the_built_in_one_is_not_mounted() {
    use clap::Parser;
    let microsoft = Config::parse_from(["portal-server", "--idp", "microsoft"]);
    assert!(microsoft.check().unwrap_err().contains("client secret"));
    let configured = Config::parse_from(["portal-server", "--idp", "microsoft", "--oauth-client-secret", "s3cret-from-azure"]);
    configured.check().unwrap();
    assert!(Config::parse_from(["portal-server", "--idp", "okta"]).check().is_err());
    assert!(Config::try_parse_from(["portal-server", "--reauth-attempts-per-minute", "0"]).is_err(), "a limit of 0 is refused");

    let discovery = || Request::get("/idp/organizations/v2.0/.well-known/openid-configuration").body(Body::empty()).unwrap();
    let embedded = test_app().await;
    assert_eq!(embedded.send(discovery()).await.status(), StatusCode::OK);
    let app = test_app_with(|config| {
        config.idp = "microsoft".into();
        config.oauth_client_secret = "s3cret-from-azure".into();
    })
    .await;
    let response = app.send(discovery()).await;
    assert_ne!(response.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap()), Some("application/json"));
    let token = json_request(Method::POST, "/idp/organizations/oauth2/v2.0/token", json!({}));
    assert_ne!(app.send(token).await.status(), StatusCode::BAD_REQUEST, "no token endpoint of ours answers");
}
