//! Passkeys and security keys (WebAuthn), through the API as the portal uses it, answered by a
//! small software authenticator (ES256, "none" attestation) in place of a browser: several
//! registered to an account (each excluded from the next registration), used as the second
//! factor after the password and alone where the user allowed it; answers replayed, signed by a
//! key never registered or made for another site, refused; removal ending the user's other
//! sessions; enrolment under a rule that requires a second factor; and Enforce SSO, which a
//! passkey does not get round.

mod common;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::response::Response;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use common::*;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use portal_api::demo::{DEMO_BREAK_GLASS_ADMIN, DEMO_PASSWORD, DEMO_SPARE_END_USER, DEMO_SSO_ADMIN};
use portal_api::{
    ActivityAction, ActivityEntry, Page, PasskeyOptions, PasskeyRegistered, PasskeyRow, Role, SecondFactorChallenge,
    SecondFactorMethod, SessionInfo, SignInPolicy,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

// The little CBOR (RFC 8949) an authenticator writes: unsigned and negative integers, byte and
// text strings, maps.
fn cbor_head(major: u8, n: usize, out: &mut Vec<u8>) {
    let major = major << 5;
    match n {
        0..=23 => out.push(major | n as u8),
        24..=0xff => out.extend([major | 24, n as u8]),
        _ => {
            out.push(major | 25);
            out.extend((n as u16).to_be_bytes());
        }
    }
}

fn cbor_int(i: i64, out: &mut Vec<u8>) {
    if i >= 0 {
        cbor_head(0, i as usize, out);
    } else {
        cbor_head(1, (-1 - i) as usize, out);
    }
}

fn cbor_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    cbor_head(2, bytes.len(), out);
    out.extend(bytes);
}

fn cbor_text(text: &str, out: &mut Vec<u8>) {
    cbor_head(3, text.len(), out);
    out.extend(text.as_bytes());
}

/// An ASN.1 DER INTEGER of a big-endian unsigned number.
fn der_integer(bytes: &[u8]) -> Vec<u8> {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len() - 1);
    let mut value = if bytes[start] & 0x80 != 0 { vec![0] } else { vec![] };
    value.extend(&bytes[start..]);
    [vec![0x02, value.len() as u8], value].concat()
}

/// An ECDSA signature as WebAuthn carries it: DER, SEQUENCE { r, s }.
fn der(signature: &Signature) -> Vec<u8> {
    let bytes = signature.to_bytes();
    let body = [der_integer(&bytes[..32]), der_integer(&bytes[32..])].concat();
    [vec![0x30, body.len() as u8], body].concat()
}

/// A platform authenticator in software: one P-256 key, its credential ID, its counter, and the
/// user handle the relying party gave it.
#[derive(Clone)]
struct Authenticator {
    key: SigningKey,
    credential_id: Vec<u8>,
    counter: u32,
    user_handle: Vec<u8>,
}

const UP: u8 = 0x01; // user present
const UV: u8 = 0x04; // user verified (PIN or biometrics)
const AT: u8 = 0x40; // attested credential data follows

impl Authenticator {
    fn new() -> Authenticator {
        let key = SigningKey::from_slice(&rand::random::<[u8; 32]>()).unwrap();
        Authenticator { key, credential_id: rand::random::<[u8; 16]>().to_vec(), counter: 0, user_handle: Vec::new() }
    }

    /// Another key that claims this one's credential and user: a copy without its private key.
    fn impostor(&self) -> Authenticator {
        Authenticator { credential_id: self.credential_id.clone(), user_handle: self.user_handle.clone(), ..Authenticator::new() }
    }

