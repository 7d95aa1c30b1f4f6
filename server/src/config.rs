//! Configuration: command-line flags, each with an environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(clap::Parser, Clone, Debug)]
#[command(name = "portal-server", about = "Backup Portal: API server and the built portal")]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "PORTAL_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,

    /// Database: `sqlite://path/to/file.db` (created if missing) or `postgres://...`.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://data/portal.db")]
    pub database_url: String,

    /// Folder for the server's files: download files, the link-signing key.
    #[arg(long, env = "PORTAL_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,

    /// Folder of the built portal (`cargo xtask run` builds it), served at `/`.
    #[arg(long, env = "PORTAL_DIST", default_value = "dist")]
    pub dist: PathBuf,

    /// Mark the session cookie `Secure` (turn on behind HTTPS).
    #[arg(long, env = "PORTAL_SECURE_COOKIES", default_value_t = false)]
    pub secure_cookies: bool,

    /// Put the demo organisations, mailboxes and sign-ins into an empty database.
    /// Off unless asked: a server started bare has no account anyone can sign in with.
    #[arg(long, env = "PORTAL_SEED_DEMO", default_value_t = false, action = clap::ArgAction::Set)]
    pub seed_demo: bool,

    /// How long a session lasts after sign-in, in hours.
    #[arg(long, env = "PORTAL_SESSION_HOURS", default_value_t = 12)]
    pub session_hours: u32,

    /// Retries of a job after unknown errors before it gives up.
    #[arg(long, env = "PORTAL_MAX_RETRIES", default_value_t = portal_api::jobs::DEFAULT_MAX_RETRIES)]
    pub max_retries: u32,

    /// Minutes between two retries.
    #[arg(long, env = "PORTAL_RETRY_MINUTES", default_value_t = portal_api::jobs::DEFAULT_RETRY_MINUTES)]
    pub retry_minutes: u32,

    /// Hours between an account's scheduled backups.
    #[arg(long, env = "PORTAL_BACKUP_INTERVAL_HOURS", default_value_t = 24)]
    pub backup_interval_hours: u32,

    /// Seconds a running job's claim holds without news before another instance may take it over.
    #[arg(long, env = "PORTAL_LEASE_SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..))]
    pub lease_seconds: u32,

    /// Days a finished download's link works.
    #[arg(long, env = "PORTAL_DOWNLOAD_LINK_DAYS", default_value_t = 7)]
    pub download_link_days: u32,

    /// Extra finished restores added to the demo data on first start (to see, and measure,
    /// the lists at scale; `cargo xtask bench` uses 100,000).
    #[arg(long, env = "PORTAL_DEMO_EXTRA_JOBS", default_value_t = 0)]
    pub demo_extra_jobs: u32,

    /// The address people and the server itself use to reach this server (redirects back from
    /// the identity provider, the embedded identity provider's endpoints). Default: from `--addr`.
    #[arg(long, env = "PORTAL_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// The identity provider: `embedded` (built into this server, at `/idp`) or `microsoft`
    /// (the Microsoft identity platform).
    #[arg(long, env = "PORTAL_IDP", default_value = "embedded")]
    pub idp: String,

    /// The identity provider's authority, instead of the one `--idp` implies: a national cloud
    /// such as `https://login.microsoftonline.us`, or a provider of one's own.
    #[arg(long, env = "PORTAL_IDP_AUTHORITY")]
    pub idp_authority: Option<String>,

    /// The directory API that tells which tenant a token belongs to (Graph's `/organization`
    /// lives under it), instead of the one `--idp` implies, e.g. `https://graph.microsoft.us/v1.0`.
    #[arg(long, env = "PORTAL_IDP_DIRECTORY")]
    pub idp_directory: Option<String>,

    /// The OAuth client ID of the portal at the identity provider.
    #[arg(long, env = "PORTAL_OAUTH_CLIENT_ID", default_value = "backup-portal")]
    pub oauth_client_id: String,

    /// The OAuth client secret (the embedded identity provider knows its demo one).
    #[arg(long, env = "PORTAL_OAUTH_CLIENT_SECRET", default_value = DEMO_CLIENT_SECRET, hide_env_values = true)]
    pub oauth_client_secret: String,

    /// Embedded identity provider: how long a device code lives, in seconds.
    #[arg(long, env = "PORTAL_IDP_DEVICE_CODE_SECONDS", default_value_t = 900)]
    pub idp_device_code_seconds: u32,

    /// Embedded identity provider: the polling interval it asks for, in seconds.
    #[arg(long, env = "PORTAL_IDP_DEVICE_INTERVAL_SECONDS", default_value_t = 5)]
    pub idp_device_interval_seconds: u32,

    /// The master key that wraps each organisation's data key (secrets at rest), as 64 hex
    /// characters. Without it (and without a key file) the server keeps one in
    /// `DATA_DIR/master.key`; in production keep it away from the database's backups.
    #[arg(long, env = "PORTAL_MASTER_KEY", hide_env_values = true)]
    pub master_key: Option<String>,

    /// A file holding the master key (32 bytes, or 64 hex characters).
    #[arg(long, env = "PORTAL_MASTER_KEY_FILE")]
    pub master_key_file: Option<PathBuf>,

    /// A file holding the key that signs download links (32 bytes, or 64 hex characters).
    /// Without it the server keeps one in `DATA_DIR/link.key`. Several instances need the same
    /// key, so that a link made by one works on every other.
    #[arg(long, env = "PORTAL_LINK_KEY_FILE")]
    pub link_key_file: Option<PathBuf>,

    /// Where the backed-up messages are kept: by default in the data folder (`DATA_DIR/packs`);
    /// `s3://BUCKET/PREFIX` for S3-compatible storage, which several instances share. Its keys
    /// come from `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`.
    #[arg(long, env = "PORTAL_OBJECT_STORE")]
    pub object_store: Option<String>,

    /// The S3 API's address, for a store other than AWS's (MinIO, Ceph, …): `https://s3.example.net`.
    /// `http://` is accepted as written: keep it for a store on the same host or network.
    #[arg(long, env = "PORTAL_OBJECT_STORE_ENDPOINT")]
    pub object_store_endpoint: Option<String>,

    /// The S3 region of the bucket.
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    pub object_store_region: String,

    /// The object store's access key ID (set the environment variable rather than the flag).
    #[arg(long, env = "AWS_ACCESS_KEY_ID", hide_env_values = true)]
    pub object_store_key_id: Option<String>,

    /// The object store's secret key. Set it in the environment: a flag would show it to `ps`
    /// (so the flag is hidden).
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide = true, hide_env_values = true, value_parser = hidden)]
    pub object_store_secret: Option<Hidden>,

    /// This instance's name in the job queue and the logs (a random part is added, so names
    /// may repeat). The host name is a good choice when several instances run.
    #[arg(long, env = "PORTAL_INSTANCE_NAME", default_value = "engine", value_parser = instance_name)]
    pub instance_name: String,

    /// On SIGTERM, how long the instance keeps its port open (answering, with `/api/ready` at
    /// 503) before it closes it, so that a load balancer stops sending here first (seconds).
    #[arg(long, env = "PORTAL_SHUTDOWN_DELAY_SECONDS", default_value_t = 0)]
    pub shutdown_delay_seconds: u32,

    /// How long a shutdown (SIGTERM) lets the runs under way finish before it gives them back
    /// to the queue for another instance (seconds).
    #[arg(long, env = "PORTAL_SHUTDOWN_GRACE_SECONDS", default_value_t = 20)]
    pub shutdown_grace_seconds: u32,

    /// A CA certificate (PEM) to trust for IMAP servers beside the usual roots: a company's own.
    #[arg(long, env = "PORTAL_IMAP_CA_FILE")]
    pub imap_ca_file: Option<PathBuf>,

    /// How long a request may take before the answer is 504 (milliseconds). Server-sent events
    /// and file downloads count only until their answer starts.
    #[arg(long, env = "PORTAL_REQUEST_TIMEOUT_MS", default_value_t = 30_000)]
    pub request_timeout_ms: u64,

    /// How long a client may take to send a request's headers (milliseconds), from when the
    /// server starts waiting for them; then the connection is closed (a slow client holds none).
    #[arg(long, env = "PORTAL_HEADER_READ_TIMEOUT_MS", default_value_t = 10_000)]
    pub header_read_timeout_ms: u64,

    /// Re-authentication attempts one user may make in a minute (then 429 with Retry-After).
    #[arg(long, env = "PORTAL_REAUTH_ATTEMPTS_PER_MINUTE", default_value_t = 6, value_parser = clap::value_parser!(u32).range(1..))]
    pub reauth_attempts_per_minute: u32,

    /// Requests one API token may make in a minute (then 429 with Retry-After).
    #[arg(long, env = "PORTAL_TOKEN_REQUESTS_PER_MINUTE", default_value_t = 600, value_parser = clap::value_parser!(u32).range(1..))]
    pub token_requests_per_minute: u32,

    /// How long the activity log is kept, in days (older entries are deleted every hour).
    #[arg(long, env = "PORTAL_ACTIVITY_RETENTION_DAYS", default_value_t = 365, value_parser = clap::value_parser!(u32).range(1..))]
    pub activity_retention_days: u32,

    /// Re-authentication attempts on one organisation's credentials in 10 minutes, by anyone.
    #[arg(long, env = "PORTAL_REAUTH_ATTEMPTS_PER_ORGANISATION", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub reauth_attempts_per_organisation: u32,

    /// Wrong passwords for one email address in 15 minutes before sign-in with it answers 429
    /// (counted for addresses that exist and those that do not alike).
    #[arg(long, env = "PORTAL_SIGN_IN_FAILURES_PER_ADDRESS", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub sign_in_failures_per_address: u32,

    /// Wrong passwords from one client address in 15 minutes, whatever the email, before 429.
    #[arg(long, env = "PORTAL_SIGN_IN_FAILURES_PER_CLIENT", default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    pub sign_in_failures_per_client: u32,

    /// Behind a proxy of our own: take the client's address from the last entry of
    /// `X-Forwarded-For` (the one the proxy adds) for the per-client sign-in limit. Without it,
    /// that limit counts the proxy's address, and everyone behind it shares one count.
    #[arg(long, env = "PORTAL_TRUST_FORWARDED_FOR", default_value_t = false, action = clap::ArgAction::Set)]
    pub trust_forwarded_for: bool,

    /// Let mail servers (and later other outgoing connections) be on this machine or a private
    /// network: loopback, private, link-local, unique-local addresses. Off: such a host is
    /// refused on its field before anything connects (an admin could otherwise probe the
    /// networks behind the portal). On for a test mail server, or a company's own.
    #[arg(long, env = "PORTAL_ALLOW_PRIVATE_TARGETS", default_value_t = false, action = clap::ArgAction::Set)]
    pub allow_private_targets: bool,

    /// Connect to nothing but this machine: a mail server, webhook or PSA elsewhere is refused
    /// before its name is even looked up (the API contract run of `cargo xtask test`, which
    /// fills every form with made-up addresses; an offline demo).
    #[arg(long, env = "PORTAL_LOOPBACK_ONLY", default_value_t = false, action = clap::ArgAction::Set)]
    pub loopback_only: bool,

    /// The PSA the demo organisations file tickets in: `embedded` (a HaloPSA stand-in built in,
    /// at /halo, with a page listing its tickets), `halo` (a real Halo: --halo-url,
    /// --halo-client-id, --halo-client-secret) or `none`. Any organisation can set up its own
    /// on Account Settings › Integrations whatever this says.
    #[arg(long, env = "PORTAL_PSA", default_value = "embedded", value_parser = ["embedded", "halo", "none"])]
    pub psa: String,
    /// `--psa halo`: the Halo's address, e.g. https://yourcompany.halopsa.com.
    #[arg(long, env = "PORTAL_HALO_URL")]
    pub halo_url: Option<String>,
    /// `--psa halo`: hosted Halo's tenant (empty for a Halo of one's own).
    #[arg(long, env = "PORTAL_HALO_TENANT", default_value = "")]
    pub halo_tenant: String,
    /// `--psa halo`: the API application's client ID.
    #[arg(long, env = "PORTAL_HALO_CLIENT_ID")]
    pub halo_client_id: Option<String>,
    /// `--psa halo`: the API application's client secret.
    #[arg(long, env = "PORTAL_HALO_CLIENT_SECRET", hide_env_values = true)]
    pub halo_client_secret: Option<String>,
    /// `--psa halo`: the Halo client (customer) the demo organisations' tickets are filed under.
    #[arg(long, env = "PORTAL_HALO_CUSTOMER", default_value_t = 1)]
    pub halo_customer: i64,
    /// Attempts at a delivery (PSA, webhook) before it is marked failed.
    #[arg(long, env = "PORTAL_DELIVERY_ATTEMPTS", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=50))]
    pub delivery_attempts: u32,
    /// The wait before a delivery's first retry, in seconds; each next one doubles it (±20 %).
    #[arg(long, env = "PORTAL_DELIVERY_RETRY_SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..))]
    pub delivery_retry_seconds: u32,
    /// The deadline of each outgoing request to a PSA or a webhook, in seconds.
    #[arg(long, env = "PORTAL_OUTGOING_TIMEOUT_SECONDS", default_value_t = 15, value_parser = clap::value_parser!(u32).range(1..=300))]
    pub outgoing_timeout_seconds: u32,

    /// Seconds any one step of a mail-server conversation may take (connect, TLS, greeting,
    /// sign-in, each command, each message) and the longest silence in the middle of an
    /// answer. A step past it ends the run as Connection Error, retried later.
    #[arg(long, env = "PORTAL_IMAP_TIMEOUT_SECONDS", default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=3600))]
    pub imap_timeout_seconds: u32,

    /// The largest message a backup takes, in MB (1 MB = 2^20 bytes); a larger one is skipped
    /// and listed with the reason.
    #[arg(long, env = "PORTAL_MAX_MESSAGE_MB", default_value_t = 150, value_parser = clap::value_parser!(u32).range(1..=2048))]
    pub max_message_mb: u32,

    /// Jobs this instance runs at once.
    #[arg(long, env = "PORTAL_WORKERS", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub workers: u32,

    /// Jobs of one organisation run at once across all instances, so that one organisation's
    /// queue (or its mail server's silence) never holds every worker.
    #[arg(long, env = "PORTAL_MAX_RUNS_PER_ORGANISATION", default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_runs_per_organisation: u32,

    /// Live-update streams (`/api/events`, one per open page) one user may have open on this
    /// instance; one more closes that user's oldest. Bounds what one user's pages cost.
    #[arg(long, env = "PORTAL_MAX_STREAMS_PER_USER", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_streams_per_user: u32,

    /// The dashboard warns resellers when the data folder's file system has less room than
    /// this, in MB (1 MB = 2^20 bytes): a full one stops every backup until room is made.
    #[arg(long, env = "PORTAL_MIN_FREE_SPACE_MB", default_value_t = 1024)]
    pub min_free_space_mb: u64,

    /// Pause between the demo connector's progress steps, in milliseconds (a demo run takes 8 steps).
    #[arg(long, env = "PORTAL_DEMO_STEP_MS", default_value_t = 600)]
    pub demo_step_ms: u64,

    /// Keep every status of every kind on show in the demo data: once a minute, a status that
    /// no demo mailbox shows any more is brought back by a real run whose script ends in it
    /// (`cargo xtask run` and `dev` turn it on; tests leave the data as seeded).
    #[arg(long, env = "PORTAL_DEMO_CYCLE", default_value_t = false, action = clap::ArgAction::Set)]
    pub demo_cycle: bool,

    /// With the demo data: also a real IMAP mailbox, dora@bluebird-imap.example at the Dovecot
    /// on `HOST:PORT` (plain IMAP, user `dora`, password `imap-demo`, as `cargo xtask` starts
    /// it) in Bluebird Clinics, with an end user's sign-in for it (the demo password), its
    /// first backup queued. Only when the demo data is put into an empty database.
    #[arg(long, env = "PORTAL_SEED_IMAP_DEMO")]
    pub seed_imap_demo: Option<String>,
}

