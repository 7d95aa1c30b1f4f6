//! The object store: each message's bytes once, under their content hash (BLAKE3). Contents are appended to
//! pack files in the data folder (`packs/…`), one per backup run, and the database
//! indexes where each one is (`objects`). Writing a few large files instead of one file per
//! message is what lets a backup keep up with the mail server.
//! Content no message references any more (after retention) is removed for real by `compact`,
//! which writes the packs that held it again.
//! With `--object-store s3://…` the packs are kept on S3-compatible storage instead (`remote`),
//! shared by every instance, with the same names, offsets and index.

use std::collections::HashSet;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::db::{Backend, Db};

pub mod compact;
mod hold;
pub mod remote;

pub use remote::{Remote, RemoteSettings};

#[derive(Clone, Debug)]
pub struct ObjectStore {
    root: PathBuf,
    /// The shared store, when there is one: then `root` holds nothing.
    remote: Option<Remote>,
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

impl Located {
    /// Its bytes in its pack (a row with a negative place is refused before this is asked).
    pub fn range(&self) -> std::ops::Range<u64> {
        self.offset as u64..self.offset as u64 + self.size as u64
    }
}

impl ObjectStore {
    /// The store in `data_dir`, or `remote` where one is set.
    pub fn new(data_dir: &Path, remote: Option<Remote>) -> ObjectStore {
        ObjectStore { root: data_dir.join("packs"), remote }
    }

    /// The store the configuration names (`--object-store`); an `Err` says what is wrong.
    pub fn from_config(config: &crate::config::Config) -> Result<ObjectStore, String> {
        let remote = match &config.object_store {
            None => None,
            Some(url) => Some(Remote::open(&RemoteSettings {
                url: url.clone(),
                endpoint: config.object_store_endpoint.clone(),
                region: config.object_store_region.clone(),
                key_id: config.object_store_key_id.clone(),
                secret: config.object_store_secret.clone(),
            })?),
        };
        Ok(ObjectStore::new(&config.data_dir, remote))
    }

    /// The shared store, if the packs are kept there.
    pub fn remote(&self) -> Option<&Remote> {
        self.remote.as_ref()
    }

    /// The content's BLAKE3 hash, in hex: fast enough not to hold a backup back.
    pub fn hash(bytes: &[u8]) -> String {
        blake3::hash(bytes).to_hex().to_string()
    }

