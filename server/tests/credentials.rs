//! Account Settings › Credentials through the API: who may see and change them, and the
//! three re-authentication flows against the identity provider built into the server, over
//! real HTTP.

mod common;

use axum::http::{header, Method, StatusCode};
use common::*;
use portal_api::{
    BackupRow, CredentialKind, CredentialState, Credentials, Dashboard, JobStatus, OrganisationSummary, Page, Role,
};
use serde_json::{json, Value};

const ACME: i64 = 1;
const BLUEBIRD: i64 = 2;
const CEDAR: i64 = 3;
const DELTA: i64 = 4;

fn state_of(credentials: &Credentials, kind: CredentialKind) -> CredentialState {
    credentials.items.iter().find(|c| c.kind == kind).unwrap().state
}

#[tokio::test]
async fn only_the_organisations_admins_and_its_reseller_may_see_or_change_its_credentials() {
    let app = test_app().await;
    let admin = app.sign_in(Role::OrgAdmin).await;
    let reseller = app.sign_in(Role::Reseller).await;
    let end_user = app.sign_in(Role::EndUser).await;
    let other_reseller = app.sign_in_as("reseller@harbour.example").await;

    assert_eq!(app.get_as(&admin, "/api/organisations/1/credentials").await.status(), StatusCode::OK);
    assert_eq!(app.get_as(&reseller, "/api/organisations/3/credentials").await.status(), StatusCode::OK);
    // An end user's role may not (403, naming who may); outside one's scope the organisation
    // reads as not there at all (404), the same as one that does not exist.
    for (client, id, status) in [
        (&end_user, ACME, StatusCode::FORBIDDEN),
        (&admin, BLUEBIRD, StatusCode::NOT_FOUND),
        (&other_reseller, ACME, StatusCode::NOT_FOUND),
        (&reseller, DELTA, StatusCode::NOT_FOUND),
        (&admin, 999, StatusCode::NOT_FOUND),
    ] {
        let uri = format!("/api/organisations/{id}/credentials");
        let p = problem(app.get_as(client, &uri).await, status).await;
        if status == StatusCode::FORBIDDEN {
            assert!(p.detail.unwrap().contains("admins and its reseller"));
        }
        let put = json!({ "username": "backup.admin@x.example", "password": "x" });
        let uri = format!("/api/organisations/{id}/credentials/backup-admin");
        problem(app.send_as(client, Method::PUT, &uri, Some(put)).await, status).await;
        let uri = format!("/api/organisations/{id}/credentials/device");
        problem(app.send_as(client, Method::POST, &uri, None).await, status).await;
    }
    let mine: Vec<OrganisationSummary> = body_json(app.get_as(&reseller, "/api/organisations").await).await;
    assert_eq!(mine.iter().map(|o| o.id).collect::<Vec<_>>(), vec![ACME, BLUEBIRD, CEDAR]);
    assert_eq!(mine.iter().find(|o| o.id == CEDAR).unwrap().broken, 2);
    let none: Vec<OrganisationSummary> = body_json(app.get_as(&end_user, "/api/organisations").await).await;
    assert!(none.is_empty());
}

#[tokio::test]
async fn the_demo_breaks_each_credential_one_way_and_the_dashboard_names_them() {
    let app = test_app().await;
    let reseller = app.sign_in(Role::Reseller).await;
    let dashboard: Dashboard = body_json(app.get_as(&reseller, "/api/dashboard").await).await;
    let broken: Vec<(i64, CredentialKind)> =
        dashboard.need_reauthentication.iter().map(|b| (b.organisation_id, b.kind)).collect();
    assert_eq!(
        broken,
        vec![
            (ACME, CredentialKind::Device),
            (BLUEBIRD, CredentialKind::MainApp),
            (CEDAR, CredentialKind::BackupAdmin),
            (CEDAR, CredentialKind::Device)
        ]
    );
    assert!(dashboard.need_reauthentication.iter().all(|b| b.reason.is_some() && b.broken_since.is_some()));
    let cedar: Credentials = body_json(app.get_as(&reseller, "/api/organisations/3/credentials").await).await;
    assert_eq!(cedar.events.len(), 2);
    assert!(cedar.events.iter().any(|e| e.title == "Delegated Token authorization error was detected"));
    assert!(cedar.events.iter().any(|e| e.title == "Device Token authorization error was detected"));
    let end_user = app.sign_in(Role::EndUser).await;
    let theirs: Dashboard = body_json(app.get_as(&end_user, "/api/dashboard").await).await;
    assert!(theirs.need_reauthentication.is_empty());

    // Before one breaks: Bluebird's delegated token works, and runs out in 10 days.
    let expiring: Vec<(i64, CredentialKind)> = dashboard.expiring.iter().map(|e| (e.organisation_id, e.kind)).collect();
    assert_eq!(expiring, vec![(BLUEBIRD, CredentialKind::Device)]);
    let bluebird: Credentials = body_json(app.get_as(&reseller, "/api/organisations/2/credentials").await).await;
    let device = bluebird.items.iter().find(|c| c.kind == CredentialKind::Device).unwrap();
    assert_eq!(Some(&dashboard.expiring[0].expires_at), device.expires_at.as_ref());
    // Acme's admin administers no organisation with one; an end user is shown none.
    let admin = app.sign_in(Role::OrgAdmin).await;
    let acme: Dashboard = body_json(app.get_as(&admin, "/api/dashboard").await).await;
    assert!(acme.expiring.is_empty() && theirs.expiring.is_empty());
}

