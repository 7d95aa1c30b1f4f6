//! The object store: each message's bytes once, under their content hash (BLAKE3). Contents are appended to
//! pack files in the data folder (`packs/…`), one per chunk a backup saves, and the database
//! indexes where each one is (`objects`). Writing a few large files instead of one file per
//! message is what lets a backup keep up with the mail server.

use std::collections::HashSet;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::db::Db;

#[derive(Clone, Debug)]
pub struct ObjectStore {
    root: PathBuf,
}

/// Where an object is: its pack, offset and length.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Located {
    pub content_hash: String,
    pub pack: String,
    #[sqlx(rename = "pack_offset")]
    pub offset: i64,
    pub size: i64,
}

impl ObjectStore {
    pub fn new(data_dir: &Path) -> ObjectStore {
        ObjectStore { root: data_dir.join("packs") }
    }

    /// The content's BLAKE3 hash, in hex: fast enough not to hold a backup back.
    pub fn hash(bytes: &[u8]) -> String {
        blake3::hash(bytes).to_hex().to_string()
    }

    /// The hashes among these that the store does not hold yet.
    pub async fn missing(db: &Db, hashes: &[&str]) -> Result<HashSet<String>, sqlx::Error> {
        let mut missing: HashSet<String> = hashes.iter().map(|h| (*h).to_owned()).collect();
        for batch in hashes.chunks(500) {
            let placeholders: Vec<String> = (1..=batch.len()).map(|i| format!("${i}")).collect();
            let sql = format!("SELECT content_hash FROM objects WHERE content_hash IN ({})", placeholders.join(", "));
            let mut query = sqlx::query_as::<_, (String,)>(&sql);
            for hash in batch {
                query = query.bind(*hash);
            }
            for (found,) in query.fetch_all(db).await? {
                missing.remove(&found);
            }
        }
        Ok(missing)
    }

    /// Appends the objects to a new pack file and says where each one is. The caller records
    /// them (`record`) in the transaction that records the messages: an object is known only
    /// once its bytes are written.
    pub async fn write_pack(&self, objects: Vec<(String, Vec<u8>)>) -> std::io::Result<Vec<Located>> {
        if objects.is_empty() {
            return Ok(Vec::new());
        }
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&root)?;
            let pack = format!("{}-{}.pack", crate::db::now_ms(), hex::encode(rand::random::<[u8; 6]>()));
            let mut file = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(root.join(&pack))?);
            let mut offset = 0_i64;
            let mut located = Vec::with_capacity(objects.len());
            for (content_hash, bytes) in objects {
                file.write_all(&bytes)?;
                located.push(Located { content_hash, pack: pack.clone(), offset, size: bytes.len() as i64 });
                offset += bytes.len() as i64;
            }
            file.flush()?;
            Ok(located)
        })
        .await
        .map_err(std::io::Error::other)?
    }

    /// Indexes written objects (a hash stored twice at once keeps its first place).
    pub async fn record(connection: &mut sqlx::AnyConnection, located: &[Located]) -> Result<(), sqlx::Error> {
        for batch in located.chunks(100) {
            let rows: Vec<String> =
                (0..batch.len()).map(|i| format!("(${}, ${}, ${}, ${})", i * 4 + 1, i * 4 + 2, i * 4 + 3, i * 4 + 4)).collect();
            let sql = format!(
                "INSERT INTO objects (content_hash, pack, pack_offset, size) VALUES {} ON CONFLICT DO NOTHING",
                rows.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for object in batch {
                query = query.bind(&object.content_hash).bind(&object.pack).bind(object.offset).bind(object.size);
            }
            query.execute(&mut *connection).await?;
        }
        Ok(())
    }

    /// Reads located objects, each checked against its hash, in the order given; a pack stays
    /// open while the next object is in it. An object that cannot be read is an `Err` in its place.
    pub async fn read(&self, located: Vec<Located>) -> std::io::Result<Vec<std::io::Result<Vec<u8>>>> {
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || {
            let mut open: Option<(String, std::fs::File)> = None;
            let mut out = Vec::with_capacity(located.len());
            for object in located {
                out.push(read_one(&root, &mut open, &object));
            }
            Ok(out)
        })
        .await
        .map_err(std::io::Error::other)?
    }
}

fn read_one(root: &Path, open: &mut Option<(String, std::fs::File)>, object: &Located) -> std::io::Result<Vec<u8>> {
    // Pack names are ours; anything else in the column is not followed.
    if object.pack.contains(['/', '\\']) || object.pack.starts_with('.') {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "not a pack name"));
    }
    if open.as_ref().is_none_or(|(name, _)| *name != object.pack) {
        *open = Some((object.pack.clone(), std::fs::File::open(root.join(&object.pack))?));
    }
    let (_, file) = open.as_mut().expect("opened above");
    file.seek(SeekFrom::Start(object.offset.max(0) as u64))?;
    let mut bytes = vec![0; object.size.max(0) as usize];
    file.read_exact(&mut bytes)?;
    if ObjectStore::hash(&bytes) != object.content_hash {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "the stored message is damaged"));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn objects_are_read_back_checked_against_their_hash() {
        let dir = tempfile::tempdir().unwrap();
        let store = ObjectStore::new(dir.path());
        let one = b"Subject: one\r\n\r\nbody\r\n".to_vec();
        let two = b"Subject: two\r\n\r\nother\r\n".to_vec();
        let located =
            store.write_pack(vec![(ObjectStore::hash(&one), one.clone()), (ObjectStore::hash(&two), two.clone())]).await.unwrap();
        assert_eq!(located[1].offset, one.len() as i64);
        let read = store.read(located.clone()).await.unwrap();
        assert_eq!(read[0].as_ref().unwrap(), &one);
        assert_eq!(read[1].as_ref().unwrap(), &two);

        // Damage is found, and a name from elsewhere is not followed.
        let pack = dir.path().join("packs").join(&located[0].pack);
        let mut bytes = std::fs::read(&pack).unwrap();
        bytes[0] ^= 1;
        std::fs::write(&pack, bytes).unwrap();
        let read = store.read(located.clone()).await.unwrap();
        assert_eq!(read[0].as_ref().unwrap_err().kind(), std::io::ErrorKind::InvalidData);
        assert!(read[1].is_ok());
        let outside = Located { pack: "../../etc/passwd".into(), ..located[1].clone() };
        assert!(store.read(vec![outside]).await.unwrap()[0].is_err());
    }
}
