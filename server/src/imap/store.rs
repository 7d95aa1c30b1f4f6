//! The object store: each message's bytes once, under their SHA-256, in the data folder
//! (`objects/ab/abcdef…`). The database says which mailbox holds which message where.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

#[derive(Clone, Debug)]
pub struct ObjectStore {
    root: PathBuf,
}

impl ObjectStore {
    pub fn new(data_dir: &Path) -> ObjectStore {
        ObjectStore { root: data_dir.join("objects") }
    }

    pub fn hash(bytes: &[u8]) -> String {
        hex::encode(Sha256::digest(bytes))
    }

    fn path(&self, sha256: &str) -> PathBuf {
        self.root.join(&sha256[..2]).join(sha256)
    }

    /// Stores the bytes unless the same content is stored already; returns their hash.
    pub async fn put(&self, bytes: &[u8]) -> std::io::Result<String> {
        let sha256 = Self::hash(bytes);
        let path = self.path(&sha256);
        if tokio::fs::try_exists(&path).await? {
            return Ok(sha256);
        }
        tokio::fs::create_dir_all(path.parent().expect("objects live in a folder")).await?;
        // Written aside and renamed: a crash never leaves a partial object under a hash.
        let partial = path.with_extension(format!("part-{}", hex::encode(rand::random::<[u8; 6]>())));
        tokio::fs::write(&partial, bytes).await?;
        tokio::fs::rename(&partial, &path).await?;
        Ok(sha256)
    }

    /// The bytes stored under this hash, checked against it.
    pub async fn get(&self, sha256: &str) -> std::io::Result<Vec<u8>> {
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a SHA-256"));
        }
        let bytes = tokio::fs::read(self.path(sha256)).await?;
        if Self::hash(&bytes) != sha256 {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "the stored message is damaged"));
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_same_content_is_stored_once_and_read_back_checked() {
        let dir = tempfile::tempdir().unwrap();
        let store = ObjectStore::new(dir.path());
        let a = store.put(b"Subject: one\r\n\r\nbody\r\n").await.unwrap();
        let b = store.put(b"Subject: one\r\n\r\nbody\r\n").await.unwrap();
        assert_eq!(a, b);
        assert_eq!(store.get(&a).await.unwrap(), b"Subject: one\r\n\r\nbody\r\n");
        let files: Vec<_> = std::fs::read_dir(dir.path().join("objects").join(&a[..2])).unwrap().collect();
        assert_eq!(files.len(), 1, "stored once");
        std::fs::write(store.path(&a), b"tampered").unwrap();
        assert_eq!(store.get(&a).await.unwrap_err().kind(), std::io::ErrorKind::InvalidData);
        assert!(store.get("../../etc/passwd").await.is_err());
    }
}