    fn authenticator_data(&mut self, rp_id: &str, flags: u8) -> Vec<u8> {
        self.counter += 1;
        let mut data = Sha256::digest(rp_id.as_bytes()).to_vec();
        data.push(flags);
        data.extend(self.counter.to_be_bytes());
        if flags & AT != 0 {
            data.extend([0_u8; 16]); // AAGUID
            data.extend((self.credential_id.len() as u16).to_be_bytes());
            data.extend(&self.credential_id);
            let point = self.key.verifying_key().to_sec1_point(false);
            let (x, y) = point.as_bytes()[1..].split_at(32);
            // COSE_Key: kty EC2, alg ES256, crv P-256, x, y.
            cbor_head(5, 5, &mut data);
            for (label, value) in [(1, 2), (3, -7), (-1, 1)] {
                cbor_int(label, &mut data);
                cbor_int(value, &mut data);
            }
            cbor_int(-2, &mut data);
            cbor_bytes(x, &mut data);
            cbor_int(-3, &mut data);
            cbor_bytes(y, &mut data);
        }
        data
    }

    /// `navigator.credentials.create()` answered: `RegistrationResponseJSON`.
    fn create(&mut self, options: &PasskeyOptions) -> Value {
        let public_key = &options.public_key;
        self.user_handle = URL_SAFE_NO_PAD.decode(public_key["user"]["id"].as_str().unwrap()).unwrap();
        let auth_data = self.authenticator_data(public_key["rp"]["id"].as_str().unwrap(), UP | UV | AT);
        let mut attestation = Vec::new();
        cbor_head(5, 3, &mut attestation);
        cbor_text("fmt", &mut attestation);
        cbor_text("none", &mut attestation);
        cbor_text("attStmt", &mut attestation);
        cbor_head(5, 0, &mut attestation);
        cbor_text("authData", &mut attestation);
        cbor_bytes(&auth_data, &mut attestation);
        let client_data = client_data("webauthn.create", options, &options.origin);
        json!({
            "id": b64(&self.credential_id), "rawId": b64(&self.credential_id), "type": "public-key",
            "response": {"clientDataJSON": b64(&client_data), "attestationObject": b64(&attestation), "transports": []},
            "clientExtensionResults": {},
        })
    }

    /// `navigator.credentials.get()` answered in a page at `origin`: `AuthenticationResponseJSON`.
    fn get(&mut self, options: &PasskeyOptions, origin: &str) -> Value {
        let auth_data = self.authenticator_data(options.public_key["rpId"].as_str().unwrap(), UP | UV);
        let client_data = client_data("webauthn.get", options, origin);
        let signed = [auth_data.clone(), Sha256::digest(&client_data).to_vec()].concat();
        let signature: Signature = self.key.sign(&signed);
        json!({
            "id": b64(&self.credential_id), "rawId": b64(&self.credential_id), "type": "public-key",
            "response": {
                "clientDataJSON": b64(&client_data), "authenticatorData": b64(&auth_data),
                "signature": b64(&der(&signature)), "userHandle": b64(&self.user_handle),
            },
            "clientExtensionResults": {},
        })
    }
}

fn client_data(kind: &str, options: &PasskeyOptions, origin: &str) -> Vec<u8> {
    let challenge = &options.public_key["challenge"];
    json!({"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": false}).to_string().into_bytes()
}


/// A POST without a session (the sign-in steps), with `cookie` if given. No `Origin` header.
async fn post(app: &TestApp, uri: &str, cookie: Option<&str>, body: Value) -> Response {
    let mut request = Request::post(uri).header(header::CONTENT_TYPE, "application/json");
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    app.send(request.body(Body::from(body.to_string())).unwrap()).await
}

async fn options_from(response: Response) -> PasskeyOptions {
    assert_eq!(response.status(), StatusCode::OK);
    let options: PasskeyOptions = body_json(response).await;
    assert!(options.origin.starts_with("http://localhost:"), "{}", options.origin);
    options
}

async fn registration_options(app: &TestApp, client: &Client) -> PasskeyOptions {
    options_from(app.send_as(client, Method::POST, "/api/account/passkeys/options", None).await).await
}

