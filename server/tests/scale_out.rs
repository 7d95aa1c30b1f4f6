//! Several server processes on one database: a shutdown that gives its runs back to the queue,
//! readiness, and (on PostgreSQL) three instances sharing one queue while one of them is
//! killed, with a change made through one instance reaching a page open on another.

mod common;

use std::collections::HashMap;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use portal_api::demo::DEMO_PASSWORD;
use serde_json::{json, Value};
use sqlx::any::AnyPoolOptions;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn wait_for<T>(what: &str, within: Duration, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn pool(url: &str) -> portal_server::db::Db {
    sqlx::any::install_default_drivers();
    AnyPoolOptions::new().max_connections(2).connect(url).await.unwrap()
}

/// A session on one instance, over real HTTP.
struct Session {
    base: String,
    cookie: String,
    csrf: String,
    http: reqwest::Client,
}

impl Session {
    async fn sign_in(port: u16, email: &str) -> Session {
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
        let response = http
            .post(format!("{base}/api/session"))
            .json(&json!({"email": email, "password": DEMO_PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let cookie = response.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
        let session: Value = response.json().await.unwrap();
        Session { base, cookie, csrf: session["csrf_token"].as_str().unwrap().to_owned(), http }
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .header("x-csrf-token", &self.csrf)
            .json(&body)
            .send()
            .await
            .unwrap();
        (response.status(), response.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let response = self.http.get(format!("{}{path}", self.base)).header("cookie", &self.cookie).send().await.unwrap();
        (response.status(), response.json().await.unwrap_or(Value::Null))
    }

    /// The live-update stream, open.
    async fn events(&self) -> reqwest::Response {
        let http = reqwest::Client::new();
        let response = http.get(format!("{}/api/events", self.base)).header("cookie", &self.cookie).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response
    }
}

/// Reads a stream's `job` events until one is about `mailbox_id`; when it came.
async fn job_event_about(stream: &mut reqwest::Response, mailbox_id: i64, within: Duration) -> Option<Instant> {
    let deadline = tokio::time::Instant::now() + within;
    let mut buffer = String::new();
    loop {
        let chunk = tokio::time::timeout_at(deadline, stream.chunk()).await.ok()?.ok()??;
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let data = block.lines().find_map(|line| line.strip_prefix("data: "));
            let about = data.and_then(|data| serde_json::from_str::<Value>(data).ok()).and_then(|v| v["mailbox_id"].as_i64());
            if block.contains("event: job") && about == Some(mailbox_id) {
                return Some(Instant::now());
            }
        }
    }
}

fn sigterm(server: &common::ServerProcess) {
    // SAFETY: kill(2) only sends a signal to the child this test started.
    let sent = unsafe { libc::kill(server.id() as i32, libc::SIGTERM) };
    assert_eq!(sent, 0, "SIGTERM sent");
}

#[tokio::test]
async fn readiness_needs_the_database_with_every_migration_and_liveness_only_the_process() {
    let app = common::test_app().await;
    let get = |path: &str| Request::get(path).body(Body::empty()).unwrap();
    let ready = app.send(get("/api/ready")).await;
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(common::body_json::<Value>(ready).await["status"], "ready");

    // A database behind this build (a migration not applied) is not ready; the process lives.
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)")
        .execute(&app.db)
        .await
        .unwrap();
    let problem = common::problem(app.send(get("/api/ready")).await, StatusCode::SERVICE_UNAVAILABLE).await;
    assert!(!problem.detail.as_deref().unwrap_or_default().contains("migration"), "nothing internal is told: {problem:?}");
    assert_eq!(app.send(get("/api/health")).await.status(), StatusCode::OK);
}

/// A run longer than the shutdown's grace period is given back to the queue at SIGTERM: the next
/// instance takes it over at once (not when its 30 s claim would have run out) and finishes it.
#[tokio::test]
async fn a_shutdown_gives_a_long_run_back_and_the_next_instance_finishes_it_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = common::database_url(dir.path()).await;
    let port = free_port();
    // The first runs slowly (a slow backup takes 32 s there), the second quickly.
    let env = |name: &'static str| {
        [
            ("PORTAL_SEED_DEMO", "true"),
            ("PORTAL_DEMO_STEP_MS", if name == "first" { "400" } else { "10" }),
            ("PORTAL_SHUTDOWN_GRACE_SECONDS", "1"),
            ("PORTAL_SHUTDOWN_DELAY_SECONDS", "2"),
            ("PORTAL_LEASE_SECONDS", "30"),
            ("PORTAL_INSTANCE_NAME", name),
        ]
    };
    let mut first = common::ServerProcess::start(dir.path(), &url, port, &env("first"));
    let db = pool(&url).await;
    wait_for("the demo's crashed runs to finish", Duration::from_secs(60), async || {
        let (running,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM jobs WHERE status = 'in_progress' AND kind = 'backup'")
            .fetch_one(&db)
            .await
            .ok()?;
        (running == 0).then_some(())
    })
    .await;
    let now = portal_server::db::now_ms();
    sqlx::query(
        "INSERT INTO jobs (id, kind, mailbox_id, status, params, created_at, updated_at, next_run_at) \
         VALUES ('B-SHUTDOWN', 'backup', 2, 'preparing_backup', '{\"script\":\"slow\"}', $1, $1, $1)",
    )
    .bind(now)
    .execute(&db)
    .await
    .unwrap();
    wait_for("the slow run to be under way", Duration::from_secs(30), async || {
        let (status, done): (String, i64) =
            sqlx::query_as("SELECT status, items_done FROM jobs WHERE id = 'B-SHUTDOWN'").fetch_one(&db).await.ok()?;
        (status == "in_progress" && done > 0).then_some(())
    })
    .await;

    sigterm(&first);
    // While it lets the load balancer see it go, it still answers, and is not ready.
    let ready = format!("http://127.0.0.1:{port}/api/ready");
    wait_for("readiness to turn 503", Duration::from_secs(2), async || {
        let answer = reqwest::get(&ready).await.ok()?;
        (answer.status() == StatusCode::SERVICE_UNAVAILABLE).then_some(())
    })
    .await;
    let exit = wait_for("the first instance to stop", Duration::from_secs(20), async || first.try_wait()).await;
    assert!(exit.success(), "a shutdown is a clean exit: {exit:?}");
    let attempts: Vec<(i32, Option<i64>, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT number, finished_at, outcome, instance FROM job_attempts WHERE job_id = 'B-SHUTDOWN' ORDER BY number",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    let (_, finished, outcome, instance) = &attempts[0];
    assert!(finished.is_some() && outcome.as_deref() == Some("interrupted"), "{attempts:?}");
    assert!(instance.as_deref().is_some_and(|i| i.starts_with("first-")), "{attempts:?}");
    let (lease_until,): (Option<i64>,) =
        sqlx::query_as("SELECT lease_until FROM jobs WHERE id = 'B-SHUTDOWN'").fetch_one(&db).await.unwrap();
    assert!(lease_until.is_some_and(|until| until < portal_server::db::now_ms()), "the claim was given back");

    // Well within the 30 s its claim would have held: the next instance took it over at once.
    let _second = common::ServerProcess::start(dir.path(), &url, port, &env("second"));
    wait_for("the run to finish on the next instance", Duration::from_secs(15), async || {
        let (status,): (String,) = sqlx::query_as("SELECT status FROM jobs WHERE id = 'B-SHUTDOWN'").fetch_one(&db).await.ok()?;
        (status == "completed").then_some(())
    })
    .await;
    let last: (i32, Option<String>, Option<String>) = sqlx::query_as(
        "SELECT number, outcome, instance FROM job_attempts WHERE job_id = 'B-SHUTDOWN' ORDER BY number DESC LIMIT 1",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(last.1.as_deref(), Some("completed"));
    assert!(last.2.as_deref().is_some_and(|i| i.starts_with("second-")), "{last:?}");
    let ready = reqwest::get(format!("http://127.0.0.1:{port}/api/ready")).await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
}

/// Mailboxes of a new organisation under the demo reseller, all backed up just now (so that no
/// scheduler queues them): `first..first + count`.
async fn add_mailboxes(db: &portal_server::db::Db, organisation: i64, first: i64, count: i64) {
    let (reseller,): (i64,) =
        sqlx::query_as("SELECT reseller_id FROM users WHERE email = 'reseller@northwind.example'").fetch_one(db).await.unwrap();
    sqlx::query("INSERT INTO organisations (id, reseller_id, name) VALUES ($1, $2, 'Scale Out Ltd')")
        .bind(organisation)
        .bind(reseller)
        .execute(db)
        .await
        .unwrap();
    let now = portal_server::db::now_ms();
    let mut tx = db.begin().await.unwrap();
    for id in first..first + count {
        sqlx::query("INSERT INTO mailboxes (id, organisation_id, email, display_name) VALUES ($1, $2, $3, $3)")
            .bind(id)
            .bind(organisation)
            .bind(format!("scale-{id}@scale-out.example"))
            .execute(&mut *tx)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO backups (mailbox_id, status, last_backup_at, last_success_at, updated_at) VALUES ($1, 'completed', $2, $2, $2)",
        )
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
}

/// Three instances on one PostgreSQL: a Force Backup through one reaches a page open on
/// another within a second; then 1,000 backups forced at once, one instance killed in the
/// middle, and every backup ends exactly once, with no two runs of a job at the same time.
#[tokio::test]
async fn three_instances_share_one_queue_and_a_killed_one_loses_nothing() {
    let Some(server) = common::postgres() else {
        eprintln!("skipped: several instances share a PostgreSQL database (set PORTAL_TEST_POSTGRES)");
        return;
    };
    let url = common::fresh_postgres_database(&server).await;
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let names = ["a", "b", "c"];
    let link_key = dirs[0].path().join("shared-link.key");
    std::fs::write(&link_key, hex::encode([7u8; 32])).unwrap();
    let link_key = link_key.display().to_string();
    // One object store for all three (the demo connector writes nothing to it; a backup of
    // real mail there restored by another instance is `object_store.rs`'s test).
    let s3 = testkit::S3::start().expect("the S3 server starts (cargo xtask test installs s3s-fs)");
    let start = |n: usize| {
        let env = [
            ("PORTAL_OBJECT_STORE", s3.url()),
            ("PORTAL_OBJECT_STORE_ENDPOINT", s3.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", testkit::S3_KEY_ID.into()),
            ("AWS_SECRET_ACCESS_KEY", testkit::S3_SECRET.into()),
            ("PORTAL_SEED_DEMO", "true".into()),
            ("PORTAL_MASTER_KEY", "5a".repeat(32)),
            ("PORTAL_LINK_KEY_FILE", link_key.clone()),
            ("PORTAL_DEMO_STEP_MS", "40".into()),
            ("PORTAL_LEASE_SECONDS", "4".into()),
            ("PORTAL_WORKERS", "8".into()),
            ("PORTAL_MAX_RUNS_PER_ORGANISATION", "1000".into()),
            ("PORTAL_INSTANCE_NAME", names[n].into()),
        ];
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        common::ServerProcess::start(dirs[n].path(), &url, ports[n], &env)
    };
    // The first seeds the database; the others find it seeded.
    let mut instances = vec![start(0)];
    let db = pool(&url).await;
    instances.push(start(1));
    instances.push(start(2));
    add_mailboxes(&db, 9_000, 900_000, 1_001).await;

    // A change made through A reaches a page open on B, within a second.
    let on_a = Session::sign_in(ports[0], "reseller@northwind.example").await;
    let on_b = Session::sign_in(ports[1], "reseller@northwind.example").await;
    let mut stream = on_b.events().await;
    let forced_at = Instant::now();
    let (status, _) = on_a.post("/api/backups/900000/force", json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let arrived = job_event_about(&mut stream, 900_000, Duration::from_secs(5)).await.expect("the change reached instance B");
    let took = arrived - forced_at;
    assert!(took < Duration::from_secs(1), "a change through A reached B's stream after {took:?}");
    drop(stream);

    // 1,000 backups forced at once, through A.
    let (status, forced) = on_a.post("/api/backups/force", json!({"q": "@scale-out.example"})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{forced}");
    assert!(forced["started"].as_i64().unwrap() >= 1_000, "{forced}");
    let jobs = "SELECT j.id FROM jobs j WHERE j.mailbox_id > 900000 AND j.mailbox_id <= 901000 AND j.kind = 'backup'";

    // C is killed while it runs some of them.
    wait_for("C to be running backups", Duration::from_secs(60), async || {
        let (running,): (i64,) = sqlx::query_as(&format!(
            "SELECT COUNT(*) FROM job_attempts WHERE instance LIKE 'c-%' AND finished_at IS NULL AND job_id IN ({jobs})"
        ))
        .fetch_one(&db)
        .await
        .ok()?;
        (running >= 3).then_some(())
    })
    .await;
    instances[2].kill();
    let (cut,): (i64,) = sqlx::query_as(&format!(
        "SELECT COUNT(*) FROM job_attempts WHERE instance LIKE 'c-%' AND finished_at IS NULL AND job_id IN ({jobs})"
    ))
    .fetch_one(&db)
    .await
    .unwrap();
    assert!(cut > 0, "C was killed in the middle of runs");

    wait_for("every backup to end", Duration::from_secs(240), async || {
        let (open,): (i64,) = sqlx::query_as(&format!(
            "SELECT COUNT(*) FROM jobs WHERE id IN ({jobs}) AND status NOT IN ('completed', 'partially_complete', 'failed')"
        ))
        .fetch_one(&db)
        .await
        .ok()?;
        (open == 0).then_some(())
    })
    .await;

    let finished: Vec<(String, String, i32, i32)> =
        sqlx::query_as(&format!("SELECT id, status, attempts, retries FROM jobs WHERE id IN ({jobs})"))
            .fetch_all(&db)
            .await
            .unwrap();
    assert_eq!(finished.len(), 1_000, "one backup per mailbox, none lost, none doubled");
    type Attempt = (String, i32, i64, Option<i64>, Option<String>, Option<String>, Option<i64>);
    let attempts: Vec<Attempt> = sqlx::query_as(&format!(
        "SELECT job_id, number, started_at, finished_at, outcome, instance, run_ended_at FROM job_attempts \
         WHERE job_id IN ({jobs}) ORDER BY job_id, number"
    ))
    .fetch_all(&db)
    .await
    .unwrap();
    let mut by_job: HashMap<&str, Vec<_>> = HashMap::new();
    for attempt in &attempts {
        by_job.entry(attempt.0.as_str()).or_default().push(attempt);
    }
    let mut completed_by: HashMap<String, usize> = HashMap::new();
    let mut taken_over = 0;
    for (id, status, count, retries) in &finished {
        assert_eq!(status, "completed", "{id}");
        assert_eq!(*retries, 0, "{id}: a killed instance is not a failure of the backup");
        let runs = &by_job[id.as_str()];
        // Every attempt recorded, numbered 1..=attempts: the count is exact.
        assert_eq!(runs.len() as i32, *count, "{id}: {runs:?}");
        assert!(runs.iter().enumerate().all(|(i, run)| run.1 == i as i32 + 1), "{id}: {runs:?}");
        // Exactly one run completed it; every other was cut short (by C's death, or a claim
        // that could not be renewed in time) and ended before the next began.
        let ends: Vec<&str> = runs.iter().map(|run| run.4.as_deref().unwrap_or("unfinished")).collect();
        assert_eq!(ends.iter().filter(|end| **end == "completed").count(), 1, "{id}: {runs:?}");
        assert_eq!(ends.last(), Some(&"completed"), "{id}: {runs:?}");
        for pair in runs.windows(2) {
            let (earlier, later) = (pair[0], pair[1]);
            assert_eq!(earlier.4.as_deref(), Some("interrupted"), "{id}: {runs:?}");
            // When the earlier run itself stopped (it notes it even after losing its claim);
            // none noted: its instance died, which only C did.
            match earlier.6 {
                Some(stopped) => assert!(stopped <= later.2, "{id}: two runs at once: {runs:?}"),
                None => assert!(earlier.5.as_deref().is_some_and(|i| i.starts_with("c-")), "{id}: {runs:?}"),
            }
        }
        let last = runs.last().unwrap();
        assert!(last.6.is_some_and(|stopped| stopped == last.3.unwrap_or_default()), "{id}: {runs:?}");
        let instance = runs.last().unwrap().5.clone().unwrap_or_default();
        taken_over += usize::from(runs.len() > 1);
        *completed_by.entry(instance.split('-').next().unwrap_or_default().to_owned()).or_default() += 1;
    }
    eprintln!("a change through A reached B in {took:?}; C was cut in {cut} runs; {taken_over} taken over; completed by {completed_by:?}");
    assert!(taken_over as i64 >= cut, "C's cut runs were taken over: {taken_over} of {cut}");
    assert!(completed_by.get("a").is_some_and(|n| *n > 0) && completed_by.get("b").is_some_and(|n| *n > 0), "{completed_by:?}");

    // Downloads made by either instance are served by the other, from the one object store.
    let mut downloads = Vec::new();
    for mailbox in 900_001..=900_004 {
        let (status, job) = on_a.post("/api/jobs", json!({"kind": "download", "mailbox_id": mailbox, "format": "mbox"})).await;
        assert_eq!(status, StatusCode::CREATED, "{job}");
        downloads.push(job["id"].as_str().unwrap().to_owned());
    }
    for id in &downloads {
        let job = wait_for("a download to complete", Duration::from_secs(60), async || {
            let (_, job) = on_a.get(&format!("/api/jobs/{id}")).await;
            (job["status"] == "completed").then_some(job)
        })
        .await;
        let (made_by,): (String,) =
            sqlx::query_as("SELECT instance FROM job_attempts WHERE job_id = $1 AND outcome = 'completed'")
                .bind(id)
                .fetch_one(&db)
                .await
                .unwrap();
        let other = if made_by.starts_with("a-") { ports[1] } else { ports[0] };
        let link = format!("http://127.0.0.1:{other}{}", job["download_url"].as_str().unwrap());
        let file = reqwest::get(&link).await.unwrap();
        assert_eq!(file.status(), StatusCode::OK, "{id}, made by {made_by}, fetched from the other instance");
        let bytes = file.bytes().await.unwrap();
        assert!(bytes.starts_with(b"From ") && bytes.len() > 1_000, "{id}: {} bytes", bytes.len());
        assert!(dirs.iter().all(|dir| !dir.path().join("downloads").join(format!("{id}.mbox")).exists()), "{id}: a local copy");
    }
}

/// On PostgreSQL the database wakes each instance's live updates when jobs change (a trigger's
/// NOTIFY); on SQLite the one instance looks on its timer and is never woken.
#[tokio::test]
async fn on_postgres_a_job_change_wakes_the_live_updates() {
    let app = common::test_app().await;
    let hub = std::sync::Arc::clone(&app.state.live);
    let _stream = hub.open(1, "a-session");
    // The poller's listener is connected once it has looked once.
    wait_for("the poller's first look", Duration::from_secs(10), async || (hub.stats().rounds > 0).then_some(())).await;
    let before = hub.stats().notifications;
    sqlx::query("UPDATE jobs SET updated_at = $1 WHERE id = (SELECT MIN(id) FROM jobs)")
        .bind(portal_server::db::now_ms())
        .execute(&app.db)
        .await
        .unwrap();
    if common::postgres().is_some() {
        wait_for("a notification", Duration::from_secs(5), async || (hub.stats().notifications > before).then_some(())).await;
        // A lease renewal changes nothing a page shows: it wakes nobody.
        let renewed = hub.stats().notifications;
        sqlx::query("UPDATE jobs SET lease_until = $1 WHERE id = (SELECT MIN(id) FROM jobs)")
            .bind(portal_server::db::now_ms())
            .execute(&app.db)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(hub.stats().notifications, renewed, "a lease renewal woke the live updates");
    } else {
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(hub.stats().notifications, 0);
    }
}

/// Two instances on one PostgreSQL count one limit together: wrong passwords sent to both are
/// refused once their sum reaches it (so a second instance does not double a limit).
#[tokio::test]
async fn a_limit_is_counted_by_every_instance_together() {
    let Some(server) = common::postgres() else {
        eprintln!("skipped: limits are shared through PostgreSQL (set PORTAL_TEST_POSTGRES)");
        return;
    };
    let url = common::fresh_postgres_database(&server).await;
    let limit = |config: &mut portal_server::config::Config| config.sign_in_failures_per_address = 4;
    let first = common::test_app_at(tempfile::tempdir().unwrap(), url.clone(), limit).await;
    let second = common::test_app_at(tempfile::tempdir().unwrap(), url, limit).await;
    let wrong = || {
        common::json_request(
            axum::http::Method::POST,
            "/api/session",
            json!({"email": "admin@acme-legal.example", "password": "not the password"}),
        )
    };
    for app in [&first, &second, &first, &second] {
        assert_eq!(app.send(wrong()).await.status(), StatusCode::UNAUTHORIZED);
    }
    for app in [&first, &second] {
        let refused = app.send(wrong()).await;
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS, "four wrong passwords in all, on two instances");
        assert!(refused.headers().contains_key("retry-after"));
    }
    // The right password on either instance is refused too, until the window has passed.
    let right = common::json_request(
        axum::http::Method::POST,
        "/api/session",
        json!({"email": "admin@acme-legal.example", "password": DEMO_PASSWORD}),
    );
    assert_eq!(second.send(right).await.status(), StatusCode::TOO_MANY_REQUESTS);

    // A success on one instance clears the count for every instance: two wrong on the first,
    // the right one on the second, and the first lets four more wrong ones through (none of
    // its own memory holds the two against the address).
    let sign_in = |password: &str| {
        common::json_request(
            axum::http::Method::POST,
            "/api/session",
            json!({"email": "reseller@northwind.example", "password": password}),
        )
    };
    for _ in 0..2 {
        assert_eq!(first.send(sign_in("not the password")).await.status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(second.send(sign_in(DEMO_PASSWORD)).await.status(), StatusCode::OK);
    for _ in 0..4 {
        assert_eq!(first.send(sign_in("not the password")).await.status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(first.send(sign_in("not the password")).await.status(), StatusCode::TOO_MANY_REQUESTS);
}

/// A sign-out through one instance ends the session on another within the session cache's
/// stated delay (`SESSION_CACHE_TTL`), even though that instance had just checked it.
#[tokio::test]
async fn a_sign_out_on_one_instance_ends_the_session_on_another_within_the_stated_delay() {
    let dir = tempfile::tempdir().unwrap();
    let url = common::database_url(dir.path()).await;
    let first = common::test_app_at(dir, url.clone(), |_| {}).await;
    let second = common::test_app_at(tempfile::tempdir().unwrap(), url, |_| {}).await;
    let client = first.sign_in(portal_api::Role::OrgAdmin).await;
    // Checked (and kept) by the second instance.
    assert_eq!(second.get_as(&client, "/api/session").await.status(), StatusCode::OK);
    let sign_out = Request::delete("/api/session")
        .header("cookie", &client.cookie)
        .header("x-csrf-token", &client.session.csrf_token)
        .body(Body::empty())
        .unwrap();
    assert!(first.send(sign_out).await.status().is_success());
    assert_eq!(first.get_as(&client, "/api/session").await.status(), StatusCode::UNAUTHORIZED, "at once where it was done");
    let signed_out = Instant::now();
    let delay = portal_server::auth::user::SESSION_CACHE_TTL + Duration::from_secs(1);
    wait_for("the other instance to refuse the session", delay, async || {
        (second.get_as(&client, "/api/session").await.status() == StatusCode::UNAUTHORIZED).then_some(())
    })
    .await;
    assert!(signed_out.elapsed() <= delay);
}

/// Every instance looks for accounts due a backup; however many look at once, each due account
/// gets one backup queued, and no job is left half made.
#[tokio::test]
async fn the_schedule_queues_each_due_backup_once_however_many_instances_look() {
    let dir = tempfile::tempdir().unwrap();
    let url = common::database_url(dir.path()).await;
    let mut instances = vec![common::test_app_at(dir, url.clone(), |_| {}).await];
    for _ in 0..2 {
        instances.push(common::test_app_at(tempfile::tempdir().unwrap(), url.clone(), |_| {}).await);
    }
    let db = &instances[0].db;
    // Every account is due: its last backup long ago, nothing waiting or running for it.
    let waiting = "('preparing_backup', 'on_queue', 'retrying', 'connection_error', 'in_progress')";
    sqlx::query(&format!(
        "UPDATE jobs SET status = 'completed', next_run_at = NULL WHERE kind = 'backup' AND status IN {waiting}"
    ))
    .execute(db)
    .await
    .unwrap();
    sqlx::query("UPDATE backups SET last_backup_at = 0").execute(db).await.unwrap();
    let (due,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM backups").fetch_one(db).await.unwrap();
    let (jobs_before,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM jobs").fetch_one(db).await.unwrap();

    let looks = instances.iter().map(|app| app.state.engine.schedule_backups());
    let queued: u64 = futures_util::future::join_all(looks).await.into_iter().map(Result::unwrap).sum();
    assert_eq!(queued as i64, due, "each due account once, whichever instance queued it");
    let (jobs_after,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM jobs").fetch_one(db).await.unwrap();
    assert_eq!(jobs_after - jobs_before, due, "no job left behind by an instance that lost the race");
    let (most,): (i64,) = sqlx::query_as(&format!(
        "SELECT COALESCE(MAX(n), 0) FROM (SELECT COUNT(*) AS n FROM jobs WHERE kind = 'backup' AND status IN {waiting} \
         GROUP BY mailbox_id) per_mailbox"
    ))
    .fetch_one(db)
    .await
    .unwrap();
    assert_eq!(most, 1);
}
