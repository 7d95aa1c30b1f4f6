//! Installing the toolchain on a fresh machine, and building the portal with it.
//! Every step checks first, so a second run installs nothing (see shared/notes/toolchain.md).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use crate::{root, run_command, Result};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// Dovecot, the IMAP server the `imap` connector is tested against (and `run --imap` shows).
pub const DOVECOT: &str = "/usr/sbin/dovecot";

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// What `run` and `bench` need: the wasm target and the npm packages (wasm-opt, esbuild).
    Run,
    /// Also a browser and the test packages.
    Test,
}

pub fn install_all(needs: Needs) -> Result {
    ensure_build_packages()?;
    ensure_wasm_target()?;
    ensure_npm_packages()?;
    if needs == Needs::Test {
        // Only for its test runner (the portal's browser tests): the build uses the library.
        let bindgen = pinned_wasm_bindgen()?;
        // Without --locked: the CLI's own lock file pins a yanked crate (toolchain notes).
        ensure_cargo_tool("wasm-bindgen", &bindgen, &["install", "wasm-bindgen-cli", "--version", &bindgen])?;
        ensure_debian_packages(&[(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver"), (DOVECOT, "dovecot-imapd")])?;
        ensure_postgres()?;
        ensure_s3_server()?;
    }
    Ok(())
}

/// The S3-compatible server the shared object store is tested (and measured) against:
/// `s3s-fs`, from the registry.
pub const S3S_FS_VERSION: &str = "0.14.1";

pub fn ensure_s3_server() -> Result {
    ensure_cargo_tool(
        testkit::S3S_FS,
        S3S_FS_VERSION,
        &["install", "s3s-fs", "--version", S3S_FS_VERSION, "--features", "binary", "--locked"],
    )
}

/// PostgreSQL from Debian's packages (the tests', and `run --postgres`).
pub fn ensure_postgres() -> Result {
    // Any installed major version will do; Debian 12's is 15.
    let postgres = testkit::postgres_bin().unwrap_or_else(|| "/usr/lib/postgresql/15/bin".into()).join("postgres");
    let postgres = postgres.to_string_lossy();
    ensure_debian_packages(&[(&postgres, "postgresql"), ("/usr/bin/pg_dump", "postgresql-client")])
}

/// What building the server needs beyond Rust: it checks passkeys with webauthn-rs, which
/// links OpenSSL (found by pkg-config).
pub fn ensure_build_packages() -> Result {
    ensure_debian_packages(&[("/usr/include/openssl/ssl.h", "libssl-dev"), ("/usr/bin/pkg-config", "pkg-config")])
}

/// Dovecot alone (`run --imap`).
pub fn ensure_dovecot() -> Result {
    ensure_debian_packages(&[(DOVECOT, "dovecot-imapd")])
}

pub fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

pub fn npx() -> &'static str {
    "npx"
}

fn cargo_bin() -> PathBuf {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .unwrap_or_else(|| PathBuf::from("/root/.cargo"));
    home.join("bin")
}

/// PATH with cargo's binaries and the npm packages' binaries (wasm-opt) in front.
pub fn path_with_tools() -> OsString {
    let mut paths = vec![cargo_bin(), root().join("node_modules").join(".bin")];
    if let Some(path) = std::env::var_os("PATH") {
        paths.extend(std::env::split_paths(&path));
    }
    std::env::join_paths(paths).expect("PATH entries have no separators in them")
}

/// The first line a tool prints for `--version`, if it runs at all.
fn version_of(program: &str) -> Option<String> {
    let output = Command::new(program).arg("--version").env("PATH", path_with_tools()).output().ok()?;
    output.status.success().then(|| String::from_utf8_lossy(&output.stdout).lines().next().unwrap_or("").to_owned())
}

fn ensure_wasm_target() -> Result {
    let output =
        Command::new("rustup").args(["target", "list", "--installed"]).output().map_err(|e| format!("rustup is needed: {e}"))?;
    if String::from_utf8_lossy(&output.stdout).lines().any(|l| l.trim() == "wasm32-unknown-unknown") {
        return Ok(());
    }
    run_command(Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]))
}

fn ensure_cargo_tool(program: &str, version: &str, install_args: &[&str]) -> Result {
    if version_of(program).is_some_and(|v| v.split_whitespace().any(|word| word == version)) {
        return Ok(());
    }
    eprintln!("installing {program} {version} (a few minutes, once per machine)");
    run_command(cargo().args(install_args).arg("--force"))
}

