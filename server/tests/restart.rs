//! The real server process, killed in the middle of a backup and started again: the run is
//! taken over once its lease has run out, finishes, and its attempts are counted right.

mod common;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use sqlx::any::AnyPoolOptions;

fn start(dir: &std::path::Path, database_url: &str, port: u16) -> common::ServerProcess {
    common::ServerProcess::start(
        dir,
        database_url,
        port,
        &[
            ("PORTAL_LEASE_SECONDS", "2"),
            // Slow enough to be killed mid-run: 8 steps of 400 ms.
            ("PORTAL_DEMO_STEP_MS", "400"),
            ("PORTAL_SEED_DEMO", "true"),
        ],
    )
}

async fn wait_for<T>(what: &str, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_backup_whose_server_was_killed_finishes_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = common::database_url(dir.path()).await;
    let first = start(dir.path(), &url, port);
    assert_owner_only(dir.path());

    sqlx::any::install_default_drivers();
    let db = AnyPoolOptions::new().max_connections(1).connect(&url).await.unwrap();
    // Let the demo's own due runs finish first, then queue ours.
    wait_for("the demo's crashed runs to finish", async || {
        let (running,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM jobs WHERE status = 'in_progress' AND kind = 'backup'")
            .fetch_one(&db)
            .await
            .ok()?;
        (running == 0).then_some(())
    })
    .await;
    let now = portal_server::db::now_ms();
    sqlx::query(
        "INSERT INTO jobs (id, kind, mailbox_id, status, created_at, updated_at, next_run_at) \
         VALUES ('B-RESTART1', 'backup', 2, 'preparing_backup', $1, $1, $1)",
    )
    .bind(now)
    .execute(&db)
    .await
    .unwrap();

    // Mid-run: some progress stored, not finished.
    wait_for("the run to be under way", async || {
        let (status, done): (String, i64) =
            sqlx::query_as("SELECT status, items_done FROM jobs WHERE id = 'B-RESTART1'").fetch_one(&db).await.ok()?;
        (status == "in_progress" && done > 0).then_some(())
    })
    .await;
    drop(first); // SIGKILL: no chance to clean up

    let (status,): (String,) = sqlx::query_as("SELECT status FROM jobs WHERE id = 'B-RESTART1'").fetch_one(&db).await.unwrap();
    assert_eq!(status, "in_progress", "the killed server left the run as it was");

    let _second = start(dir.path(), &url, port);
    let (attempts, retries) = wait_for("the run to finish after the restart", async || {
        let (status, attempts, retries): (String, i32, i32) =
            sqlx::query_as("SELECT status, attempts, retries FROM jobs WHERE id = 'B-RESTART1'").fetch_one(&db).await.ok()?;
        (status == "completed").then_some((attempts, retries))
    })
    .await;
    // One attempt cut short, one that finished (another, should a busy machine keep a run from
    // renewing its claim in time); never a retry counted.
    assert!(attempts >= 2 && retries == 0, "{attempts} attempts, {retries} retries");
    let recorded: Vec<(i32, Option<i64>, Option<String>)> =
        sqlx::query_as("SELECT number, finished_at, outcome FROM job_attempts WHERE job_id = 'B-RESTART1' ORDER BY number")
            .fetch_all(&db)
            .await
            .unwrap();
    assert_eq!(recorded.len() as i32, attempts, "{recorded:?}");
    // The killed attempt never ended by itself: the take-over closed it as interrupted.
    assert!(recorded[0].1.is_some() && recorded[0].2.as_deref() == Some("interrupted"), "{recorded:?}");
    assert_eq!(recorded.last().unwrap().2.as_deref(), Some("completed"));
    // And what it wrote while running (the database's log, files of runs).
    assert_owner_only(dir.path());
}

/// Everything the server wrote under its data folder (database, demo download files, keys) is
/// readable by its own user alone.
fn assert_owner_only(dir: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    let mut seen = 0;
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            // A file may be renamed or removed by the running server under the walk.
            let Ok(meta) = std::fs::metadata(&path) else { continue };
            let mode = meta.permissions().mode() & 0o777;
            assert_eq!(mode & 0o077, 0, "{} is {mode:o}", path.display());
            seen += 1;
            if meta.is_dir() {
                folders.push(path);
            }
        }
    }
    assert!(seen > 0, "the server wrote files");
}
