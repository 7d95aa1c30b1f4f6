//! Passkeys and security keys (WebAuthn), checked by the webauthn-rs crate: the relying party
//! (from `--public-url`), the ceremonies under way (held in the database, two minutes, used
//! once) and the registered credentials. What sign-in (`passkey_sign_in.rs`) and Account ›
//! Security (`security/passkeys.rs`) both use.

use std::time::Duration;

use base64::Engine;
use portal_api::{FieldError, PasskeyOptions, PasskeyRow};
use serde::de::DeserializeOwned;
use serde::Serialize;
use webauthn_rs::prelude::{
    AuthenticationResult, DiscoverableAuthentication, DiscoverableKey, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, Url, Uuid, Webauthn, WebauthnBuilder,
};

use crate::db::{now_ms, rfc3339};
use crate::error::{AppError, AppResult};
use crate::state::AppState;

/// How long a person has to touch the key.
pub const CEREMONY_SECS: u64 = 120;
/// What authenticators show as the site.
const RP_NAME: &str = "Backup Portal";

/// What a ceremony is for: its options and answers are not interchangeable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    Register,
    SecondFactor,
    SignIn,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::Register => "register",
            Purpose::SecondFactor => "second_factor",
            Purpose::SignIn => "sign_in",
        }
    }
}

/// This server as a WebAuthn relying party.
pub struct RelyingParty {
    webauthn: Webauthn,
    /// `scheme://host:port` where passkeys work.
    origin: String,
}

/// The relying party's ID and origin: the public URL's host name. A loopback address (the
/// default `--addr`) becomes `localhost` on the same port: browsers refuse passkeys for an IP
/// address. `None` for any other address (then `--public-url` must name the host).
pub fn relying_party_origin(config: &crate::config::Config) -> Option<(String, Url)> {
    let mut url = Url::parse(&config.public_url()).ok()?;
    let rp_id = match url.host()? {
        url::Host::Domain(name) => name.to_owned(),
        url::Host::Ipv4(ip) if ip.is_loopback() => "localhost".to_owned(),
        url::Host::Ipv6(ip) if ip.is_loopback() => "localhost".to_owned(),
        _ => return None,
    };
    url.set_host(Some(&rp_id)).ok()?;
    let origin = Url::parse(&url.origin().ascii_serialization()).ok()?;
    Some((rp_id, origin))
}

pub fn relying_party(config: &crate::config::Config) -> AppResult<RelyingParty> {
    let unavailable = || {
        AppError::Conflict(
            "Passkeys need the portal at a host name: set --public-url to the address people use (e.g. https://portal.example.com). Browsers do not offer passkeys for an IP address.".into(),
        )
    };
    let (rp_id, origin_url) = relying_party_origin(config).ok_or_else(unavailable)?;
    let origin = origin_url.origin().ascii_serialization();
    let webauthn = WebauthnBuilder::new(&rp_id, &origin_url)
        .and_then(|builder| builder.rp_name(RP_NAME).timeout(Duration::from_secs(CEREMONY_SECS)).build())
        .map_err(|e| {
            tracing::warn!(error = %e, rp_id, "passkeys unavailable: the public URL is no relying party");
            unavailable()
        })?;
    Ok(RelyingParty { webauthn, origin })
}

/// Why a key cannot be let to sign in alone.
pub const NOT_DISCOVERABLE: &str =
    "This key keeps no passkey on itself, so it cannot sign you in on its own: use it after your password instead.";

fn credential_error(message: &str) -> AppError {
    AppError::Validation(vec![FieldError::new("credential", message)])
}

fn expired() -> AppError {
    AppError::Validation(vec![FieldError::new(
        "ceremony",
        "The time to use the passkey ran out, or this answer was sent already. Try again.",
    )])
}

