//! One tenant never hurts another: mail servers that go silent or answer a byte a second end
//! their runs at the deadline as Connection Error, hold at most their organisation's share of
//! the workers meanwhile, and another organisation's backup goes through as usual. A claim is
//! renewed while its run goes on and never taken twice; a run whose claim is lost is stopped.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use common::*;
use portal_api::{BackupRow, JobStatus, OrganisationMailbox, OrganisationSummary, Role};
use portal_server::connector::{BoxFuture, Connector, Outcome, ProgressSink, Work};
use portal_server::engine::{Engine, EngineConfig};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// How the small IMAP server below misbehaves once a folder is opened.
#[derive(Clone, Copy)]
enum Manner {
    /// Answers LOGIN and LIST, then never answers EXAMINE.
    Silent,
    /// Answers LOGIN and LIST, then EXAMINE's answer one byte a second.
    Slow,
}

/// An IMAP server on loopback that signs anyone in and lists an INBOX, then misbehaves.
async fn imap_server(manner: Manner) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                let _ = write.write_all(b"* OK ready\r\n").await;
                while let Ok(Some(line)) = lines.next_line().await {
                    let mut words = line.split_whitespace();
                    let (tag, command) = (words.next().unwrap_or("*"), words.next().unwrap_or("").to_ascii_uppercase());
                    let answer = match command.as_str() {
                        "LIST" => format!("* LIST (\\HasNoChildren) \"/\" INBOX\r\n{tag} OK LIST done\r\n"),
                        "EXAMINE" | "SELECT" => match manner {
                            Manner::Silent => {
                                // Holds the connection open and says nothing more.
                                std::future::pending::<()>().await;
                                unreachable!()
                            }
                            Manner::Slow => {
                                let answer = format!("* 3 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n{tag} OK [READ-ONLY] done\r\n");
                                for byte in answer.bytes() {
                                    if write.write_all(&[byte]).await.is_err() {
                                        return;
                                    }
                                    tokio::time::sleep(Duration::from_secs(1)).await;
                                }
                                continue;
                            }
                        },
                        "LOGOUT" => format!("* BYE bye\r\n{tag} OK done\r\n"),
                        _ => format!("{tag} OK done\r\n"),
                    };
                    if write.write_all(answer.as_bytes()).await.is_err() || command == "LOGOUT" {
                        break;
                    }
                }
            });
        }
    });
    port
}