async fn add(
    app: &TestApp,
    client: &Client,
    options: &PasskeyOptions,
    name: &str,
    passwordless: bool,
    credential: Value,
) -> Response {
    let body = json!({"ceremony": options.ceremony, "name": name, "passwordless": passwordless, "credential": credential});
    app.send_as(client, Method::POST, "/api/account/passkeys", Some(body)).await
}

/// Registers `authenticator` as a passkey of `client`'s account.
async fn register(
    app: &TestApp,
    client: &Client,
    authenticator: &mut Authenticator,
    name: &str,
    passwordless: bool,
) -> PasskeyRegistered {
    let options = registration_options(app, client).await;
    assert_eq!(options.public_key["rp"]["id"], "localhost");
    assert_eq!(options.public_key["user"]["name"], client.session.email);
    let response = add(app, client, &options, name, passwordless, authenticator.create(&options)).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    body_json(response).await
}

async fn passkeys(app: &TestApp, client: &Client) -> Vec<PasskeyRow> {
    body_json(app.get_as(client, "/api/account/passkeys").await).await
}

/// The password step of an account with a passkey: its challenge cookie.
async fn password_step(app: &TestApp, email: &str) -> String {
    let response = post(app, "/api/session", None, json!({"email": email, "password": DEMO_PASSWORD})).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED, "a second factor is asked for");
    let challenge = set_cookie(&response, "portal_challenge").expect("the challenge cookie");
    let body: SecondFactorChallenge = body_json(response).await;
    assert!(body.methods.contains(&SecondFactorMethod::Passkey), "{:?}", body.methods);
    challenge
}

async fn second_factor_options(app: &TestApp, challenge: &str) -> PasskeyOptions {
    options_from(post(app, "/api/session/second-factor/passkey/options", Some(challenge), json!({})).await).await
}

async fn second_factor(app: &TestApp, challenge: &str, ceremony: &str, credential: Value) -> Response {
    let body = json!({"ceremony": ceremony, "credential": credential});
    post(app, "/api/session/second-factor/passkey", Some(challenge), body).await
}

async fn passwordless_options(app: &TestApp) -> PasskeyOptions {
    options_from(post(app, "/api/session/passkey/options", None, json!({})).await).await
}

async fn passwordless(app: &TestApp, ceremony: &str, credential: Value) -> Response {
    post(app, "/api/session/passkey", None, json!({"ceremony": ceremony, "credential": credential})).await
}

/// A response that began a session: its client, checked to work.
async fn signed_in(app: &TestApp, response: Response, email: &str) -> Client {
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = set_cookie(&response, "portal_session").expect("a session cookie");
    let session: SessionInfo = body_json(response).await;
    assert_eq!(session.email, email);
    let client = Client { cookie, session };
    assert_eq!(app.get_as(&client, "/api/session").await.status(), StatusCode::OK);
    client
}

/// Password, then the passkey: the new session.
async fn sign_in_with_passkey(app: &TestApp, email: &str, authenticator: &mut Authenticator) -> Client {
    let challenge = password_step(app, email).await;
    let options = second_factor_options(app, &challenge).await;
    let response = second_factor(app, &challenge, &options.ceremony, authenticator.get(&options, &options.origin)).await;
    signed_in(app, response, email).await
}

fn credential_ids(list: &Value) -> Vec<String> {
    list.as_array().map_or_else(Vec::new, |items| items.iter().map(|c| c["id"].as_str().unwrap().to_owned()).collect())
}

async fn activity(app: &TestApp, client: &Client, action: ActivityAction, actor: &str) -> Vec<ActivityEntry> {
    let log: Page<ActivityEntry> = body_json(app.get_as(client, "/api/activity?per_page=100").await).await;
    log.items.into_iter().filter(|e| e.action == action && e.actor == actor).collect()
}