    /// The hashes among these that the store does not hold yet.
    pub async fn missing(db: &Db, backend: Backend, hashes: &[&str]) -> Result<HashSet<String>, sqlx::Error> {
        let mut missing: HashSet<String> = hashes.iter().map(|h| (*h).to_owned()).collect();
        for batch in hashes.chunks(500) {
            let sql = format!("SELECT content_hash FROM objects WHERE content_hash IN ({})", backend.list(0, batch.len()));
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

    /// Where a backup run writes its contents. It holds the store's lock shared for the whole
    /// run (from before it asks which contents are `missing` until its rows are recorded): a
    /// repair, which takes it alone, never removes what a run is about to point at. `WouldBlock`
    /// while a repair runs.
    pub async fn pack_writer(&self, db: &Db) -> std::io::Result<PackWriter> {
        let lock = self.lock(db, false).await?;
        let remote = self.remote.clone().map(|remote| (remote, tokio::runtime::Handle::current()));
        Ok(PackWriter { root: self.root.clone(), open: None, buffer: Vec::new(), direct: true, remote, lock: std::sync::Arc::new(lock) })
    }

    /// The folder of the pack files.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The store's lock (`packs/.lock`; a row in `store_holds` for the shared store, which
    /// every instance sees): shared by backup runs, `exclusive` for a repair.
    /// Never waits: `WouldBlock` when the other side holds it.
    pub async fn lock(&self, db: &Db, exclusive: bool) -> std::io::Result<StoreLock> {
        if self.remote.is_some() {
            return Ok(StoreLock { held: Held::Shared(hold::take(db, exclusive).await?), exclusive });
        }
        self.file_lock(exclusive)
    }

    fn file_lock(&self, exclusive: bool) -> std::io::Result<StoreLock> {
        use std::os::fd::AsRawFd;
        std::fs::create_dir_all(&self.root)?;
        let file =
            std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(self.root.join(".lock"))?;
        let how = if exclusive { libc::LOCK_EX } else { libc::LOCK_SH };
        // SAFETY: flock(2) on a descriptor we own; the lock goes when the file is closed.
        if unsafe { libc::flock(file.as_raw_fd(), how | libc::LOCK_NB) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(StoreLock { held: Held::File(file), exclusive })
    }

    /// The path of a pack named in the index; `None` for a name that is not ours (never followed).
    pub fn pack_path(&self, name: &str) -> Option<PathBuf> {
        pack_path(&self.root, name)
    }

    /// Indexes written objects (a hash stored twice at once keeps its first place).
    pub async fn record(connection: &mut sqlx::AnyConnection, backend: Backend, located: &[Located]) -> Result<(), sqlx::Error> {
        for batch in located.chunks(500) {
            let sql = format!(
                "INSERT INTO objects (content_hash, pack, pack_offset, size) VALUES {} ON CONFLICT DO NOTHING",
                backend.rows(batch.len(), 4)
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
        if let Some(remote) = &self.remote {
            return Ok(read_remote(remote, located).await);
        }
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

/// Held while it lives: see `ObjectStore::lock`.
pub struct StoreLock {
    held: Held,
    exclusive: bool,
}

enum Held {
    File(#[allow(dead_code)] std::fs::File),
    Shared(hold::Hold),
}

impl StoreLock {
    /// Whether the lock is still held: always for a file's; for the shared store's, checked
    /// (and renewed) in the transaction that records what was written.
    pub async fn confirm(&self, connection: &mut sqlx::AnyConnection) -> Result<bool, sqlx::Error> {
        match &self.held {
            Held::File(_) => Ok(true),
            Held::Shared(hold) => hold.confirm(connection).await,
        }
    }

    /// `confirm` on a connection of its own: before a pack is deleted.
    pub async fn confirm_now(&self, db: &Db) -> Result<bool, sqlx::Error> {
        match &self.held {
            Held::File(_) => Ok(true),
            Held::Shared(hold) => hold.confirm(&mut *db.acquire().await?).await,
        }
    }

    /// Gives the lock back now (a command about to end cannot leave it to `Drop`).
    pub async fn release(self) {
        if let Held::Shared(hold) = self.held {
            hold.release().await;
        }
    }

    /// Taken alone (a repair, a compaction): no backup run writes meanwhile.
    pub fn is_exclusive(&self) -> bool {
        self.exclusive
    }
}

/// A new pack file's name: when it was begun, and a random part.
fn new_pack_name() -> String {
    format!("{}-{}.pack", crate::db::now_ms(), hex::encode(rand::random::<[u8; 6]>()))
}

/// A pack is closed past this size, and the next contents begin another.
const PACK_LIMIT: i64 = 1 << 30;

/// Direct writes go in whole blocks, from memory aligned to a block: each append of a pack
/// starts at a multiple of it.
pub const BLOCK: usize = 4096;

/// The write buffer is kept from append to append up to this size (about two chunks).
const BUFFER_KEPT: usize = 64 << 20;

/// Appends a backup run's contents to one pack file (another past `PACK_LIMIT`): creating a
/// file cost more than writing a chunk of mail into it, in a backup's profile. Each append
/// is one write of whole blocks that bypasses the page cache where the file system allows
/// (`O_DIRECT`): a backup's contents are written once and seldom read, and copying them
/// into the page cache was most of a backup's CPU time. The unused end of an append's last
/// block stays zero; the objects' places are recorded, so the gaps are never read.
/// An append is on disk (the file's data, and its name in the folder) before it returns, so
/// the rows recorded after it never point at bytes a power cut could take back.
pub struct PackWriter {
    root: PathBuf,
    open: Option<OpenPack>,
    /// Reused from append to append; the block-aligned part of it is written.
    buffer: Vec<u8>,
    /// Whether to try direct writes: cleared once the file system refused one.
    direct: bool,
    /// The shared store, and the runtime its writes run on (appends are called from blocking tasks).
    remote: Option<(Remote, tokio::runtime::Handle)>,
    lock: std::sync::Arc<StoreLock>,
}

struct OpenPack {
    name: String,
    file: std::fs::File,
    length: i64,
}

impl PackWriter {
    /// Appends the objects and says where each one is; blocking (call it from a blocking
    /// task). The caller records them (`record`) in the transaction that records the
    /// messages: an object is known only once its bytes are written.
    pub fn append(&mut self, objects: Vec<(String, Vec<u8>)>) -> std::io::Result<Vec<Located>> {
        if objects.is_empty() {
            return Ok(Vec::new());
        }
        if let Some((remote, runtime)) = &self.remote {
            return append_remote(remote, runtime, objects);
        }
        let mut written = self.append_to_pack(&objects);
        if written.is_err() {
            // What a failed write left (a full disk stops it part way) is cut off again, so no
            // half-written bytes stay behind; the next contents go to a new pack.
            if let Some(pack) = self.open.take() {
                let cut = match pack.length {
                    0 => std::fs::remove_file(self.root.join(&pack.name)),
                    length => pack.file.set_len(length as u64),
                };
                if let Err(error) = cut {
                    tracing::warn!(pack = pack.name, %error, "the end of a failed write could not be removed (the store check lists it)");
                }
            }
        }
        if self.direct && written.as_ref().is_err_and(|e| e.raw_os_error() == Some(libc::EINVAL)) {
            // Some file systems open a file for direct writes and then refuse them (larger
            // blocks, some network or FUSE file systems): from now on through the cache.
            self.direct = false;
            written = self.append_to_pack(&objects);
        }
        if self.buffer.len() > BUFFER_KEPT {
            // A very large message made it grow: not kept for the rest of the run.
            self.buffer = Vec::new();
        }
        written
    }

    /// The store's lock this writer holds.
    pub fn lock(&self) -> std::sync::Arc<StoreLock> {
        self.lock.clone()
    }

    fn append_to_pack(&mut self, objects: &[(String, Vec<u8>)]) -> std::io::Result<Vec<Located>> {
        use std::os::unix::fs::FileExt;
        if self.open.as_ref().is_none_or(|pack| pack.length >= PACK_LIMIT) {
            std::fs::create_dir_all(&self.root)?;
            let name = new_pack_name();
            let file = create_pack(&self.root.join(&name), self.direct)?;
            self.open = Some(OpenPack { file, name, length: 0 });
            // The new file's name, on disk before anything points into it.
            std::fs::File::open(&self.root)?.sync_all()?;
        }
        let pack = self.open.as_mut().expect("opened above");
        let total: usize = objects.iter().map(|(_, bytes)| bytes.len()).sum();
        let padded = total.div_ceil(BLOCK) * BLOCK;
        if self.buffer.len() < padded + BLOCK {
            self.buffer = vec![0; padded + BLOCK];
        }
        let start = self.buffer.as_ptr().align_offset(BLOCK);
        let block = &mut self.buffer[start..start + padded];
        let mut located = Vec::with_capacity(objects.len());
        let mut at = 0;
        for (content_hash, bytes) in objects {
            block[at..at + bytes.len()].copy_from_slice(bytes);
            located.push(Located {
                content_hash: content_hash.clone(),
                pack: pack.name.clone(),
                offset: pack.length + at as i64,
                size: bytes.len() as i64,
            });
            at += bytes.len();
        }
        block[at..].fill(0);
        pack.file.write_all_at(block, pack.length as u64)?;
        // Direct writes skip the cache, not the file's length nor the disk's own cache.
        pack.file.sync_data()?;
        pack.length += padded as i64;
        Ok(located)
    }
}

/// A chunk's contents as one new pack of the shared store (it takes no appends): written
/// whole before any row points into it.
fn append_remote(remote: &Remote, runtime: &tokio::runtime::Handle, objects: Vec<(String, Vec<u8>)>) -> std::io::Result<Vec<Located>> {
    let name = new_pack_name();
    let mut bytes = Vec::with_capacity(objects.iter().map(|(_, b)| b.len()).sum());
    let mut located = Vec::with_capacity(objects.len());
    for (content_hash, object) in objects {
        located.push(Located { content_hash, pack: name.clone(), offset: bytes.len() as i64, size: object.len() as i64 });
        bytes.extend_from_slice(&object);
    }
    runtime.block_on(remote.put(&name, bytes))?;
    Ok(located)
}

/// Reads located objects from the shared store, a pack's run of them in one request.
async fn read_remote(remote: &Remote, located: Vec<Located>) -> Vec<std::io::Result<Vec<u8>>> {
    let mut out = Vec::with_capacity(located.len());
    let mut at = 0;
    while at < located.len() {
        let pack = &located[at].pack;
        let run = located[at..].iter().take_while(|o| &o.pack == pack).count();
        let objects = &located[at..at + run];
        at += run;
        if !pack_name_is_ours(pack) || objects.iter().any(|o| o.offset < 0 || o.size < 0) {
            out.extend(objects.iter().map(|_| Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "not a pack name"))));
            continue;
        }
        let ranges: Vec<std::ops::Range<u64>> = objects.iter().map(Located::range).collect();
        match remote.read_ranges(pack, &ranges).await {
            Ok(parts) => out.extend(objects.iter().zip(parts).map(|(object, bytes)| checked(object, bytes))),
            Err(error) => out.extend(objects.iter().map(|_| Err(std::io::Error::new(error.kind(), error.to_string())))),
        }
    }
    out
}

/// The bytes, if they hash to the object's name.
fn checked(object: &Located, bytes: Vec<u8>) -> std::io::Result<Vec<u8>> {
    if ObjectStore::hash(&bytes) != object.content_hash {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "the stored message is damaged"));
    }
    Ok(bytes)
}

/// A new pack file, written around the page cache (`direct`) where the file system can.
fn create_pack(path: &Path, direct: bool) -> std::io::Result<std::fs::File> {
    #[cfg(target_os = "linux")]
    if direct {
        use std::os::unix::fs::OpenOptionsExt;
        match std::fs::OpenOptions::new().write(true).create_new(true).custom_flags(libc::O_DIRECT).open(path) {
            // A file system that refuses direct writes at once gets them through the cache.
            Err(error) if error.raw_os_error() == Some(libc::EINVAL) => {}
            opened => return opened,
        }
    }
    std::fs::OpenOptions::new().write(true).create_new(true).open(path)
}

/// Whether a name is one a pack of ours could have (anything else is never followed).
pub fn pack_name_is_ours(name: &str) -> bool {
    pack_path(Path::new(""), name).is_some()
}

/// Pack names are ours; anything else in the column is not followed.
fn pack_path(root: &Path, name: &str) -> Option<PathBuf> {
    (!name.is_empty() && !name.contains(['/', '\\', '\0']) && !name.starts_with('.')).then(|| root.join(name))
}

fn read_one(root: &Path, open: &mut Option<(String, std::fs::File)>, object: &Located) -> std::io::Result<Vec<u8>> {
    let Some(path) = pack_path(root, &object.pack) else {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "not a pack name"));
    };
    if open.as_ref().is_none_or(|(name, _)| *name != object.pack) {
        *open = Some((object.pack.clone(), std::fs::File::open(path)?));
    }
    let (_, file) = open.as_mut().expect("opened above");
    file.seek(SeekFrom::Start(object.offset.max(0) as u64))?;
    let mut bytes = vec![0; object.size.max(0) as usize];
    file.read_exact(&mut bytes)?;
    checked(object, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn objects_are_read_back_checked_against_their_hash() {
        let dir = tempfile::tempdir().unwrap();
        let store = ObjectStore::new(dir.path(), None);
        let one = b"Subject: one\r\n\r\nbody\r\n".to_vec();
        let two = b"Subject: two\r\n\r\nother\r\n".to_vec();
        let db = crate::db::connect("sqlite::memory:").await.unwrap();
        let mut writer = store.pack_writer(&db).await.unwrap();
        let mut located = writer.append(vec![(ObjectStore::hash(&one), one.clone())]).unwrap();
        // A run's later contents go to the same pack, after the first.
        located.extend(writer.append(vec![(ObjectStore::hash(&two), two.clone())]).unwrap());
        assert_eq!(located[1].pack, located[0].pack);
        assert_eq!(located[1].offset, BLOCK as i64);
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

    #[tokio::test]
    async fn packs_written_through_the_cache_read_back_the_same() {
        // The way taken where the file system refuses direct writes.
        let dir = tempfile::tempdir().unwrap();
        let store = ObjectStore::new(dir.path(), None);
        let db = crate::db::connect("sqlite::memory:").await.unwrap();
        let mut writer = PackWriter { direct: false, ..store.pack_writer(&db).await.unwrap() };
        let (one, two) = (vec![7_u8; 5000], vec![8_u8; 10]);
        let mut located = writer.append(vec![(ObjectStore::hash(&one), one.clone())]).unwrap();
        located.extend(writer.append(vec![(ObjectStore::hash(&two), two.clone())]).unwrap());
        let read = store.read(located).await.unwrap();
        assert_eq!(read[0].as_ref().unwrap(), &one);
        assert_eq!(read[1].as_ref().unwrap(), &two);
    }
}
