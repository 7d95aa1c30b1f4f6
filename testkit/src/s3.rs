//! A throwaway S3-compatible server on loopback: `s3s-fs`, the s3s project's server that keeps
//! each object as a file (`cargo xtask test` installs it with `cargo install`). For the shared
//! object store's tests: the server's real S3 client (signed requests, ranged reads) against a
//! real S3 API. One bucket, `portal`; stopped on drop.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The program, as `cargo install` puts it.
pub const S3S_FS: &str = "s3s-fs";
pub const S3_KEY_ID: &str = "portal-test-key";
pub const S3_SECRET: &str = "portal-test-secret";
pub const S3_BUCKET: &str = "portal";

pub struct S3 {
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
    dir: tempfile::TempDir,
    child: Child,
}

/// `s3s-fs` on PATH, or where `cargo install` puts it.
fn program() -> PathBuf {
    let installed = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")))
        .map(|home| home.join("bin").join(S3S_FS));
    match installed {
        Some(path) if path.exists() => path,
        _ => PathBuf::from(S3S_FS),
    }
}

impl S3 {
    pub fn start() -> Result<S3, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        std::fs::create_dir(dir.path().join(S3_BUCKET)).map_err(|e| e.to_string())?;
        // Port 0: the server says which port it took, so no two tests race for one.
        let mut child = Command::new(program())
            .args(["--host", "127.0.0.1", "--port", "0", "--access-key", S3_KEY_ID, "--secret-key", S3_SECRET])
            .arg(dir.path())
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("{S3S_FS} could not start ({e}): `cargo xtask test` installs it"))?;
        let stdout = child.stdout.take().expect("piped");
        let (found, address) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut said = false;
            // Read to the end, so the server never blocks on a full pipe.
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let (false, Some(at)) = (said, line.find("server is running at http://")) {
                    let address = line[at + "server is running at ".len()..].trim().to_owned();
                    said = found.send(address).is_ok();
                }
            }
        });
        match address.recv_timeout(Duration::from_secs(20)) {
            Ok(endpoint) => Ok(S3 { endpoint, dir, child }),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!("{S3S_FS} did not say where it listens within 20 s"))
            }
        }
    }

    /// The store's URL for `--object-store`.
    pub fn url(&self) -> String {
        format!("s3://{S3_BUCKET}/backups")
    }

    /// Where the server keeps the bucket's objects as files (to look at them, or damage one).
    pub fn files(&self) -> PathBuf {
        self.dir.path().join(S3_BUCKET)
    }

    /// The server's folder.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for S3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