/// The wasm-bindgen version in Cargo.lock: the CLI must be exactly this one.
pub fn pinned_wasm_bindgen() -> Result<String> {
    let lock = std::fs::read_to_string(root().join("Cargo.lock")).map_err(|e| format!("Cargo.lock: {e}"))?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == "name = \"wasm-bindgen\"" {
            if let Some(version) = lines.next().and_then(|l| l.strip_prefix("version = \"")) {
                return Ok(version.trim_end_matches('"').to_owned());
            }
        }
    }
    Err("Cargo.lock has no wasm-bindgen entry".into())
}

/// `npm ci` when node_modules is missing or older than the lock file.
fn ensure_npm_packages() -> Result {
    let lock = root().join("package-lock.json");
    let installed = root().join("node_modules").join(".package-lock.json");
    if modified(&installed).is_some_and(|i| modified(&lock).is_some_and(|l| i >= l)) {
        return Ok(());
    }
    run_command(Command::new("npm").args(["ci", "--no-audit", "--no-fund"]))
}

/// Installs the Debian packages whose file is missing (`(file, package)`), in one go.
fn ensure_debian_packages(wanted: &[(&str, &str)]) -> Result {
    let missing: Vec<&str> = wanted.iter().filter(|(file, _)| !Path::new(file).exists()).map(|(_, package)| *package).collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("installing from Debian's packages: {}", missing.join(", "));
    run_command(Command::new("apt-get").arg("update"))?;
    run_command(
        Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

/// The file types the server sends compressed.
pub const COMPRESSIBLE: [&str; 5] = [".html", ".js", ".wasm", ".css", ".svg"];

/// Writes `NAME.br` (Brotli, quality 11) and `NAME.gz` (Zopfli: smaller than on-the-fly gzip,
/// still plain gzip) beside each compressible file of a folder; the server sends the best one
/// the browser accepts (browsers accept Brotli over HTTPS).
pub fn precompress(folder: &Path) -> Result {
    let entries = std::fs::read_dir(folder).map_err(|e| format!("{}: {e}", folder.display()))?;
    let files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    // Zopfli and Brotli 11 take a core each for seconds per file: every core gets a share.
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|scope| {
        let shares: Vec<_> = (0..workers)
            .map(|worker| {
                let files = &files;
                scope.spawn(move || files.iter().skip(worker).step_by(workers).try_for_each(|file| precompress_file(file)))
            })
            .collect();
        shares.into_iter().try_for_each(|share| share.join().unwrap_or_else(|_| Err("compressing panicked".into())))
    })
}

/// `NAME.br` and `NAME.gz` beside one file, if it is of a type the server sends compressed.
pub fn precompress_file(path: &Path) -> Result {
    let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
    if !COMPRESSIBLE.iter().any(|ext| name.ends_with(ext)) {
        return Ok(());
    }
    let bytes = std::fs::read(path).map_err(|e| format!("{name}: {e}"))?;
    let mut gz = Vec::new();
    zopfli::compress(zopfli::Options::default(), zopfli::Format::Gzip, &bytes[..], &mut gz)
        .map_err(|e| format!("compressing {name}: {e}"))?;
    std::fs::write(path.with_file_name(format!("{name}.gz")), gz).map_err(|e| format!("{name}.gz: {e}"))?;
    let mut br = Vec::new();
    let params = brotli::enc::BrotliEncoderParams { quality: 11, lgwin: 22, ..Default::default() };
    brotli::BrotliCompress(&mut &bytes[..], &mut br, &params).map_err(|e| format!("compressing {name}: {e}"))?;
    std::fs::write(path.with_file_name(format!("{name}.br")), br).map_err(|e| format!("{name}.br: {e}"))
}

pub fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// The newest modification time of a file, or of any file below a folder.
pub fn newest(path: &Path) -> Option<SystemTime> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_dir() {
        return meta.modified().ok();
    }
    std::fs::read_dir(path).ok()?.filter_map(|entry| entry.ok()).filter_map(|entry| newest(&entry.path())).max()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pinned_wasm_bindgen_is_pinned_exactly_in_cargo_toml() {
        let version = pinned_wasm_bindgen().unwrap();
        let manifest = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
        assert!(
            manifest.contains(&format!("wasm-bindgen = \"={version}\"")),
            "Cargo.toml must pin wasm-bindgen to ={version}, the version the CLI is installed at"
        );
    }

    #[test]
    fn newest_looks_inside_folders() {
        assert!(newest(&root().join("xtask")).is_some());
        assert!(newest(&root().join("no-such-folder")).is_none());
    }
}
