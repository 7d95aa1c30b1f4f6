//! The database gone in the middle of a run: a PostgreSQL server of the test's own is stopped
//! at once (as `pg_ctl stop -m immediate`) while a forced backup runs, then started again.
//! Meanwhile every answer that needs the database is a 503 with `Retry-After` in our words,
//! soon; the run is cut, never recorded as ended; and the engine, left alone, takes the run
//! over once the database is back and completes it as a second attempt.
//!
//! It always starts its own PostgreSQL (on SQLite runs too): without PostgreSQL installed it
//! fails and says so (`cargo xtask setup` installs it).

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{to_bytes, Body};
use axum::http::{header, Method, Request, StatusCode};
use common::*;
use portal_api::{BackupRow, JobStatus, Page, Role};
use portal_server::db::now_ms;
use portal_server::demo::DemoConnector;
use portal_server::engine::{Engine, EngineConfig};
use serde_json::{json, Value};

/// The longest an answer may take while the database is gone: the pool's acquire timeout
/// and some slack, well under the request time limit (30 s).
const ANSWER_WITHIN: Duration = Duration::from_secs(15);

/// What the driver or the database would say; none of it may reach a client.
const DRIVER_WORDS: [&str; 10] =
    ["postgres", "sqlx", "database:", "refused", "pool", "os error", "io error", "57p0", "error returned", "connection reset"];

async fn wait_for<T>(what: &str, within: Duration, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One request sent while the database is gone: its status, Retry-After, content type and
/// body (a live-update stream's body is not read: it stays open), and how long it took.
struct Answer {
    what: String,
    status: StatusCode,
    retry_after: Option<u64>,
    problem: bool,
    body: String,
    took: Duration,
}

async fn answer(router: axum::Router, what: String, request: Request<Body>) -> Answer {
    use tower::ServiceExt;
    let started = Instant::now();
    let response = tokio::time::timeout(ANSWER_WITHIN, router.oneshot(request))
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within {ANSWER_WITHIN:?}"))
        .unwrap();
    let took = started.elapsed();
    let (retry_after, content_type) = {
        let header_text = |name| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        (header_text(header::RETRY_AFTER).and_then(|v| v.parse().ok()), header_text(header::CONTENT_TYPE).unwrap_or_default())
    };
    let status = response.status();
    let body = if content_type.starts_with("text/event-stream") {
        String::new()
    } else {
        String::from_utf8_lossy(&to_bytes(response.into_body(), 1 << 20).await.unwrap()).into_owned()
    };
    Answer { what, status, retry_after, problem: content_type == "application/problem+json", body, took }
}

impl Answer {
    /// A 503 as the database's absence gives it: a problem in our words, with a short wait.
    fn assert_unavailable(&self) {
        let what = &self.what;
        assert_eq!(self.status, StatusCode::SERVICE_UNAVAILABLE, "{what}: {}", self.body);
        assert!(self.problem, "{what}: a problem document");
        assert!(matches!(self.retry_after, Some(1..=10)), "{what}: Retry-After of a few seconds, got {:?}", self.retry_after);
        let problem: Value = serde_json::from_str(&self.body).unwrap();
        assert_eq!(problem["type"], "/problems/unavailable", "{what}");
        let detail = problem["detail"].as_str().unwrap_or_default();
        assert!(detail.contains("out of reach") && detail.contains("nothing was changed"), "{what}: our words: {detail}");
    }

    /// Whatever the answer, nothing of the server's insides and no 500.
    fn assert_honest(&self) {
        let what = &self.what;
        assert!(self.took < ANSWER_WITHIN, "{what} took {:?}", self.took);
        assert!(
            self.status.is_success() || self.status.is_client_error() || self.status == StatusCode::SERVICE_UNAVAILABLE,
            "{what}: {} {}",
            self.status,
            self.body
        );
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            self.assert_unavailable();
        }
        let lower = self.body.to_lowercase();
        for word in DRIVER_WORDS {
            assert!(!lower.contains(word), "{what}: the driver's words ({word}) in {}", self.body);
        }
    }
}

