//! The embedded identity provider's state, in memory: pending sign-ins, authorization codes,
//! device codes, tokens and each tenant's consent. One store per process (the tenants are
//! fixed, so several apps in one process, as in tests, share it harmlessly: every code and
//! token is random). Secrets (codes, tokens) are kept by their SHA-256 digest only.
//!
//! Bounded: every entry expires, and each map holds at most [`MAX_ENTRIES`]. A full map first
//! drops its expired entries; if none are, the new entry is refused ([`Full`]: the caller
//! answers `temporarily_unavailable`) rather than pushing out someone else's live one. Device
//! codes are also limited per tenant and tokens per user, so that a flood for one organisation
//! leaves the others room.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::directory::{Tenant, User};

/// How long an access token lives (also `expires_in`).
pub(crate) const ACCESS_TOKEN_SECONDS: u64 = 3600;
/// How long a refresh token lives.
pub(crate) const REFRESH_TOKEN_LIFETIME: Duration = Duration::from_secs(90 * 86_400);
/// How long an authorization code lives.
pub(crate) const CODE_LIFETIME: Duration = Duration::from_secs(600);
/// How long a consent page stays usable.
pub(crate) const PENDING_LIFETIME: Duration = Duration::from_secs(1800);
/// Wrong sign-ins allowed on one consent page or one device code before it is given up.
pub(crate) const MAX_SIGN_IN_ATTEMPTS: u32 = 10;
/// How long an expired device code is remembered (to answer `expired_token` rather than "unknown").
const EXPIRED_DEVICE_MEMORY: Duration = Duration::from_secs(3600);
/// At most this many entries in each map: consent pages, codes, device codes, access tokens,
/// refresh tokens.
pub(crate) const MAX_ENTRIES: usize = 10_000;
/// Device codes of one tenant at most (anyone who knows the public client ID may ask for
/// them), so that a flood for one organisation leaves the others room.
const MAX_DEVICES_PER_TENANT: usize = MAX_ENTRIES / (super::directory::TENANTS.len() + 1);
/// Live tokens of one user at most, of each kind: one more drops that user's oldest, so a user
/// who asks for tokens in a loop spends only their own (refresh tokens live 90 days).
const MAX_TOKENS_PER_USER: usize = 100;

/// A map is full of live entries: nothing was added; the caller may try again later.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Full;

/// A secret's key in the store: its SHA-256 digest.
pub(crate) type Key = [u8; 32];

pub(crate) fn key(secret: &str) -> Key {
    Sha256::digest(secret.as_bytes()).into()
}

/// A consent page's request, kept here so that the page's form carries only its random ID.
#[derive(Clone)]
pub(crate) struct PendingAuthorization {
    pub scope: super::directory::TenantScope,
    pub client_id: String,
    pub redirect_uri: String,
    pub scopes: String,
    pub state: Option<String>,
    pub code_challenge: String,
    pub expires: Instant,
    pub attempts: u32,
    /// Set for an OpenID Connect sign-in (any user of the tenant, no consent asked): the
    /// client's nonce, to be carried in the ID token.
    pub nonce: Option<String>,
}

