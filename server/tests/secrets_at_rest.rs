//! After the three re-authentication flows, an Edit of a destination password, run over real
//! HTTP against the identity provider built into the server, and an IMAP mailbox added and
//! backed up from a real Dovecot, no password, token, PKCE verifier or device code is readable
//! in the database file or in the server's log.
//!
//! The test learns the secrets the server holds by opening what it sealed (it has the master
//! key, as the server has), then looks for each one, as plain bytes, in every file of the
//! SQLite database (main file, WAL, shared memory) and in everything the server logged.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use common::*;
use portal_api::demo::DEMO_MAILBOX_PASSWORD;
use portal_api::{ActivityAction, Credentials, DeviceFlow, DeviceFlowStatus, JobRow, Page, Role};
use portal_idp::DEMO_IDP_PASSWORD;
use serde_json::json;

const ACME: i64 = 1;
const BLUEBIRD: i64 = 2;
const CEDAR: i64 = 3;

/// Everything the server logs, as its log file would hold it.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_log() -> LogBuffer {
    let log = LogBuffer::default();
    let writer = log.clone();
    // More than the server logs by default (info): our own crate at every level, and sqlx's statements.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("info,portal_server=trace,sqlx=debug"))
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();
    log
}

#[tokio::test]
async fn no_secret_of_the_flows_is_readable_in_the_database_file_or_the_log() {
    let log = capture_log();
    let app = served_test_app(|config| config.idp_device_interval_seconds = 1).await;
    let base = app.state.config.public_url();
    let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let reseller = app.sign_in(Role::Reseller).await;

    // Continue: Bluebird's global admin consents at the provider's page; the callback fixes it.
    let landed = app.consent_at_provider(&reseller, BLUEBIRD, "global.admin@bluebird-clinics.example").await;
    assert_eq!(landed, format!("/settings/credentials?organisation={BLUEBIRD}&consent=fixed"));

    // Re Authenticate: Cedar's backup admin with its current password.
    let sign_in = json!({ "username": "backup.admin@cedar-logistics.example", "password": DEMO_IDP_PASSWORD });
    let response =
        app.send_as(&reseller, Method::PUT, &format!("/api/organisations/{CEDAR}/credentials/backup-admin"), Some(sign_in)).await;
    assert_eq!(response.status(), StatusCode::OK);

    // Device Authorization: Acme's global admin approves the code; then Verify & Continue.
    let response = app.send_as(&reseller, Method::POST, &format!("/api/organisations/{ACME}/credentials/device"), None).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let flow: DeviceFlow = body_json(response).await;
    let form = [
        ("code", flow.user_code.as_str()),
        ("email", "global.admin@acme-legal.example"),
        ("password", DEMO_IDP_PASSWORD),
        ("decision", "approve"),
    ];
    let approved = browser.post(format!("{base}/idp/device")).form(&form).send().await.unwrap().text().await.unwrap();
    assert!(approved.contains("return to Backup Portal"), "{approved}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let credentials: Credentials =
            body_json(app.get_as(&reseller, &format!("/api/organisations/{ACME}/credentials")).await).await;
        if credentials.device_flow.is_some_and(|f| f.status == DeviceFlowStatus::Authorized) {
            break;
        }
        assert!(Instant::now() < deadline, "the server never saw the device authorised");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let complete = format!("/api/organisations/{ACME}/credentials/device/{}/complete", flow.id);
    assert_eq!(app.send_as(&reseller, Method::POST, &complete, None).await.status(), StatusCode::OK);

    // Edit: the destination password of a restore the destination refused.
    let refused: Page<JobRow> =
        body_json(app.get_as(&reseller, "/api/jobs?kind=restore&status=authentication_error").await).await;
    let edit = format!("/api/jobs/{}/destination-password", refused.items[0].id);
    let response = app.send_as(&reseller, Method::PUT, &edit, Some(json!({ "password": DEMO_MAILBOX_PASSWORD }))).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);

    // An IMAP mailbox added (its password tried with a real Dovecot, then sealed), and its backup.
    const IMAP_PASSWORD: &str = "imap-secret-Quokka-77";
    let dovecot = testkit::Dovecot::start(&[testkit::User::new("ivy", IMAP_PASSWORD)]).unwrap();
    dovecot.seed("ivy", &testkit::sample_mail("ivy@imap.test")).unwrap();
    let add = json!({ "email": "ivy@imap.test", "host": "127.0.0.1", "port": dovecot.port, "security": "plain", "username": "ivy", "password": IMAP_PASSWORD });
    let response = app.send_as(&reseller, Method::POST, &format!("/api/organisations/{BLUEBIRD}/mailboxes"), Some(add)).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let added: portal_api::OrganisationMailbox = body_json(response).await;
    app.state.engine.run_due().await.unwrap();
    let (saved,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM backup_messages WHERE mailbox_id = $1")
        .bind(added.id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert!(saved > 0, "the backup ran with the sealed password");

    // Each of these changes is in the activity log once, as the reseller's.
    let activity: Page<portal_api::ActivityEntry> = body_json(app.get_as(&reseller, "/api/activity?per_page=200").await).await;
    for action in [
        ActivityAction::ConsentStarted,
        ActivityAction::ConsentCompleted,
        ActivityAction::BackupAdminSignedIn,
        ActivityAction::DeviceAuthorizationStarted,
        ActivityAction::DeviceAuthorizationCompleted,
        ActivityAction::DestinationPassword,
        ActivityAction::MailboxAdded,
    ] {
        let found: Vec<_> = activity.items.iter().filter(|e| e.action == action).collect();
        assert_eq!(found.len(), 1, "{action:?} in {:?}", activity.items);
        assert_eq!(found[0].actor, reseller.session.email);
        assert!(!found[0].request_id.is_empty());
    }

    // What the server holds sealed, opened here with the same master key.
    let mut secrets: Vec<(String, Vec<u8>)> = vec![
        ("the IMAP mailbox password".into(), IMAP_PASSWORD.into()),
        ("the identity provider password".into(), DEMO_IDP_PASSWORD.into()),
        ("the destination mailbox password".into(), DEMO_MAILBOX_PASSWORD.into()),
        ("the OAuth client secret".into(), app.state.config.oauth_client_secret.clone().into()),
    ];
    let sealed: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT organisation_id, 'credential:' || kind, sealed_secret FROM credentials WHERE sealed_secret IS NOT NULL \
         UNION ALL SELECT organisation_id, 'oauth-flow:' || id, sealed_secret FROM oauth_flows \
         UNION ALL SELECT m.organisation_id, j.id, s.sealed FROM job_secrets s JOIN jobs j ON j.id = s.job_id \
                   JOIN mailboxes m ON m.id = j.mailbox_id \
         UNION ALL SELECT m.organisation_id, 'mailbox:' || m.id || ':imap_password', a.password_sealed FROM imap_accounts a \
                   JOIN mailboxes m ON m.id = a.mailbox_id",
    )
    .fetch_all(&app.db)
    .await
    .unwrap();
    for (organisation_id, context, sealed) in sealed {
        let context = if context.contains(':') { context } else { portal_server::queue::destination_password_context(&context) };
        let plain = app.state.secrets.open(&app.db, organisation_id, &context, &sealed).await.unwrap();
        assert!(plain.len() >= 8, "{context} is too short to look for");
        secrets.push((context, plain.to_vec()));
    }
    let imap_context = portal_server::imap::password_context(added.id);
    for fixed in ["credential:main_app", "credential:backup_admin", "credential:device", imap_context.as_str()] {
        assert!(secrets.iter().any(|(context, _)| context == fixed), "nothing sealed for {fixed}");
    }
    assert!(secrets.iter().filter(|(context, _)| context.starts_with("oauth-flow:")).count() >= 2, "the flows' secrets");

    // Every file of the database (with WAL, recent pages are in `portal.db-wal`), or on
    // PostgreSQL the whole database as `pg_dump` writes it; and the log.
    let mut files = Vec::new();
    if common::postgres().is_some() {
        let url = app.db.connect_options().database_url.to_string();
        let dump = std::process::Command::new("pg_dump").arg("--dbname").arg(&url).output().unwrap();
        assert!(dump.status.success(), "pg_dump: {}", String::from_utf8_lossy(&dump.stderr));
        files.push(("a dump of the PostgreSQL database".to_owned(), dump.stdout));
    }
    for entry in std::fs::read_dir(app.dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap().to_string_lossy().starts_with("portal.db") {
            files.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
    }
    assert!(files.iter().map(|(_, bytes)| bytes.len()).sum::<usize>() > 100_000, "the database holds the demo");
    let logged = log.0.lock().unwrap().clone();
    let logged_text = String::from_utf8_lossy(&logged);
    assert!(logged_text.contains("/api/organisations/3/credentials/backup-admin"), "the log has the requests:\n{logged_text}");
    assert!(logged_text.contains("device code approved"), "the log has the provider's events");
    // The same search finds what is stored in plain on purpose: the backup admin's username.
    assert!(
        files.iter().any(|(_, bytes)| contains(bytes, b"backup.admin@cedar-logistics.example")),
        "the search reads the database"
    );
    files.push(("the server log".into(), logged));

    for (what, secret) in &secrets {
        for (file, bytes) in &files {
            assert!(!contains(bytes, secret), "{what} is readable in {file}");
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}
