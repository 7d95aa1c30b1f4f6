//! Crashes on purpose where two records could disagree: the real server process, built with
//! the `failpoints` feature, aborts at a failpoint (as a crash would: nothing unwound, nothing
//! flushed), is started again, and the job it held finishes with nothing lost or doubled and
//! its attempts counted exactly. `cargo xtask test` builds the tests with the feature.
#![cfg(feature = "failpoints")]

mod common;

use std::collections::HashMap;
use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant, SystemTime};

use axum::http::{Method, StatusCode};
use common::*;
use portal_api::{JobRow, JobStatus, OrganisationMailbox, Role};
use portal_server::imap::check::check;
use serde_json::json;
use testkit::{message, Dovecot, Seed, User};

const ACME: i64 = 1;
/// More than one fetch chunk (500), so a failpoint can hit the second.
const MESSAGES: usize = 700;

struct Setup {
    app: TestApp,
    /// The test's own data folder (the store check repairs it; PostgreSQL runs share the default one).
    _data: tempfile::TempDir,
    admin: Client,
    dovecot: Dovecot,
    alice: i64,
}

/// Alice's mailbox (backed up, unless `backed_up` is false) and Bob's, on a Dovecot of the test's own.
async fn setup(backed_up: bool) -> Setup {
    let dovecot = Dovecot::start(&[User::new("alice", "alice-pw"), User::new("bob", "bob-pw")])
        .expect("Dovecot starts (cargo xtask setup)");
    let arrived = SystemTime::now() - Duration::from_secs(86_400);
    let mail: Vec<Seed> = (0..MESSAGES)
        .map(|i| Seed {
            folder: "INBOX".into(),
            raw: message("bulk@p", "alice@imap.test", &format!("Bulk {i}"), &format!("bulk-{i}@p"), &"x".repeat(1500)),
            flags: "S".into(),
            arrived,
        })
        .collect();
    dovecot.seed("alice", &mail).unwrap();
    let data = tempfile::tempdir().unwrap();
    let app = test_app_with(|config| config.data_dir = data.path().to_path_buf()).await;
    sqlx::query("UPDATE organisations SET storage_quota_bytes = 1000000000000 WHERE id = $1")
        .bind(ACME)
        .execute(&app.db)
        .await
        .unwrap();
    // The demo's own due runs out of the way: only the test's jobs are left for the server.
    app.state.engine.run_due().await.unwrap();
    let admin = app.sign_in(Role::OrgAdmin).await;
    let mut ids = Vec::new();
    for (email, user, password) in [("alice@imap.test", "alice", "alice-pw"), ("bob@imap.test", "bob", "bob-pw")] {
        let settings = json!({ "email": email, "host": "127.0.0.1", "port": dovecot.port, "security": "plain", "username": user, "password": password });
        let response = app.send_as(&admin, Method::POST, &format!("/api/organisations/{ACME}/mailboxes"), Some(settings)).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        ids.push(body_json::<OrganisationMailbox>(response).await.id);
    }
    if backed_up {
        app.state.engine.run_due().await.unwrap();
    }
    Setup { app, _data: data, admin, dovecot, alice: ids[0] }
}

impl Setup {
    fn server(&self, env: &[(&str, &str)]) -> (ServerProcess, u16) {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let config = &self.app.state.config;
        let mut all = vec![("PORTAL_LEASE_SECONDS", "2"), ("PORTAL_ALLOW_PRIVATE_TARGETS", "true")];
        all.extend_from_slice(env);
        (ServerProcess::start(&config.data_dir, &config.database_url, port, &all), port)
    }

