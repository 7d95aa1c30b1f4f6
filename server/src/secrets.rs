//! Secrets at rest (destination passwords, later the backup admin's password and refresh
//! tokens): AES-256-GCM with envelope keys. Each organisation has its own data key, stored in
//! the database only wrapped (encrypted) by the master key; the master key never enters the
//! database: it comes from `PORTAL_MASTER_KEY`, a file named by `PORTAL_MASTER_KEY_FILE`, or
//! `master.key` in the data folder (made on first start, readable by the owner only).
//!
//! Every encryption takes a fresh random 96-bit nonce, and binds its ciphertext to where it is
//! kept (the "context", used as associated data), so a value copied to another row or another
//! organisation does not decrypt.

pub mod keyfile;

use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use zeroize::Zeroizing;

use crate::db::{now_ms, Db};

/// Why a secret could not be sealed or opened. Never carries the secret.
#[derive(Debug)]
pub enum SecretError {
    Database(sqlx::Error),
    /// Wrong key, a tampered value, or a value moved from elsewhere.
    Undecryptable,
}

impl std::fmt::Display for SecretError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretError::Database(error) => write!(f, "database: {error}"),
            SecretError::Undecryptable => {
                f.write_str("a stored secret could not be decrypted (wrong master key or altered value)")
            }
        }
    }
}

impl std::error::Error for SecretError {}

impl From<sqlx::Error> for SecretError {
    fn from(error: sqlx::Error) -> Self {
        SecretError::Database(error)
    }
}

/// A secret in memory: wiped when dropped, never printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(Zeroizing<String>);

impl SecretString {
    pub fn new(secret: String) -> SecretString {
        SecretString(Zeroizing::new(secret))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretString(..)")
    }
}

/// Seals and opens secrets with per-organisation data keys under one master key.
#[derive(Clone)]
pub struct SecretBox {
    master: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

/// A master key file given by the operator is theirs to keep: it is not changed, but one that
/// other users may read is named in the log (that key should be taken as known).
fn warn_if_shared(path: &std::path::Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                tracing::warn!(file = %path.display(), mode = format!("{mode:o}"), "the master key file can be read by other users: make it 0600 and consider the key exposed");
            }
        }
    }
}

/// Where the master key comes from, in order.
pub enum MasterKeySource<'a> {
    /// 64 hex characters (`PORTAL_MASTER_KEY`).
    Hex(&'a str),
    /// A file holding 32 bytes, or 64 hex characters (`PORTAL_MASTER_KEY_FILE`).
    File(&'a Path),
    /// `master.key` in the data folder, made on first use.
    DataDir(&'a Path),
}

impl SecretBox {
    pub fn from_key(master: [u8; 32]) -> SecretBox {
        SecretBox { master: Zeroizing::new(master) }
    }

    pub fn load(source: MasterKeySource<'_>) -> std::io::Result<SecretBox> {
        let invalid = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
        let key = match source {
            MasterKeySource::Hex(hex_key) => decode_key(hex_key.trim().as_bytes())
                .ok_or_else(|| invalid("PORTAL_MASTER_KEY must be 64 hex characters (32 bytes)"))?,
            MasterKeySource::File(path) => {
                warn_if_shared(path);
                decode_key(&std::fs::read(path)?)
                    .ok_or_else(|| invalid("the master key file must hold 32 bytes or 64 hex characters"))?
            }
            MasterKeySource::DataDir(dir) => keyfile::load_or_create(&dir.join("master.key"), decode_key)?,
        };
        Ok(SecretBox::from_key(key))
    }

    /// Encrypts `plaintext` for `organisation_id`, bound to `context` (where it will be kept).
    pub async fn seal(&self, db: &Db, organisation_id: i64, context: &str, plaintext: &[u8]) -> Result<String, SecretError> {
        let data_key = self.data_key(db, organisation_id).await?;
        Ok(seal_with(&data_key, &format!("org:{organisation_id}:{context}"), plaintext))
    }

    /// Decrypts what `seal` made with the same organisation and context.
    pub async fn open(
        &self,
        db: &Db,
        organisation_id: i64,
        context: &str,
        sealed: &str,
    ) -> Result<Zeroizing<Vec<u8>>, SecretError> {
        let data_key = self.data_key(db, organisation_id).await?;
        open_with(&data_key, &format!("org:{organisation_id}:{context}"), sealed).ok_or(SecretError::Undecryptable)
    }

    /// Encrypts a user's own secret (an authenticator's) under the master key, bound to the
    /// user and `context`: a user may belong to no organisation (a reseller's).
    pub fn seal_for_user(&self, user_id: i64, context: &str, plaintext: &[u8]) -> String {
        self.seal_for(&format!("user:{user_id}:{context}"), plaintext)
    }

    /// Encrypts what belongs to no organisation nor user (a sign-in under way) under the
    /// master key, bound to `context`.
    pub fn seal_for(&self, context: &str, plaintext: &[u8]) -> String {
        seal_with(&self.master, context, plaintext)
    }

    /// Decrypts what `seal_for` made with the same context.
    pub fn open_for(&self, context: &str, sealed: &str) -> Result<Zeroizing<Vec<u8>>, SecretError> {
        open_with(&self.master, context, sealed).ok_or(SecretError::Undecryptable)
    }

    /// Decrypts what `seal_for_user` made for the same user and context.
    pub fn open_for_user(&self, user_id: i64, context: &str, sealed: &str) -> Result<Zeroizing<Vec<u8>>, SecretError> {
        self.open_for(&format!("user:{user_id}:{context}"), sealed)
    }

    /// The organisation's data key, made and stored (wrapped) on first use. Two requests at
    /// once may both make one; only the first stored is kept, and both use that one.
    async fn data_key(&self, db: &Db, organisation_id: i64) -> Result<Zeroizing<[u8; 32]>, SecretError> {
        let wrap_context = format!("data-key:org:{organisation_id}");
        let stored: Option<(String,)> = sqlx::query_as("SELECT wrapped_key FROM organisation_keys WHERE organisation_id = $1")
            .bind(organisation_id)
            .fetch_optional(db)
            .await?;
        let wrapped = match stored {
            Some((wrapped,)) => wrapped,
            None => {
                let fresh = Zeroizing::new(rand::random::<[u8; 32]>());
                let wrapped = seal_with(&self.master, &wrap_context, fresh.as_slice());
                sqlx::query(
                    "INSERT INTO organisation_keys (organisation_id, wrapped_key, created_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (organisation_id) DO NOTHING",
                )
                .bind(organisation_id)
                .bind(&wrapped)
                .bind(now_ms())
                .execute(db)
                .await?;
                let (kept,): (String,) = sqlx::query_as("SELECT wrapped_key FROM organisation_keys WHERE organisation_id = $1")
                    .bind(organisation_id)
                    .fetch_one(db)
                    .await?;
                kept
            }
        };
        let bytes = open_with(&self.master, &wrap_context, &wrapped).ok_or(SecretError::Undecryptable)?;
        let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| SecretError::Undecryptable)?;
        Ok(Zeroizing::new(key))
    }
}

/// `v1.<nonce hex>.<ciphertext and tag hex>`.
fn seal_with(key: &[u8; 32], context: &str, plaintext: &[u8]) -> String {
    let cipher = Aes256Gcm::new(key.into());
    let nonce: [u8; 12] = rand::random();
    let ciphertext = cipher
        .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad: context.as_bytes() })
        .expect("AES-GCM encrypts any message shorter than 64 GiB");
    format!("v1.{}.{}", hex::encode(nonce), hex::encode(ciphertext))
}

