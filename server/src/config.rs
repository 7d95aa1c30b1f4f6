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

    /// Folder of the built portal (Trunk's output), served at `/`.
    #[arg(long, env = "PORTAL_DIST", default_value = "dist")]
    pub dist: PathBuf,

    /// Mark the session cookie `Secure` (turn on behind HTTPS).
    #[arg(long, env = "PORTAL_SECURE_COOKIES", default_value_t = false)]
    pub secure_cookies: bool,

    /// Put the demo organisations, mailboxes and sign-ins into an empty database.
    #[arg(long, env = "PORTAL_SEED_DEMO", default_value_t = true, action = clap::ArgAction::Set)]
    pub seed_demo: bool,

    /// How long a session lasts after sign-in, in hours.
    #[arg(long, env = "PORTAL_SESSION_HOURS", default_value_t = 12)]
    pub session_hours: u32,
}

impl Config {
    /// A configuration for tests: a database URL, nothing served from disk.
    pub fn for_database(database_url: impl Into<String>) -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_url: database_url.into(),
            dist: PathBuf::from("dist"),
            secure_cookies: false,
            seed_demo: true,
            session_hours: 12,
        }
    }
}
