//! A throwaway PostgreSQL server on loopback, in a folder of its own: for running the
//! server's tests on PostgreSQL as well as SQLite. `initdb` with one user (`portal`, trusted
//! on loopback), durability off (the data is gone with the folder), stopped on drop.
//!
//! PostgreSQL must be installed (`postgresql`; `cargo xtask test` does it). It refuses to run
//! as root: started by root, it runs as the `postgres` user the package creates.

use std::fs;
use std::net::TcpStream;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian puts PostgreSQL's programs, one folder per major version.
const VERSIONS: &str = "/usr/lib/postgresql";

/// The newest installed PostgreSQL server's programs (`…/bin`), if any.
pub fn postgres_bin() -> Option<PathBuf> {
    let versions = fs::read_dir(VERSIONS).ok()?;
    versions
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version: u32 = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("postgres").exists().then_some((version, bin))
        })
        .max()
        .map(|(_, bin)| bin)
}

pub struct Postgres {
    pub port: u16,
    dir: PathBuf,
    bin: PathBuf,
    /// The user it runs as, when we are root.
    owner: Option<(u32, u32)>,
    /// `None` while stopped (`stop_immediately`).
    child: Option<Child>,
    /// Commits reach the kernel before they are confirmed (`start_crash_safe`).
    crash_safe: bool,
    /// Its folder outlives it, written durably (`start_kept`).
    kept: bool,
}

impl Postgres {
    pub fn start() -> Result<Postgres, String> {
        Self::start_with(false)
    }

    /// A server whose confirmed commits survive it being killed (`stop_immediately`); not the
    /// machine crashing, which tests do not do. Somewhat slower.
    pub fn start_crash_safe() -> Result<Postgres, String> {
        Self::start_with(true)
    }

    /// A server whose data stays in `dir` (made on first use) and is written as a real
    /// deployment writes it: for `cargo xtask run --postgres`, whose demo data lasts from one
    /// run to the next. Its database `portal` is made if missing.
    pub fn start_kept(dir: &Path) -> Result<Postgres, String> {
        let port = crate::free_port()?;
        let postgres = Self::start_in(dir.to_path_buf(), port, true, true)?;
        // Made once; "already exists" the next time.
        let _ = postgres
            .command("createdb")
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "portal", "portal"])
            .stderr(Stdio::null())
            .status();
        Ok(postgres)
    }

    fn start_with(crash_safe: bool) -> Result<Postgres, String> {
        let port = crate::free_port()?;
        let dir = std::env::temp_dir().join(format!("portal-postgres-{}-{port}", std::process::id()));
        Self::start_in(dir, port, crash_safe, false)
    }

    fn start_in(dir: PathBuf, port: u16, crash_safe: bool, kept: bool) -> Result<Postgres, String> {
        let bin = postgres_bin()
            .ok_or_else(|| format!("no PostgreSQL server under {VERSIONS}: install postgresql (`cargo xtask test` does)"))?;
        fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let owner = run_as()?;
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let mut postgres = Postgres { port, dir, bin, owner, child: None, crash_safe, kept };
        if kept && postgres.dir.join("data").join("PG_VERSION").exists() {
            postgres.start_again()?;
            return Ok(postgres);
        }
        let initdb = postgres
            .command("initdb")
            .args(["--auth=trust", "--username=portal", "--encoding=UTF8", "--locale=C", "--no-sync", "--pgdata"])
            .arg(postgres.dir.join("data"))
            .output()
            .map_err(|e| format!("initdb: {e}"))?;
        if !initdb.status.success() {
            // Dropped: the folder goes.
            return Err(format!("initdb failed: {}", String::from_utf8_lossy(&initdb.stderr)));
        }
        postgres.start_again()?;
        Ok(postgres)
    }

    /// Stops the server as `pg_ctl stop -m immediate` does (SIGQUIT): every connection is cut at
    /// once, nothing is flushed; the next start recovers from the log, as after a crash.
    pub fn stop_immediately(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").args(["-QUIT", &child.id().to_string()]).status();
            let _ = child.wait();
        }
    }

    /// Starts the server (again, after `stop_immediately`) on the same port and data, and
    /// waits until it takes connections.
    pub fn start_again(&mut self) -> Result<(), String> {
        if self.child.is_some() {
            return Ok(());
        }
        let log = fs::OpenOptions::new().create(true).append(true).open(self.dir.join("postgres.log"));
        let child = self
            .command("postgres")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-p", &self.port.to_string(), "-c", "listen_addresses=127.0.0.1", "-c"])
            .arg(format!("unix_socket_directories={}", self.dir.display()))
            // Tests run side by side, each with its own pool.
            .args(["-c", "max_connections=300", "-c"])
            .arg(if self.kept { "fsync=on" } else { "fsync=off" })
            .args(["-c", if self.kept { "full_page_writes=on" } else { "full_page_writes=off" }, "-c"])
            // Off, a commit is confirmed before its log is written: killed, the server loses it.
            .arg(if self.crash_safe || self.kept { "synchronous_commit=on" } else { "synchronous_commit=off" })
            .stdout(Stdio::null())
            .stderr(log.map_err(|e| e.to_string())?)
            .spawn()
            .map_err(|e| format!("postgres: {e}"))?;
        self.child = Some(child);
        self.wait_until_ready()
    }

    /// One of PostgreSQL's programs, run in its folder as its user.
    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(self.bin.join(program));
        command.current_dir(&self.dir);
        if let Some((uid, gid)) = self.owner {
            command.uid(uid).gid(gid);
        }
        command
    }

    /// The server's URL without a database: `postgres://portal@127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("postgres://portal@127.0.0.1:{}", self.port)
    }

    fn wait_until_ready(&self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let ready = TcpStream::connect(("127.0.0.1", self.port)).is_ok()
                && Command::new(self.bin.join("pg_isready"))
                    .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "portal", "-q"])
                    .status()
                    .is_ok_and(|s| s.success());
            if ready {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let log = fs::read_to_string(self.dir.join("postgres.log")).unwrap_or_default();
        Err(format!("PostgreSQL did not start within 30 s:\n{log}"))
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGINT: a fast shutdown (clients cut, no checkpoint worth waiting for).
            let _ = Command::new("kill").args(["-INT", &child.id().to_string()]).status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        if !self.kept {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// The `postgres` user's uid and gid when we are root (PostgreSQL will not run as root).
fn run_as() -> Result<Option<(u32, u32)>, String> {
    let root = fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false);
    if !root {
        return Ok(None);
    }
    crate::user_ids("postgres").map(Some)
}