#[tokio::test]
async fn re_authenticate_checks_the_password_with_the_provider_then_stores_it_sealed_and_backups_recover() {
    let app = served_test_app(|_| {}).await;
    let reseller = app.sign_in(Role::Reseller).await;
    let uri = "/api/organisations/3/credentials/backup-admin";
    let password = portal_idp::DEMO_IDP_PASSWORD;

    // Each refusal on its own field, in its own words.
    let cases = [
        ("backup.admin@cedar-logistics.example", "not-it", "password", "did not accept"),
        ("former.admin@cedar-logistics.example", password, "username", "locked"),
        ("helpdesk@cedar-logistics.example", password, "username", "lacks the role"),
    ];
    for (username, pass, field, words) in cases {
        let response = app.send_as(&reseller, Method::PUT, uri, Some(json!({ "username": username, "password": pass }))).await;
        let p = problem(response, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_eq!(p.errors[0].field, field, "{username}");
        assert!(p.errors[0].message.contains(words), "{username}: {}", p.errors[0].message);
    }
    let empty = app.send_as(&reseller, Method::PUT, uri, Some(json!({ "username": "", "password": "" }))).await;
    assert_eq!(problem(empty, StatusCode::UNPROCESSABLE_ENTITY).await.errors.len(), 2);

    let right = json!({ "username": "Backup.Admin@cedar-logistics.example", "password": password });
    let response = app.send_as(&reseller, Method::PUT, uri, Some(right)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = String::from_utf8(axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap().to_vec()).unwrap();
    assert!(!body.contains(password), "the password is never sent back");
    let saved: Credentials = serde_json::from_str(&body).unwrap();
    assert_eq!(state_of(&saved, CredentialKind::BackupAdmin), CredentialState::Working);
    assert_eq!(
        saved.items.iter().find(|c| c.kind == CredentialKind::BackupAdmin).unwrap().username.as_deref(),
        Some("backup.admin@cedar-logistics.example")
    );
    assert_eq!(saved.events[0].title, "Delegated Token authorization error is resolved");
    let (sealed,): (String,) =
        sqlx::query_as("SELECT sealed_secret FROM credentials WHERE organisation_id = 3 AND kind = 'backup_admin'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert!(sealed.starts_with("v1.") && !sealed.contains(password));
}

#[tokio::test]
async fn re_authentication_attempts_are_limited_with_retry_after() {
    let app = served_test_app(|_| {}).await;
    let reseller = app.sign_in(Role::Reseller).await;
    let wrong = json!({ "username": "backup.admin@cedar-logistics.example", "password": "guess" });
    let mut limited = None;
    for _ in 0..8 {
        let response =
            app.send_as(&reseller, Method::PUT, "/api/organisations/3/credentials/backup-admin", Some(wrong.clone())).await;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(response);
            break;
        }
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let response = limited.expect("the sixth attempt in a minute is the last");
    let retry_after: u64 = response.headers()[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after));
    let p = problem(response, StatusCode::TOO_MANY_REQUESTS).await;
    assert!(p.detail.unwrap().contains("Wait"));
}

#[tokio::test]
async fn backups_refused_for_credentials_recover_once_all_are_fixed() {
    let app = served_test_app(|_| {}).await;
    let reseller = app.sign_in(Role::Reseller).await;
    let refused: Page<BackupRow> =
        body_json(app.get_as(&reseller, "/api/backups?status=authentication_error&q=cedar").await).await;
    assert!(refused.total > 0);
    app.state.engine.run_due().await.unwrap();
    // Cedar's backup admin is fixed, its device not yet: the backups still cannot sign in.
    let right = json!({ "username": "backup.admin@cedar-logistics.example", "password": portal_idp::DEMO_IDP_PASSWORD });
    app.send_as(&reseller, Method::PUT, "/api/organisations/3/credentials/backup-admin", Some(right)).await;
    let still: Page<BackupRow> = body_json(app.get_as(&reseller, "/api/backups?status=authentication_error&q=cedar").await).await;
    assert_eq!(still.total, refused.total);

    // The device fixed too (as the demo data would be after Verify & Continue): they run at once and complete.
    let mut conn = app.db.acquire().await.unwrap();
    sqlx::query("UPDATE credentials SET state = 'working' WHERE organisation_id = 3").execute(&mut *conn).await.unwrap();
    drop(conn);
    let again = json!({ "username": "backup.admin@cedar-logistics.example", "password": portal_idp::DEMO_IDP_PASSWORD });
    app.send_as(&reseller, Method::PUT, "/api/organisations/3/credentials/backup-admin", Some(again)).await;
    app.state.engine.run_due().await.unwrap();
    let after: Page<BackupRow> = body_json(app.get_as(&reseller, "/api/backups?q=cedar&per_page=200").await).await;
    for row in refused.items {
        let now = after.items.iter().find(|r| r.mailbox_id == row.mailbox_id).unwrap();
        assert_eq!(now.status, JobStatus::Completed, "{}", now.mailbox_email);
    }
}

#[tokio::test]
async fn check_now_keeps_what_the_provider_accepts_and_detects_a_revoked_consent() {
    let app = served_test_app(|_| {}).await;
    let reseller = app.sign_in(Role::Reseller).await;
    let password = portal_idp::DEMO_IDP_PASSWORD;
    let sign_in = json!({ "username": "backup.admin@cedar-logistics.example", "password": password });
    let uri = format!("/api/organisations/{CEDAR}/credentials/backup-admin");
    assert_eq!(app.send_as(&reseller, Method::PUT, &uri, Some(sign_in)).await.status(), StatusCode::OK);
    let landed = app.consent_at_provider(&reseller, BLUEBIRD, "global.admin@bluebird-clinics.example").await;
    assert!(landed.ends_with("consent=fixed"), "{landed}");

    // Both still hold at the provider: working, and verified again just now.
    for organisation in [CEDAR, BLUEBIRD] {
        let before: Credentials =
            body_json(app.get_as(&reseller, &format!("/api/organisations/{organisation}/credentials")).await).await;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let verify = format!("/api/organisations/{organisation}/credentials/verify");
        let response = app.send_as(&reseller, Method::POST, &verify, None).await;
        assert_eq!(response.status(), StatusCode::OK);
        let after: Credentials = body_json(response).await;
        let kind = if organisation == CEDAR { CredentialKind::BackupAdmin } else { CredentialKind::MainApp };
        let verified = |c: &Credentials| {
            let at = c.items.iter().find(|i| i.kind == kind).unwrap().last_verified_at.clone().unwrap();
            time::OffsetDateTime::parse(&at, &time::format_description::well_known::Rfc3339).unwrap()
        };
        assert_eq!(state_of(&after, kind), CredentialState::Working);
        assert!(verified(&after) > verified(&before), "{organisation}: {} then {}", verified(&before), verified(&after));
    }

    // A global administrator revokes the consent at Microsoft: the next check finds out.
    let tenant = portal_idp::tenant_id_for_domain("bluebird-clinics.example").unwrap();
    assert!(portal_idp::revoke_consent(tenant));
    let response = app.send_as(&reseller, Method::POST, &format!("/api/organisations/{BLUEBIRD}/credentials/verify"), None).await;
    let after: Credentials = body_json(response).await;
    assert_eq!(state_of(&after, CredentialKind::MainApp), CredentialState::Broken);
    let main_app = after.items.iter().find(|c| c.kind == CredentialKind::MainApp).unwrap();
    assert!(main_app.reason.as_deref().unwrap().contains("consent was revoked"), "{main_app:?}");
    assert_eq!(after.events[0].title, "Main App (Global Admin) Token authorization error was detected");
    let dashboard: Dashboard = body_json(app.get_as(&reseller, "/api/dashboard").await).await;
    assert!(dashboard.need_reauthentication.iter().any(|b| b.organisation_id == BLUEBIRD && b.kind == CredentialKind::MainApp));

    // Nobody outside the organisation may ask, nor learn that it exists.
    let other = app.sign_in_as("reseller@harbour.example").await;
    let p = problem(
        app.send_as(&other, Method::POST, &format!("/api/organisations/{BLUEBIRD}/credentials/verify"), None).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert!(p.detail.is_some());
    portal_idp::grant_consent(tenant);
}

#[tokio::test]
async fn a_provider_out_of_reach_is_a_502_that_names_it_and_changes_nothing() {
    // Nothing listens on the authority's port: every exchange is refused at connect.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let app = served_test_app(|config| config.idp_authority = Some(format!("http://{closed}"))).await;
    let reseller = app.sign_in(Role::Reseller).await;
    let before: Value = body_json(app.get_as(&reseller, "/api/organisations/3/credentials").await).await;
    let put = json!({ "username": "backup.admin@cedar-logistics.example", "password": portal_idp::DEMO_IDP_PASSWORD });
    let uri = "/api/organisations/3/credentials/backup-admin";
    let p = problem(app.send_as(&reseller, Method::PUT, uri, Some(put)).await, StatusCode::BAD_GATEWAY).await;
    assert_eq!(p.type_uri, "/problems/upstream-unavailable");
    let detail = p.detail.unwrap();
    assert!(detail.contains("identity provider") && !detail.contains(&closed.to_string()), "{detail}");
    let after: Value = body_json(app.get_as(&reseller, "/api/organisations/3/credentials").await).await;
    assert_eq!(before, after, "nothing was changed");
}
