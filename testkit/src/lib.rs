//! Real servers on loopback for tests: PostgreSQL (`postgres`), an S3-compatible store (`s3`),
//! and this file's Dovecot.
//!
//! A real Dovecot IMAP server on loopback, in a folder of its own: for the imap connector's
//! tests, `cargo xtask run --imap` and the backup benchmark. The configuration is the one
//! checked in `shared/notes/dovecot.md`, plus what the connector's tests need: no login
//! penalty after a wrong password, a quota per user, and a process group we can kill.
//!
//! Dovecot must be installed (`dovecot-imapd`; `cargo xtask setup` does it) and started as
//! root: it drops to its own users.

use std::fs;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

mod postgres;
mod s3;
pub use postgres::{postgres_bin, Postgres};
pub use s3::{S3, S3S_FS, S3_BUCKET, S3_KEY_ID, S3_SECRET};

pub const DOVECOT: &str = "/usr/sbin/dovecot";

/// One mailbox of the test server.
#[derive(Clone, Debug)]
pub struct User {
    pub name: String,
    pub password: String,
    /// Dovecot's storage quota for the mailbox, in KiB (`None`: 1 GiB).
    pub quota_kib: Option<u64>,
}

impl User {
    pub fn new(name: &str, password: &str) -> User {
        User { name: name.into(), password: password.into(), quota_kib: None }
    }

    pub fn with_quota_kib(mut self, kib: u64) -> User {
        self.quota_kib = Some(kib);
        self
    }
}

/// A message to put into a mailbox as the mail server would have stored it.
#[derive(Clone, Debug)]
pub struct Seed {
    pub folder: String,
    pub raw: Vec<u8>,
    /// Maildir flag letters: S seen, F flagged, R answered, D draft.
    pub flags: String,
    /// When it arrived (becomes its INTERNALDATE).
    pub arrived: SystemTime,
}

pub struct Dovecot {
    pub port: u16,
    /// IMAP over TLS (`start_with_tls`), with a certificate for `localhost` from a test CA.
    pub tls_port: Option<u16>,
    dir: PathBuf,
    users: Vec<User>,
    child: Option<Child>,
    /// The server's own uid and gid (its files must be theirs).
    owner: (u32, u32),
}

impl Dovecot {
    /// Starts a server for these users in a new folder under the system's temporary folder.
    pub fn start(users: &[User]) -> Result<Dovecot, String> {
        on_some_free_port(|| Dovecot::start_inner(users, free_port()?, None))
    }

    /// The same, also serving IMAP over TLS; its CA is `ca_file()`.
    pub fn start_with_tls(users: &[User]) -> Result<Dovecot, String> {
        on_some_free_port(|| Dovecot::start_inner(users, free_port()?, Some(free_port()?)))
    }

    /// The same, on a given port of 127.0.0.1.
    pub fn start_on(users: &[User], port: u16) -> Result<Dovecot, String> {
        Dovecot::start_inner(users, port, None)
    }

