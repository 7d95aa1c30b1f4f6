//! `cargo xtask run | test | bench`: the project's only entry points. Each installs what it
//! needs on a fresh machine (nothing installed by hand survives), then builds and runs.

mod bench;
mod contract;
mod imap;
mod load;
mod measure;
mod memory;
mod portal;
mod scale_bench;
mod search_bench;
mod soak;
mod tools;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode};
use std::time::{Duration, Instant};

use portal_api::demo::{DEMO_BREAK_GLASS_ADMIN, DEMO_PASSWORD, DEMO_SIGN_INS, DEMO_SSO_ADMIN, DEMO_TWO_FACTOR_SIGN_INS};

const USAGE: &str = "\
usage: cargo xtask <command>

  run [--imap] [SERVER FLAGS]
                       install what is missing, build the portal (release), start the server
                       on http://127.0.0.1:8080 (or --addr / PORTAL_ADDR) with demo data;
                       --imap: also a local Dovecot with three mailboxes, added to the portal
  dev [SERVER FLAGS]   the development loop: build the portal (no wasm-opt), start the server
                       (debug build, demo data) and build again on every change to the
                       portal's sources; the open page reloads by itself
  test                 install what the tests need and run every test: api and server,
                       the portal in headless Chromium, the end-to-end specs and the
                       API contract
  contract             only the API contract: schemathesis (every phase and check) against
                       a fresh server, as a reseller's API token, the reseller's session and
                       an end user's session
  bench [transfer|list|portal|imap|search|memory]
                       measure the budgets (initial transfer of the portal, the jobs list
                       under load, the portal in Chromium, IMAP backup throughput against
                       Dovecot's own speed, search over a backed-up mailbox of 100,000
                       messages); one part only when named. `memory` (the
                       server's peak memory backing up and downloading a 1 GB mailbox,
                       some minutes) runs only when named
  e2e [spec...]        only the end-to-end specs, or those whose file names match
  soak [kills]         kill the server at random moments (20 times unless told) while it
                       backs up, restores and downloads real mailboxes; then compare every
                       restore byte for byte and check every job ended exactly once
  totp EMAIL           the current authenticator code of a demo user with two-factor sign-in
                       (their secret is derived from the address; `run` prints them)
  setup                only install the tools";

type Result<T = ()> = std::result::Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args.first().map(String::as_str) {
        Some("run") => run(&args[1..]),
        Some("test") => test(),
        Some("dev") => portal::dev(&args[1..]),
        Some("contract") => contract::check(),
        Some("e2e") => tools::install_all(tools::Needs::Test).and_then(|()| match args.get(1).map(String::as_str) {
            Some("--postgres") => end_to_end_on_postgres(&args[2..]),
            _ => end_to_end(&args[1..]),
        }),
        Some("bench") => bench::bench(args.get(1).map(String::as_str)),
        Some("soak") => match args.get(1).map(|n| n.parse::<u32>()) {
            None => tools::install_all(tools::Needs::Test).and_then(|()| soak::soak(20)),
            Some(Ok(kills)) => tools::install_all(tools::Needs::Test).and_then(|()| soak::soak(kills)),
            Some(Err(_)) => Err("soak takes a number of kills".into()),
        },
        Some("setup") => tools::install_all(tools::Needs::Test),
        Some("totp") => demo_totp(args.get(1).map(String::as_str)),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The password of every account of the identity provider built in (idp/src/directory.rs).
fn portal_idp_password() -> &'static str {
    "idp-demo"
}

/// `cargo xtask totp EMAIL`: what a demo user's authenticator app shows now.
fn demo_totp(email: Option<&str>) -> Result {
    let known: Vec<&str> = DEMO_TWO_FACTOR_SIGN_INS.iter().map(|(_, email, _)| *email).collect();
    let Some(email) = email.filter(|e| known.contains(&e.trim().to_lowercase().as_str())) else {
        return Err(format!("totp takes the email of a demo user with an authenticator: {}", known.join(", ")));
    };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_err(|e| e.to_string())?.as_secs();
    let code = portal_totp::code(&portal_totp::demo_secret(email), portal_totp::step_at(now));
    let left = portal_totp::STEP_SECS - now % portal_totp::STEP_SECS;
    println!("{}  (good for {left} s more; each code signs in once)", portal_totp::format(code));
    Ok(())
}

/// The workspace root (the parent of this crate's folder).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives inside the workspace").to_path_buf()
}

pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target"))
}