fn request(client: Option<&Client>, method: Method, uri: &str, body: Option<Value>) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(uri);
    if let Some(client) = client {
        builder = builder.header(header::COOKIE, &client.cookie).header("x-csrf-token", &client.session.csrf_token);
    }
    match body {
        Some(body) => builder.header(header::CONTENT_TYPE, "application/json").body(Body::from(body.to_string())),
        None => builder.body(Body::empty()),
    }
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_mid_run_answers_503_and_the_run_resumes_when_it_is_back() {
    let mut postgres = tokio::task::spawn_blocking(testkit::Postgres::start_crash_safe)
        .await
        .unwrap()
        .unwrap_or_else(|error| panic!("this test runs its own PostgreSQL server, which did not start: {error}"));
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_postgres_database(&postgres.url()).await;
    let data_dir = dir.path().to_path_buf();
    let app = test_app_at(dir, url, |config| {
        config.data_dir = data_dir;
        // 8 steps of 300 ms: long enough to be cut; a lease that runs out soon after.
        config.demo_step_ms = 300;
        config.lease_seconds = 2;
    })
    .await;
    let admin = app.sign_in(Role::OrgAdmin).await;

    // The demo's own due and scheduled runs first, at full speed, so that the forced one is the
    // only run: every job that changes from the outage on is then ours.
    let quick_config = EngineConfig::new(25, 30, 24);
    let quick = Engine::new(
        app.db.clone(),
        quick_config,
        Arc::new(DemoConnector { step: Duration::ZERO, data_dir: app.state.config.data_dir.clone(), remote: None }),
        app.state.secrets.clone(),
    );
    quick.schedule_backups().await.unwrap();
    quick.run_due().await.unwrap();
    quick.expire_downloads().await.unwrap();
    let _engine = app.state.engine.clone().spawn();

    let page: Page<BackupRow> = body_json(app.get_as(&admin, "/api/backups?status=completed").await).await;
    let (target, bystander) = (page.items[0].mailbox_id, page.items[1].mailbox_id);
    let forced = app.send_as(&admin, Method::POST, &format!("/api/backups/{target}/force"), None).await;
    assert_eq!(forced.status(), StatusCode::ACCEPTED);
    let current_job = async |mailbox: i64| -> String {
        sqlx::query_as::<_, (String,)>("SELECT current_job_id FROM backups WHERE mailbox_id = $1")
            .bind(mailbox)
            .fetch_one(&app.db)
            .await
            .unwrap()
            .0
    };
    let job = current_job(target).await;
    let bystander_job = current_job(bystander).await;
    wait_for("the forced backup to be under way", Duration::from_secs(20), async || {
        let (status, done): (String, i64) =
            sqlx::query_as("SELECT status, items_done FROM jobs WHERE id = $1").bind(&job).fetch_one(&app.db).await.ok()?;
        (status == "in_progress" && done > 0).then_some(())
    })
    .await;
    let openapi: Value = body_json(app.get_as(&admin, "/api/openapi.json").await).await;

    // The database goes away mid-run.
    let outage_began = now_ms();
    tokio::task::block_in_place(|| postgres.stop_immediately());

    // Answers while it is gone: the usual requests, a state change, a sign-in, a session the
    // server has not seen yet (a 503, not "you are not signed in"), and every documented GET.
    let mut answers = tokio::task::JoinSet::new();
    let mut send = |what: &str, request: Request<Body>| {
        answers.spawn(answer(app.router.clone(), what.to_owned(), request));
    };
    let expected_503 = [
        ("the backups list", request(Some(&admin), Method::GET, "/api/backups", None)),
        ("one backup", request(Some(&admin), Method::GET, &format!("/api/backups/{target}"), None)),
        ("the jobs list", request(Some(&admin), Method::GET, "/api/jobs?kind=restore", None)),
        ("a Force Backup", request(Some(&admin), Method::POST, &format!("/api/backups/{bystander}/force"), None)),
        ("a sign-in", request(None, Method::POST, "/api/session", Some(json!({"email": admin.session.email, "password": "x"})))),
        (
            "an unknown session",
            Request::get("/api/backups").header(header::COOKIE, "portal_session=0123456789abcdef").body(Body::empty()).unwrap(),
        ),
        ("the readiness check", request(None, Method::GET, "/api/ready", None)),
    ];
    let key_requests: Vec<String> = expected_503.iter().map(|(what, _)| what.to_string()).collect();
    for (what, request) in expected_503 {
        send(what, request);
    }
    for (path, operations) in openapi["paths"].as_object().unwrap() {
        if operations.get("get").is_none() {
            continue;
        }
        let id = if path.starts_with("/api/jobs/") { job.clone() } else { target.to_string() };
        let uri =
            path.split('/').map(|part| if part.starts_with('{') { id.as_str() } else { part }).collect::<Vec<_>>().join("/");
        send(&format!("GET {uri}"), request(Some(&admin), Method::GET, &uri, None));
    }
    let mut unavailable = 0;
    while let Some(answer) = answers.join_next().await {
        let answer = answer.unwrap();
        answer.assert_honest();
        if key_requests.contains(&answer.what) {
            answer.assert_unavailable();
        }
        unavailable += usize::from(answer.status == StatusCode::SERVICE_UNAVAILABLE);
    }
    assert!(unavailable >= key_requests.len() + 5, "most documented reads need the database: {unavailable} were 503");

    // The run is cut (its claim could not be renewed, or its end not recorded): the engine has
    // nothing running, and the job is left as it was for a worker to take over.
    wait_for("the cut run to stop", Duration::from_secs(20), async || (app.state.engine.running() == 0).then_some(())).await;
    let outage_ended = now_ms();
    tokio::task::block_in_place(|| postgres.start_again()).expect("PostgreSQL starts again");

    // Nobody touches the engine: it finds the database back and takes the run over.
    let (attempts, retries) = wait_for("the forced backup to complete", Duration::from_secs(30), async || {
        let (status, attempts, retries): (String, i32, i32) =
            sqlx::query_as("SELECT status, attempts, retries FROM jobs WHERE id = $1")
                .bind(&job)
                .fetch_one(&app.db)
                .await
                .ok()?;
        (status == "completed").then_some((attempts, retries))
    })
    .await;
    assert_eq!((attempts, retries), (2, 0), "the run cut by the outage and the one that completed; no retry counted");
    let recorded: Vec<(i32, Option<i64>, Option<String>)> =
        sqlx::query_as("SELECT number, finished_at, outcome FROM job_attempts WHERE job_id = $1 ORDER BY number")
            .bind(&job)
            .fetch_all(&app.db)
            .await
            .unwrap();
    assert_eq!(recorded.len(), 2, "{recorded:?}");
    // The cut attempt is closed when the next takes over, as interrupted: never Completed or Failed.
    assert_eq!(recorded[0].2.as_deref(), Some("interrupted"), "{recorded:?}");
    assert!(recorded[0].1.is_some_and(|closed| closed > outage_ended), "closed by the take-over: {recorded:?}");
    assert!(recorded[1].1.is_some_and(|finished| finished > outage_ended));
    assert_eq!(recorded[1].2.as_deref(), Some("completed"));

    // Nothing else ended or changed from the outage on: no run was called Failed or Completed
    // because of it, and the Force Backup refused during it started nothing.
    let ended: Vec<(String, i32, Option<String>)> =
        sqlx::query_as("SELECT job_id, number, outcome FROM job_attempts WHERE finished_at >= $1 ORDER BY number")
            .bind(outage_began)
            .fetch_all(&app.db)
            .await
            .unwrap();
    assert_eq!(ended, vec![(job.clone(), 1, Some("interrupted".to_owned())), (job.clone(), 2, Some("completed".to_owned()))]);
    let changed: Vec<(String, String)> =
        sqlx::query_as("SELECT id, status FROM jobs WHERE updated_at >= $1").bind(outage_began).fetch_all(&app.db).await.unwrap();
    assert_eq!(changed, vec![(job.clone(), "completed".to_owned())]);
    assert_eq!(current_job(bystander).await, bystander_job, "the refused Force Backup queued nothing");

    // And the API answers again, with the run's end.
    let backup: BackupRow = body_json(app.get_as(&admin, &format!("/api/backups/{target}")).await).await;
    assert_eq!(backup.status, JobStatus::Completed);
    assert_eq!(backup.run.interrupted_at, None);
}
