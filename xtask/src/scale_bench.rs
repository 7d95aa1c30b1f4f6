//! `cargo xtask bench scale`: several release servers on one PostgreSQL.
//!
//! - Jobs completed per minute by one instance, then by three, on the same PostgreSQL: demo
//!   backups of a fixed run time (8 steps of 100 ms) so that the figure measures the shared
//!   queue, not the CPU. Counted while the queue is full (from 10 % to 90 % of the jobs done),
//!   so that the instances' first look for work does not count. Budget: three ≥ 2.5 × one.
//! - Claims per second on one PostgreSQL: claimers taking due jobs as fast as they can, each
//!   recorded Completed at once (`server/examples/claim_bench.rs`), with the live updates'
//!   trigger in place. Budget: ≥ 1,000 per second.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{root, run_command, target_dir, tools, Result};

const JOBS: u32 = 400;
const WORKERS: &str = "8";
const STEP_MS: &str = "100";
const SPEED_UP_BUDGET: f64 = 2.5;
const CLAIM_JOBS: &str = "10000";
const CLAIMERS: &str = "8";
const CLAIMS_BUDGET: f64 = 1000.0;

pub fn scale(over: &mut Vec<String>) -> Result {
    tools::install_all(tools::Needs::Run)?;
    tools::ensure_postgres()?;
    run_command(tools::cargo().args(["build", "--release", "-p", "portal-server", "--bins", "--example", "claim_bench"]))?;
    let postgres = testkit::Postgres::start()?;

    let one = jobs_per_minute(&postgres, "scale_one", 1)?;
    println!("jobs completed per minute, 1 instance: {one:.0}");
    let three = jobs_per_minute(&postgres, "scale_three", 3)?;
    let speed_up = three / one;
    let ok = speed_up >= SPEED_UP_BUDGET;
    println!(
        "jobs completed per minute, 3 instances: {three:.0} = {speed_up:.2} × one (budget ≥ {SPEED_UP_BUDGET} ×) {}",
        if ok { "OK" } else { "UNDER BUDGET" }
    );
    if !ok {
        over.push("scale: 3 instances".into());
    }

    create_database(&postgres, "scale_claims")?;
    let output = Command::new(target_dir().join("release").join("examples").join("claim_bench"))
        .args([&format!("{}/scale_claims", postgres.url()), CLAIM_JOBS, CLAIMERS])
        .env("RUST_LOG", "warn")
        .output()
        .map_err(|e| format!("claim_bench: {e}"))?;
    if !output.status.success() {
        return Err(format!("claim_bench failed: {}", String::from_utf8_lossy(&output.stderr)));
    }
    let printed = String::from_utf8_lossy(&output.stdout);
    let field = |name: &str| -> Option<f64> { printed.split_whitespace().find_map(|f| f.strip_prefix(name)?.parse().ok()) };
    let (claims, seconds) = field("claims=").zip(field("seconds=")).ok_or_else(|| format!("claim_bench printed {printed:?}"))?;
    let per_second = claims / seconds;
    let ok = per_second >= CLAIMS_BUDGET;
    println!(
        "claims per second on one PostgreSQL ({claims:.0} claims, {CLAIMERS} claimers): {per_second:.0} (budget ≥ {CLAIMS_BUDGET:.0}) {}",
        if ok { "OK" } else { "UNDER BUDGET" }
    );
    if !ok {
        over.push("scale: claims per second".into());
    }
    Ok(())
}