/// Waits for `done` to hold, looking every 100 ms, for at most `limit` (then fails, naming `what`).
async fn wait_until<F, Fut>(limit: Duration, what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let give_up = tokio::time::Instant::now() + limit;
    while !done().await {
        assert!(tokio::time::Instant::now() < give_up, "gave up waiting: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn statuses(app: &TestApp, ids: &[i64]) -> Vec<String> {
    let mut all = Vec::new();
    for id in ids {
        let (status,): (String,) =
            sqlx::query_as("SELECT status FROM backups WHERE mailbox_id = $1").bind(id).fetch_one(&app.db).await.unwrap();
        all.push(status);
    }
    all
}

#[tokio::test]
async fn silent_and_slow_mail_servers_hold_their_share_and_end_at_the_deadline() {
    const DEADLINE_S: u32 = 2;
    let app = test_app_with(|config| {
        config.imap_timeout_seconds = DEADLINE_S;
        config.workers = 4;
        config.max_runs_per_organisation = 2;
    })
    .await;
    let (silent, slow) = (imap_server(Manner::Silent).await, imap_server(Manner::Slow).await);
    let reseller = app.sign_in(Role::Reseller).await;
    let organisations: Vec<OrganisationSummary> = body_json(app.get_as(&reseller, "/api/organisations").await).await;
    let (noisy, other) = (&organisations[0], &organisations[1]);

    // Six mailboxes of one organisation on the two servers (adding signs in and lists: both answer that).
    let mut six = Vec::new();
    for n in 0..6 {
        let port = if n % 2 == 0 { silent } else { slow };
        let domain = noisy.name.to_ascii_lowercase().replace(' ', "-");
        let settings = json!({"email": format!("stuck{n}@{domain}.example"), "host": "127.0.0.1", "port": port,
                              "security": "plain", "username": "u", "password": "p"});
        let response =
            app.send_as(&reseller, Method::POST, &format!("/api/organisations/{}/mailboxes", noisy.id), Some(settings)).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        six.push(body_json::<OrganisationMailbox>(response).await.id);
    }

    app.state.engine.clone().spawn();
    // Runs of the organisation under way (the demo data holds one of them on "another instance").
    let organisation_running = || {
        let db = app.db.clone();
        let organisation = noisy.id;
        async move {
            let (running,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM jobs j JOIN mailboxes m ON m.id = j.mailbox_id \
                 WHERE j.status = 'in_progress' AND j.lease_until >= $1 AND m.organisation_id = $2",
            )
            .bind(portal_server::db::now_ms())
            .bind(organisation)
            .fetch_one(&db)
            .await
            .unwrap();
            running
        }
    };
    let list = six.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    let stuck = || {
        let db = app.db.clone();
        let sql = format!("SELECT COUNT(*) FROM jobs WHERE status = 'in_progress' AND mailbox_id IN ({list})");
        async move { sqlx::query_as::<_, (i64,)>(&sql).fetch_one(&db).await.unwrap().0 }
    };
    wait_until(Duration::from_secs(30), "the organisation's share running", || async {
        stuck().await > 0 && organisation_running().await == 2
    })
    .await;

    // Another organisation's Force Backup goes through while the six wait their turn.
    let (mailbox_id,): (i64,) = sqlx::query_as(
        "SELECT id FROM mailboxes WHERE organisation_id = $1 AND connector = 'demo' AND demo_script = 'ok' ORDER BY id LIMIT 1",
    )
    .bind(other.id)
    .fetch_one(&app.db)
    .await
    .unwrap();
    let forced = app.send_as(&reseller, Method::POST, &format!("/api/backups/{mailbox_id}/force"), None).await;
    assert_eq!(forced.status(), StatusCode::ACCEPTED);
    let forced_job: Option<(String,)> = sqlx::query_as("SELECT current_job_id FROM backups WHERE mailbox_id = $1")
        .bind(mailbox_id)
        .fetch_optional(&app.db)
        .await
        .unwrap();
    let forced_job = forced_job.unwrap().0;
    wait_until(Duration::from_secs(30), "the other organisation's backup completed", || async {
        let (status,): (String,) =
            sqlx::query_as("SELECT status FROM jobs WHERE id = $1").bind(&forced_job).fetch_one(&app.db).await.unwrap();
        status == "completed"
    })
    .await;
    // Each of the six takes a deadline, two at a time: most have not even been tried yet.
    let (tried,): (i64,) = sqlx::query_as(&format!(
        "SELECT COUNT(*) FROM jobs WHERE attempts > 0 AND status <> 'in_progress' AND mailbox_id IN ({list})"
    ))
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert!(tried < 6, "the other organisation's backup waited for all six stuck ones");

    // Never more than their share at once, and each ends at the deadline as Connection Error.
    wait_until(Duration::from_secs(20 * u64::from(DEADLINE_S)), "all six ended", || async {
        assert!(organisation_running().await <= 2, "more than the organisation's share of runs");
        statuses(&app, &six).await.iter().all(|s| s == "connection_error")
    })
    .await;
    for id in &six {
        let backup: BackupRow = body_json(app.get_as(&reseller, &format!("/api/backups/{id}")).await).await;
        assert_eq!(backup.status, JobStatus::ConnectionError);
        let detail = backup.run.detail.unwrap_or_default();
        assert!(detail.contains(&format!("within {DEADLINE_S} s")), "{detail}");
        assert_eq!(backup.run.items_done, 0, "nothing was read, nothing counted");
    }
    // The workers are free again: no run of theirs is left waiting on a connection.
    wait_until(Duration::from_secs(10), "no worker held", || async { app.state.engine.running() == 0 }).await;
}

/// A connector whose run never ends by itself, and says when it was stopped.
struct Forever {
    started: Arc<tokio::sync::Notify>,
    stopped: Arc<AtomicBool>,
}

struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

impl Connector for Forever {
    fn run<'a>(&'a self, _work: &'a Work, _progress: &'a dyn ProgressSink) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            let _stopped = SetOnDrop(self.stopped.clone());
            self.started.notify_one();
            std::future::pending::<Outcome>().await
        })
    }
}

#[tokio::test]
async fn a_running_claim_is_never_taken_twice_and_a_lost_one_stops_the_run() {
    let app = test_app().await;
    let mut config = EngineConfig::new(25, 30, 24);
    // Renewed every 500 ms: a pause of the test's runtime under a second is no lost claim.
    config.lease_ms = 1_500;
    let (started, stopped) = (Arc::new(tokio::sync::Notify::new()), Arc::new(AtomicBool::new(false)));
    let connector = Arc::new(Forever { started: started.clone(), stopped: stopped.clone() });
    let engine = Engine::new(app.db.clone(), config.clone(), connector.clone(), app.state.secrets.clone());
    let other = Engine::new(app.db.clone(), config, connector, app.state.secrets.clone());

    let job = engine.claim().await.unwrap().expect("a due job in the demo data");
    let id = job.id().to_owned();
    let running = tokio::spawn({
        let engine = engine.clone();
        async move { engine.run_claimed(job).await }
    });
    started.notified().await;

    // Three leases' time later the claim still holds: renewed while the run goes on.
    tokio::time::sleep(Duration::from_millis(4_500)).await;
    while let Some(taken) = other.claim().await.unwrap() {
        assert_ne!(taken.id(), id, "a job still running was claimed a second time");
    }
    assert!(!stopped.load(Ordering::SeqCst));

    // Another instance takes the claim over (as after a pause longer than the lease): the run stops.
    sqlx::query("UPDATE jobs SET lease_owner = 'engine-elsewhere' WHERE id = $1").bind(&id).execute(&app.db).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), running).await.expect("the run stopped").unwrap().unwrap();
    assert!(stopped.load(Ordering::SeqCst), "the run's work was dropped");
    let (status, owner): (String, Option<String>) =
        sqlx::query_as("SELECT status, lease_owner FROM jobs WHERE id = $1").bind(&id).fetch_one(&app.db).await.unwrap();
    assert_eq!((status.as_str(), owner.as_deref()), ("in_progress", Some("engine-elsewhere")), "the stopped run wrote nothing");
}
