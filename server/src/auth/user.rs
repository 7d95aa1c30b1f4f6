//! The signed-in user of a request, and the cache of sessions looked up lately. Below the
//! state (which holds the cache) and the extractor in `session.rs` (which reads the state).

use crate::db::now_ms;

/// The signed-in user of a request. Extracting it also enforces CSRF protection on every
/// method that changes state.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct CurrentUser {
    pub user_id: i64,
    pub email: String,
    pub display_name: String,
    pub role: String,
    pub reseller_id: Option<i64>,
    pub organisation_id: Option<i64>,
    pub mailbox_id: Option<i64>,
    pub csrf_token: String,
    #[sqlx(skip)]
    pub session_hash: String,
    /// Set when the request was signed with an API token rather than a session.
    #[sqlx(skip)]
    pub token: Option<TokenAuth>,
    /// The client's address, as the activity log records it.
    #[sqlx(skip)]
    pub address: Option<String>,
    /// The user's organisation or reseller requires a second factor and the user has none:
    /// only enrolling (and signing out) answers until they have (`session::allowed_while_enrolling`).
    #[sqlx(skip)]
    pub must_enrol: bool,
}

impl crate::activity::store::Actor for CurrentUser {
    fn user_id(&self) -> i64 {
        self.user_id
    }
    fn email(&self) -> &str {
        &self.email
    }
    fn token(&self) -> Option<(&str, &str)> {
        self.token.as_ref().map(|token| (token.id.as_str(), token.name.as_str()))
    }
    fn address(&self) -> Option<&str> {
        self.address.as_deref()
    }
    fn reseller_id(&self) -> Option<i64> {
        self.reseller_id
    }
    fn organisation_id(&self) -> Option<i64> {
        self.organisation_id
    }
    fn mailbox_id(&self) -> Option<i64> {
        self.mailbox_id
    }
}

/// The API token a request was signed with.
#[derive(Clone, Debug)]
pub struct TokenAuth {
    pub id: String,
    pub name: String,
    pub access: portal_api::TokenAccess,
}

/// Sessions looked up lately, so that a page's many requests do not each read the database.
/// An entry is trusted for `SESSION_CACHE_TTL` at most (and never past the session's end);
/// signing out removes it at once on this instance, and within that time on the others.
#[derive(Default)]
pub struct SessionCache {
    entries: std::sync::Mutex<std::collections::HashMap<String, CachedSession>>,
}

struct CachedSession {
    user: CurrentUser,
    expires_at: i64,
    cached_at: std::time::Instant,
}

pub const SESSION_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(5);
/// Entries kept at most; past it, the cache starts afresh (a burst of sign-ins cannot grow it).
const SESSION_CACHE_MAX: usize = 10_000;

impl SessionCache {
    pub(super) fn get(&self, session_hash: &str) -> Option<CurrentUser> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let entry = entries.get(session_hash)?;
        (entry.cached_at.elapsed() < SESSION_CACHE_TTL && entry.expires_at > now_ms()).then(|| entry.user.clone())
    }

    pub(super) fn put(&self, user: CurrentUser, expires_at: i64) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= SESSION_CACHE_MAX {
            entries.clear();
        }
        entries.insert(user.session_hash.clone(), CachedSession { user, expires_at, cached_at: std::time::Instant::now() });
    }

    /// Forgets a session (signed out).
    pub fn remove(&self, session_hash: &str) {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).remove(session_hash);
    }

    /// Forgets every session (a sign-in policy changed for many users at once).
    pub fn clear(&self) {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// Forgets every session of a user (signed out everywhere).
    pub fn remove_user(&self, user_id: i64) {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).retain(|_, entry| entry.user.user_id != user_id);
    }
}