/// A ceremony's state kept for its answer; the ID for the browser.
async fn begin_ceremony<S: Serialize>(
    state: &AppState,
    user_id: Option<i64>,
    purpose: Purpose,
    ceremony: &S,
) -> AppResult<String> {
    let now = now_ms();
    sqlx::query("DELETE FROM passkey_ceremonies WHERE expires_at <= $1").bind(now).execute(&state.db).await?;
    let id = super::session::random_token();
    sqlx::query(
        "INSERT INTO passkey_ceremonies (id_hash, user_id, purpose, state, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(super::session::hash_session_id(&id))
    .bind(user_id)
    .bind(purpose.as_str())
    .bind(serde_json::to_string(ceremony).map_err(AppError::internal)?)
    .bind(now)
    .bind(now + (CEREMONY_SECS * 1000) as i64)
    .execute(&state.db)
    .await?;
    Ok(id)
}

/// The ceremony's state, taken (a second answer finds none). `user_id`: whose it must be.
async fn take_ceremony<S: DeserializeOwned>(state: &AppState, id: &str, purpose: Purpose, user_id: Option<i64>) -> AppResult<S> {
    if id.is_empty() || id.len() > 64 {
        return Err(expired());
    }
    let found: Option<(String,)> = sqlx::query_as(
        "DELETE FROM passkey_ceremonies WHERE id_hash = $1 AND purpose = $2 AND expires_at > $3 AND COALESCE(user_id, 0) = $4 \
         RETURNING state",
    )
    .bind(super::session::hash_session_id(id))
    .bind(purpose.as_str())
    .bind(now_ms())
    .bind(user_id.unwrap_or(0))
    .fetch_optional(&state.db)
    .await?;
    let (json,) = found.ok_or_else(expired)?;
    serde_json::from_str(&json).map_err(AppError::internal)
}

fn options<T: Serialize>(rp: &RelyingParty, ceremony: String, public_key: &T) -> AppResult<PasskeyOptions> {
    Ok(PasskeyOptions {
        ceremony,
        public_key: serde_json::to_value(public_key).map_err(AppError::internal)?,
        origin: rp.origin.clone(),
    })
}

/// A registered passkey as stored.
#[derive(sqlx::FromRow)]
pub struct StoredPasskey {
    pub id: String,
    pub name: String,
    pub passwordless: i64,
    /// 1: kept on the key; 0: not (it cannot sign in alone); none: the browser did not say.
    pub discoverable: Option<i64>,
    credential: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

impl StoredPasskey {
    fn passkey(&self) -> AppResult<Passkey> {
        serde_json::from_str(&self.credential)
            .map_err(|e| AppError::Internal(format!("passkey {} does not decode: {e}", self.id)))
    }

    pub fn row(&self) -> PasskeyRow {
        PasskeyRow {
            id: self.id.clone(),
            name: self.name.clone(),
            created_at: rfc3339(self.created_at),
            last_used_at: self.last_used_at.map(rfc3339),
            passwordless: self.passwordless != 0,
        }
    }
}

const COLUMNS: &str = "id, name, passwordless, discoverable, credential, created_at, last_used_at";

/// The user's passkeys, oldest first.
pub async fn list(state: &AppState, user_id: i64) -> AppResult<Vec<StoredPasskey>> {
    Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM passkeys WHERE user_id = $1 ORDER BY created_at, id"))
        .bind(user_id)
        .fetch_all(&state.db)
        .await?)
}

pub async fn find(state: &AppState, user_id: i64, id: &str) -> AppResult<Option<StoredPasskey>> {
    Ok(sqlx::query_as(&format!("SELECT {COLUMNS} FROM passkeys WHERE user_id = $1 AND id = $2"))
        .bind(user_id)
        .bind(id)
        .fetch_optional(&state.db)
        .await?)
}

/// The user's WebAuthn handle, made on first need.
async fn user_handle(state: &AppState, user_id: i64) -> AppResult<Uuid> {
    let fresh = Uuid::from_bytes(rand::random());
    sqlx::query("UPDATE users SET passkey_handle = $1 WHERE id = $2 AND passkey_handle IS NULL")
        .bind(fresh.to_string())
        .bind(user_id)
        .execute(&state.db)
        .await?;
    let (handle,): (Option<String>,) =
        sqlx::query_as("SELECT passkey_handle FROM users WHERE id = $1").bind(user_id).fetch_one(&state.db).await?;
    handle
        .and_then(|h| Uuid::parse_str(&h).ok())
        .ok_or_else(|| AppError::Internal(format!("user {user_id} has no passkey handle")))
}

/// Creation options for a new passkey of the user (their existing ones excluded).
pub async fn begin_registration(state: &AppState, user_id: i64, email: &str, display_name: &str) -> AppResult<PasskeyOptions> {
    let rp = relying_party(&state.config)?;
    let existing = list(state, user_id).await?;
    let exclude = existing.iter().map(|p| p.passkey().map(|k| k.cred_id().clone())).collect::<AppResult<Vec<_>>>()?;
    let handle = user_handle(state, user_id).await?;
    let (creation, registration) = rp
        .webauthn
        .start_passkey_registration(handle, email, display_name, Some(exclude))
        .map_err(|e| AppError::Internal(format!("passkey registration options: {e}")))?;
    let id = begin_ceremony(state, Some(user_id), Purpose::Register, &registration).await?;
    let mut options = options(&rp, id, &creation.public_key)?;
    // Kept on the key when it can (a discoverable credential): then it can also sign in
    // without the password, if the user allows it. (The crate asks for none; the answer is
    // checked the same either way.)
    if let Some(selection) = options.public_key.get_mut("authenticatorSelection").and_then(|s| s.as_object_mut()) {
        selection.insert("residentKey".into(), "preferred".into());
    }
    Ok(options)
}

/// Checks the browser's answer and stores the new passkey.
pub async fn finish_registration(
    state: &AppState,
    user_id: i64,
    ceremony: &str,
    credential: serde_json::Value,
    name: &str,
    passwordless: bool,
) -> AppResult<StoredPasskey> {
    let rp = relying_party(&state.config)?;
    let registration: PasskeyRegistration = take_ceremony(state, ceremony, Purpose::Register, Some(user_id)).await?;
    let credential: RegisterPublicKeyCredential = serde_json::from_value(credential).map_err(|e| {
        tracing::info!(error = %e, user_id, "a passkey registration answer that does not decode");
        credential_error("This is not what a browser answers when a passkey is created.")
    })?;
    // What the browser says of the new credential (not signed: used only to refuse a promise
    // the key cannot keep).
    let discoverable = credential.extensions.cred_props.as_ref().and_then(|props| props.rk);
    if passwordless && discoverable == Some(false) {
        return Err(AppError::Validation(vec![FieldError::new("passwordless", NOT_DISCOVERABLE)]));
    }
    let passkey = rp.webauthn.finish_passkey_registration(&credential, &registration).map_err(|e| {
        tracing::info!(error = %e, user_id, "passkey registration refused");
        credential_error("The passkey's answer did not check out (made for another site, or changed on the way). Try again.")
    })?;
    let id = format!("pk_{}", super::session::random_token().chars().take(20).collect::<String>());
    let credential_id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(passkey.cred_id().as_slice());
    let stored = sqlx::query(
        "INSERT INTO passkeys (id, user_id, credential_id, name, passwordless, discoverable, credential, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&id)
    .bind(user_id)
    .bind(&credential_id)
    .bind(name)
    .bind(i64::from(passwordless))
    .bind(discoverable.map(i64::from))
    .bind(serde_json::to_string(&passkey).map_err(AppError::internal)?)
    .bind(now_ms())
    .execute(&state.db)
    .await;
    match stored {
        Ok(_) => {}
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            return Err(AppError::Conflict("This passkey is registered already.".into()));
        }
        Err(e) => return Err(e.into()),
    }
    find(state, user_id, &id).await?.ok_or_else(|| AppError::Internal("the new passkey is gone".into()))
}

/// Request options naming the user's passkeys (the second factor after the password).
/// `None` when the user has none.
pub async fn begin_second_factor(state: &AppState, user_id: i64) -> AppResult<Option<PasskeyOptions>> {
    let stored = list(state, user_id).await?;
    if stored.is_empty() {
        return Ok(None);
    }
    let rp = relying_party(&state.config)?;
    let keys = stored.iter().map(StoredPasskey::passkey).collect::<AppResult<Vec<_>>>()?;
    let (request, authentication) = rp
        .webauthn
        .start_passkey_authentication(&keys)
        .map_err(|e| AppError::Internal(format!("passkey request options: {e}")))?;
    let id = begin_ceremony(state, Some(user_id), Purpose::SecondFactor, &authentication).await?;
    options(&rp, id, &request.public_key).map(Some)
}

/// Checks an answer to [`begin_second_factor`]: the passkey used, or `None` if refused.
pub async fn finish_second_factor(
    state: &AppState,
    user_id: i64,
    ceremony: &str,
    credential: serde_json::Value,
) -> AppResult<Option<StoredPasskey>> {
    let rp = relying_party(&state.config)?;
    let authentication: PasskeyAuthentication = take_ceremony(state, ceremony, Purpose::SecondFactor, Some(user_id)).await?;
    let Ok(credential) = serde_json::from_value::<PublicKeyCredential>(credential) else {
        return Ok(None);
    };
    let result = match rp.webauthn.finish_passkey_authentication(&credential, &authentication) {
        Ok(result) => result,
        Err(e) => {
            refused(&e, user_id, "as a second factor");
            return Ok(None);
        }
    };
    used(state, &Verified { user_id, result }).await
}

/// Request options for any passkey the browser finds (a sign-in without the password).
pub async fn begin_sign_in(state: &AppState) -> AppResult<PasskeyOptions> {
    let rp = relying_party(&state.config)?;
    let (request, authentication) = rp
        .webauthn
        .start_discoverable_authentication()
        .map_err(|e| AppError::Internal(format!("passkey request options: {e}")))?;
    let id = begin_ceremony(state, None, Purpose::SignIn, &authentication).await?;
    options(&rp, id, &request.public_key)
}

/// A passkey's answer that checked out: whose, and what to note of its use ([`used`]) once the
/// sign-in is let through.
pub struct Verified {
    pub user_id: i64,
    result: AuthenticationResult,
}

/// Checks an answer to [`begin_sign_in`]: `None` if refused (unknown, or not allowed to sign
/// in alone).
pub async fn finish_sign_in(state: &AppState, ceremony: &str, credential: serde_json::Value) -> AppResult<Option<Verified>> {
    let rp = relying_party(&state.config)?;
    let authentication: DiscoverableAuthentication = take_ceremony(state, ceremony, Purpose::SignIn, None).await?;
    let Ok(credential) = serde_json::from_value::<PublicKeyCredential>(credential) else {
        return Ok(None);
    };
    let Ok((handle, _)) = rp.webauthn.identify_discoverable_authentication(&credential) else {
        return Ok(None);
    };
    let found: Option<(i64,)> = sqlx::query_as("SELECT id FROM users WHERE passkey_handle = $1")
        .bind(handle.to_string())
        .fetch_optional(&state.db)
        .await?;
    let Some((user_id,)) = found else {
        return Ok(None);
    };
    let allowed = list(state, user_id).await?.into_iter().filter(|p| p.passwordless != 0).collect::<Vec<_>>();
    let keys = allowed.iter().map(|p| p.passkey().map(|k| DiscoverableKey::from(&k))).collect::<AppResult<Vec<_>>>()?;
    if keys.is_empty() {
        return Ok(None);
    }
    match rp.webauthn.finish_discoverable_authentication(&credential, authentication, &keys) {
        Ok(result) => Ok(Some(Verified { user_id, result })),
        Err(e) => {
            refused(&e, user_id, "for a sign-in without password");
            Ok(None)
        }
    }
}

fn refused(error: &webauthn_rs::prelude::WebauthnError, user_id: i64, what: &str) {
    match error {
        webauthn_rs::prelude::WebauthnError::CredentialPossibleCompromise => {
            tracing::warn!(user_id, "a passkey refused {what}: its signature counter went back (a copy of the key?)");
        }
        e => tracing::info!(error = %e, user_id, "a passkey refused {what}"),
    }
}

/// Notes the passkey's use and its signature counter, which only goes up: written only if it
/// is above the stored one (in one statement, so two sign-ins at once cannot take it back). A
/// counter that did not go up means a copy of the key was used: refused (`None`). Keys that
/// keep no counter (always 0) pass.
pub async fn used(state: &AppState, verified: &Verified) -> AppResult<Option<StoredPasskey>> {
    let user_id = verified.user_id;
    let counter = i64::from(verified.result.counter());
    for stored in list(state, user_id).await? {
        let mut passkey = stored.passkey()?;
        if passkey.update_credential(&verified.result).is_none() {
            continue;
        }
        let written = sqlx::query(
            "UPDATE passkeys SET credential = $1, last_used_at = $2, sign_count = $3 \
             WHERE id = $4 AND (sign_count < $3 OR ($3 = 0 AND sign_count = 0))",
        )
        .bind(serde_json::to_string(&passkey).map_err(AppError::internal)?)
        .bind(now_ms())
        .bind(counter)
        .bind(&stored.id)
        .execute(&state.db)
        .await?
        .rows_affected();
        if written == 0 {
            tracing::warn!(user_id, passkey = %stored.id, counter, "a passkey refused: its signature counter did not go up (a copy of the key?)");
            return Ok(None);
        }
        return find(state, user_id, &stored.id).await;
    }
    Ok(None)
}

/// Renames it, or allows or stops its use without the password.
pub async fn change(state: &AppState, user_id: i64, id: &str, name: Option<&str>, passwordless: Option<bool>) -> AppResult<bool> {
    let changed = sqlx::query(
        "UPDATE passkeys SET name = COALESCE($1, name), passwordless = COALESCE($2, passwordless) WHERE user_id = $3 AND id = $4",
    )
    .bind(name)
    .bind(passwordless.map(i64::from))
    .bind(user_id)
    .bind(id)
    .execute(&state.db)
    .await?
    .rows_affected();
    Ok(changed == 1)
}

/// Removes it; with the user's last second factor go the recovery codes (as when the app is
/// removed and no passkey is left).
pub async fn remove(state: &AppState, user_id: i64, id: &str) -> AppResult<bool> {
    let mut tx = state.db.begin().await?;
    let removed = sqlx::query("DELETE FROM passkeys WHERE user_id = $1 AND id = $2")
        .bind(user_id)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    sqlx::query(
        "DELETE FROM recovery_codes WHERE user_id = $1 \
           AND NOT EXISTS (SELECT 1 FROM passkeys p WHERE p.user_id = $1) \
           AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = $1 AND u.totp_enrolled_at IS NOT NULL)",
    )
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(removed == 1)
}
