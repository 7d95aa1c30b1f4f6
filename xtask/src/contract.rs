//! The API's contract, checked by schemathesis (`cargo xtask test`, `cargo xtask contract`):
//! every phase (examples, coverage, fuzzing, stateful) with every check, against a server with
//! the demo data: as a reseller's API token, as the reseller's session (what only a person may
//! do: settings, integrations, tokens) and as an end user's session. Its budget is 0 failures.
//!
//! schemathesis comes from PyPI, pinned, into a virtual environment under `target/`.

use std::path::PathBuf;
use std::process::Command;

use portal_api::demo::{DEMO_PASSWORD, DEMO_SIGN_INS};
use portal_api::Role;

use crate::{load, run_command, target_dir, Result, TestServer};

/// The schemathesis run against: the version the issue's findings were measured with.
const SCHEMATHESIS: &str = "4.32.5";
/// Examples per operation and phase: enough to find what the measured run found, within minutes.
const EXAMPLES: &str = "60";

/// The virtual environment's `schemathesis`, installed if missing.
fn schemathesis() -> Result<PathBuf> {
    let venv = target_dir().join("tools").join(format!("schemathesis-{SCHEMATHESIS}"));
    let bin = venv.join("bin").join("schemathesis");
    if bin.exists() {
        return Ok(bin);
    }
    run_command(Command::new("python3").arg("-m").arg("venv").arg(&venv))?;
    run_command(
        Command::new(venv.join("bin").join("pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .arg(format!("schemathesis=={SCHEMATHESIS}")),
    )?;
    Ok(bin)
}

/// What every run shares. Per operation, only where JSON Schema cannot say what the server
/// checks (an address on the public internet, a mailbox that is yours, a folder in the
/// backup, a name the mail server or Halo must know, a range of days that ends before it
/// starts, a code from an authenticator app, one's current password, an admin of the
/// organisation, a passkey ceremony under way and its key's answer): there a schema-valid request may be answered 422 naming the field (or 409,
/// 401 where the state or a challenge decides).
const CONFIG: &str = r#"
# Every run from nothing (no cache of earlier failures in the work tree).
[cache]
enabled = false

[generation]
# Text with NUL is refused (422) everywhere: PostgreSQL cannot store it. The document says so.
allow-x00 = false

[[operations]]
include-operation-id-regex = "^(sign_in|start_job|reauthenticate_backup_admin|add_mailbox|test_connection|change_password|save_halo|save_halo_for_all|test_halo|create_webhook|create_token|search_messages|second_factor|begin_totp|confirm_totp|remove_totp|renew_recovery_codes|change_own_password|set_organisation_policy|set_reseller_policy|add_passkey|change_passkey|second_factor_passkey|sign_in_with_passkey)$"
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "422", "429"]
"#;

/// Who a run signs in as.
#[derive(Clone, Copy)]
enum Run {
    Token(Role),
    Session(Role),
}

/// Loaded by schemathesis before it runs. Python 3.11 before 3.11.8 can raise "SystemError: AST
/// constructor recursion depth mismatch" from a parse while another thread parses too (CPython
/// gh-106905): it stopped whole runs, one worker or two, at an operation that had done nothing
/// wrong. Hypothesis parses source there only to describe a lambda in a strategy's name, so that
/// error gets a plain description instead of ending the run; anything else still fails it.
const HOOKS: &str = r#"
from hypothesis.internal import filtering, lambda_sources

_describe = lambda_sources.lambda_description


def _lambda_description(f):
    try:
        return _describe(f)
    except SystemError:
        return "lambda: <not described>"


lambda_sources.lambda_description = _lambda_description
filtering.lambda_description = _lambda_description
"#;

/// A session's run leaves its own session alone: signing out would end the run's sign-in, and
/// every answer after it would be a 401 that tests nothing.
const KEEP_SIGNED_IN: &str = r#"
[[operations]]
include-operation-id-regex = "^sign_out$"
enabled = false
"#;

/// Runs schemathesis against a fresh server each time: as the reseller's `act` token, as the
/// reseller's session, and as an end user's session (end users hold no tokens).
pub fn check() -> Result {
    let schemathesis = schemathesis()?;
    crate::tools::ensure_build_packages()?;
    run_command(crate::tools::cargo().args(["build", "-p", "portal-server"]))?;
    let mut failures = Vec::new();
    for run in [Run::Token(Role::Reseller), Run::Session(Role::Reseller), Run::Session(Role::EndUser)] {
        // A run that fails goes once more on a fresh server, on one worker, and fails only if
        // it fails again: with the seed fixed a real failure repeats, a stray one does not.
        let mut outcome = one_run(&schemathesis, run, "2");
        if let Err(error) = &outcome {
            eprintln!("contract: {error}; running it once more on a fresh server, on one worker");
            outcome = one_run(&schemathesis, run, "1");
        }
        if let Err(error) = outcome {
            failures.push(error);
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("; "))
    }
}

/// One schemathesis run against a fresh server, as `run` signs in.
fn one_run(schemathesis: &std::path::Path, run: Run, workers: &str) -> Result {
    let (Run::Token(role) | Run::Session(role)) = run;
    // A server of its own each time: the runs change what they find (jobs, tokens, sign-outs).
    let server = TestServer::start(
        "debug",
        &[("PORTAL_LOOPBACK_ONLY", "true"), ("PORTAL_TOKEN_REQUESTS_PER_MINUTE", "100000")],
    )?;
    let email = DEMO_SIGN_INS.iter().find(|(r, _)| *r == role).map(|(_, e)| *e).ok_or("no demo user")?;
    let (cookie, csrf) = load::sign_in_session(server.port, email, DEMO_PASSWORD)?;
    let (auth, who) = match run {
        Run::Token(_) => {
            let token = create_token(server.port, &cookie, &csrf)?;
            (format!("[auth.openapi.token]\nbearer = \"{token}\"\n"), format!("{}'s API token", role.label().to_lowercase()))
        }
        Run::Session(_) => {
            let session = cookie.split_once('=').map(|(_, v)| v).unwrap_or("");
            let auth = format!("{KEEP_SIGNED_IN}\n[auth.openapi.session]\napi_key = \"{session}\"\n[auth.openapi.csrf]\napi_key = \"{csrf}\"\n");
            (auth, format!("{}'s session", role.label().to_lowercase()))
        }
    };
    let dir = target_dir().join("contract");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let config = dir.join(format!("{}.toml", who.replace(['\'', ' '], "-")));
    let hooks = dir.join("hooks.py");
    std::fs::write(&hooks, HOOKS).map_err(|e| e.to_string())?;
    std::fs::write(&config, format!("{CONFIG}\n{auth}")).map_err(|e| e.to_string())?;
    println!("schemathesis {SCHEMATHESIS}: every phase and check, as the {who}");
    let outcome = run_command(
        Command::new(&schemathesis)
            .arg("--config-file")
            .arg(&config)
            .args(["run", &format!("{}/api/openapi.json", server.url)])
            .args(["--checks", "all", "--max-examples", EXAMPLES, "--workers", workers, "--seed", "1"])
            .args(["--phases", "examples,coverage,fuzzing,stateful"])
            .env("NO_COLOR", "1")
            .env("SCHEMATHESIS_HOOKS", &hooks),
    );
    outcome.map_err(|error| format!("as the {who}: {error}"))
}

/// An `act` token of the signed-in reseller, for the run.
fn create_token(port: u16, cookie: &str, csrf: &str) -> Result<String> {
    let mut connection = load::connect(port)?;
    let body = r#"{"name":"schemathesis","access":"act","expires_in_days":1}"#;
    let (status, _, answer) =
        load::request(&mut connection, "POST", "/api/tokens", &[("Cookie", cookie), ("x-csrf-token", csrf)], Some(body))?;
    if status != 201 {
        return Err(format!("creating the run's API token answered {status}: {}", String::from_utf8_lossy(&answer)));
    }
    let created: serde_json::Value = serde_json::from_slice(&answer).map_err(|e| e.to_string())?;
    created["token"].as_str().map(str::to_owned).ok_or_else(|| "no token in the answer".into())
}
