//! API tokens: a token acts as its owner within the owner's scope, limited to its access level;
//! revoked or expired it answers 401 at once; it is never stored in plain. And the activity
//! log: each change leaves one entry with who (person or token), the request ID and the
//! address; who sees which entries.

mod common;

use axum::body::{to_bytes, Body};
use axum::http::{header, Method, Request, StatusCode};
use axum::response::Response;
use common::*;
use portal_api::{ActivityAction, ActivityEntry, ApiToken, BackupRow, CreatedApiToken, JobStatus, Page, Role};
use serde_json::{json, Value};

async fn create_token(app: &TestApp, client: &Client, name: &str, access: &str) -> CreatedApiToken {
    let body = json!({ "name": name, "access": access, "expires_in_days": 30 });
    let response = app.send_as(client, Method::POST, "/api/tokens", Some(body)).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    body_json(response).await
}

/// A request signed with `token` alone: no cookie, no CSRF token.
async fn with_token(app: &TestApp, token: &str, method: Method, uri: &str, body: Option<Value>) -> Response {
    let builder = Request::builder().method(method).uri(uri).header(header::AUTHORIZATION, format!("Bearer {token}"));
    let request = match body {
        Some(body) => builder.header(header::CONTENT_TYPE, "application/json").body(Body::from(body.to_string())),
        None => builder.body(Body::empty()),
    };
    app.send(request.unwrap()).await
}

/// An admin of Bluebird Clinics (the demo has none): Acme's admin's password hash, copied.
async fn bluebird_admin(app: &TestApp) -> Client {
    sqlx::query(
        "INSERT INTO users (id, email, display_name, password_hash, role, organisation_id) \
         SELECT 90, 'admin@bluebird-clinics.example', 'Bea Lowe', password_hash, 'org_admin', 2 FROM users WHERE id = 2",
    )
    .execute(&app.db)
    .await
    .unwrap();
    app.sign_in_as("admin@bluebird-clinics.example").await
}

async fn total(response: Response) -> u64 {
    assert_eq!(response.status(), StatusCode::OK);
    body_json::<Page<BackupRow>>(response).await.total
}

/// A mailbox of the user's whose backup is not running (Force Backup can start one).
async fn idle_mailbox(app: &TestApp, client: &Client) -> i64 {
    let page: Page<BackupRow> = body_json(app.get_as(client, &format!("/api/backups?status={}", JobStatus::Completed.as_str())).await).await;
    page.items[0].mailbox_id
}

#[tokio::test]
async fn a_token_sees_exactly_what_its_owner_sees() {
    let app = test_app().await;
    for role in [Role::OrgAdmin, Role::Reseller] {
        let person = app.sign_in(role).await;
        let created = create_token(&app, &person, "RMM", "read").await;
        assert!(created.token.starts_with("bpt_"));
        assert_eq!(created.api_token.owner, person.session.email);
        let by_person = total(app.get_as(&person, "/api/backups?per_page=1").await).await;
        let by_token = total(with_token(&app, &created.token, Method::GET, "/api/backups?per_page=1", None).await).await;
        assert_eq!(by_token, by_person, "{role:?}");
        assert!(by_token > 0);
    }
    // Out of its owner's scope is 404 for the token as for the person: Acme's admin's token
    // and a mailbox of the other reseller's (Delta Foods).
    let stranger = app.sign_in_as("reseller@harbour.example").await;
    let far = idle_mailbox(&app, &stranger).await;
    let admin = app.sign_in(Role::OrgAdmin).await;
    let token = create_token(&app, &admin, "acme", "act").await.token;
    problem(with_token(&app, &token, Method::GET, &format!("/api/backups/{far}"), None).await, StatusCode::NOT_FOUND).await;
    problem(with_token(&app, &token, Method::POST, &format!("/api/backups/{far}/force"), None).await, StatusCode::NOT_FOUND).await;
    // An end user cannot create one.
    let end_user = app.sign_in(Role::EndUser).await;
    let body = json!({ "name": "mine", "access": "read", "expires_in_days": 30 });
    problem(app.send_as(&end_user, Method::POST, "/api/tokens", Some(body)).await, StatusCode::FORBIDDEN).await;
}