/// The client secret the embedded identity provider knows. Public (it is in this file), so
/// never good enough for a real provider.
pub const DEMO_CLIENT_SECRET: &str = "demo-client-secret";

impl Config {
    /// What must hold before the server starts: a real provider gets a real secret, and
    /// `--idp` names a provider we know.
    pub fn check(&self) -> Result<(), String> {
        if self.psa == "halo" && (self.halo_url.is_none() || self.halo_client_id.is_none() || self.halo_client_secret.is_none()) {
            return Err(
                "--psa halo needs --halo-url, --halo-client-id and --halo-client-secret (or their PORTAL_HALO_ variables)."
                    .into(),
            );
        }
        match self.idp.as_str() {
            "embedded" => Ok(()),
            "microsoft" if self.oauth_client_secret == DEMO_CLIENT_SECRET || self.oauth_client_secret.trim().is_empty() => Err(
                "--idp microsoft needs the portal's own client secret (--oauth-client-secret or PORTAL_OAUTH_CLIENT_SECRET); \
                 the demo secret is public."
                    .into(),
            ),
            "microsoft" => Ok(()),
            other => Err(format!("--idp {other:?} is not a provider we know: use embedded or microsoft.")),
        }
    }

    /// Whether people reach this server over HTTPS (`--public-url https://…`): then cookies are
    /// `Secure` and browsers are told to keep to HTTPS (HSTS).
    pub fn https(&self) -> bool {
        self.secure_cookies
            || self
                .public_url
                .as_deref()
                .is_some_and(|url| url.get(..8).is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://")))
    }

    /// The base address of this server as others reach it (no trailing slash).
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.addr),
        }
    }

    /// What the embedded identity provider needs of this configuration (`--idp embedded` mounts it).
    pub fn idp_config(&self) -> portal_idp::IdpConfig {
        portal_idp::IdpConfig {
            client_id: self.oauth_client_id.clone(),
            client_secret: self.oauth_client_secret.clone(),
            public_url: self.public_url(),
            device_code_seconds: self.idp_device_code_seconds,
            device_interval_seconds: self.idp_device_interval_seconds,
        }
    }

    /// The secret store, with the master key from where the configuration says.
    pub fn secret_box(&self) -> std::io::Result<crate::secrets::SecretBox> {
        use crate::secrets::{MasterKeySource, SecretBox};
        match (&self.master_key, &self.master_key_file) {
            (Some(hex), _) => SecretBox::load(MasterKeySource::Hex(hex)),
            (None, Some(file)) => SecretBox::load(MasterKeySource::File(file)),
            (None, None) => SecretBox::load(MasterKeySource::DataDir(&self.data_dir)),
        }
    }

    /// A configuration for tests: a database URL, nothing served from disk.
    /// Its files go beside an SQLite database file.
    pub fn for_database(database_url: impl Into<String>) -> Self {
        let database_url = database_url.into();
        let data_dir = database_url
            .strip_prefix("sqlite://")
            .and_then(|path| std::path::Path::new(path.split('?').next().unwrap_or(path)).parent().map(PathBuf::from))
            .unwrap_or_else(|| std::env::temp_dir().join("portal-test-data"));
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir,
            database_url,
            dist: PathBuf::from("dist"),
            secure_cookies: false,
            seed_demo: true,
            session_hours: 12,
            max_retries: portal_api::jobs::DEFAULT_MAX_RETRIES,
            retry_minutes: portal_api::jobs::DEFAULT_RETRY_MINUTES,
            backup_interval_hours: 24,
            download_link_days: 7,
            lease_seconds: 30,
            demo_extra_jobs: 0,
            demo_step_ms: 0,
            demo_cycle: false,
            seed_imap_demo: None,
            master_key: None,
            master_key_file: None,
            link_key_file: None,
            object_store: None,
            object_store_endpoint: None,
            object_store_region: "us-east-1".into(),
            object_store_key_id: None,
            object_store_secret: None,
            shutdown_grace_seconds: 20,
            shutdown_delay_seconds: 0,
            instance_name: "engine".into(),
            public_url: None,
            idp_authority: None,
            imap_ca_file: None,
            idp_directory: None,
            idp: "embedded".into(),
            oauth_client_id: "backup-portal".into(),
            oauth_client_secret: DEMO_CLIENT_SECRET.into(),
            idp_device_code_seconds: 900,
            idp_device_interval_seconds: 5,
            request_timeout_ms: 30_000,
            header_read_timeout_ms: 10_000,
            reauth_attempts_per_minute: 6,
            token_requests_per_minute: 600,
            activity_retention_days: 365,
            reauth_attempts_per_organisation: 10,
            sign_in_failures_per_address: 5,
            sign_in_failures_per_client: 50,
            trust_forwarded_for: false,
            max_streams_per_user: 4,
            // Tests reach their Dovecot on loopback.
            allow_private_targets: true,
            loopback_only: false,
            imap_timeout_seconds: 60,
            // The tests serve a Halo of their own where they need one.
            psa: "none".into(),
            halo_url: None,
            halo_tenant: String::new(),
            halo_client_id: None,
            halo_client_secret: None,
            halo_customer: 1,
            delivery_attempts: 10,
            delivery_retry_seconds: 30,
            outgoing_timeout_seconds: 15,
            max_message_mb: 150,
            workers: 4,
            max_runs_per_organisation: 2,
            min_free_space_mb: 1024,
        }
    }
}

/// An instance name: 1 to 40 letters, digits, `-`, `_` or `.` (it goes into logs and rows).
fn instance_name(name: &str) -> Result<String, String> {
    let fits = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if (1..=40).contains(&name.len()) && name.chars().all(fits) {
        Ok(name.to_owned())
    } else {
        Err("1 to 40 letters, digits, '-', '_' or '.'".into())
    }
}

/// A secret from the configuration: never shown by `Debug` (the configuration may be logged).
#[derive(Clone)]
pub struct Hidden(String);

impl Hidden {
    pub fn new(value: impl Into<String>) -> Hidden {
        Hidden(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Hidden {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("(hidden)")
    }
}

fn hidden(value: &str) -> Result<Hidden, String> {
    Ok(Hidden::new(value))
}
