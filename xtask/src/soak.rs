//! `cargo xtask soak [kills]`: the server killed with SIGKILL at random moments while it backs
//! up, restores and downloads real mailboxes (a Dovecot of its own) and runs demo jobs, started
//! again each time; then every restore is compared byte for byte with its source, every job
//! must have ended exactly once with its attempts counted exactly, and every download must hold
//! the whole backup. Prints the counts and any mismatch; fails on one. `cargo xtask test` runs
//! a short one (3 kills); the bench machine the full one (20).

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant, SystemTime};

use portal_api::{BackupRow, JobRow, JobStatus, Page};
use testkit::{Dovecot, User};

use crate::{imap, load, Result};

const SOURCES: [&str; 3] = ["soak1", "soak2", "soak3"];
const DESTINATIONS: [&str; 3] = ["dest1", "dest2", "dest3"];
const MESSAGES: usize = 400;
const MESSAGE_SIZE: usize = 3000;

/// The server process, killed and started again on the same port and data.
struct Instance {
    child: Option<Child>,
    port: u16,
    data_dir: PathBuf,
}

impl Instance {
    fn start(&mut self) -> Result {
        let binary = crate::target_dir().join("debug").join("portal-server");
        let child = Command::new(&binary)
            .current_dir(crate::root())
            .env("PORTAL_ADDR", format!("127.0.0.1:{}", self.port))
            .env("DATABASE_URL", format!("sqlite://{}/portal.db", self.data_dir.display()))
            .env("PORTAL_DATA_DIR", &self.data_dir)
            .env("PORTAL_DIST", crate::root().join("dist"))
            .env("RUST_LOG", "error")
            .env("PORTAL_SEED_DEMO", "true")
            .env("PORTAL_ALLOW_PRIVATE_TARGETS", "true")
            // Short leases: a killed run is taken over within seconds.
            .env("PORTAL_LEASE_SECONDS", "2")
            .env("PORTAL_DEMO_STEP_MS", "150")
            .spawn()
            .map_err(|e| format!("could not start {}: {e}", binary.display()))?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if Instant::now() > deadline {
                return Err("the server did not start listening again within 60 s".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    /// SIGKILL: nothing unwound, nothing flushed.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The run's data folder, removed at the end however the run ended.
struct Folder(PathBuf);

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A small random source (xorshift), seeded from the clock and printed, so a run can be told apart.
struct Dice(u64);

impl Dice {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// One API call, tried again while the server is down (being killed and started is the point).
fn call(port: u16, session: &(String, String), method: &str, path: &str, body: Option<&str>) -> Result<(u16, Vec<u8>)> {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let attempt = load::connect(port).and_then(|mut connection| {
            load::request(&mut connection, method, path, &[("Cookie", &session.0), ("x-csrf-token", &session.1)], body)
        });
        match attempt {
            Ok((status, _, answer)) if status != 503 => return Ok((status, answer)),
            _ if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(200)),
            Ok((status, _, answer)) => {
                return Err(format!("{method} {path} answered {status}: {}", String::from_utf8_lossy(&answer)))
            }
            Err(error) => return Err(format!("{method} {path}: {error}")),
        }
    }
}

fn json<T: serde::de::DeserializeOwned>(answer: &[u8]) -> Result<T> {
    serde_json::from_slice(answer).map_err(|e| format!("unreadable answer: {e}: {}", String::from_utf8_lossy(answer)))
}

fn backup_of(port: u16, session: &(String, String), user: &str) -> Result<BackupRow> {
    let (_, answer) = call(port, session, "GET", &format!("/api/backups?q={}", imap::address(user)), None)?;
    let page: Page<BackupRow> = json(&answer)?;
    page.items.into_iter().next().ok_or_else(|| format!("no backup of {user}"))
}

/// Statuses after which nothing more happens to a job by itself.
fn ended(status: JobStatus) -> bool {
    !matches!(
        status,
        JobStatus::PreparingBackup
            | JobStatus::OnQueue
            | JobStatus::InProgress
            | JobStatus::Retrying
            | JobStatus::ConnectionError
    )
}

/// A query on the server's SQLite file (python3's sqlite3: no database driver in xtask).
fn count(database: &std::path::Path, sql: &str) -> Result<u64> {
    let out = Command::new("python3")
        .args(["-c", "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])"])
        .arg(database)
        .arg(sql)
        .output()
        .map_err(|e| format!("python3: {e}"))?;
    if !out.status.success() {
        return Err(format!("query failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    String::from_utf8_lossy(&out.stdout).trim().parse().map_err(|e| format!("not a count: {e}"))
}

pub fn soak(kills: u32) -> Result {
    crate::run_command(crate::tools::cargo().args(["build", "-p", "portal-server"]))?;
    let started_at = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_err(|e| e.to_string())?.as_millis() as u64;
    let mut dice = Dice(started_at | 1);
    println!("soak: {kills} kill(s), seed {started_at}");

    let users: Vec<User> = SOURCES.iter().chain(DESTINATIONS.iter()).map(|u| User::new(u, imap::IMAP_PASSWORD)).collect();
    let dovecot = Dovecot::start(&users)?;
    for user in SOURCES {
        dovecot.seed(user, &testkit::bulk_mail(&imap::address(user), MESSAGES, MESSAGE_SIZE))?;
    }
    let port = crate::free_port()?;
    let data_dir = std::env::temp_dir().join(format!("portal-soak-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&data_dir).map_err(|e| e.to_string())?;
    let _folder = Folder(data_dir.clone());
    let mut server = Instance { child: None, port, data_dir: data_dir.clone() };
    server.start()?;
    let session = imap::sign_in_reseller(port)?;
    let all: Vec<&str> = SOURCES.iter().chain(DESTINATIONS.iter()).copied().collect();
    imap::add_mailboxes(port, dovecot.port, &session, &all)?;

    // The faults: at random moments over the whole run, each followed by a start again.
    let chaos = {
        let mut server = Instance { child: server.child.take(), port, data_dir: data_dir.clone() };
        let mut dice = Dice(dice.below(u64::MAX) | 1);
        let database = data_dir.join("portal.db");
        std::thread::spawn(move || -> Result<(u32, Option<Child>)> {
            let running = format!(
                "SELECT COUNT(*) FROM jobs j JOIN imap_accounts a ON a.mailbox_id = j.mailbox_id \
                 WHERE j.status = 'in_progress' AND j.items_done > 0 AND j.created_at >= {started_at}"
            );
            let mut made = 0;
            'kills: for _ in 0..kills {
                // At a random moment while a run of real mail is under way (else a kill proves
                // nothing); once every run has ended there is nothing left to kill.
                let deadline = Instant::now() + Duration::from_secs(60);
                while count(&database, &running).unwrap_or(0) == 0 {
                    if Instant::now() > deadline {
                        break 'kills;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                std::thread::sleep(Duration::from_millis(dice.below(300)));
                server.kill();
                server.start()?;
                made += 1;
            }
            // The last one started runs on, handed back.
            Ok((made, server.child.take()))
        })
    };

    // Backups first (queued when the mailboxes were added), then restores and downloads of them,
    // and demo Force Backups throughout.
    let mut jobs: Vec<String> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(300);
    for user in SOURCES {
        while !ended(backup_of(port, &session, user)?.status) {
            if Instant::now() > deadline {
                return Err(format!("the backup of {user} did not end"));
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    }
    let mut forced = 0;
    for (source, destination) in SOURCES.iter().zip(DESTINATIONS) {
        let source_id = backup_of(port, &session, source)?.mailbox_id;
        for body in [
            format!(
                "{{\"kind\":\"restore\",\"mailbox_id\":{source_id},\"destination\":\"{}\",\"on_conflict\":\"keep_both\"}}",
                imap::address(destination)
            ),
            format!("{{\"kind\":\"download\",\"mailbox_id\":{source_id},\"format\":\"mbox\"}}"),
        ] {
            let (status, answer) = call(port, &session, "POST", "/api/jobs", Some(&body))?;
            if status != 201 {
                return Err(format!("a new job answered {status}: {}", String::from_utf8_lossy(&answer)));
            }
            jobs.push(json::<JobRow>(&answer)?.id);
        }
        let (_, answer) = call(port, &session, "GET", "/api/backups?status=completed&per_page=3", None)?;
        for demo in json::<Page<BackupRow>>(&answer)?.items.iter().filter(|b| !b.mailbox_email.contains("soak")) {
            if call(port, &session, "POST", &format!("/api/backups/{}/force", demo.mailbox_id), None)?.0 == 202 {
                forced += 1;
            }
        }
    }
    let (faults, running) = chaos.join().map_err(|_| "the fault thread panicked")??;
    server.child = running;
    let mut rows = Vec::new();
    for id in &jobs {
        let deadline = Instant::now() + Duration::from_secs(300);
        let row = loop {
            let (_, answer) = call(port, &session, "GET", &format!("/api/jobs/{id}"), None)?;
            let row: JobRow = json(&answer)?;
            if ended(row.status) {
                break row;
            }
            if Instant::now() > deadline {
                return Err(format!("{id} did not end: {:?}", row.status));
            }
            std::thread::sleep(Duration::from_millis(300));
        };
        rows.push(row);
    }

    let mut mismatches: Vec<String> = Vec::new();
    for row in &rows {
        if row.status != JobStatus::Completed {
            mismatches.push(format!("{} ended {:?}: {:?}", row.id, row.status, row.run.detail));
        }
    }
    // Every restore holds exactly its source's messages, byte for byte.
    let mut compared = 0_u64;
    for (source, destination) in SOURCES.iter().zip(DESTINATIONS) {
        let mut wanted: HashMap<Vec<u8>, i64> = HashMap::new();
        for message in dovecot.stored(source, "INBOX") {
            *wanted.entry(message.raw).or_default() += 1;
        }
        for message in dovecot.stored(destination, "INBOX") {
            compared += message.raw.len() as u64;
            *wanted.entry(message.raw).or_default() -= 1;
        }
        let wrong: i64 = wanted.values().map(|n| n.abs()).sum();
        if wrong != 0 {
            mismatches.push(format!("{destination}: {wrong} message(s) missing, doubled or changed against {source}"));
        }
    }
    // Every download holds the whole backup.
    for row in rows.iter().filter(|r| r.download_url.is_some()) {
        // The link as the server gives it; its path is what is asked for here.
        let url = row.download_url.as_deref().unwrap_or_default();
        let url = url.find("/api/").map_or(url, |at| &url[at..]);
        let (status, file) = call(port, &session, "GET", url, None)?;
        let messages = file.split(|b| *b == b'\n').filter(|line| line.starts_with(b"Message-ID: <bulk-")).count();
        if status != 200 || messages != MESSAGES {
            mismatches.push(format!("download {}: {status}, {messages} of {MESSAGES} messages", row.id));
        }
    }
    // Attempts: as many recorded as counted, none left open, and one ending per job.
    let database = data_dir.join("portal.db");
    let ours = format!("j.created_at >= {started_at}");
    let miscounted =
        count(&database, &format!("SELECT COUNT(*) FROM jobs j WHERE {ours} AND j.attempts <> (SELECT COUNT(*) FROM job_attempts a WHERE a.job_id = j.id)"))?;
    let open = count(&database, &format!("SELECT COUNT(*) FROM job_attempts a JOIN jobs j ON j.id = a.job_id WHERE {ours} AND a.finished_at IS NULL AND j.status <> 'in_progress'"))?;
    let endings = count(
        &database,
        &format!(
            "SELECT COUNT(*) FROM jobs j WHERE {ours} AND j.kind <> 'backup' AND (SELECT COUNT(*) FROM job_attempts a WHERE a.job_id = j.id \
             AND a.outcome IN ('completed', 'partially_complete', 'failed', 'cancelled', 'space_full', 'authentication_error')) <> 1"
        ),
    )?;
    let total_jobs = count(&database, &format!("SELECT COUNT(*) FROM jobs j WHERE {ours}"))?;
    let attempts = count(&database, &format!("SELECT COUNT(*) FROM job_attempts a JOIN jobs j ON j.id = a.job_id WHERE {ours}"))?;
    for (what, n) in
        [("attempt counts that disagree", miscounted), ("attempts left open", open), ("jobs not ended exactly once", endings)]
    {
        if n > 0 {
            mismatches.push(format!("{n} {what}"));
        }
    }
    let interrupted = count(
        &database,
        &format!("SELECT COUNT(*) FROM job_attempts a JOIN jobs j ON j.id = a.job_id WHERE {ours} AND a.outcome = 'interrupted'"),
    )?;
    if interrupted == 0 {
        mismatches.push("no kill interrupted a run".into());
    }
    println!(
        "soak: {faults} kill(s); {total_jobs} jobs ({} restores and downloads checked, {forced} demo backups forced), {attempts} attempts ({interrupted} interrupted by a kill); {compared} bytes compared",
        rows.len()
    );
    drop(server);
    drop(dovecot);
    if mismatches.is_empty() {
        println!("soak: nothing lost, nothing doubled, every job ended once");
        Ok(())
    } else {
        mismatches.iter().for_each(|m| println!("soak: MISMATCH {m}"));
        Err(format!("{} mismatch(es)", mismatches.len()))
    }
}
