//! Signed download links: a link names a download and when it expires, and only this server's
//! key makes a signature that matches.

use std::path::Path;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Signs download links with a key kept beside the data (`link.key`), never in the database.
#[derive(Clone)]
pub struct LinkSigner {
    key: [u8; 32],
}

impl LinkSigner {
    /// The key in `dir/link.key` (owner-only), made on first use.
    pub fn load_or_create(dir: &Path) -> std::io::Result<LinkSigner> {
        let key = crate::secrets::keyfile::load_or_create(&dir.join("link.key"), |bytes| bytes.try_into().ok())?;
        Ok(LinkSigner { key })
    }

    /// The key in `file` (32 bytes, or 64 hex characters), made beforehand and the same for
    /// every instance, so that a link signed by one is good on all.
    pub fn from_file(file: &Path) -> std::io::Result<LinkSigner> {
        let bytes = std::fs::read(file)?;
        let key = crate::secrets::decode_key(&bytes).ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, "the link key file must hold 32 bytes or 64 hex characters")
        })?;
        Ok(LinkSigner { key })
    }

    fn signature(&self, job_id: &str, expires: i64) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes a key of any length");
        mac.update(format!("{job_id}:{expires}").as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// The link to a download's file, good until `expires` (Unix ms).
    pub fn url(&self, job_id: &str, expires: i64) -> String {
        format!("/api/downloads/{job_id}/file?expires={expires}&signature={}", self.signature(job_id, expires))
    }

    pub(crate) fn verify(&self, job_id: &str, expires: i64, signature: &str) -> bool {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes a key of any length");
        mac.update(format!("{job_id}:{expires}").as_bytes());
        hex::decode(signature).is_ok_and(|bytes| mac.verify_slice(&bytes).is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_verify_only_as_signed() {
        let dir = tempfile::tempdir().unwrap();
        let signer = LinkSigner::load_or_create(dir.path()).unwrap();
        let url = signer.url("D-ABC", 1234);
        let signature = url.rsplit("signature=").next().unwrap();
        assert!(signer.verify("D-ABC", 1234, signature));
        assert!(!signer.verify("D-ABC", 1235, signature), "another expiry");
        assert!(!signer.verify("D-ABD", 1234, signature), "another download");
        assert!(!signer.verify("D-ABC", 1234, "zz"));
        let again = LinkSigner::load_or_create(dir.path()).unwrap();
        assert!(again.verify("D-ABC", 1234, signature), "the key survives a restart");
    }

    #[cfg(unix)]
    #[test]
    fn the_link_key_is_owner_only_and_a_shared_one_is_tightened() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        let dir = tempfile::tempdir().unwrap();
        let made = LinkSigner::load_or_create(dir.path()).unwrap();
        assert_eq!(mode(&dir.path().join("link.key")), 0o600, "made owner-only");
        let other = tempfile::tempdir().unwrap();
        let shared = other.path().join("link.key");
        std::fs::write(&shared, made.key).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o644)).unwrap();
        let loaded = LinkSigner::load_or_create(other.path()).unwrap();
        assert_eq!(loaded.key, made.key, "the key is kept");
        assert_eq!(mode(&shared), 0o600, "tightened at start");
    }
}