fn open_with(key: &[u8; 32], context: &str, sealed: &str) -> Option<Zeroizing<Vec<u8>>> {
    let mut parts = sealed.split('.');
    let (Some("v1"), Some(nonce), Some(ciphertext), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return None;
    };
    let nonce: [u8; 12] = hex::decode(nonce).ok()?.try_into().ok()?;
    let ciphertext = hex::decode(ciphertext).ok()?;
    let cipher = Aes256Gcm::new(key.into());
    cipher.decrypt(Nonce::from_slice(&nonce), Payload { msg: &ciphertext, aad: context.as_bytes() }).ok().map(Zeroizing::new)
}

/// A key file's 32 bytes: raw, or as 64 hex characters.
pub(crate) fn decode_key(bytes: &[u8]) -> Option<[u8; 32]> {
    if let Ok(key) = <[u8; 32]>::try_from(bytes) {
        return Some(key);
    }
    let text = std::str::from_utf8(bytes).ok()?.trim();
    hex::decode(text).ok()?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_value_opens_only_with_its_key_and_context() {
        let key = [7_u8; 32];
        let sealed = seal_with(&key, "job:R-1:destination_password", b"hunter2");
        assert!(!sealed.contains("hunter2"));
        assert_eq!(open_with(&key, "job:R-1:destination_password", &sealed).unwrap().as_slice(), b"hunter2");
        assert!(open_with(&key, "job:R-2:destination_password", &sealed).is_none(), "moved to another row");
        assert!(open_with(&[8_u8; 32], "job:R-1:destination_password", &sealed).is_none(), "another key");
        let last = sealed.chars().last().unwrap();
        let tampered = format!("{}{}", &sealed[..sealed.len() - 1], if last == '0' { '1' } else { '0' });
        assert!(open_with(&key, "job:R-1:destination_password", &tampered).is_none(), "altered");
    }

    #[test]
    fn each_encryption_takes_a_fresh_nonce() {
        let key = [1_u8; 32];
        let a = seal_with(&key, "c", b"same");
        let b = seal_with(&key, "c", b"same");
        assert_ne!(a.split('.').nth(1), b.split('.').nth(1));
        assert_ne!(a, b);
    }

    #[test]
    fn the_master_key_file_is_made_once_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let first = SecretBox::load(MasterKeySource::DataDir(dir.path())).unwrap();
        let again = SecretBox::load(MasterKeySource::DataDir(dir.path())).unwrap();
        assert_eq!(first.master, again.master);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("master.key")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "readable by the owner only");
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let other = tempfile::tempdir().unwrap();
            let shared = other.path().join("master.key");
            std::fs::write(&shared, *first.master).unwrap();
            std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o644)).unwrap();
            let loaded = SecretBox::load(MasterKeySource::DataDir(other.path())).unwrap();
            assert_eq!(loaded.master, first.master, "the key is kept");
            let mode = std::fs::metadata(&shared).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "a key readable by others is made owner-only at start");
        }
        assert!(SecretBox::load(MasterKeySource::Hex("abc")).is_err());
        assert!(SecretBox::load(MasterKeySource::Hex(&"ab".repeat(32))).is_ok());
    }
}