#[tokio::test]
async fn passkeys_answer_the_second_factor_once_each_and_only_with_their_own_key() {
    let app = test_app().await;
    let bruno = app.sign_in_as(DEMO_SPARE_END_USER).await;
    let (mut laptop, mut yubikey) = (Authenticator::new(), Authenticator::new());
    let first = register(&app, &bruno, &mut laptop, "Laptop", false).await;
    assert_eq!(first.recovery_codes.as_ref().map(Vec::len), Some(10), "the first second factor brings recovery codes");
    assert!(first.passkey.id.starts_with("pk_") && !first.passkey.passwordless && first.passkey.last_used_at.is_none());

    // The second registration excludes the first key: offered again, it is refused.
    let options = registration_options(&app, &bruno).await;
    assert_eq!(credential_ids(&options.public_key["excludeCredentials"]), [b64(&laptop.credential_id)]);
    let again = add(&app, &bruno, &options, "Laptop again", false, laptop.create(&options)).await;
    assert_eq!(problem(again, StatusCode::UNPROCESSABLE_ENTITY).await.errors[0].field, "credential");
    let second = register(&app, &bruno, &mut yubikey, "YubiKey", false).await;
    assert!(second.recovery_codes.is_none(), "the codes of the first still stand");
    let rows = passkeys(&app, &bruno).await;
    assert_eq!(rows.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["Laptop", "YubiKey"]);
    assert_eq!(rows.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), [first.passkey.id.as_str(), second.passkey.id.as_str()]);

    // The password now asks for a passkey, naming both; the YubiKey's answer signs in.
    let challenge = password_step(&app, DEMO_SPARE_END_USER).await;
    let options = second_factor_options(&app, &challenge).await;
    assert_eq!(options.public_key["userVerification"], "required");
    let mut allowed = credential_ids(&options.public_key["allowCredentials"]);
    allowed.sort();
    let mut expected = vec![b64(&laptop.credential_id), b64(&yubikey.credential_id)];
    expected.sort();
    assert_eq!(allowed, expected);
    let answer = yubikey.get(&options, &options.origin);
    signed_in(&app, second_factor(&app, &challenge, &options.ceremony, answer.clone()).await, DEMO_SPARE_END_USER).await;
    let rows = passkeys(&app, &bruno).await;
    assert!(rows[0].last_used_at.is_none() && rows[1].last_used_at.is_some(), "{rows:?}");
    // Its challenge is spent with it.
    problem(second_factor(&app, &challenge, &options.ceremony, answer.clone()).await, StatusCode::UNAUTHORIZED).await;

    // Replayed after a new password: to its own (spent) ceremony, then to a fresh one.
    let challenge = password_step(&app, DEMO_SPARE_END_USER).await;
    let replay = second_factor(&app, &challenge, &options.ceremony, answer.clone()).await;
    assert_eq!(problem(replay, StatusCode::UNPROCESSABLE_ENTITY).await.errors[0].field, "ceremony");
    let fresh = second_factor_options(&app, &challenge).await;
    problem(second_factor(&app, &challenge, &fresh.ceremony, answer).await, StatusCode::UNAUTHORIZED).await;
    // A key never registered: claiming the laptop's credential, and with a credential of its own.
    let fresh = second_factor_options(&app, &challenge).await;
    let forged = laptop.impostor().get(&fresh, &fresh.origin);
    let refused = problem(second_factor(&app, &challenge, &fresh.ceremony, forged).await, StatusCode::UNAUTHORIZED).await;
    assert!(refused.detail.as_deref().unwrap_or("").contains("did not check out"), "{:?}", refused.detail);
    let fresh = second_factor_options(&app, &challenge).await;
    let stranger = Authenticator::new().get(&fresh, &fresh.origin);
    problem(second_factor(&app, &challenge, &fresh.ceremony, stranger).await, StatusCode::UNAUTHORIZED).await;
    // Refusals do not spend the challenge: the laptop still signs in with it.
    let fresh = second_factor_options(&app, &challenge).await;
    let answer = laptop.get(&fresh, &fresh.origin);
    signed_in(&app, second_factor(&app, &challenge, &fresh.ceremony, answer).await, DEMO_SPARE_END_USER).await;

    // Each refused answer is in the organisation's activity log, from the account.
    let admin = app.sign_in(Role::OrgAdmin).await;
    let failed = activity(&app, &admin, ActivityAction::SignInFailed, DEMO_SPARE_END_USER).await;
    assert_eq!(failed.len(), 3, "{failed:?}");
    assert!(failed.iter().all(|e| e.object.as_deref().unwrap_or("").contains("passkey")), "{failed:?}");
    let used = activity(&app, &admin, ActivityAction::SecondFactorUsed, DEMO_SPARE_END_USER).await;
    assert_eq!(used.len(), 2, "{used:?}");
    assert_eq!(activity(&app, &admin, ActivityAction::PasskeyAdded, DEMO_SPARE_END_USER).await.len(), 2);
}