pub(crate) struct AuthorizationCode {
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub user: &'static User,
    pub scopes: String,
    pub expires: Instant,
    /// A sign-in's nonce: the token answer carries an ID token.
    pub nonce: Option<String>,
    /// Codes are single use: a second redemption is refused and revokes what the first gave.
    pub redeemed: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DeviceStatus {
    Pending,
    Approved(&'static User),
    Denied,
    /// Tokens were handed out for it.
    Redeemed,
}

pub(crate) struct DeviceCode {
    pub client_id: String,
    pub tenant: &'static Tenant,
    pub scopes: String,
    /// As shown to people: `ABCD-EFGH`.
    pub user_code: String,
    pub expires: Instant,
    /// The current minimum time between two polls (grows by 5 s with each `slow_down`).
    pub interval: Duration,
    pub last_poll: Option<Instant>,
    pub status: DeviceStatus,
    pub attempts: u32,
}

/// What an access or refresh token stands for.
#[derive(Clone)]
pub(crate) struct Grant {
    pub client_id: String,
    pub user: &'static User,
    pub scopes: String,
    /// Set by [`Store::issue_tokens`] for each token.
    pub expires: Instant,
    /// The authorization code it came from (revoked if that code is redeemed twice).
    pub from_code: Option<Key>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Consent {
    /// Nobody has asked: the demo lets password and device sign-ins through.
    #[default]
    NotAsked,
    Granted,
    /// Revoked by [`revoke_consent`]: tokens of the tenant stop working until a global
    /// administrator consents again.
    Revoked,
}

#[derive(Default)]
pub(crate) struct Store {
    pub pending: HashMap<String, PendingAuthorization>,
    pub codes: HashMap<Key, AuthorizationCode>,
    pub devices: HashMap<Key, DeviceCode>,
    /// Normalised user code (`ABCDEFGH`) → device code key.
    pub user_codes: HashMap<String, Key>,
    pub access_tokens: HashMap<Key, Grant>,
    pub refresh_tokens: HashMap<Key, Grant>,
    consent: HashMap<&'static str, Consent>,
    last_prune: Option<Instant>,
}

static STORE: LazyLock<Mutex<Store>> = LazyLock::new(Default::default);

/// Runs `f` with the store locked (never across an `.await`).
pub(crate) fn with<R>(f: impl FnOnce(&mut Store) -> R) -> R {
    let mut store = STORE.lock().unwrap_or_else(PoisonError::into_inner);
    store.prune_if_due();
    f(&mut store)
}

impl Store {
    /// Whether tokens of this tenant may be issued and used.
    pub(crate) fn consent_usable(&self, tenant: &Tenant) -> bool {
        self.consent.get(tenant.id).copied().unwrap_or_default() != Consent::Revoked
    }

    pub(crate) fn grant_consent(&mut self, tenant: &Tenant) {
        self.consent.insert(tenant.id, Consent::Granted);
    }

    pub(crate) fn add_pending(&mut self, id: String, pending: PendingAuthorization) -> Result<(), Full> {
        make_room(&mut self.pending, |p| p.expires)?;
        self.pending.insert(id, pending);
        Ok(())
    }

    pub(crate) fn add_code(&mut self, code_key: Key, code: AuthorizationCode) -> Result<(), Full> {
        make_room(&mut self.codes, |c| c.expires)?;
        self.codes.insert(code_key, code);
        Ok(())
    }

    /// Whether a code could be added now (checked before what must not happen without it).
    pub(crate) fn room_for_code(&mut self) -> bool {
        make_room(&mut self.codes, |c| c.expires).is_ok()
    }

    pub(crate) fn add_device(&mut self, device_key: Key, device: DeviceCode) -> Result<(), Full> {
        let tenant = device.tenant.id;
        let full = |store: &Store| {
            store.devices.len() >= MAX_ENTRIES
                || store.devices.values().filter(|d| d.tenant.id == tenant).count() >= MAX_DEVICES_PER_TENANT
        };
        if full(self) {
            // Expired codes go first, also those still remembered to answer `expired_token`.
            let now = Instant::now();
            let expired: Vec<Key> = self.devices.iter().filter(|(_, d)| d.expires <= now).map(|(k, _)| *k).collect();
            for device_key in expired {
                self.remove_device(&device_key);
            }
            if full(self) {
                return Err(Full);
            }
        }
        self.user_codes.insert(normalise_user_code(&device.user_code), device_key);
        self.devices.insert(device_key, device);
        Ok(())
    }

    fn remove_device(&mut self, device_key: &Key) {
        if let Some(device) = self.devices.remove(device_key) {
            self.user_codes.remove(&normalise_user_code(&device.user_code));
        }
    }

    /// The device code a person typed (any case, with or without the dash or spaces).
    pub(crate) fn device_by_user_code(&mut self, typed: &str) -> Option<&mut DeviceCode> {
        let key = *self.user_codes.get(&normalise_user_code(typed))?;
        self.devices.get_mut(&key)
    }

    /// Whether tokens could be stored now: asked before a code or a refresh token is spent on them.
    pub(crate) fn room_for_tokens(&mut self) -> bool {
        [&mut self.access_tokens, &mut self.refresh_tokens].into_iter().all(|tokens| make_room(tokens, |g| g.expires).is_ok())
    }

    /// Stores a new access and refresh token for `grant`; returns them.
    pub(crate) fn issue_tokens(&mut self, grant: Grant) -> Result<(String, String), Full> {
        for tokens in [&mut self.access_tokens, &mut self.refresh_tokens] {
            drop_oldest_beyond(tokens, grant.user, MAX_TOKENS_PER_USER - 1);
            make_room(tokens, |g| g.expires)?;
        }
        let access = super::random_token(32);
        let refresh = super::random_token(48);
        let now = Instant::now();
        self.access_tokens
            .insert(key(&access), Grant { expires: now + Duration::from_secs(ACCESS_TOKEN_SECONDS), ..grant.clone() });
        self.refresh_tokens.insert(key(&refresh), Grant { expires: now + REFRESH_TOKEN_LIFETIME, ..grant });
        Ok((access, refresh))
    }

    /// Revokes every token issued from an authorization code (it was redeemed twice).
    pub(crate) fn revoke_tokens_from_code(&mut self, code: &Key) {
        self.access_tokens.retain(|_, grant| grant.from_code.as_ref() != Some(code));
        self.refresh_tokens.retain(|_, grant| grant.from_code.as_ref() != Some(code));
    }

    fn prune_if_due(&mut self) {
        let now = Instant::now();
        if self.last_prune.is_some_and(|last| now.duration_since(last) < Duration::from_secs(60)) {
            return;
        }
        self.last_prune = Some(now);
        self.pending.retain(|_, p| p.expires > now);
        self.codes.retain(|_, c| c.expires > now);
        let forgotten: Vec<Key> =
            self.devices.iter().filter(|(_, d)| d.expires + EXPIRED_DEVICE_MEMORY <= now).map(|(k, _)| *k).collect();
        for device_key in forgotten {
            self.remove_device(&device_key);
        }
        self.access_tokens.retain(|_, g| g.expires > now);
        self.refresh_tokens.retain(|_, g| g.expires > now);
    }
}

/// Makes room for one more entry in `map` if it is full: its expired entries go. `Err(Full)`
/// if they were not enough.
fn make_room<K, V>(map: &mut HashMap<K, V>, expires: impl Fn(&V) -> Instant) -> Result<(), Full> {
    if map.len() >= MAX_ENTRIES {
        let now = Instant::now();
        map.retain(|_, value| expires(value) > now);
    }
    if map.len() >= MAX_ENTRIES {
        Err(Full)
    } else {
        Ok(())
    }
}

/// Drops `user`'s tokens that expire first until at most `keep` are left.
fn drop_oldest_beyond(tokens: &mut HashMap<Key, Grant>, user: &User, keep: usize) {
    let mut theirs: Vec<(Instant, Key)> =
        tokens.iter().filter(|(_, grant)| std::ptr::eq(grant.user, user)).map(|(k, grant)| (grant.expires, *k)).collect();
    if theirs.len() <= keep {
        return;
    }
    theirs.sort_unstable();
    for (_, token_key) in &theirs[..theirs.len() - keep] {
        tokens.remove(token_key);
    }
}

/// `abcd-efgh`, ` ABCDEFGH ` → `ABCDEFGH`.
pub(crate) fn normalise_user_code(typed: &str) -> String {
    typed.chars().filter(|c| !c.is_whitespace() && *c != '-').flat_map(char::to_uppercase).collect()
}

/// Test and demo control: the tenant's administrator withdraws Backup Portal's consent.
///
/// Until a global administrator of the tenant consents again (the admin consent flow, or
/// [`grant_consent`]): refreshing a token of the tenant fails with `invalid_grant`
/// `AADSTS65001`, so do the password and device code grants (after their own checks),
/// and its access tokens are refused by `/idp/v1.0/organization` (401).
/// `tenant_id` is a tenant ID or a domain; unknown ones are ignored. Returns whether it was known.
pub fn revoke_consent(tenant_id: &str) -> bool {
    let Some(tenant) = super::directory::tenant(tenant_id) else { return false };
    with(|store| store.consent.insert(tenant.id, Consent::Revoked));
    true
}

/// Test and demo control: records the tenant's admin consent, as a global administrator's
/// approval does (undoes [`revoke_consent`]). Returns whether the tenant was known.
pub fn grant_consent(tenant_id: &str) -> bool {
    let Some(tenant) = super::directory::tenant(tenant_id) else { return false };
    with(|store| store.grant_consent(tenant));
    true
}

/// Whether a global administrator of the tenant (ID or domain) has granted admin consent
/// (and it was not revoked since).
pub fn consent_granted(tenant_id: &str) -> bool {
    let Some(tenant) = super::directory::tenant(tenant_id) else { return false };
    with(|store| store.consent.get(tenant.id) == Some(&Consent::Granted))
}

#[cfg(test)]
mod tests {
    use super::super::directory::{self, TenantScope, TENANTS};
    use super::*;

    fn pending(expires: Instant) -> PendingAuthorization {
        PendingAuthorization {
            scope: TenantScope::Any,
            client_id: "backup-portal".into(),
            redirect_uri: "http://127.0.0.1/cb".into(),
            scopes: "openid".into(),
            state: None,
            code_challenge: "c".repeat(43),
            expires,
            attempts: 0,
            nonce: None,
        }
    }

    fn device(tenant: &'static Tenant, n: usize, expires: Instant) -> DeviceCode {
        DeviceCode {
            client_id: "backup-portal".into(),
            tenant,
            scopes: "openid".into(),
            user_code: format!("{n:08}"),
            expires,
            interval: Duration::from_secs(5),
            last_poll: None,
            status: DeviceStatus::Pending,
            attempts: 0,
        }
    }

    fn grant(email: &str) -> Grant {
        let user = directory::user(email).unwrap();
        Grant { client_id: "backup-portal".into(), user, scopes: "openid".into(), expires: Instant::now(), from_code: None }
    }

    #[test]
    fn a_full_map_drops_expired_entries_first_then_refuses() {
        let mut store = Store::default();
        let later = Instant::now() + Duration::from_secs(600);
        for n in 0..MAX_ENTRIES - 1 {
            store.add_pending(format!("live{n}"), pending(later)).unwrap();
        }
        store.add_pending("stale".into(), pending(Instant::now())).unwrap();
        // Full: the expired one makes room, and no live one is pushed out.
        store.add_pending("new".into(), pending(later)).unwrap();
        assert!(!store.pending.contains_key("stale"));
        assert!(store.pending.contains_key("live0") && store.pending.contains_key("new"));
        assert_eq!(store.add_pending("one too many".into(), pending(later)), Err(Full));
        assert_eq!(store.pending.len(), MAX_ENTRIES);
    }

    #[test]
    fn codes_are_bounded_the_same_way() {
        let mut store = Store::default();
        let user = directory::user("global.admin@acme-legal.example").unwrap();
        let code = |expires| AuthorizationCode {
            client_id: "backup-portal".into(),
            redirect_uri: "http://127.0.0.1/cb".into(),
            code_challenge: "c".repeat(43),
            user,
            scopes: "openid".into(),
            expires,
            nonce: None,
            redeemed: false,
        };
        let later = Instant::now() + CODE_LIFETIME;
        for n in 0..MAX_ENTRIES {
            store.add_code(key(&n.to_string()), code(later)).unwrap();
        }
        assert!(!store.room_for_code());
        assert_eq!(store.add_code(key("more"), code(later)), Err(Full));
        store.codes.get_mut(&key("7")).unwrap().expires = Instant::now();
        assert!(store.room_for_code());
        store.add_code(key("more"), code(later)).unwrap();
    }

    #[test]
    fn a_flood_of_device_codes_for_one_tenant_leaves_the_others_room() {
        let mut store = Store::default();
        let (flooded, other) = (&TENANTS[0], &TENANTS[1]);
        let later = Instant::now() + Duration::from_secs(900);
        for n in 0..MAX_DEVICES_PER_TENANT {
            store.add_device(key(&n.to_string()), device(flooded, n, later)).unwrap();
        }
        assert_eq!(store.add_device(key("a"), device(flooded, 1_000_001, later)), Err(Full));
        store.add_device(key("b"), device(other, 1_000_002, later)).unwrap();

        // An expired code of the tenant makes room (and its user code goes with it).
        store.devices.get_mut(&key("3")).unwrap().expires = Instant::now();
        store.add_device(key("c"), device(flooded, 1_000_003, later)).unwrap();
        assert!(store.device_by_user_code("00000003").is_none());
        assert!(store.device_by_user_code("01000003").is_some());
        assert_eq!(store.user_codes.len(), store.devices.len());
    }

    #[test]
    fn a_user_asking_for_tokens_in_a_loop_spends_only_their_own() {
        let mut store = Store::default();
        let (_, others_refresh) = store.issue_tokens(grant("backup.admin@bluebird-clinics.example")).unwrap();
        let (first_access, first_refresh) = store.issue_tokens(grant("backup.admin@acme-legal.example")).unwrap();
        let mut last = (String::new(), String::new());
        for _ in 0..MAX_TOKENS_PER_USER + 5 {
            last = store.issue_tokens(grant("backup.admin@acme-legal.example")).unwrap();
        }
        assert_eq!(store.refresh_tokens.len(), MAX_TOKENS_PER_USER + 1);
        assert_eq!(store.access_tokens.len(), MAX_TOKENS_PER_USER + 1);
        assert!(!store.refresh_tokens.contains_key(&key(&first_refresh)), "the user's oldest went");
        assert!(!store.access_tokens.contains_key(&key(&first_access)));
        assert!(store.refresh_tokens.contains_key(&key(&last.1)));
        assert!(store.refresh_tokens.contains_key(&key(&others_refresh)), "another user's stays");
    }

    #[test]
    fn tokens_are_refused_when_the_map_is_full_of_live_ones() {
        let mut store = Store::default();
        let later = Instant::now() + REFRESH_TOKEN_LIFETIME;
        // Filled by many users (as if), each within their own limit.
        for n in 0..MAX_ENTRIES {
            store.refresh_tokens.insert(key(&n.to_string()), Grant { expires: later, ..grant("helpdesk@delta-foods.example") });
        }
        // Asked before a code is spent on them: no room, so the code stays unspent.
        assert!(!store.room_for_tokens());
        assert_eq!(store.issue_tokens(grant("backup.admin@acme-legal.example")), Err(Full));
        store.refresh_tokens.get_mut(&key("42")).unwrap().expires = Instant::now();
        assert!(store.room_for_tokens());
        assert!(store.issue_tokens(grant("backup.admin@acme-legal.example")).is_ok());
    }
}
