//! The Halo built in, served on loopback as a real one would be, and the steps the integration
//! tests share: an organisation with its Halo saved, a mailbox made to fail, a backup run and
//! its events sent.

use axum::http::{Method, StatusCode};
use portal_api::{BackupRow, Delivery, Page, Role};
use portal_halo::{Halo, HaloConfig};
use serde_json::{json, Value};

use super::{body_json, Client, TestApp};

/// The Halo built in, served on a loopback port of its own; its address.
pub async fn halo_on_loopback() -> (Halo, String) {
    let halo = Halo::new(HaloConfig { faults_enabled: true, base_path: String::new(), ..HaloConfig::demo() });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let router: axum::Router = halo.router();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (halo, url)
}

pub fn settings(url: &str, secret: &str, customer: i64) -> Value {
    let demo = HaloConfig::demo();
    json!({ "url": url, "tenant": "", "client_id": demo.client_id, "client_secret": secret, "halo_client_id": customer.to_string() })
}

/// The organisation an org admin administers.
pub async fn own_organisation(app: &TestApp, admin: &Client) -> i64 {
    let (id,): (i64,) = sqlx::query_as("SELECT organisation_id FROM users WHERE email = $1")
        .bind(&admin.session.email)
        .fetch_one(&app.db)
        .await
        .unwrap();
    id
}

/// Org admin 1's organisation with its Halo saved.
pub async fn with_halo(app: &TestApp, url: &str) -> (Client, i64) {
    let admin = app.sign_in(Role::OrgAdmin).await;
    let organisation = own_organisation(app, &admin).await;
    let response = app
        .send_as(
            &admin,
            Method::PUT,
            &format!("/api/organisations/{organisation}/integrations/halo"),
            Some(settings(url, &HaloConfig::demo().client_secret, 1)),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    (admin, organisation)
}

/// A mailbox of the admin's that completed its backup, scripted to fail from now on.
pub async fn failing_mailbox(app: &TestApp, admin: &Client) -> BackupRow {
    let page: Page<BackupRow> = body_json(app.get_as(admin, "/api/backups?status=completed").await).await;
    let target = page.items.into_iter().next().expect("a completed mailbox");
    script(app, target.mailbox_id, "unknown_always").await;
    target
}

pub async fn script(app: &TestApp, mailbox_id: i64, script: &str) {
    sqlx::query("UPDATE mailboxes SET demo_script = $1 WHERE id = $2")
        .bind(script)
        .bind(mailbox_id)
        .execute(&app.db)
        .await
        .unwrap();
}

/// Force Backup, the engine runs it, the notifier sends what it raised.
pub async fn back_up(app: &TestApp, admin: &Client, mailbox_id: i64) {
    let response = app.send_as(admin, Method::POST, &format!("/api/backups/{mailbox_id}/force"), None).await;
    assert!(response.status().is_success(), "{}", response.status());
    app.state.engine.run_due().await.unwrap();
    app.state.notifier.run_due().await.unwrap();
}

pub fn tickets_about(halo: &Halo, email: &str) -> Vec<portal_halo::Ticket> {
    halo.tickets().into_iter().filter(|t| t.summary.contains(email)).collect()
}

pub async fn deliveries(app: &TestApp, client: &Client, organisation: i64) -> Vec<Delivery> {
    body_json(app.get_as(client, &format!("/api/organisations/{organisation}/deliveries")).await).await
}
