//! The embedded identity provider's state, in memory: pending sign-ins, authorization codes,
//! device codes, tokens and each tenant's consent. One store per process (the tenants are
//! fixed, so several apps in one process, as in tests, share it harmlessly: every code and
//! token is random). Secrets (codes, tokens) are kept by their SHA-256 digest only.

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
/// At most this many pending consent pages and device codes each (the oldest go first).
const MAX_PENDING: usize = 10_000;

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
}

pub(crate) struct AuthorizationCode {
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub user: &'static User,
    pub scopes: String,
    pub expires: Instant,
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

    pub(crate) fn add_pending(&mut self, id: String, pending: PendingAuthorization) {
        if self.pending.len() >= MAX_PENDING {
            if let Some(oldest) = self.pending.iter().min_by_key(|(_, p)| p.expires).map(|(id, _)| id.clone()) {
                self.pending.remove(&oldest);
            }
        }
        self.pending.insert(id, pending);
    }

    pub(crate) fn add_device(&mut self, device_key: Key, device: DeviceCode) {
        if self.devices.len() >= MAX_PENDING {
            if let Some(oldest) = self.devices.iter().min_by_key(|(_, d)| d.expires).map(|(k, _)| *k) {
                self.remove_device(&oldest);
            }
        }
        self.user_codes.insert(normalise_user_code(&device.user_code), device_key);
        self.devices.insert(device_key, device);
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

    /// Stores a new access and refresh token for `grant`; returns them.
    pub(crate) fn issue_tokens(&mut self, grant: Grant) -> (String, String) {
        let access = super::random_token(32);
        let refresh = super::random_token(48);
        let now = Instant::now();
        self.access_tokens
            .insert(key(&access), Grant { expires: now + Duration::from_secs(ACCESS_TOKEN_SECONDS), ..grant.clone() });
        self.refresh_tokens.insert(key(&refresh), Grant { expires: now + REFRESH_TOKEN_LIFETIME, ..grant });
        (access, refresh)
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
