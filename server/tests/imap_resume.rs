//! A restore whose destination mail server is killed mid-way (Dovecot, on loopback) ends in
//! Connection Error; once the server is back, the retry goes on where it was and no message
//! is restored twice, even when both copies are asked to be kept.

mod common;

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use axum::http::{Method, StatusCode};
use common::*;
use portal_api::{JobRow, JobStatus, OrganisationMailbox, Role};
use serde_json::json;
use testkit::{message, Dovecot, Seed, User};

const ACME: i64 = 1;
const MESSAGES: usize = 1_500;

#[tokio::test]
async fn a_restore_cut_by_a_mail_server_restart_goes_on_and_copies_nothing_twice() {
    let mut dovecot = Dovecot::start(&[User::new("alice", "alice-pw"), User::new("bob", "bob-pw")])
        .expect("Dovecot starts (cargo xtask setup)");
    let app = test_app().await;
    sqlx::query("UPDATE organisations SET storage_quota_bytes = 1000000000000 WHERE id = $1")
        .bind(ACME)
        .execute(&app.db)
        .await
        .unwrap();
    let admin = app.sign_in(Role::OrgAdmin).await;
    let arrived = SystemTime::now() - Duration::from_secs(86_400);
    let mail: Vec<Seed> = (0..MESSAGES)
        .map(|i| Seed {
            folder: "INBOX".into(),
            raw: message("bulk@p", "alice@imap.test", &format!("Bulk {i}"), &format!("bulk-{i}@p"), &"x".repeat(2000)),
            flags: "S".into(),
            arrived,
        })
        .collect();
    dovecot.seed("alice", &mail).unwrap();
    let mut added = Vec::new();
    for (email, user, password) in [("alice@imap.test", "alice", "alice-pw"), ("bob@imap.test", "bob", "bob-pw")] {
        let settings = json!({ "email": email, "host": "127.0.0.1", "port": dovecot.port, "security": "plain", "username": user, "password": password });
        let response = app.send_as(&admin, Method::POST, &format!("/api/organisations/{ACME}/mailboxes"), Some(settings)).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        added.push(body_json::<OrganisationMailbox>(response).await);
    }
    app.state.engine.run_due().await.unwrap();

    // Everything kept on conflict: only the job's own record can tell a copy from a duplicate.
    let restore =
        json!({ "kind": "restore", "mailbox_id": added[0].id, "destination": "bob@imap.test", "on_conflict": "keep_both" });
    let response = app.send_as(&admin, Method::POST, "/api/jobs", Some(restore)).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let job: JobRow = body_json(response).await;
    let read = |id: String| {
        let (app, admin) = (&app, &admin);
        async move { body_json::<JobRow>(app.get_as(admin, &format!("/api/jobs/{id}")).await).await }
    };

    let engine = app.state.engine.clone();
    let running = tokio::spawn(async move { engine.run_due().await.unwrap() });
    // Killed once some messages are in.
    loop {
        if dovecot.stored("bob", "INBOX").len() > 10 {
            break;
        }
        assert!(!running.is_finished(), "the restore ended before it could be interrupted");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    dovecot.kill();
    running.await.unwrap();
    let cut = read(job.id.clone()).await;
    assert_eq!(cut.status, JobStatus::ConnectionError, "{:?}", cut.run.detail);
    let before = dovecot.stored("bob", "INBOX").len();
    assert!(before < MESSAGES, "it was cut short ({before})");

    // The server is back; each retry's wait is made to pass. Dovecot may refuse a command for a
    // while after being killed (a lock file left by the killed process, until it counts as
    // stale): then the job honestly waits to retry, and the next retry goes on.
    dovecot.run().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(240);
    let done = loop {
        sqlx::query("UPDATE jobs SET next_run_at = $1 WHERE id = $2")
            .bind(portal_server::db::now_ms())
            .bind(&job.id)
            .execute(&app.db)
            .await
            .unwrap();
        app.state.engine.run_due().await.unwrap();
        let now = read(job.id.clone()).await;
        if !matches!(now.status, JobStatus::Retrying | JobStatus::ConnectionError) || std::time::Instant::now() > deadline {
            break now;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    };
    assert_eq!(done.status, JobStatus::Completed, "{:?}", done.run.detail);

    let mut copies: HashMap<String, usize> = HashMap::new();
    for stored in dovecot.stored("bob", "INBOX") {
        let text = String::from_utf8_lossy(&stored.raw).into_owned();
        let id = text.lines().find_map(|l| l.strip_prefix("Message-ID: ")).unwrap_or_default().to_owned();
        *copies.entry(id).or_default() += 1;
    }
    assert_eq!(copies.len(), MESSAGES, "every message is there");
    let twice: Vec<_> = copies.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "restored twice: {twice:?}");
}
