//! Two-factor sign-in, sign-in rules and one's sessions, through the API as the portal uses it:
//! authenticator codes accepted once and only within one step either side, recovery codes once,
//! wrong codes throttled like wrong passwords, a user whose organisation requires a second
//! factor reaching nothing but enrolment until they have one, and sessions ended one by one,
//! all but this one, and by a password change.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use common::*;
use portal_api::demo::{DEMO_PASSWORD, DEMO_SPARE_END_USER, DEMO_TWO_FACTOR_SIGN_INS};
use portal_api::{
    ActivityEntry, Page, RecoveryCodes, Role, SecondFactorChallenge, SessionInfo, SessionRow, SignInPolicy, TotpEnrolment,
    TwoFactorStatus,
};
use serde_json::{json, Value};

fn now_step() -> u64 {
    portal_totp::step_at(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs())
}

/// Waits for a fresh step when this one is about to end, so that what a test sends as "now"
/// is still now when the server checks it.
async fn early_in_a_step() -> u64 {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    if secs % portal_totp::STEP_SECS >= portal_totp::STEP_SECS - 5 {
        tokio::time::sleep(std::time::Duration::from_secs(portal_totp::STEP_SECS - secs % portal_totp::STEP_SECS + 1)).await;
    }
    now_step()
}

fn code(secret: &[u8], step: u64) -> String {
    portal_totp::format(portal_totp::code(secret, step))
}


/// The password step: 202 and the challenge cookie for an account with a second factor.
async fn password_step(app: &TestApp, email: &str, password: &str) -> String {
    let response = app.send(json_request(Method::POST, "/api/session", json!({"email": email, "password": password}))).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED, "a second factor is asked for");
    let challenge = set_cookie(&response, "portal_challenge").expect("the challenge cookie");
    let body: SecondFactorChallenge = body_json(response).await;
    assert!(body.expires_in_secs > 0 && !body.methods.is_empty());
    challenge
}

async fn answer(app: &TestApp, challenge: &str, code: &str) -> axum::response::Response {
    let request = Request::post("/api/session/second-factor")
        .header(header::COOKIE, challenge)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(json!({ "code": code }).to_string()))
        .unwrap();
    app.send(request).await
}

