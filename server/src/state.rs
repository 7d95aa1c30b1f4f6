use std::sync::Arc;

use crate::config::Config;
use crate::db::Db;
use crate::downloads::link::LinkSigner;
use crate::engine::Engine;

/// What every handler may reach.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub config: Arc<Config>,
    pub engine: Engine,
    pub links: LinkSigner,
    pub secrets: crate::secrets::SecretBox,
    pub counts: Arc<crate::listing::CountCache>,
    pub sessions: Arc<crate::auth::session::SessionCache>,
    pub sign_in: Arc<crate::auth::throttle::SignInGuard>,
    pub reauth_limits: Arc<crate::credentials::rate_limit::RateLimiter>,
    /// How TLS connections to IMAP servers are checked.
    pub imap_tls: Arc<tokio_rustls::rustls::ClientConfig>,
    /// Set when the server begins to shut down: long-lived streams end.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
}

impl AppState {
    pub fn shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }
}