    fn start_inner(users: &[User], port: u16, tls_port: Option<u16>) -> Result<Dovecot, String> {
        if !Path::new(DOVECOT).exists() {
            return Err(format!("{DOVECOT} is missing: install dovecot-imapd (`cargo xtask setup` does)"));
        }
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Err(format!("port {port} {TAKEN} (another Dovecot?)"));
        }
        let dir = std::env::temp_dir().join(format!("portal-dovecot-{}-{port}", std::process::id()));
        for sub in ["run", "state", "log", "mail"] {
            fs::create_dir_all(dir.join(sub)).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        // Dovecot's own users must reach the folder.
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).map_err(|e| e.to_string())?;
        let owner = dovecot_ids()?;
        let mut dovecot = Dovecot { port, tls_port, dir, users: users.to_vec(), child: None, owner };
        if tls_port.is_some() {
            dovecot.make_certificates()?;
        }
        dovecot.write_config()?;
        dovecot.write_users()?;
        for user in users {
            dovecot.ensure_folder(&user.name, "INBOX")?;
        }
        dovecot.run()?;
        Ok(dovecot)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The test CA that signed the server's certificate (PEM).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("tls").join("ca.pem")
    }

    /// A CA, and a certificate for localhost and 127.0.0.1 signed by it (a CA certificate
    /// itself is refused by rustls as a server's).
    fn make_certificates(&self) -> Result<(), String> {
        let tls = self.dir.join("tls");
        fs::create_dir_all(&tls).map_err(|e| e.to_string())?;
        fs::write(
            tls.join("ext.cnf"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
        )
        .map_err(|e| e.to_string())?;
        let steps: [&[&str]; 3] = [
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=Backup Portal test CA",
            ],
            &["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-out", "server.csr", "-subj", "/CN=localhost"],
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "cert.pem",
                "-days",
                "2",
                "-extfile",
                "ext.cnf",
            ],
        ];
        for args in steps {
            let status = Command::new("openssl")
                .args(args)
                .current_dir(&tls)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map_err(|e| format!("could not run openssl: {e}"))?;
            if !status.success() {
                return Err(format!("openssl {} failed", args[0]));
            }
        }
        Ok(())
    }

    fn config_path(&self) -> PathBuf {
        self.dir.join("dovecot.conf")
    }

    fn write_config(&self) -> Result<(), String> {
        let d = self.dir.display();
        let config = format!(
            r#"protocols = imap
listen = 127.0.0.1
base_dir = {d}/run
state_dir = {d}/state
instance_name = portal-test-{port}
log_path = {d}/log/dovecot.log
{ssl}
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
mail_location = maildir:{d}/mail/%u
mail_uid = dovecot
mail_gid = dovecot
first_valid_uid = 100
first_valid_gid = 100
mail_plugins = quota
namespace inbox {{
  inbox = yes
  separator = /
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {d}/users
  default_fields = uid=dovecot gid=dovecot home={d}/mail/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
  }}
}}
service anvil {{
  chroot =
  # No login penalty after a wrong password: the tests try wrong ones on purpose.
  unix_listener anvil-auth-penalty {{
    path = anvil-auth-penalty-off
  }}
}}
plugin {{
  quota = maildir:User quota
  quota_rule = *:storage=1G
}}
protocol imap {{
  mail_plugins = $mail_plugins imap_quota
}}
"#,
            port = self.port,
            tls_port = self.tls_port.unwrap_or(0),
            ssl = match self.tls_port {
                Some(_) => format!("ssl = yes\nssl_cert = <{d}/tls/cert.pem\nssl_key = <{d}/tls/key.pem"),
                None => "ssl = no".to_owned(),
            },
        );
        fs::write(self.config_path(), config).map_err(|e| e.to_string())
    }

    fn write_users(&self) -> Result<(), String> {
        let mut text = String::new();
        for user in &self.users {
            let quota = user.quota_kib.map(|kib| format!("userdb_quota_rule=*:storage={kib}K")).unwrap_or_default();
            text.push_str(&format!("{}:{{PLAIN}}{}::::::{quota}\n", user.name, user.password));
        }
        fs::write(self.dir.join("users"), text).map_err(|e| e.to_string())
    }

    /// Starts the server (again) on the same port and folder, and waits until it greets.
    pub fn run(&mut self) -> Result<(), String> {
        let child = Command::new(DOVECOT)
            .arg("-F")
            .arg("-c")
            .arg(self.config_path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group, so that `kill` reaches the IMAP processes too.
            .process_group(0)
            .spawn()
            .map_err(|e| format!("could not start {DOVECOT}: {e}"))?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            // Gone at once: most likely its port was taken between our check and its bind.
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                self.child = None;
                return Err(format!("Dovecot stopped at once ({status}): perhaps its port {TAKEN}; log: {}/log/dovecot.log", self.dir.display()));
            }
            if let Ok(stream) = TcpStream::connect(("127.0.0.1", self.port)) {
                let mut greeting = [0_u8; 4];
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                if std::io::Read::read(&mut &stream, &mut greeting).is_ok_and(|n| n > 0) {
                    return Ok(());
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!("Dovecot did not greet on port {} within 20 s (log: {}/log/dovecot.log)", self.port, self.dir.display()))
    }

    /// Stops the server at once, open sessions included, as a crash or a cut cable would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let group = format!("-{}", child.id());
            let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// A new password for a user; Dovecot reads the users file again on its next login.
    pub fn set_password(&mut self, user: &str, password: &str) -> Result<(), String> {
        self.change_user(user, |u| u.password = password.into())
    }

    /// A new quota for a user, in KiB.
    pub fn set_quota_kib(&mut self, user: &str, kib: u64) -> Result<(), String> {
        self.change_user(user, |u| u.quota_kib = Some(kib))
    }

    fn change_user(&mut self, user: &str, change: impl FnOnce(&mut User)) -> Result<(), String> {
        let found = self.users.iter_mut().find(|u| u.name == user).ok_or_else(|| format!("no user {user}"))?;
        change(found);
        self.write_users()?;
        // Dovecot notices the change by the file's modification time, to the second.
        std::thread::sleep(Duration::from_millis(1100));
        Ok(())
    }

    /// Gives a folder a new UIDVALIDITY, as a server does when it renumbers a folder's messages.
    pub fn set_uid_validity(&self, user: &str, folder: &str, uid_validity: u32) -> Result<(), String> {
        let status = Command::new("doveadm")
            .arg("-c")
            .arg(self.config_path())
            .args(["mailbox", "update", "-u", user, "--uid-validity", &uid_validity.to_string(), folder])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| format!("could not run doveadm: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("doveadm mailbox update failed ({status})"))
        }
    }

    /// The Maildir folder of a user's folder ("INBOX", "Work", "Archive/2024").
    fn folder_path(&self, user: &str, folder: &str) -> PathBuf {
        let home = self.dir.join("mail").join(user);
        if folder == "INBOX" {
            home
        } else {
            home.join(format!(".{}", folder.replace('/', ".")))
        }
    }

    fn ensure_folder(&self, user: &str, folder: &str) -> Result<(), String> {
        let path = self.folder_path(user, folder);
        for sub in ["cur", "new", "tmp"] {
            fs::create_dir_all(path.join(sub)).map_err(|e| e.to_string())?;
        }
        let mut owned = vec![self.dir.join("mail").join(user), path.clone()];
        owned.extend(["cur", "new", "tmp"].iter().map(|sub| path.join(sub)));
        for p in owned {
            std::os::unix::fs::chown(&p, Some(self.owner.0), Some(self.owner.1)).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Puts messages into a user's mailbox as files, as delivery would (fast: thousands a second).
    pub fn seed(&self, user: &str, messages: &[Seed]) -> Result<(), String> {
        for (i, message) in messages.iter().enumerate() {
            self.ensure_folder(user, &message.folder)?;
            let unique = format!(
                "{}.M{i}P{}.portal-test",
                message.arrived.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
                std::process::id()
            );
            let mut letters: Vec<char> = message.flags.chars().collect();
            letters.sort_unstable();
            // Dovecot keeps mail with LF line ends (and sends CRLF); so does this.
            let stored = lf_line_ends(&message.raw);
            let name = format!("{unique},S={}:2,{}", stored.len(), letters.into_iter().collect::<String>());
            let path = self.folder_path(user, &message.folder).join("cur").join(name);
            let mut file = fs::File::create(&path).map_err(|e| e.to_string())?;
            file.write_all(&stored).map_err(|e| e.to_string())?;
            file.set_modified(message.arrived).map_err(|e| e.to_string())?;
            std::os::unix::fs::chown(&path, Some(self.owner.0), Some(self.owner.1)).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Deletes from a user's folder the messages whose bytes contain `needle`, as a mail client
    /// that expunges them would; says how many.
    pub fn delete(&self, user: &str, folder: &str, needle: &[u8]) -> usize {
        let mut deleted = 0;
        for sub in ["cur", "new"] {
            let Ok(entries) = fs::read_dir(self.folder_path(user, folder).join(sub)) else { continue };
            for entry in entries.flatten() {
                let holds = fs::read(entry.path()).is_ok_and(|raw| raw.windows(needle.len()).any(|w| w == needle));
                if holds && fs::remove_file(entry.path()).is_ok() {
                    deleted += 1;
                }
            }
        }
        deleted
    }

    /// Every message of a user's folder as Dovecot stored it, sorted (to compare byte for byte).
    pub fn stored(&self, user: &str, folder: &str) -> Vec<Stored> {
        let mut messages = Vec::new();
        for sub in ["cur", "new"] {
            let Ok(entries) = fs::read_dir(self.folder_path(user, folder).join(sub)) else { continue };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let mut flags: Vec<char> = name.rsplit_once(":2,").map(|(_, f)| f.chars().collect()).unwrap_or_default();
                flags.sort_unstable();
                let (Ok(raw), Ok(meta)) = (fs::read(entry.path()), entry.metadata()) else { continue };
                let arrived =
                    meta.modified().ok().and_then(|m| m.duration_since(SystemTime::UNIX_EPOCH).ok()).map(|d| d.as_secs());
                messages.push(Stored { raw, flags: flags.into_iter().collect(), arrived });
            }
        }
        messages.sort();
        messages
    }
}

/// A message as Dovecot keeps it: its bytes, its flag letters, when it arrived (Unix seconds).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Stored {
    pub raw: Vec<u8>,
    pub flags: String,
    pub arrived: Option<u64>,
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        self.kill();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn lf_line_ends(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    for (i, byte) in raw.iter().enumerate() {
        if *byte == b'\r' && raw.get(i + 1) == Some(&b'\n') {
            continue;
        }
        out.push(*byte);
    }
    out
}

/// How a start says its port went to someone else (and another port may do).
const TAKEN: &str = "is taken already";

/// Starts again on other ports while the port was the trouble: tests run side by side.
fn on_some_free_port<T>(start: impl Fn() -> Result<T, String>) -> Result<T, String> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match start() {
            Err(e) if e.contains(TAKEN) && attempt < 4 => continue,
            other => return other,
        }
    }
}

/// A port of 127.0.0.1 nobody listens on, below the kernel's ephemeral range (32768 and up):
/// a port handed out for port 0 can be handed out again to another test's listener or
/// outgoing connection before our server binds it (CI saw it), these are never handed out.
/// Spread by process and counted within it so side-by-side tests and test binaries differ.
pub(crate) fn free_port() -> Result<u16, String> {
    use std::sync::atomic::{AtomicU32, Ordering};
    const FIRST: u32 = 20_000;
    const COUNT: u32 = 12_000;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let spread = std::process::id().wrapping_mul(2_654_435_761) % COUNT;
    for _ in 0..500 {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = (FIRST + (spread + n.wrapping_mul(7)) % COUNT) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() && TcpStream::connect(("127.0.0.1", port)).is_err() {
            return Ok(port);
        }
    }
    Err(format!("no free port of 127.0.0.1 between {FIRST} and {}", FIRST + COUNT))
}

/// The uid and gid of Dovecot's `dovecot` user.
fn dovecot_ids() -> Result<(u32, u32), String> {
    user_ids("dovecot")
}

/// The uid and gid of a system user (made by the package of the server that runs as it).
fn user_ids(user: &str) -> Result<(u32, u32), String> {
    let passwd = fs::read_to_string("/etc/passwd").map_err(|e| e.to_string())?;
    let line = passwd
        .lines()
        .find(|l| l.starts_with(&format!("{user}:")))
        .ok_or_else(|| format!("there is no {user} user (is its package installed?)"))?;
    let fields: Vec<&str> = line.split(':').collect();
    let id = |i: usize| fields.get(i).and_then(|v| v.parse().ok()).ok_or_else(|| format!("unreadable /etc/passwd line: {line}"));
    Ok((id(2)?, id(3)?))
}

/// A plain message with these headers and body lines (CRLF line ends).
pub fn message(from: &str, to: &str, subject: &str, message_id: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{message_id}>\r\nDate: Mon, 02 Nov 2026 09:00:00 +0000\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

/// A message with no header at all: a mail server stores it, a backup cannot take it.
pub const MALFORMED: &[u8] = b"\r\n\x00\xff\xfe no header at all\r\n";

fn seed_at(folder: &str, raw: Vec<u8>, flags: &str, days_ago: u64) -> Seed {
    Seed { folder: folder.into(), raw, flags: flags.into(), arrived: SystemTime::now() - Duration::from_secs(days_ago * 86_400) }
}

/// A small mailbox as people have them: several folders, flags and dates, an attachment,
/// non-ASCII headers, and one malformed message (in Work).
pub fn sample_mail(to: &str) -> Vec<Seed> {
    let mut with_attachment = format!(
        "From: Bea <bea@partner.example>\r\nTo: {to}\r\nSubject: Figures\r\nMessage-ID: <figures@partner.example>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"XYZ\"\r\n\r\n"
    )
    .into_bytes();
    with_attachment.extend_from_slice(
        b"--XYZ\r\nContent-Type: text/plain\r\n\r\nSee the attachment.\r\n--XYZ\r\n\
          Content-Type: application/octet-stream; name=\"figures.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n\
          AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\r\n--XYZ--\r\n",
    );
    let non_ascii = format!(
        "From: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <jm@partner.example>\r\nTo: {to}\r\n\
         Subject: =?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?=\r\nMessage-ID: <gruesse@partner.example>\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nBis bald \u{2014} \u{65e5}\u{672c}\u{8a9e}\r\n"
    )
    .into_bytes();
    vec![
        seed_at("INBOX", message("bea@partner.example", to, "Hello", "hello@p", "First."), "S", 30),
        seed_at("INBOX", message("bea@partner.example", to, "Contract", "contract@p", "Second."), "FS", 20),
        seed_at("INBOX", with_attachment, "", 10),
        seed_at("INBOX", non_ascii, "S", 5),
        seed_at("Work", message("cto@acme.example", to, "Plan", "plan@acme", "Q1 plan."), "RS", 3),
        seed_at("Work", MALFORMED.to_vec(), "", 2),
        seed_at("Archive/2024", message("old@acme.example", to, "Old", "old@acme", "From last year."), "S", 300),
    ]
}

/// `count` plain messages of about `size` bytes each, in INBOX (for load and benchmarks).
pub fn bulk_mail(to: &str, count: usize, size: usize) -> Vec<Seed> {
    (0..count)
        .map(|i| {
            let body = "All work and no play makes a backup. ".repeat(size / 37 + 1);
            seed_at(
                "INBOX",
                message("bulk@partner.example", to, &format!("Bulk {i}"), &format!("bulk-{i}@p"), &body[..size]),
                "S",
                1,
            )
        })
        .collect()
}
