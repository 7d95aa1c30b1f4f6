//! Webhooks against a receiver written here: deliveries signed as Standard Webhooks says, which
//! a receiver can check (and a tampered or old one fails); only the event types asked for; and
//! one organisation flooding its receivers leaves room for the others.

mod common;

use axum::http::{Method, StatusCode};
use base64::Engine as _;
use common::halo::*;
use common::*;
use hmac::Mac;
use portal_api::Role;
use serde_json::{json, Value};

/// The Standard Webhooks check, as a receiver writes it: the signature over
/// `id.timestamp.body` with the key under `whsec_`, and a timestamp within five minutes.
fn verify(secret: &str, headers: &axum::http::HeaderMap, body: &[u8], now: i64) -> Result<(), &'static str> {
    let id = headers.get("webhook-id").and_then(|v| v.to_str().ok()).ok_or("no id")?;
    let timestamp: i64 = headers.get("webhook-timestamp").and_then(|v| v.to_str().ok()?.parse().ok()).ok_or("no timestamp")?;
    if (now - timestamp).abs() > 300 {
        return Err("too old");
    }
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").ok_or("not a secret")?)
        .map_err(|_| "bad secret")?;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    let expected = format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()));
    let given = headers.get("webhook-signature").and_then(|v| v.to_str().ok()).ok_or("no signature")?;
    given.split(' ').any(|s| s == expected).then_some(()).ok_or("wrong signature")
}

type Received = std::sync::Arc<std::sync::Mutex<Vec<(axum::http::HeaderMap, axum::body::Bytes)>>>;

async fn receiver() -> (Received, String) {
    let received: Received = Default::default();
    let kept = received.clone();
    let router = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let kept = kept.clone();
            async move {
                kept.lock().unwrap().push((headers, body));
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (received, url)
}

#[tokio::test]
async fn webhooks_are_signed_as_standard_webhooks_and_a_tampered_or_old_delivery_fails_the_check() {
    let app = test_app().await;
    let (received, url) = receiver().await;
    let admin = app.sign_in(Role::OrgAdmin).await;
    let organisation = own_organisation(&app, &admin).await;
    let uri = format!("/api/organisations/{organisation}/webhooks");
    let refused = app
        .send_as(
            &admin,
            Method::POST,
            &uri,
            Some(json!({"url": "https://example.com/x", "events": ["backup.error.detected", "nope"]})),
        )
        .await;
    assert!(problem(refused, StatusCode::UNPROCESSABLE_ENTITY).await.field_error("events").unwrap().contains("nope"));
    let created = app
        .send_as(
            &admin,
            Method::POST,
            &uri,
            Some(json!({"url": url, "events": ["backup.error.detected", "backup.error.resolved"]})),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: portal_api::CreatedWebhook = body_json(created).await;
    assert!(created.secret.starts_with("whsec_"));
    let listed: Value = body_json(app.get_as(&admin, &uri).await).await;
    assert!(!listed.to_string().contains(&created.secret), "the secret is shown once");

    let target = failing_mailbox(&app, &admin).await;
    back_up(&app, &admin, target.mailbox_id).await;
    // An event of a type it did not ask for: not sent to it.
    sqlx::query("UPDATE credentials SET expires_at = $1 WHERE organisation_id = $2 AND kind = 'device'")
        .bind(portal_server::db::now_ms() + 5 * 86_400_000)
        .bind(organisation)
        .execute(&app.db)
        .await
        .unwrap();
    sqlx::query("UPDATE credentials SET state = 'working' WHERE organisation_id = $1")
        .bind(organisation)
        .execute(&app.db)
        .await
        .unwrap();
    assert!(app.state.notifier.check_expiring().await.unwrap() >= 1);
    let test = app.send_as(&admin, Method::POST, &format!("{uri}/{}/test", created.webhook.id), None).await;
    assert_eq!(test.status(), StatusCode::ACCEPTED);
    app.state.notifier.run_due().await.unwrap();

    let received = received.lock().unwrap().clone();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let events: Vec<Value> = received.iter().map(|(_, body)| serde_json::from_slice(body).unwrap()).collect();
    let detected = events
        .iter()
        .position(|e| e["type"] == "backup.error.detected" && e["data"]["mailbox"]["email"] == target.mailbox_email.as_str());
    let detected = detected.expect("the backup error was sent");
    assert_eq!(events[detected]["data"]["psa_type"], "The email backup has failed");
    assert!(events[detected]["data"]["link"].as_str().unwrap().starts_with("http"), "an absolute link to the row");
    assert!(events.iter().any(|e| e["type"] == "webhook.test"));
    assert!(!events.iter().any(|e| e["type"] == "credential.expiring"), "only the types it asked for");
    let again = app.send_as(&admin, Method::POST, &format!("{uri}/{}/test", created.webhook.id), None).await;
    assert_eq!(again.status(), StatusCode::ACCEPTED, "the first test was delivered: another may go");
    let (headers, body) = &received[detected];
    assert_eq!(verify(&created.secret, headers, body, now), Ok(()));
    let mut tampered = body.to_vec();
    tampered[10] ^= 1;
    assert_eq!(verify(&created.secret, headers, &tampered, now), Err("wrong signature"));
    assert_eq!(verify(&created.secret, headers, body, now + 600), Err("too old"));
    assert_eq!(verify("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", headers, body, now), Err("wrong signature"));
}

#[tokio::test]
async fn one_organisation_flooding_its_receivers_leaves_room_for_the_others() {
    use portal_server::outbox::{claim_due, record, NewEvent, PER_ORGANISATION};
    let app = test_app().await;
    let reseller = app.sign_in(Role::Reseller).await;
    let organisations: Vec<(i64,)> =
        sqlx::query_as("SELECT id FROM organisations ORDER BY id LIMIT 2").fetch_all(&app.db).await.unwrap();
    let (flooding, quiet) = (organisations[0].0, organisations[1].0);
    for organisation in [flooding, quiet] {
        let uri = format!("/api/organisations/{organisation}/webhooks");
        let made = app.send_as(&reseller, Method::POST, &uri, Some(json!({"url": "https://hooks.example.com/in"}))).await;
        assert_eq!(made.status(), StatusCode::CREATED);
    }
    let event = |organisation: i64, n: usize| NewEvent {
        organisation_id: organisation,
        event_type: portal_api::EventType::DownloadReady,
        subject: format!("job:{n}"),
        mailbox_id: None,
        summary: format!("event {n}"),
        data: json!({}),
        dedupe_key: None,
        only_webhook: None,
    };
    let mut conn = app.db.acquire().await.unwrap();
    for n in 0..30 {
        record(&mut conn, event(flooding, n)).await.unwrap();
    }
    record(&mut conn, event(quiet, 99)).await.unwrap();
    drop(conn);
    let first = claim_due(&app.db, 20, 60_000).await.unwrap();
    let of = |taken: &[portal_server::outbox::DueDelivery], organisation: i64| {
        taken.iter().filter(|d| d.organisation_id == organisation).count() as i64
    };
    assert_eq!(of(&first, flooding), PER_ORGANISATION, "two of the flood, not twenty");
    assert_eq!(of(&first, quiet), 1, "the quiet organisation's goes in the same round");
    // While those two are being sent, no more of the flood is taken, by any instance.
    let second = claim_due(&app.db, 20, 60_000).await.unwrap();
    assert_eq!(of(&second, flooding), 0);
}