#[tokio::test]
async fn only_a_passkey_allowed_to_signs_in_without_the_password_and_only_at_the_portals_origin() {
    let app = test_app().await;
    let bruno = app.sign_in_as(DEMO_SPARE_END_USER).await;
    let mut phone = Authenticator::new();
    let registered = register(&app, &bruno, &mut phone, "Phone", false).await;

    // The browser is asked for any passkey of this site, verified by its PIN or biometrics.
    let options = passwordless_options(&app).await;
    assert!(credential_ids(&options.public_key["allowCredentials"]).is_empty(), "{}", options.public_key);
    assert_eq!(options.public_key["userVerification"], "required");
    assert_eq!(options.public_key["rpId"], "localhost");
    let answer = phone.get(&options, &options.origin);
    let refused = problem(passwordless(&app, &options.ceremony, answer).await, StatusCode::UNAUTHORIZED).await;
    assert!(refused.detail.as_deref().unwrap_or("").contains("without the password"), "{:?}", refused.detail);

    // Allowed to: it signs in alone.
    let uri = format!("/api/account/passkeys/{}", registered.passkey.id);
    let row: PasskeyRow = body_json(app.send_as(&bruno, Method::PATCH, &uri, Some(json!({"passwordless": true}))).await).await;
    assert!(row.passwordless && row.name == "Phone");
    let options = passwordless_options(&app).await;
    let answer = phone.get(&options, &options.origin);
    signed_in(&app, passwordless(&app, &options.ceremony, answer.clone()).await, DEMO_SPARE_END_USER).await;
    let admin = app.sign_in(Role::OrgAdmin).await;
    assert_eq!(activity(&app, &admin, ActivityAction::PasskeySignIn, DEMO_SPARE_END_USER).await.len(), 1);
    let replay = problem(passwordless(&app, &options.ceremony, answer).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(replay.errors[0].field, "ceremony");

    // An answer made in a page of another site, or by a copy without the key: refused.
    let options = passwordless_options(&app).await;
    let elsewhere = phone.get(&options, "https://portal.example.net");
    problem(passwordless(&app, &options.ceremony, elsewhere).await, StatusCode::UNAUTHORIZED).await;
    let options = passwordless_options(&app).await;
    let copy = phone.impostor().get(&options, &options.origin);
    problem(passwordless(&app, &options.ceremony, copy).await, StatusCode::UNAUTHORIZED).await;
    // The user handle names the account: another one's is no way in.
    let options = passwordless_options(&app).await;
    let mut lost = phone.impostor();
    lost.key = phone.key.clone();
    lost.user_handle = rand::random::<[u8; 16]>().to_vec();
    problem(passwordless(&app, &options.ceremony, lost.get(&options, &options.origin)).await, StatusCode::UNAUTHORIZED).await;

    // Allowed no more: refused again. Names are checked; others' passkeys are not found.
    let row: PasskeyRow = body_json(app.send_as(&bruno, Method::PATCH, &uri, Some(json!({"passwordless": false}))).await).await;
    assert!(!row.passwordless);
    let options = passwordless_options(&app).await;
    problem(passwordless(&app, &options.ceremony, phone.get(&options, &options.origin)).await, StatusCode::UNAUTHORIZED).await;
    let long = app.send_as(&bruno, Method::PATCH, &uri, Some(json!({"name": "x".repeat(61)}))).await;
    assert_eq!(problem(long, StatusCode::UNPROCESSABLE_ENTITY).await.errors[0].field, "name");
    let alice = app.sign_in(Role::EndUser).await;
    problem(app.send_as(&alice, Method::PATCH, &uri, Some(json!({"passwordless": true}))).await, StatusCode::NOT_FOUND).await;
    assert!(!passkeys(&app, &bruno).await[0].passwordless);
}

#[tokio::test]
async fn a_copy_of_a_key_is_refused_once_the_key_has_signed_in_past_it() {
    let app = test_app().await;
    let here = app.sign_in_as(DEMO_SPARE_END_USER).await;
    let mut laptop = Authenticator::new();
    register(&app, &here, &mut laptop, "Laptop", false).await;
    sign_in_with_passkey(&app, DEMO_SPARE_END_USER, &mut laptop).await;
    // A copy taken now: same key, same counter. A sign-in begun before the key signs in again…
    let mut copy = laptop.clone();
    let challenge = password_step(&app, DEMO_SPARE_END_USER).await;
    let options = second_factor_options(&app, &challenge).await;
    sign_in_with_passkey(&app, DEMO_SPARE_END_USER, &mut laptop).await;
    // …is answered by the copy with a counter above the one that sign-in's options knew, but
    // not above the stored one: refused, and the key's own counter stays.
    let answer = copy.get(&options, &options.origin);
    problem(second_factor(&app, &challenge, &options.ceremony, answer).await, StatusCode::UNAUTHORIZED).await;
    sign_in_with_passkey(&app, DEMO_SPARE_END_USER, &mut laptop).await;
    // And the copy alone, later, the counter far behind: refused too.
    let challenge = password_step(&app, DEMO_SPARE_END_USER).await;
    let options = second_factor_options(&app, &challenge).await;
    let answer = copy.get(&options, &options.origin);
    problem(second_factor(&app, &challenge, &options.ceremony, answer).await, StatusCode::UNAUTHORIZED).await;
}

#[tokio::test]
async fn changing_passkeys_needs_a_recent_sign_in() {
    let app = test_app().await;
    let here = app.sign_in_as(DEMO_SPARE_END_USER).await;
    let mut laptop = Authenticator::new();
    let added = register(&app, &here, &mut laptop, "Laptop", false).await.passkey;
    let uri = format!("/api/account/passkeys/{}", added.id);
    problem(app.send_as(&here, Method::PATCH, &uri, Some(json!({}))).await, StatusCode::UNPROCESSABLE_ENTITY).await;

    // Signed in 11 minutes ago: a session taken from a browser cannot plant or remove a key.
    sqlx::query("UPDATE sessions SET created_at = created_at - 660000").execute(&app.db).await.unwrap();
    problem(app.send_as(&here, Method::POST, "/api/account/passkeys/options", None).await, StatusCode::FORBIDDEN).await;
    let alone = Some(json!({"passwordless": true}));
    let refused = problem(app.send_as(&here, Method::PATCH, &uri, alone.clone()).await, StatusCode::FORBIDDEN).await;
    assert!(refused.detail.as_deref().unwrap_or("").contains("sign in again"), "{:?}", refused.detail);
    problem(app.send_as(&here, Method::DELETE, &uri, None).await, StatusCode::FORBIDDEN).await;
    // A new name, or asking for the password again, is no risk.
    let renamed: PasskeyRow = body_json(app.send_as(&here, Method::PATCH, &uri, Some(json!({"name": "Old laptop"}))).await).await;
    assert_eq!(renamed.name, "Old laptop");
    assert_eq!(passkeys(&app, &here).await.len(), 1);

    // Signed in again: allowed.
    let again = sign_in_with_passkey(&app, DEMO_SPARE_END_USER, &mut laptop).await;
    let allowed: PasskeyRow = body_json(app.send_as(&again, Method::PATCH, &uri, alone).await).await;
    assert!(allowed.passwordless);
    assert_eq!(app.send_as(&again, Method::DELETE, &uri, None).await.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn removing_a_passkey_ends_the_users_other_sessions_but_this_one() {
    let app = test_app().await;
    let here = app.sign_in_as(DEMO_SPARE_END_USER).await;
    let (mut laptop, mut yubikey) = (Authenticator::new(), Authenticator::new());
    let removed = register(&app, &here, &mut laptop, "Laptop", false).await.passkey;
    register(&app, &here, &mut yubikey, "YubiKey", false).await;
    let there = sign_in_with_passkey(&app, DEMO_SPARE_END_USER, &mut laptop).await;
    // And a sign-in waiting for its second factor.
    let waiting = password_step(&app, DEMO_SPARE_END_USER).await;

    let uri = format!("/api/account/passkeys/{}", removed.id);
    let alice = app.sign_in(Role::EndUser).await;
    problem(app.send_as(&alice, Method::DELETE, &uri, None).await, StatusCode::NOT_FOUND).await;
    assert_eq!(app.get_as(&there, "/api/session").await.status(), StatusCode::OK, "someone else's attempt changed nothing");

    assert_eq!(app.send_as(&here, Method::DELETE, &uri, None).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.get_as(&there, "/api/session").await.status(), StatusCode::UNAUTHORIZED, "the other session ended");
    assert_eq!(app.get_as(&here, "/api/session").await.status(), StatusCode::OK, "this one goes on");
    assert_eq!(app.get_as(&alice, "/api/session").await.status(), StatusCode::OK, "another user's are not touched");
    let waited = post(&app, "/api/session/second-factor/passkey/options", Some(&waiting), json!({})).await;
    problem(waited, StatusCode::UNAUTHORIZED).await;
    assert_eq!(passkeys(&app, &here).await.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["YubiKey"]);
    problem(app.send_as(&here, Method::DELETE, &uri, None).await, StatusCode::NOT_FOUND).await;

    // The removed key answers no more; the other still does.
    let challenge = password_step(&app, DEMO_SPARE_END_USER).await;
    let options = second_factor_options(&app, &challenge).await;
    assert_eq!(credential_ids(&options.public_key["allowCredentials"]), [b64(&yubikey.credential_id)]);
    let answer = laptop.get(&options, &options.origin);
    problem(second_factor(&app, &challenge, &options.ceremony, answer).await, StatusCode::UNAUTHORIZED).await;
    sign_in_with_passkey(&app, DEMO_SPARE_END_USER, &mut yubikey).await;
    let admin = app.sign_in(Role::OrgAdmin).await;
    let log = activity(&app, &admin, ActivityAction::PasskeyRemoved, DEMO_SPARE_END_USER).await;
    assert!(log.len() == 1 && log[0].object.as_deref().unwrap_or("").contains("Laptop"), "{log:?}");
}

#[tokio::test]
async fn a_user_who_must_enrol_a_second_factor_may_register_a_passkey_and_is_then_let_in() {
    let app = test_app().await;
    let sam = app.sign_in(Role::OrgAdmin).await;
    let uri = "/api/organisations/1/sign-in-policy";
    let put = |on: bool| app.send_as(&sam, Method::PUT, uri, Some(json!({"require_two_factor": on})));
    // The rule would stop Sam too until he has a second factor of his own: a passkey will do.
    problem(put(true).await, StatusCode::CONFLICT).await;
    register(&app, &sam, &mut Authenticator::new(), "Sam's key", false).await;
    let policy: SignInPolicy = body_json(put(true).await).await;
    assert!(policy.require_two_factor);
    assert_eq!(app.get_as(&sam, "/api/backups").await.status(), StatusCode::OK);

    // Bruno, with only his password, reaches enrolment and nothing else.
    let bruno = app.sign_in_as(DEMO_SPARE_END_USER).await;
    let elsewhere = app.sign_in_as(DEMO_SPARE_END_USER).await;
    assert!(bruno.session.must_enrol_two_factor);
    problem(app.get_as(&bruno, "/api/dashboard").await, StatusCode::FORBIDDEN).await;
    assert!(passkeys(&app, &bruno).await.is_empty());
    let mut laptop = Authenticator::new();
    let registered = register(&app, &bruno, &mut laptop, "Laptop", false).await;
    assert_eq!(registered.recovery_codes.map(|c| c.len()), Some(10));
    // Let in at once.
    assert_eq!(app.get_as(&bruno, "/api/dashboard").await.status(), StatusCode::OK, "let in after registering");
    let me: SessionInfo = body_json(app.get_as(&bruno, "/api/session").await).await;
    assert!(!me.must_enrol_two_factor);
    // The other session never gave the new factor: it ends, as with an authenticator app.
    assert_eq!(app.get_as(&elsewhere, "/api/session").await.status(), StatusCode::UNAUTHORIZED, "the other session ended");
    // From now on the password asks for the passkey.
    let client = sign_in_with_passkey(&app, DEMO_SPARE_END_USER, &mut laptop).await;
    assert!(!client.session.must_enrol_two_factor);
    assert_eq!(app.get_as(&client, "/api/dashboard").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_passkey_does_not_get_round_enforce_sso_but_the_break_glass_admins_does() {
    let app = test_app().await;
    // Cedar Logistics enforces SSO; its break-glass admin lifts it so that its admin (Kofi) can
    // sign in with his password and register a passkey, then enforces it again.
    let glass = app.sign_in_as(DEMO_BREAK_GLASS_ADMIN).await;
    let put = |body: Value| app.send_as(&glass, Method::PUT, "/api/organisations/3/sign-in-policy", Some(body));
    let policy: SignInPolicy = body_json(put(json!({"enforce_sso": false})).await).await;
    assert!(!policy.enforce_sso);
    let kofi = app.sign_in_as(DEMO_SSO_ADMIN).await;
    let (mut kofis, mut glasses) = (Authenticator::new(), Authenticator::new());
    register(&app, &kofi, &mut kofis, "Kofi's key", true).await;
    register(&app, &glass, &mut glasses, "Break-glass key", true).await;
    let enforce = json!({"enforce_sso": true, "break_glass_email": DEMO_BREAK_GLASS_ADMIN});
    let policy: SignInPolicy = body_json(put(enforce).await).await;
    assert!(policy.enforce_sso);

    let options = passwordless_options(&app).await;
    let answer = kofis.get(&options, &options.origin);
    let refused = problem(passwordless(&app, &options.ceremony, answer).await, StatusCode::FORBIDDEN).await;
    assert!(refused.detail.as_deref().unwrap_or("").contains("Microsoft"), "{:?}", refused.detail);
    // Nor with the password and the passkey.
    let password = post(&app, "/api/session", None, json!({"email": DEMO_SSO_ADMIN, "password": DEMO_PASSWORD})).await;
    problem(password, StatusCode::FORBIDDEN).await;
    // The break-glass admin keeps every way in.
    let options = passwordless_options(&app).await;
    let answer = glasses.get(&options, &options.origin);
    let glass_again = signed_in(&app, passwordless(&app, &options.ceremony, answer).await, DEMO_BREAK_GLASS_ADMIN).await;
    let failed = activity(&app, &glass_again, ActivityAction::SignInFailed, DEMO_SSO_ADMIN).await;
    assert!(failed.iter().any(|e| e.object.as_deref().unwrap_or("").contains("passkey")), "{failed:?}");
}