/// `instances` servers on a fresh database of `postgres`; JOBS backups queued at once; the
/// rate at which they complete while the queue is full, per minute.
fn jobs_per_minute(postgres: &testkit::Postgres, database: &str, instances: usize) -> Result<f64> {
    create_database(postgres, database)?;
    let url = format!("{}/{database}", postgres.url());
    let folder = std::env::temp_dir().join(format!("portal-scale-{}-{database}", std::process::id()));
    let mut servers = Vec::new();
    for n in 0..instances {
        servers.push(Server::start(&url, &folder.join(n.to_string()), n)?);
    }
    let now = "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT";
    psql(
        postgres,
        database,
        &format!(
            "INSERT INTO resellers (id, name) VALUES (1, 'Scale'); \
             INSERT INTO organisations (id, reseller_id, name) SELECT g, 1, 'Scale ' || g FROM generate_series(1, 10) g; \
             INSERT INTO mailboxes (id, organisation_id, email, display_name) \
               SELECT g, g % 10 + 1, 'scale-' || g || '@scale.example', 'Scale ' || g FROM generate_series(1, {JOBS}) g; \
             INSERT INTO backups (mailbox_id, status, last_backup_at, last_success_at, updated_at) \
               SELECT g, 'completed', {now}, {now}, {now} FROM generate_series(1, {JOBS}) g; \
             INSERT INTO jobs (id, kind, mailbox_id, status, created_at, updated_at, next_run_at) \
               SELECT 'B-SCALE' || g, 'backup', g, 'preparing_backup', {now}, {now}, {now} FROM generate_series(1, {JOBS}) g;"
        ),
    )?;
    let (low, high) = (JOBS / 10, JOBS * 9 / 10);
    let mut from: Option<(Instant, u32)> = None;
    let deadline = Instant::now() + Duration::from_secs(600);
    let rate = loop {
        let done: u32 = psql(postgres, database, "SELECT COUNT(*) FROM jobs WHERE status = 'completed'")?
            .trim()
            .parse()
            .map_err(|e| format!("count of completed jobs: {e}"))?;
        match from {
            None if done >= low => from = Some((Instant::now(), done)),
            Some((at, first)) if done >= high => break f64::from(done - first) / at.elapsed().as_secs_f64() * 60.0,
            _ => {}
        }
        if Instant::now() > deadline {
            return Err(format!("{instances} instance(s) completed {done} of {JOBS} jobs in 10 minutes"));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    drop(servers);
    let _ = std::fs::remove_dir_all(&folder);
    Ok(rate)
}

fn create_database(postgres: &testkit::Postgres, name: &str) -> Result {
    psql(postgres, "postgres", &format!("CREATE DATABASE {name}")).map(|_| ())
}

/// Runs SQL with `psql`; what it printed (unaligned, tuples only).
fn psql(postgres: &testkit::Postgres, database: &str, sql: &str) -> Result<String> {
    let output = Command::new("psql")
        .args([&format!("{}/{database}", postgres.url()), "-v", "ON_ERROR_STOP=1", "-At", "-c", sql])
        .output()
        .map_err(|e| format!("psql: {e}"))?;
    if !output.status.success() {
        return Err(format!("psql: {}", String::from_utf8_lossy(&output.stderr)));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// One release server of the measurement, stopped (SIGTERM) when dropped.
struct Server(Child);

impl Server {
    fn start(url: &str, data_dir: &Path, n: usize) -> Result<Server> {
        std::fs::create_dir_all(data_dir).map_err(|e| format!("{}: {e}", data_dir.display()))?;
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.port();
        let child = Command::new(target_dir().join("release").join("portal-server"))
            .current_dir(root())
            .env("DATABASE_URL", url)
            .env("PORTAL_ADDR", format!("127.0.0.1:{port}"))
            .env("PORTAL_DATA_DIR", data_dir)
            .env("PORTAL_MASTER_KEY", "5a".repeat(32))
            .env("PORTAL_INSTANCE_NAME", format!("scale-{n}"))
            .env("PORTAL_DEMO_STEP_MS", STEP_MS)
            .env("PORTAL_WORKERS", WORKERS)
            .env("PORTAL_MAX_RUNS_PER_ORGANISATION", "1000")
            .env("PORTAL_BACKUP_INTERVAL_HOURS", "100000")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| format!("portal-server: {e}"))?;
        let server = Server(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err("a scale server did not start listening within 60 s".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(server)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while matches!(self.0.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
