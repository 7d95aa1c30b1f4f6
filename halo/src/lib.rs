//! The embedded HaloPSA: a stand-in for a HaloPSA's REST API, shaped as our Halo client uses
//! it, so that the portal's PSA integration runs without a Halo (the server mounts [`Halo::router`]
//! under `/halo` with `--psa embedded`) and the tests have a Halo in-process, with faults on
//! demand ([`Fault`]).
//!
//! Routes (relative to where it is mounted):
//!
//! - `POST /auth/token`: the client-credentials grant (form body; `?tenant=` for hosted Halo).
//! - `GET /api/Client`, `GET /api/Client/{id}` (`read:customers`).
//! - `GET /api/Tickets`, `GET /api/Tickets/{id}` (`read:tickets`), `POST /api/Tickets`
//!   (`edit:tickets`, a JSON array: an element without `id` creates a ticket, one with an `id`
//!   updates it).
//! - `GET /api/Actions?ticket_id=` (`read:tickets`), `POST /api/Actions` (`edit:tickets`).
//! - `GET /`: a page listing the tickets; `POST|DELETE /faults` when faults are enabled.
//!
//! Every `/api/` route wants a live bearer token from `/auth/token` whose scopes (and the
//! application's current permissions) include the route's. Errors are Halo's JSON:
//! `{"message": ...}`, ASP.NET's validation problem for a 422, OAuth's
//! `{"error","error_description"}` from the token endpoint.
//!
//! All state is in memory and bounded ([`store`]): tickets, actions, tokens, faults and the
//! request log are capped, and each text is cut to a length. Every answer carries the response
//! extension [`OwnFormat`], so that the server's error layer leaves it as it is.

mod access;
mod actions;
mod clients;
mod faults;
mod input;
mod page;
mod respond;
pub mod store;
mod tickets;
mod token;

#[cfg(test)]
mod testing;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::middleware;
use axum::routing::{get, post};
use axum::Router;

pub use store::{Action, Fault, Ticket};

/// On every answer of the embedded HaloPSA (its JSON, its page): an error layer must leave it
/// as it is.
pub use portal_html::OwnFormat;

/// Halo's default "Closed" status.
pub const CLOSED_STATUS_ID: i64 = 9;
/// Halo's default "New" status, a new ticket's unless it names another.
pub const NEW_STATUS_ID: i64 = 1;

/// What the embedded HaloPSA knows: its one API application and the clients tickets are filed
/// under.
#[derive(Clone, Debug)]
pub struct HaloConfig {
    /// The client ID of the one API application it knows.
    pub client_id: String,
    /// That application's secret.
    pub client_secret: String,
    /// Hosted Halo's tenant: when Some, `/auth/token` requires `?tenant=<it>` (a wrong or
    /// missing one: 404 `{"error":"invalid_tenant","error_description":"..."}`).
    pub tenant: Option<String>,
    /// The application's permissions (the scopes it may be granted), e.g.
    /// `["read:tickets", "edit:tickets", "read:customers"]`.
    pub permissions: Vec<String>,
    /// Clients (customers) tickets can be filed under: (id, name).
    pub clients: Vec<(i64, String)>,
    /// Whether `POST|DELETE /faults` are served (tests and the demo: yes; else 404).
    pub faults_enabled: bool,
    /// Where it is mounted (`"/halo"` in the server, `""` standalone): for its page's links,
    /// and cut from a fault's path that starts with it.
    pub base_path: String,
}

impl HaloConfig {
    /// The demo's Halo: every permission, three clients, faults on, mounted at `/halo`.
    pub fn demo() -> HaloConfig {
        HaloConfig {
            client_id: "backup-portal-halo".into(),
            client_secret: "demo-halo-secret".into(),
            tenant: None,
            permissions: vec!["read:tickets".into(), "edit:tickets".into(), "read:customers".into()],
            clients: vec![(1, "Contoso Ltd".into()), (2, "Fabrikam Inc".into()), (3, "Bluebird Clinics".into())],
            faults_enabled: true,
            base_path: "/halo".into(),
        }
    }
}

/// One embedded HaloPSA: cheap to clone, every clone the same Halo.
#[derive(Clone)]
pub struct Halo {
    inner: Arc<Inner>,
}

struct Inner {
    config: HaloConfig,
    store: Mutex<store::Store>,
}

impl Halo {
    /// A Halo with no tickets, tokens or faults yet.
    pub fn new(config: HaloConfig) -> Halo {
        let store = store::Store::new(config.permissions.clone());
        Halo { inner: Arc::new(Inner { config, store: Mutex::new(store) }) }
    }

    /// Its routes, without the base path (the server nests them under `/halo`; tests serve them
    /// at the root), its state applied. Every answer, the fallback's and a 405 too, passes
    /// through the fault gate and leaves as Halo's JSON with [`OwnFormat`].
    pub fn router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        Router::new()
            .route("/", get(page::tickets))
            .route("/auth/token", post(token::token))
            .route("/api/Client", get(clients::list))
            .route("/api/Client/{id}", get(clients::one))
            .route("/api/Tickets", get(tickets::list).post(tickets::post))
            .route("/api/Tickets/{id}", get(tickets::one))
            .route("/api/Actions", get(actions::list).post(actions::post))
            .route("/faults", post(faults::add).delete(faults::clear))
            .fallback(respond::not_found)
            .layer(middleware::from_fn_with_state(self.clone(), faults::gate))
            .layer(middleware::from_fn(respond::finish))
            .with_state(self.clone())
    }

    /// A copy of every ticket, oldest first.
    pub fn tickets(&self) -> Vec<Ticket> {
        self.store().tickets.values().cloned().collect()
    }

    /// What an agent does in Halo by hand: sets a ticket's status (`CLOSED_STATUS_ID` closes
    /// it), or deletes it (`None`). Answers whether there was such a ticket.
    pub fn agent_sets(&self, ticket: i64, status_id: Option<i64>) -> bool {
        let mut store = self.store();
        match status_id {
            Some(status) => store.tickets.get_mut(&ticket).map(|t| t.status_id = status).is_some(),
            None => store.tickets.remove(&ticket).is_some(),
        }
    }

    /// How many token requests were answered with a token.
    pub fn token_requests(&self) -> usize {
        self.store().token_requests
    }

    /// `"METHOD /path"` of every request served (the path as routed, without the base path and
    /// query), oldest first; the last [`store::MAX_LOGGED_REQUESTS`].
    pub fn requests(&self) -> Vec<String> {
        self.store().requests.iter().cloned().collect()
    }

    /// Adds a fault after those already waiting (at most [`store::MAX_FAULTS`]; more are
    /// ignored).
    pub fn add_fault(&self, fault: Fault) {
        let fault = fault.relative_to(&self.inner.config.base_path);
        self.store().add_fault(fault);
    }

    /// Forgets every fault still waiting.
    pub fn clear_faults(&self) {
        self.store().faults.clear();
    }

    /// Every token issued so far stops working (401 on its next API call), as when the
    /// application's secret is rotated.
    pub fn revoke_tokens(&self) {
        self.store().tokens.clear();
    }

    /// The application's permissions from now on: new tokens are granted only these, and a
    /// live token loses at once what is taken away (403 naming it).
    pub fn set_permissions(&self, permissions: Vec<String>) {
        self.store().permissions = permissions;
    }

    fn config(&self) -> &HaloConfig {
        &self.inner.config
    }

    /// The state, also after a panic elsewhere held the lock (it is never left half-changed).
    fn store(&self) -> MutexGuard<'_, store::Store> {
        self.inner.store.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