/// Runs a command in the workspace root, echoing it, and fails if it fails.
pub fn run_command(command: &mut Command) -> Result {
    eprintln!("$ {}", describe(command));
    let status = command.current_dir(root()).status().map_err(|e| format!("could not start {}: {e}", describe(command)))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{} failed ({status})", describe(command)))
    }
}

pub fn describe(command: &Command) -> String {
    let mut text = command.get_program().to_string_lossy().into_owned();
    for arg in command.get_args() {
        text.push(' ');
        text.push_str(&arg.to_string_lossy());
    }
    text
}

fn run(args: &[String]) -> Result {
    let with_imap = args.iter().any(|a| a == "--imap");
    let with_postgres = args.iter().any(|a| a == "--postgres");
    let server_args: Vec<&String> = args.iter().filter(|a| *a != "--imap" && *a != "--postgres").collect();
    tools::install_all(tools::Needs::Run)?;
    if with_imap {
        tools::ensure_dovecot()?;
    }
    // A local PostgreSQL whose data lasts from one run to the next (target/postgres-run).
    let postgres = if with_postgres {
        tools::ensure_postgres()?;
        let postgres = testkit::Postgres::start_kept(&target_dir().join("postgres-run"))?;
        println!("PostgreSQL: {}/portal (data in target/postgres-run)", postgres.url());
        Some(postgres)
    } else {
        None
    };
    portal::build_alongside(|| run_command(tools::cargo().args(["build", "--release", "-p", "portal-server"])))?;
    let server = target_dir().join("release").join("portal-server");
    let dovecot = with_imap.then(|| imap::demo_dovecot(Some(imap::RUN_PORT))).transpose()?;
    println!();
    println!("Backup Portal: open the address below (default http://127.0.0.1:8080) and sign in as");
    for (role, email) in DEMO_SIGN_INS {
        println!("  {:<20} {email}", role.label());
    }
    println!("  (password for all: {DEMO_PASSWORD})");
    println!("and with an authenticator app (codes: cargo xtask totp EMAIL; or add the secret to an app):");
    for (role, email, _) in DEMO_TWO_FACTOR_SIGN_INS {
        let secret = portal_totp::base32_encode(&portal_totp::demo_secret(email));
        println!("  {:<20} {email:<34} secret {secret}", role.label());
    }
    println!("Cedar Logistics signs in with Microsoft only: \"Sign in with Microsoft\" as {DEMO_SSO_ADMIN}");
    println!("  (the built-in provider's password: {}); its break-glass admin {DEMO_BREAK_GLASS_ADMIN}", portal_idp_password());
    println!("  keeps the demo password.");
    println!("Passkeys (Account › Security) need a host name: open the portal at http://localhost:<port>.");
    println!();
    // The demo, which `portal-server` on its own never seeds (its password is published).
    let mut command = Command::new(&server);
    if let Some(postgres) = &postgres {
        command.env("DATABASE_URL", format!("{}/portal", postgres.url()));
    }
    let mut child = command
        .env("PORTAL_SEED_DEMO", std::env::var("PORTAL_SEED_DEMO").unwrap_or_else(|_| "true".into()))
        // Every status of every kind stays on show while the demo runs.
        .env("PORTAL_DEMO_CYCLE", std::env::var("PORTAL_DEMO_CYCLE").unwrap_or_else(|_| "true".into()))
        // The local Dovecot of --imap and the HaloPSA built in (--psa embedded) are on this machine.
        .env("PORTAL_ALLOW_PRIVATE_TARGETS", std::env::var("PORTAL_ALLOW_PRIVATE_TARGETS").unwrap_or_else(|_| "true".into()))
        .args(&server_args)
        .current_dir(root())
        .spawn()
        .map_err(|e| format!("could not start {}: {e}", server.display()))?;
    if dovecot.is_some() {
        let port = server_args
            .iter()
            .position(|a| *a == "--addr")
            .and_then(|i| server_args.get(i + 1))
            .and_then(|addr| addr.rsplit(':').next()?.parse().ok())
            .unwrap_or(8080);
        wait_for_port(port)?;
        imap::register(port, imap::RUN_PORT, &["ann", "ben", "cara"])?;
        println!();
        println!(
            "IMAP: Dovecot on 127.0.0.1:{} (plain), password {} for ann, ben and cara;",
            imap::RUN_PORT,
            imap::IMAP_PASSWORD
        );
        println!("  their mailboxes are in Bluebird Clinics (Account Settings › Mailboxes, as the reseller):");
        for user in ["ann", "ben", "cara"] {
            println!("  {}", imap::address(user));
        }
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    drop(dovecot);
    drop(postgres);
    if status.success() {
        Ok(())
    } else {
        Err(format!("the server stopped: {status}"))
    }
}

fn test() -> Result {
    let started = Instant::now();
    // A run builds everything once (CI starts from a clean clone): incremental caches would
    // only double the disk it needs.
    std::env::set_var("CARGO_INCREMENTAL", "0");
    tools::install_all(tools::Needs::Test)?;
    let mut suites: Vec<(&str, Result)> = Vec::new();

    suites.push((
        "api and server (cargo test)",
        // With the failpoints the fault tests arm (server/src/failpoint.rs); a release build has none.
        run_command(tools::cargo().args([
            "test",
            "-p",
            "portal-api",
            "-p",
            "portal-html",
            "-p",
            "portal-idp",
            "-p",
            "portal-server",
            "-p",
            "portal-totp",
            "-p",
            "xtask",
            "--features",
            FAILPOINTS,
        ])),
    ));
    suites.push(("server on PostgreSQL (cargo test)", server_tests_on_postgres()));
    suites.push((
        "portal in headless Chromium (wasm-bindgen-test)",
        run_command(
            tools::cargo()
                .args(["test", "-p", "portal", "--target", "wasm32-unknown-unknown"])
                .env("CHROMEDRIVER", tools::CHROMEDRIVER)
                .env("WASM_BINDGEN_TEST_TIMEOUT", "60"),
        ),
    ));
    suites.push(("end-to-end specs (Playwright)", end_to_end(&[])));
    suites.push(("end-to-end specs on PostgreSQL (Playwright)", end_to_end_on_postgres(&[])));
    suites.push(("API contract (schemathesis, every phase and check: a reseller's token and session, an end user's session)", contract::check()));
    suites.push(("soak: 3 kills mid-backup, -restore and -download", soak::soak(3)));

    println!();
    let failed = suites.iter().filter(|(_, outcome)| outcome.is_err()).count();
    for (name, outcome) in &suites {
        match outcome {
            Ok(()) => println!("  ok      {name}"),
            Err(message) => println!("  FAILED  {name}: {message}"),
        }
    }
    println!("xtask test took {:.0} s", started.elapsed().as_secs_f64());
    println!("suites: {} passed, {failed} failed", suites.len() - failed);
    if failed == 0 {
        Ok(())
    } else {
        Err(format!("{failed} suite(s) failed"))
    }
}

/// The server's tests again, each on a fresh database of a throwaway PostgreSQL server, so
/// that what only PostgreSQL refuses is found (SQL is shared through sqlx's Any driver).
fn server_tests_on_postgres() -> Result {
    let postgres = testkit::Postgres::start()?;
    run_command(
        tools::cargo()
            .args(["test", "-p", "portal-server", "--tests", "--features", FAILPOINTS])
            .env("PORTAL_TEST_POSTGRES", postgres.url()),
    )
}

/// The server's test-only feature: failpoints that abort the process (server/tests/failpoints.rs).
const FAILPOINTS: &str = "portal-server/failpoints";

/// The specs again with the shared server on a fresh PostgreSQL database. Those that break a
/// server of their own on purpose (`own-server.ts`: stopped, its SQLite file held) run on
/// SQLite only; the server's own tests break PostgreSQL (`database_gone.rs`).
fn end_to_end_on_postgres(specs: &[String]) -> Result {
    let postgres = testkit::Postgres::start()?;
    end_to_end_with(specs, Some(&format!("{}/postgres", postgres.url())))
}

/// Builds the portal and the server, starts the server on a free port with a fresh
/// database, runs the Playwright specs against it, and stops it.
fn end_to_end(specs: &[String]) -> Result {
    end_to_end_with(specs, None)
}

fn end_to_end_with(specs: &[String], database_url: Option<&str>) -> Result {
    portal::build_alongside(|| run_command(tools::cargo().args(["build", "-p", "portal-server"])))?;
    // Real mailboxes for the IMAP specs: the specs add ann's and ben's through the portal; the
    // server seeds dora's, with her end user's sign-in (messages.spec).
    let dovecot = imap::demo_dovecot(None)?;
    let seed_imap = imap::seed_address(&dovecot);
    // Device codes of the built-in identity provider live 20 s and are polled every second,
    // so that the specs can see one expire and one authorised without waiting minutes. One
    // signed-in reseller runs several flows within a minute: more attempts than a person makes.
    let server = TestServer::start(
        "debug",
        &[
            ("PORTAL_DEMO_STEP_MS", "120"),
            ("PORTAL_IDP_DEVICE_CODE_SECONDS", "20"),
            ("PORTAL_IDP_DEVICE_INTERVAL_SECONDS", "1"),
            ("PORTAL_REAUTH_ATTEMPTS_PER_MINUTE", "30"),
            // So that the one-minute limit per user is the one a spec runs into (rate-limit.spec.ts).
            ("PORTAL_REAUTH_ATTEMPTS_PER_ORGANISATION", "100"),
            ("PORTAL_SEED_IMAP_DEMO", &seed_imap),
        ]
        .into_iter()
        .chain(database_url.map(|url| ("DATABASE_URL", url)))
        .collect::<Vec<_>>(),
    )?;
    let outcome = run_command(
        Command::new(tools::npx())
            .args(["playwright", "test", "--config", "tests/e2e/playwright.config.ts"])
            .args(specs)
            .env("PORTAL_URL", &server.url)
            // Specs that break a server on purpose (stopped, database held, provider out of
            // reach) start one of their own from the same build.
            .env("PORTAL_SERVER_BIN", target_dir().join("debug").join("portal-server"))
            .env("PORTAL_DIST", root().join("dist"))
            .env("PORTAL_TEST_IMAP_PORT", dovecot.port.to_string())
            .env("PORTAL_E2E_DATABASE", if database_url.is_some() { "postgres" } else { "sqlite" })
            .env("PATH", tools::path_with_tools()),
    );
    drop(dovecot);
    drop(server);
    outcome
}

/// A server of our own for the end-to-end specs, stopped (and its database removed) on drop.
pub struct TestServer {
    pub url: String,
    pub port: u16,
    child: Child,
    data_dir: PathBuf,
    binary: PathBuf,
    env: Vec<(String, String)>,
}

impl TestServer {
    /// Starts the server built in `profile` (`debug` or `release`) with extra environment.
    pub fn start(profile: &str, env: &[(&str, &str)]) -> Result<TestServer> {
        let port = free_port()?;
        let data_dir = std::env::temp_dir().join(format!("portal-e2e-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&data_dir).map_err(|e| format!("could not create {}: {e}", data_dir.display()))?;
        let binary = target_dir().join(profile).join("portal-server");
        let env = env.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect();
        let child = TestServer::spawn(&binary, port, &data_dir, &env)?;
        let server = TestServer { url: format!("http://127.0.0.1:{port}"), port, child, data_dir, binary, env };
        server.wait_until_ready(port)?;
        Ok(server)
    }

    fn spawn(binary: &Path, port: u16, data_dir: &Path, env: &Vec<(String, String)>) -> Result<Child> {
        Command::new(binary)
            .current_dir(root())
            .env("PORTAL_ADDR", format!("127.0.0.1:{port}"))
            .env("DATABASE_URL", format!("sqlite://{}/portal.db", data_dir.display()))
            .env("PORTAL_DIST", root().join("dist"))
            .env("PORTAL_DATA_DIR", data_dir)
            .env("RUST_LOG", "warn")
            .env("PORTAL_SEED_DEMO", "true")
            // The specs' and the bench's Dovecot is on this machine.
            .env("PORTAL_ALLOW_PRIVATE_TARGETS", "true")
            .envs(env.iter().map(|(name, value)| (name, value)))
            .spawn()
            .map_err(|e| format!("could not start {}: {e}", binary.display()))
    }

    /// Stops the server (SIGTERM, as a deployment would) and starts a fresh process on the
    /// same port, database and data folder.
    pub fn restart(&mut self) -> Result {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.child.try_wait().map_err(|e| e.to_string())?.is_none() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.child = TestServer::spawn(&self.binary, self.port, &self.data_dir, &self.env)?;
        self.wait_until_ready(self.port)
    }

    /// The server's process ID (its memory is read from /proc).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn wait_until_ready(&self, port: u16) -> Result {
        // Seeding a large demo (bench) takes a while before the server listens.
        let deadline = Instant::now() + Duration::from_secs(300);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(format!("the test server did not start listening on port {port} within 300 s"))
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

fn wait_for_port(port: u16) -> Result {
    let deadline = Instant::now() + Duration::from_secs(300);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!("the server did not start listening on port {port}"))
}

fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    listener.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}