/// Signs in through both steps; the client of the new session.
async fn sign_in_with_code(app: &TestApp, email: &str, secret: &[u8], step: u64) -> Client {
    let challenge = password_step(app, email, DEMO_PASSWORD).await;
    let response = answer(app, &challenge, &code(secret, step)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = set_cookie(&response, "portal_session").expect("a session cookie");
    let session: SessionInfo = body_json(response).await;
    Client { cookie, session }
}

async fn enrol(app: &TestApp, client: &Client) -> (Vec<u8>, Vec<String>) {
    let response = app.send_as(client, Method::POST, "/api/account/two-factor/totp", None).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let enrolment: TotpEnrolment = body_json(response).await;
    assert!(enrolment.qr_svg.starts_with("<svg") && enrolment.otpauth_uri.contains(&enrolment.secret));
    let secret = portal_totp::base32_decode(&enrolment.secret).unwrap();
    let step = early_in_a_step().await;
    let confirm = |code: String| app.send_as(client, Method::POST, "/api/account/two-factor/totp/confirm", Some(json!({ "code": code })));
    let wrong = problem(confirm(code(&secret, step + 5)).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(wrong.errors[0].field, "code");
    let response = confirm(code(&secret, step)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let codes: RecoveryCodes = body_json(response).await;
    (secret, codes.codes)
}

#[tokio::test]
async fn authenticator_codes_are_accepted_once_within_a_step_either_side_and_recovery_codes_once() {
    let app = test_app().await;
    let bruno = app.sign_in_as(DEMO_SPARE_END_USER).await;
    let elsewhere = app.sign_in_as(DEMO_SPARE_END_USER).await;
    let (secret, recovery) = enrol(&app, &bruno).await;
    assert_eq!(recovery.len(), 10);
    // A session that never gave the new factor ends with the enrolment.
    assert_eq!(app.get_as(&elsewhere, "/api/session").await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(recovery.iter().collect::<std::collections::BTreeSet<_>>().len(), 10, "all different");
    let status: TwoFactorStatus = body_json(app.get_as(&bruno, "/api/account/two-factor").await).await;
    assert!(status.totp && status.totp_enrolled_at.is_some() && !status.required);
    assert_eq!(status.recovery_codes_left, 10);

    // The code that confirmed the app was spent by it; the next step's is good (a phone ahead
    // by a little), and once only; older ones and those further off never.
    let step = early_in_a_step().await;
    let challenge = password_step(&app, DEMO_SPARE_END_USER, DEMO_PASSWORD).await;
    for (offered, why) in [(step + 3, "three steps ahead"), (step - 2, "two steps old")] {
        let refused = problem(answer(&app, &challenge, &code(&secret, offered)).await, StatusCode::UNAUTHORIZED).await;
        assert!(refused.detail.as_deref().unwrap_or("").contains("not right"), "{why}: {:?}", refused.detail);
    }
    let response = answer(&app, &challenge, &code(&secret, step + 1)).await;
    assert_eq!(response.status(), StatusCode::OK, "one step ahead");
    let session = set_cookie(&response, "portal_session").unwrap();
    let me = app.send(Request::get("/api/session").header(header::COOKIE, &session).body(Body::empty()).unwrap()).await;
    assert_eq!(me.status(), StatusCode::OK);
    // The challenge was used up with it.
    problem(answer(&app, &challenge, &recovery[0]).await, StatusCode::UNAUTHORIZED).await;

    let challenge = password_step(&app, DEMO_SPARE_END_USER, DEMO_PASSWORD).await;
    for (offered, why) in [(step + 1, "used already"), (step, "older than the one used")] {
        let refused = problem(answer(&app, &challenge, &code(&secret, offered)).await, StatusCode::UNAUTHORIZED).await;
        assert!(refused.detail.as_deref().unwrap_or("").contains("used already"), "{why}: {:?}", refused.detail);
    }
    // A recovery code, typed in capitals with a space: good once.
    let typed = recovery[3].to_uppercase().replace('-', " ");
    assert_eq!(answer(&app, &challenge, &typed).await.status(), StatusCode::OK);
    let challenge = password_step(&app, DEMO_SPARE_END_USER, DEMO_PASSWORD).await;
    problem(answer(&app, &challenge, &recovery[3]).await, StatusCode::UNAUTHORIZED).await;
    let status: TwoFactorStatus = body_json(app.get_as(&bruno, "/api/account/two-factor").await).await;
    assert_eq!(status.recovery_codes_left, 9);

    // No cookie, or an empty code: said so.
    problem(answer(&app, "portal_challenge=made-up", &recovery[4]).await, StatusCode::UNAUTHORIZED).await;
    let empty = problem(answer(&app, &challenge, " ").await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(empty.errors[0].field, "code");

    // New recovery codes replace the old; removing the app takes a code and ends the others.
    let renew = |code: &str| app.send_as(&bruno, Method::POST, "/api/account/two-factor/recovery-codes", Some(json!({ "code": code })));
    problem(renew("000000").await, StatusCode::UNPROCESSABLE_ENTITY).await;
    let renewed: RecoveryCodes = body_json(renew(&recovery[5]).await).await;
    let challenge = password_step(&app, DEMO_SPARE_END_USER, DEMO_PASSWORD).await;
    problem(answer(&app, &challenge, &recovery[6]).await, StatusCode::UNAUTHORIZED).await;
    let remove = app.send_as(&bruno, Method::POST, "/api/account/two-factor/totp/remove", Some(json!({ "code": renewed.codes[0] })));
    assert_eq!(remove.await.status(), StatusCode::NO_CONTENT);
    let other = app.send(Request::get("/api/session").header(header::COOKIE, &session).body(Body::empty()).unwrap()).await;
    assert_eq!(other.status(), StatusCode::UNAUTHORIZED, "the other session ended with the removal");
    assert_eq!(app.get_as(&bruno, "/api/session").await.status(), StatusCode::OK, "this one goes on");
    // And the password alone signs in again.
    app.sign_in_as(DEMO_SPARE_END_USER).await;
}

#[tokio::test]
async fn wrong_codes_are_throttled_per_account_like_wrong_passwords() {
    let app = test_app_with(|config| config.sign_in_failures_per_address = 3).await;
    let (_, email, _) = DEMO_TWO_FACTOR_SIGN_INS[0];
    let secret = portal_totp::demo_secret(email);
    let step = early_in_a_step().await;
    let challenge = password_step(&app, email, DEMO_PASSWORD).await;
    for _ in 0..3 {
        problem(answer(&app, &challenge, &code(&secret, step + 4)).await, StatusCode::UNAUTHORIZED).await;
    }
    // Past the limit even the right code waits: guessing costs time, not just tries.
    let response = answer(&app, &challenge, &code(&secret, step)).await;
    let retry_after: u64 = response.headers()[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!(retry_after > 0);
    problem(response, StatusCode::TOO_MANY_REQUESTS).await;
    // A new challenge (the password again) does not start the count afresh.
    let again = password_step(&app, email, DEMO_PASSWORD).await;
    problem(answer(&app, &again, &code(&secret, step)).await, StatusCode::TOO_MANY_REQUESTS).await;

    // Each wrong code is in the organisation's activity log, from the account.
    let admin = app.sign_in(Role::OrgAdmin).await;
    let log: Page<ActivityEntry> = body_json(app.get_as(&admin, "/api/activity?per_page=100").await).await;
    let failed = log.items.iter().filter(|e| e.action == portal_api::ActivityAction::SignInFailed && e.actor == email).count();
    assert_eq!(failed, 3, "{:?}", log.items.iter().map(|e| (&e.actor, e.action)).collect::<Vec<_>>());
}

/// Every operation of the API document, with made-up IDs, as `client` sends it.
async fn put(app: &TestApp, client: &Client, uri: &str, on: bool) -> axum::response::Response {
    app.send_as(client, Method::PUT, uri, Some(json!({ "require_two_factor": on }))).await
}

async fn every_operation(app: &TestApp, client: Option<&Client>) -> Vec<(String, String, StatusCode)> {
    let document: Value = body_json(app.send(Request::get("/api/openapi.json").body(Body::empty()).unwrap()).await).await;
    let mut answers = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let uri: String = path.split('/').map(|part| if part.starts_with('{') { "1" } else { part }).collect::<Vec<_>>().join("/");
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            if method == Method::DELETE && path == "/api/session" {
                continue; // signing out: the test goes on with this session
            }
            let body = (method != Method::GET && method != Method::DELETE).then(|| json!({}));
            let status = match client {
                Some(client) => app.send_as(client, method.clone(), &uri, body).await.status(),
                None => {
                    let request = Request::builder().method(method.clone()).uri(&uri).header(header::CONTENT_TYPE, "application/json");
                    app.send(request.body(Body::from(body.map(|b| b.to_string()).unwrap_or_default())).unwrap()).await.status()
                }
            };
            answers.push((method.to_string(), path.clone(), status));
        }
    }
    answers
}

#[tokio::test]
async fn a_user_whose_organisation_requires_a_second_factor_reaches_nothing_before_enrolling() {
    let app = test_app().await;
    let sam = app.sign_in(Role::OrgAdmin).await;
    let token_body = json!({"name": "PSA", "access": "read", "expires_in_days": 1});
    let token: portal_api::CreatedApiToken =
        body_json(app.send_as(&sam, Method::POST, "/api/tokens", Some(token_body)).await).await;
    let with_token = |uri: &str| {
        let request = Request::get(uri).header(header::AUTHORIZATION, format!("Bearer {}", token.token));
        app.send(request.body(Body::empty()).unwrap())
    };
    assert_eq!(with_token("/api/backups").await.status(), StatusCode::OK);
    // Turning it on without one's own second factor would lock oneself out: refused.
    let refused = problem(put(&app, &sam, "/api/organisations/1/sign-in-policy", true).await, StatusCode::CONFLICT).await;
    assert!(refused.detail.as_deref().unwrap_or("").contains("your own second factor"), "{:?}", refused.detail);

    // Northwind's reseller with an authenticator requires it of Acme Legal.
    let (_, reseller_email, _) = DEMO_TWO_FACTOR_SIGN_INS[2];
    let reseller = sign_in_with_code(&app, reseller_email, &portal_totp::demo_secret(reseller_email), early_in_a_step().await).await;
    let policy: SignInPolicy = body_json(put(&app, &reseller, "/api/organisations/1/sign-in-policy", true).await).await;
    assert!(policy.require_two_factor && !policy.required_by_reseller);

    // Sam's session from before: at once, only who he is, signing out and enrolling answer.
    let me: SessionInfo = body_json(app.get_as(&sam, "/api/session").await).await;
    assert!(me.must_enrol_two_factor);
    let refused = problem(app.get_as(&sam, "/api/backups").await, StatusCode::FORBIDDEN).await;
    assert!(refused.detail.as_deref().unwrap_or("").contains("Account › Security"), "{:?}", refused.detail);
    // His API token acts as he does: refused too, until he has a second factor.
    let refused = problem(with_token("/api/backups").await, StatusCode::FORBIDDEN).await;
    assert!(refused.detail.as_deref().unwrap_or("").contains("two-factor"), "{:?}", refused.detail);
    let anonymous = every_operation(&app, None).await;
    let answers = every_operation(&app, Some(&sam)).await;
    let allowed = [
        ("GET", "/api/session"),
        ("GET", "/api/account/two-factor"),
        ("GET", "/api/account/sessions"),
        ("POST", "/api/account/two-factor/totp"),
        ("POST", "/api/account/two-factor/totp/confirm"),
        ("GET", "/api/account/passkeys"),
        ("POST", "/api/account/passkeys/options"),
        ("POST", "/api/account/passkeys"),
    ];
    let mut wrong = Vec::new();
    for ((method, path, status), (_, _, without_session)) in answers.iter().zip(&anonymous) {
        // The second step of signing in answers its challenge cookie, not a session.
        let public = *without_session != StatusCode::UNAUTHORIZED || path.starts_with("/api/session/second-factor");
        let may = allowed.contains(&(method.as_str(), path.as_str()));
        if !public && !may && *status != StatusCode::FORBIDDEN || may && matches!(status.as_u16(), 401 | 403) {
            wrong.push(format!("{method} {path}: {status}"));
        }
    }
    assert!(wrong.is_empty(), "while a second factor must be enrolled:\n{}", wrong.join("\n"));

    // An end user of the organisation signing in now is told the same; enrolling lets them in.
    let bruno = app.sign_in_as(DEMO_SPARE_END_USER).await;
    assert!(bruno.session.must_enrol_two_factor);
    problem(app.get_as(&bruno, "/api/dashboard").await, StatusCode::FORBIDDEN).await;
    let status: TwoFactorStatus = body_json(app.get_as(&bruno, "/api/account/two-factor").await).await;
    assert!(status.required && !status.totp);
    enrol(&app, &bruno).await;
    assert_eq!(app.get_as(&bruno, "/api/dashboard").await.status(), StatusCode::OK);
    let me: SessionInfo = body_json(app.get_as(&bruno, "/api/session").await).await;
    assert!(!me.must_enrol_two_factor);

    // A rule of the reseller covers its organisations and is shown as theirs.
    put(&app, &reseller, "/api/organisations/1/sign-in-policy", false).await;
    let response = put(&app, &reseller, "/api/reseller/sign-in-policy", true).await;
    assert_eq!(response.status(), StatusCode::OK);
    let policy: SignInPolicy = body_json(app.get_as(&reseller, "/api/organisations/1/sign-in-policy").await).await;
    assert!(policy.require_two_factor && policy.required_by_reseller);
    assert_eq!(app.get_as(&sam, "/api/backups").await.status(), StatusCode::FORBIDDEN);
    // Another reseller's organisations are not touched.
    let hal = app.sign_in_as("reseller@harbour.example").await;
    assert!(!hal.session.must_enrol_two_factor);
    // An org admin cannot set a reseller's rule.
    problem(put(&app, &sam, "/api/reseller/sign-in-policy", false).await, StatusCode::FORBIDDEN).await;
    put(&app, &reseller, "/api/reseller/sign-in-policy", false).await;
    assert_eq!(app.get_as(&sam, "/api/backups").await.status(), StatusCode::OK);

    let log: Page<ActivityEntry> = body_json(app.get_as(&sam, "/api/activity?per_page=100").await).await;
    let actions: Vec<_> = log.items.iter().map(|e| e.action).collect();
    for action in [portal_api::ActivityAction::SignInPolicyChanged, portal_api::ActivityAction::TwoFactorEnrolled] {
        assert!(actions.contains(&action), "{action:?} in {actions:?}");
    }
}

#[tokio::test]
async fn sessions_are_listed_and_ended_one_by_one_all_others_or_by_a_new_password() {
    let app = test_app().await;
    let sign_in = || async {
        let request = Request::post("/api/session")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::USER_AGENT, "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0")
            .body(Body::from(json!({"email": DEMO_SPARE_END_USER, "password": DEMO_PASSWORD}).to_string()))
            .unwrap();
        let response = app.send(request).await;
        let cookie = set_cookie(&response, "portal_session").unwrap();
        Client { cookie, session: body_json(response).await }
    };
    let (a, b, c) = (sign_in().await, sign_in().await, sign_in().await);
    let list: Vec<SessionRow> = body_json(app.get_as(&a, "/api/account/sessions").await).await;
    assert_eq!(list.len(), 3);
    assert_eq!(list.iter().filter(|s| s.current).count(), 1);
    assert!(list.iter().all(|s| s.browser == "Firefox on Linux"));
    // The ID names the session; it is not the cookie's secret.
    assert!(list.iter().all(|s| !a.cookie.contains(&s.id) && !b.cookie.contains(&s.id)));

    let current = list.iter().find(|s| s.current).unwrap().id.clone();
    let refused = problem(app.send_as(&a, Method::DELETE, &format!("/api/account/sessions/{current}"), None).await, StatusCode::CONFLICT).await;
    assert!(refused.detail.as_deref().unwrap_or("").contains("sign out"), "{:?}", refused.detail);
    // B's, seen from B: ended from A.
    let list_b: Vec<SessionRow> = body_json(app.get_as(&b, "/api/account/sessions").await).await;
    let b_id = list_b.iter().find(|s| s.current).unwrap().id.clone();
    assert_eq!(app.send_as(&a, Method::DELETE, &format!("/api/account/sessions/{b_id}"), None).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.get_as(&b, "/api/session").await.status(), StatusCode::UNAUTHORIZED);
    problem(app.send_as(&a, Method::DELETE, &format!("/api/account/sessions/{b_id}"), None).await, StatusCode::NOT_FOUND).await;
    // Someone else's session is not found either.
    let alice = app.sign_in(Role::EndUser).await;
    let alices: Vec<SessionRow> = body_json(app.get_as(&alice, "/api/account/sessions").await).await;
    problem(app.send_as(&a, Method::DELETE, &format!("/api/account/sessions/{}", alices[0].id), None).await, StatusCode::NOT_FOUND).await;
    assert_eq!(app.get_as(&alice, "/api/session").await.status(), StatusCode::OK);

    // All but this one.
    let ended: portal_api::SessionsEnded = body_json(app.send_as(&a, Method::POST, "/api/account/sessions/end-others", None).await).await;
    assert_eq!(ended.ended, 1);
    assert_eq!(app.get_as(&c, "/api/session").await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.get_as(&a, "/api/session").await.status(), StatusCode::OK);

    // A new password: the current one must be given, the new one long enough; the others end.
    let d = sign_in().await;
    let change = |current: &str, new: &str| {
        app.send_as(&a, Method::POST, "/api/account/password", Some(json!({"current_password": current, "new_password": new})))
    };
    let short = problem(change(DEMO_PASSWORD, "short").await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(short.errors[0].field, "new_password");
    let wrong = problem(change("not-the-password", "a much longer password").await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(wrong.errors[0].field, "current_password");
    assert_eq!(change(DEMO_PASSWORD, "a much longer password").await.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.get_as(&d, "/api/session").await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.get_as(&a, "/api/session").await.status(), StatusCode::OK);
    let old = app.send(json_request(Method::POST, "/api/session", json!({"email": DEMO_SPARE_END_USER, "password": DEMO_PASSWORD}))).await;
    problem(old, StatusCode::UNAUTHORIZED).await;
    let new = app.send(json_request(Method::POST, "/api/session", json!({"email": DEMO_SPARE_END_USER, "password": "a much longer password"})));
    assert_eq!(new.await.status(), StatusCode::OK);
}