#[tokio::test]
async fn a_read_token_cannot_act_and_no_token_manages_what_only_a_person_may() {
    let app = test_app().await;
    let admin = app.sign_in(Role::OrgAdmin).await;
    let mailbox = idle_mailbox(&app, &admin).await;
    let read = create_token(&app, &admin, "dashboard", "read").await.token;
    let act = create_token(&app, &admin, "PSA", "act").await.token;

    let refused = problem(with_token(&app, &read, Method::POST, &format!("/api/backups/{mailbox}/force"), None).await, StatusCode::FORBIDDEN).await;
    assert!(refused.detail.unwrap().contains("act"), "says which access level would do");
    assert_eq!(with_token(&app, &read, Method::GET, "/api/dashboard", None).await.status(), StatusCode::OK);
    // An `act` token forces a backup without any CSRF token.
    assert_eq!(with_token(&app, &act, Method::POST, &format!("/api/backups/{mailbox}/force"), None).await.status(), StatusCode::ACCEPTED);

    // Neither manages tokens, credentials, mailboxes or integrations, nor signs its owner out.
    for token in [&read, &act] {
        let new = json!({ "name": "more", "access": "act", "expires_in_days": 1 });
        problem(with_token(&app, token, Method::POST, "/api/tokens", Some(new)).await, StatusCode::FORBIDDEN).await;
        problem(with_token(&app, token, Method::GET, "/api/tokens", None).await, StatusCode::FORBIDDEN).await;
        problem(with_token(&app, token, Method::POST, "/api/organisations/1/credentials/verify", None).await, StatusCode::FORBIDDEN)
            .await;
        problem(with_token(&app, token, Method::GET, "/api/organisations/1/webhooks", None).await, StatusCode::FORBIDDEN).await;
        problem(with_token(&app, token, Method::DELETE, "/api/session", None).await, StatusCode::FORBIDDEN).await;
    }
    // The person's session still works: the token did not sign anyone out.
    assert_eq!(app.get_as(&admin, "/api/session").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_revoked_or_expired_or_unknown_token_answers_401_at_once_and_a_cookie_does_not_rescue_it() {
    let app = test_app().await;
    let admin = app.sign_in(Role::OrgAdmin).await;
    let created = create_token(&app, &admin, "script", "read").await;
    assert_eq!(with_token(&app, &created.token, Method::GET, "/api/backups", None).await.status(), StatusCode::OK);

    let listed: Vec<ApiToken> = body_json(app.get_as(&admin, "/api/tokens").await).await;
    let mine = listed.iter().find(|t| t.id == created.api_token.id).unwrap();
    assert!(mine.last_used_at.is_some(), "its last use is listed");

    let response = app.send_as(&admin, Method::DELETE, &format!("/api/tokens/{}", created.api_token.id), None).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let response = with_token(&app, &created.token, Method::GET, "/api/backups", None).await;
    assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer error=\"invalid_token\"");
    assert!(problem(response, StatusCode::UNAUTHORIZED).await.detail.unwrap().contains("revoked"));

    // With a valid session cookie beside it, a bad token is still refused: never both at once.
    let request = Request::get("/api/backups")
        .header(header::AUTHORIZATION, format!("Bearer {}", created.token))
        .header(header::COOKIE, &admin.cookie)
        .body(Body::empty())
        .unwrap();
    problem(app.send(request).await, StatusCode::UNAUTHORIZED).await;

    let expiring = create_token(&app, &admin, "short", "read").await;
    sqlx::query("UPDATE api_tokens SET expires_at = 1 WHERE id = $1").bind(&expiring.api_token.id).execute(&app.db).await.unwrap();
    let response = with_token(&app, &expiring.token, Method::GET, "/api/backups", None).await;
    assert!(problem(response, StatusCode::UNAUTHORIZED).await.detail.unwrap().contains("expired"));

    let made_up = format!("bpt_{}", "0".repeat(64));
    problem(with_token(&app, &made_up, Method::GET, "/api/backups", None).await, StatusCode::UNAUTHORIZED).await;
    let basic = Request::get("/api/backups").header(header::AUTHORIZATION, "Basic YTpi").body(Body::empty()).unwrap();
    problem(app.send(basic).await, StatusCode::UNAUTHORIZED).await;

    // Another organisation's admin cannot revoke it (404), and a bad body names its fields.
    let bluebird = bluebird_admin(&app).await;
    let response = app.send_as(&bluebird, Method::DELETE, &format!("/api/tokens/{}", expiring.api_token.id), None).await;
    problem(response, StatusCode::NOT_FOUND).await;
    let bad = json!({ "name": " ", "access": "admin", "expires_in_days": 0 });
    let refused = problem(app.send_as(&admin, Method::POST, "/api/tokens", Some(bad)).await, StatusCode::UNPROCESSABLE_ENTITY).await;
    let fields: Vec<&str> = refused.errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["name", "access", "expires_in_days"]);
}

