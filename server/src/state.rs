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
    /// Where the backed-up messages are (the data folder, or the store every instance shares).
    pub store: crate::imap::store::ObjectStore,
    pub secrets: crate::secrets::SecretBox,
    pub counts: Arc<crate::listing::CountCache>,
    pub sessions: Arc<crate::auth::user::SessionCache>,
    pub sign_in: Arc<crate::auth::throttle::SignInGuard>,
    pub reauth_limits: Arc<crate::credentials::rate_limit::RateLimiter>,
    /// Requests per API token in the last minute.
    pub token_limits: Arc<crate::rate_limit::Window>,
    /// How mail servers are reached (TLS roots, private addresses, deadlines, message size).
    pub imap_reach: crate::imap::client::Reach,
    /// Where an admin's integrations send (public addresses only, unless allowed).
    pub outgoing: crate::outgoing::Outgoing,
    /// Sends the outbox (PSA tickets, webhooks).
    pub notifier: crate::notify::Notifier,
    /// The embedded HaloPSA (`--psa embedded`), mounted at `/halo`.
    pub halo: Option<portal_halo::Halo>,
    /// Live updates: the one change poller and the open streams.
    pub live: Arc<crate::events::hub::Hub>,
    /// Set when the server begins to shut down: long-lived streams end.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
}

impl AppState {
    pub fn shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }
}