    /// Runs `job` on a server that aborts at `failpoint`, then on one started again; returns
    /// how the job ended, and its detail.
    async fn crash_at_then_finish(&self, job: &str, failpoint: &str) -> (JobStatus, Option<String>) {
        let (mut crashing, _) = self.server(&[("PORTAL_FAILPOINT", failpoint)]);
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = crashing.try_wait() {
                break status;
            }
            assert!(Instant::now() < deadline, "{failpoint} was never reached");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(status.signal(), Some(6), "aborted at {failpoint} (SIGABRT), not {status:?}");

        let _again = self.server(&[]);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (status, detail): (String, Option<String>) =
                sqlx::query_as("SELECT status, detail FROM jobs WHERE id = $1").bind(job).fetch_one(&self.app.db).await.unwrap();
            let status = JobStatus::parse(&status).unwrap();
            if !matches!(status, JobStatus::InProgress | JobStatus::OnQueue | JobStatus::PreparingBackup) {
                return (status, detail);
            }
            assert!(Instant::now() < deadline, "the job did not finish after the restart: {status:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The store check after a crash: no damage; what the crash left unreferenced (a pack
    /// written and never indexed) is removed by the repair, after which it is clean.
    async fn store_is_clean(&self) {
        let (db, data) = (&self.app.db, &self.app.state.config.data_dir);
        let report = check(db, data, false).await.unwrap();
        assert!(!report.damaged(), "{report}");
        if report.unreferenced() {
            check(db, data, true).await.unwrap();
        }
        let after = check(db, data, false).await.unwrap();
        assert!(!after.damaged() && !after.unreferenced(), "{after}");
    }

    /// The job's attempts, checked against its attempt records: every one counted once, each
    /// but the last closed as interrupted (a crash, or a run stopped when its claim could not
    /// be renewed in time on a busy machine), the last one Completed.
    async fn attempts(&self, job: &str) -> i32 {
        let (attempts,): (i32,) =
            sqlx::query_as("SELECT attempts FROM jobs WHERE id = $1").bind(job).fetch_one(&self.app.db).await.unwrap();
        let recorded: Vec<(i32, Option<String>)> =
            sqlx::query_as("SELECT number, outcome FROM job_attempts WHERE job_id = $1 ORDER BY number")
                .bind(job)
                .fetch_all(&self.app.db)
                .await
                .unwrap();
        assert_eq!(recorded.len() as i32, attempts, "{recorded:?}");
        let (last, cut) = recorded.split_last().unwrap();
        assert_eq!(last.1.as_deref(), Some("completed"), "{recorded:?}");
        assert!(cut.iter().all(|(_, outcome)| outcome.as_deref() == Some("interrupted")), "{recorded:?}");
        attempts
    }

    async fn start_job(&self, body: serde_json::Value) -> String {
        let response = self.app.send_as(&self.admin, Method::POST, "/api/jobs", Some(body)).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        body_json::<JobRow>(response).await.id
    }

    /// How many copies of each Message-ID a user's INBOX holds.
    fn copies(&self, user: &str) -> HashMap<String, usize> {
        let mut copies = HashMap::new();
        for stored in self.dovecot.stored(user, "INBOX") {
            let text = String::from_utf8_lossy(&stored.raw).into_owned();
            let id = text.lines().find_map(|l| l.strip_prefix("Message-ID: ")).unwrap_or_default().to_owned();
            *copies.entry(id).or_default() += 1;
        }
        copies
    }

    /// Every message of Alice's backup, read back from the store through a download.
    async fn downloaded_messages(&self) -> usize {
        let id = self.start_job(json!({ "kind": "download", "mailbox_id": self.alice, "format": "mbox" })).await;
        self.app.state.engine.run_due().await.unwrap();
        self.mbox_messages(&id).await
    }

    async fn mbox_messages(&self, job: &str) -> usize {
        let row: JobRow = body_json(self.app.get_as(&self.admin, &format!("/api/jobs/{job}")).await).await;
        assert_eq!(row.status, JobStatus::Completed, "{:?}", row.run.detail);
        let link = axum::http::Request::get(row.download_url.unwrap()).body(axum::body::Body::empty()).unwrap();
        let body = axum::body::to_bytes(self.app.send(link).await.into_body(), 1 << 28).await.unwrap();
        body.split(|b| *b == b'\n').filter(|line| line.starts_with(b"Message-ID: <bulk-")).count()
    }
}

async fn backup_job(setup: &Setup) -> String {
    let (job,): (String,) = sqlx::query_as("SELECT current_job_id FROM backups WHERE mailbox_id = $1")
        .bind(setup.alice)
        .fetch_one(&setup.app.db)
        .await
        .unwrap();
    job
}

async fn a_backup_crashed_at(failpoint: &str) {
    let setup = setup(false).await;
    let job = backup_job(&setup).await;
    let (status, detail) = setup.crash_at_then_finish(&job, failpoint).await;
    assert_eq!(status, JobStatus::Completed, "{detail:?}");
    assert!(setup.attempts(&job).await >= 2, "the crashed run and the one that finished");
    assert_eq!(setup.downloaded_messages().await, MESSAGES, "every message saved, readable, once");
    setup.store_is_clean().await;
}

#[tokio::test]
async fn a_crash_after_a_pack_is_written_and_before_it_is_indexed_loses_nothing() {
    a_backup_crashed_at("backup.pack-written@2").await;
}

#[tokio::test]
async fn a_crash_inside_the_transaction_that_indexes_a_chunk_loses_nothing() {
    a_backup_crashed_at("backup.index-recorded@2").await;
}

#[tokio::test]
async fn a_crash_between_two_appends_of_a_restore_copies_nothing_twice() {
    let setup = setup(true).await;
    let job = setup
        .start_job(
            json!({ "kind": "restore", "mailbox_id": setup.alice, "destination": "bob@imap.test", "on_conflict": "keep_both" }),
        )
        .await;
    let (status, detail) = setup.crash_at_then_finish(&job, "restore.between-appends@40").await;
    assert_eq!(status, JobStatus::Completed, "{detail:?}");
    assert!(setup.attempts(&job).await >= 2);
    let copies = setup.copies("bob");
    assert_eq!(copies.len(), MESSAGES);
    assert!(copies.values().all(|n| *n == 1), "a message restored twice");
    setup.store_is_clean().await;
}

#[tokio::test]
async fn a_crash_after_a_restore_ended_and_before_it_was_recorded_copies_nothing_again() {
    let setup = setup(true).await;
    let job = setup
        .start_job(
            json!({ "kind": "restore", "mailbox_id": setup.alice, "destination": "bob@imap.test", "on_conflict": "keep_both" }),
        )
        .await;
    let (status, detail) = setup.crash_at_then_finish(&job, "engine.before-finish").await;
    assert_eq!(status, JobStatus::Completed, "{detail:?}");
    assert!(setup.attempts(&job).await >= 2, "the restore itself was the run cut before it was recorded");
    let copies = setup.copies("bob");
    assert_eq!(copies.len(), MESSAGES);
    assert!(copies.values().all(|n| *n == 1), "a message restored twice");
    setup.store_is_clean().await;
}

#[tokio::test]
async fn a_crash_after_a_download_file_is_written_and_before_its_job_completes_ends_with_a_whole_file() {
    let setup = setup(true).await;
    let job = setup.start_job(json!({ "kind": "download", "mailbox_id": setup.alice, "format": "mbox" })).await;
    let (status, detail) = setup.crash_at_then_finish(&job, "download.file-written").await;
    assert_eq!(status, JobStatus::Completed, "{detail:?}");
    assert!(setup.attempts(&job).await >= 2);
    assert_eq!(setup.mbox_messages(&job).await, MESSAGES);
    setup.store_is_clean().await;
}