#[tokio::test]
async fn a_token_is_stored_only_as_a_hash() {
    let app = test_app().await;
    let admin = app.sign_in(Role::Reseller).await;
    let created = create_token(&app, &admin, "halo sync", "act").await;
    let secret_part = &created.token[4..];
    let rows: Vec<(String, String, String)> =
        sqlx::query_as("SELECT id, token_hash, prefix FROM api_tokens").fetch_all(&app.db).await.unwrap();
    for (id, hash, prefix) in &rows {
        for column in [id, hash, prefix] {
            assert!(!column.contains(secret_part), "a column holds the token");
        }
    }
    if common::postgres().is_none() {
        // Every file of the SQLite database, as secrets_at_rest.rs searches them.
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&app.db).await.unwrap();
        for entry in std::fs::read_dir(app.dir.path()).unwrap() {
            let path = entry.unwrap().path();
            if path.file_name().unwrap().to_string_lossy().starts_with("portal.db") {
                let bytes = std::fs::read(&path).unwrap();
                assert!(!bytes.windows(secret_part.len()).any(|w| w == secret_part.as_bytes()), "{} holds the token", path.display());
            }
        }
    }
}

#[tokio::test]
async fn a_token_is_rate_limited_with_retry_after() {
    let app = test_app_with(|config| config.token_requests_per_minute = 3).await;
    let admin = app.sign_in(Role::OrgAdmin).await;
    let token = create_token(&app, &admin, "busy", "read").await.token;
    for _ in 0..3 {
        assert_eq!(with_token(&app, &token, Method::GET, "/api/dashboard", None).await.status(), StatusCode::OK);
    }
    let response = with_token(&app, &token, Method::GET, "/api/dashboard", None).await;
    assert!(response.headers().contains_key(header::RETRY_AFTER));
    problem(response, StatusCode::TOO_MANY_REQUESTS).await;
    // The person is not limited by their token's requests.
    assert_eq!(app.get_as(&admin, "/api/dashboard").await.status(), StatusCode::OK);
}

async fn activity(app: &TestApp, client: &Client, query: &str) -> Vec<ActivityEntry> {
    let response = app.get_as(client, &format!("/api/activity?per_page=200{query}")).await;
    assert_eq!(response.status(), StatusCode::OK);
    body_json::<Page<ActivityEntry>>(response).await.items
}

fn request_id(response: &Response) -> String {
    response.headers()["x-request-id"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn each_change_leaves_one_entry_with_its_actor_and_request_id() {
    let app = test_app().await;
    let admin = app.sign_in(Role::OrgAdmin).await;
    let mailbox = idle_mailbox(&app, &admin).await;

    let forced = app.send_as(&admin, Method::POST, &format!("/api/backups/{mailbox}/force"), None).await;
    assert_eq!(forced.status(), StatusCode::ACCEPTED);
    let forced_id = request_id(&forced);
    let created = create_token(&app, &admin, "PSA", "act").await;
    let restore = json!({ "kind": "download", "mailbox_id": mailbox, "format": "mbox" });
    let started = with_token(&app, &created.token, Method::POST, "/api/jobs", Some(restore)).await;
    assert_eq!(started.status(), StatusCode::CREATED);
    let started_id = request_id(&started);
    let revoked = app.send_as(&admin, Method::DELETE, &format!("/api/tokens/{}", created.api_token.id), None).await;
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    // Revoking again changes nothing and records nothing.
    app.send_as(&admin, Method::DELETE, &format!("/api/tokens/{}", created.api_token.id), None).await;

    let entries = activity(&app, &admin, "").await;
    let of = |action: ActivityAction| entries.iter().filter(|e| e.action == action).collect::<Vec<_>>();
    assert_eq!(of(ActivityAction::SignIn).len(), 1);
    let [force] = of(ActivityAction::ForceBackup)[..] else { panic!("one Force Backup: {entries:?}") };
    assert_eq!((force.actor.as_str(), force.token.as_deref(), force.request_id.as_str()), (admin.session.email.as_str(), None, forced_id.as_str()));
    assert_eq!(force.object_id.as_deref(), Some(mailbox.to_string().as_str()));
    assert!(force.object.as_deref().unwrap().contains('@'), "the mailbox's address");
    let [download] = of(ActivityAction::StartDownload)[..] else { panic!("one download: {entries:?}") };
    assert_eq!(download.token.as_deref(), Some("PSA"), "done by the token, in its owner's name");
    assert_eq!(download.actor, admin.session.email);
    assert_eq!(download.request_id, started_id);
    assert!(download.object_id.as_deref().unwrap().starts_with("D-"));
    assert_eq!(of(ActivityAction::TokenCreated).len(), 1);
    assert_eq!(of(ActivityAction::TokenRevoked).len(), 1);
    let at = |e: &ActivityEntry| time::OffsetDateTime::parse(&e.at, &time::format_description::well_known::Rfc3339).unwrap();
    assert!(entries.windows(2).all(|w| at(&w[0]) >= at(&w[1])), "newest first");

    // Filters: by action, by text.
    let only = activity(&app, &admin, "&action=token.created").await;
    assert_eq!(only.len(), 1);
    assert_eq!(activity(&app, &admin, "&q=psa").await.len(), 3, "the token's name: created, used, revoked");
    let wrong = app.get_as(&admin, "/api/activity?action=nothing&per_page=0").await;
    let fields: Vec<String> = problem(wrong, StatusCode::UNPROCESSABLE_ENTITY).await.errors.into_iter().map(|e| e.field).collect();
    assert_eq!(fields, ["action", "per_page"]);

    // The CSV has the same entries.
    let csv = app.get_as(&admin, "/api/activity.csv").await;
    assert_eq!(csv.status(), StatusCode::OK);
    assert!(csv.headers()[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/csv"));
    let text = String::from_utf8(to_bytes(csv.into_body(), 1 << 20).await.unwrap().to_vec()).unwrap();
    assert_eq!(text.lines().count(), entries.len() + 1);
    assert!(text.contains(&forced_id) && text.contains("Force Backup"));

    // Compressed (as browsers and HTTP libraries ask for it), the stream ends cleanly.
    let gzipped = Request::get("/api/activity.csv")
        .header(header::COOKIE, &admin.cookie)
        .header(header::ACCEPT_ENCODING, "gzip")
        .body(Body::empty())
        .unwrap();
    let gzipped = app.send(gzipped).await;
    assert_eq!(gzipped.headers()[header::CONTENT_ENCODING], "gzip");
    assert!(!to_bytes(gzipped.into_body(), 1 << 20).await.unwrap().is_empty());

    // Sign-out is recorded too.
    assert_eq!(app.send_as(&admin, Method::DELETE, "/api/session", None).await.status(), StatusCode::NO_CONTENT);
    let again = app.sign_in(Role::OrgAdmin).await;
    let entries = activity(&app, &again, "&action=session.signed_out").await;
    assert_eq!(entries.len(), 1);
}

#[tokio::test]
async fn each_sees_the_activity_of_their_own_organisations_only_and_an_end_user_none() {
    let app = test_app().await;
    let acme = app.sign_in(Role::OrgAdmin).await;
    let bluebird = bluebird_admin(&app).await;
    let reseller = app.sign_in(Role::Reseller).await;
    let stranger = app.sign_in_as("reseller@harbour.example").await;
    let end_user = app.sign_in(Role::EndUser).await;
    let own = idle_mailbox(&app, &end_user).await;
    // The end user's own restore counts for their organisation.
    let download = json!({ "kind": "download", "mailbox_id": own, "format": "mbox" });
    assert_eq!(app.send_as(&end_user, Method::POST, "/api/jobs", Some(download)).await.status(), StatusCode::CREATED);

    problem(app.get_as(&end_user, "/api/activity").await, StatusCode::FORBIDDEN).await;
    problem(app.get_as(&end_user, "/api/activity.csv").await, StatusCode::FORBIDDEN).await;

    let actors = |entries: Vec<ActivityEntry>| {
        let mut actors: Vec<String> = entries.into_iter().map(|e| e.actor).collect();
        actors.sort();
        actors.dedup();
        actors
    };
    let seen_by_acme = actors(activity(&app, &acme, "").await);
    assert_eq!(seen_by_acme, [acme.session.email.clone(), end_user.session.email.clone()]);
    let seen_by_bluebird = actors(activity(&app, &bluebird, "").await);
    assert_eq!(seen_by_bluebird, [bluebird.session.email.clone()]);
    let seen_by_reseller = actors(activity(&app, &reseller, "").await);
    for email in [&acme.session.email, &bluebird.session.email, &end_user.session.email, &reseller.session.email] {
        assert!(seen_by_reseller.contains(email), "{email} in {seen_by_reseller:?}");
    }
    assert_eq!(actors(activity(&app, &stranger, "").await), [stranger.session.email.clone()]);
    // The end user's download is among Acme's entries, named by its Download ID.
    let acme_entries = activity(&app, &acme, "&action=download.started").await;
    assert_eq!(acme_entries.len(), 1);
    assert_eq!(acme_entries[0].organisation.as_deref(), Some("Acme Legal"));
}

#[tokio::test]
async fn jobs_and_integrations_leave_one_entry_each() {
    let app = test_app().await;
    let admin = app.sign_in(Role::OrgAdmin).await;
    let mailboxes: Page<BackupRow> = body_json(app.get_as(&admin, "/api/backups?status=completed").await).await;
    let (source, other) = (&mailboxes.items[0], &mailboxes.items[1]);
    let restore = json!({ "kind": "restore", "mailbox_id": source.mailbox_id });
    assert_eq!(app.send_as(&admin, Method::POST, "/api/jobs", Some(restore)).await.status(), StatusCode::CREATED);
    let migrate = json!({ "kind": "migrate", "mailbox_id": source.mailbox_id, "destination": other.mailbox_email });
    assert_eq!(app.send_as(&admin, Method::POST, "/api/jobs", Some(migrate)).await.status(), StatusCode::CREATED);
    let failed: Page<portal_api::JobRow> = body_json(app.get_as(&admin, "/api/jobs?kind=restore&status=failed").await).await;
    let retried = &failed.items[0].id;
    assert_eq!(app.send_as(&admin, Method::POST, &format!("/api/jobs/{retried}/retry"), None).await.status(), StatusCode::ACCEPTED);
    let done: Page<portal_api::JobRow> = body_json(app.get_as(&admin, "/api/jobs?kind=download&status=completed").await).await;
    let deleted = &done.items[0].id;
    assert_eq!(app.send_as(&admin, Method::DELETE, &format!("/api/jobs/{deleted}"), None).await.status(), StatusCode::NO_CONTENT);
    let hook = json!({ "url": "https://hooks.example.com/in" });
    let created = app.send_as(&admin, Method::POST, "/api/organisations/1/webhooks", Some(hook)).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let webhook: portal_api::CreatedWebhook = body_json(created).await;
    let uri = format!("/api/organisations/1/webhooks/{}", webhook.webhook.id);
    assert_eq!(app.send_as(&admin, Method::DELETE, &uri, None).await.status(), StatusCode::NO_CONTENT);
    let halo = json!({ "url": "http://127.0.0.1:9/halo", "client_id": "portal", "client_secret": "s3cret", "halo_client_id": "1" });
    let saved = app.send_as(&admin, Method::PUT, "/api/organisations/1/integrations/halo", Some(halo)).await;
    assert_eq!(saved.status(), StatusCode::OK);
    assert_eq!(app.send_as(&admin, Method::DELETE, "/api/organisations/1/integrations/halo", None).await.status(), StatusCode::NO_CONTENT);
    // Removing what is not there any more changes nothing, and records nothing.
    assert_eq!(app.send_as(&admin, Method::DELETE, "/api/organisations/1/integrations/halo", None).await.status(), StatusCode::NO_CONTENT);

    let entries = activity(&app, &admin, "").await;
    let one = |action: ActivityAction| {
        let found: Vec<&ActivityEntry> = entries.iter().filter(|e| e.action == action).collect();
        assert_eq!(found.len(), 1, "{action:?} in {entries:?}");
        found[0].clone()
    };
    assert!(one(ActivityAction::StartRestore).object_id.unwrap().starts_with("R-"));
    assert!(one(ActivityAction::StartMigration).object_id.unwrap().starts_with("M-"));
    assert_eq!(one(ActivityAction::TryAgain).object_id.as_ref(), Some(retried));
    assert_eq!(one(ActivityAction::DeleteJob).object_id.as_ref(), Some(deleted));
    // Only the webhook's host: the rest of its address may be the receiver's secret.
    assert_eq!(one(ActivityAction::WebhookCreated).object.as_deref(), Some("hooks.example.com"));
    one(ActivityAction::HaloSaved);
    assert_eq!(one(ActivityAction::WebhookDeleted).object_id, Some(webhook.webhook.id));
    assert_eq!(one(ActivityAction::HaloRemoved).organisation.as_deref(), Some("Acme Legal"));
}

#[tokio::test]
async fn the_csv_sends_a_long_log_in_batches_each_entry_once() {
    let app = test_app().await;
    let admin = app.sign_in(Role::OrgAdmin).await;
    // 1,234 entries of Acme's, several in the same millisecond (batches are 500).
    for i in 0..1234 {
        sqlx::query(
            "INSERT INTO activity (id, at, user_id, actor, action, organisation_id, reseller_id, request_id) \
             VALUES ($1, $2, 2, 'admin@acme-legal.example', 'backup.forced', 1, 1, $3)",
        )
        .bind(format!("act_test{i:05}"))
        .bind(1_700_000_000_000_i64 + i64::from(i / 3))
        .bind(format!("req{i}"))
        .execute(&app.db)
        .await
        .unwrap();
    }
    let csv = app.get_as(&admin, "/api/activity.csv?action=backup.forced").await;
    let text = String::from_utf8(to_bytes(csv.into_body(), 10 << 20).await.unwrap().to_vec()).unwrap();
    let mut ids: Vec<&str> = text.lines().skip(1).map(|line| line.rsplit(',').next().unwrap()).collect();
    assert_eq!(ids.len(), 1234);
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 1234, "each entry once");
}
