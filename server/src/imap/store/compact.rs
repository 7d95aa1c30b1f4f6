//! Compaction: content no backup message references any more (once retention has removed
//! messages) leaves the store for real. Its index rows are deleted, and every pack file that
//! held such an object is written again without it: the pack's live objects are copied into a
//! new pack, which is on disk (its data and its name) before any row points at it; the rows
//! move to the new pack in one transaction, which also deletes the dead rows; the old pack is
//! then *retired* (`retired_packs`) and deleted by `sweep` once no reader can still be on its
//! way to it (a download or restore that read the old places before the move).
//!
//! A crash at any point loses no live object: before the commit every row still points at the
//! old pack, untouched; after it, at the new one, synced first. A new pack is listed as retired
//! before its first byte is written and taken off the list by the commit, so one cut short by a
//! crash is swept like any retired pack.
//!
//! Both run with the store's lock held alone (`ObjectStore::lock(true)`): no backup run is
//! writing, so an object found unreferenced stays so (a run asks which contents are `missing`
//! and points at those that are there, all under the shared lock).

use std::collections::{HashMap, HashSet};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

use futures_util::TryStreamExt;

use super::{new_pack_name, pack_path, Located, ObjectStore, StoreLock};
use crate::db::{Backend, Db};

pub type CompactError = Box<dyn std::error::Error + Send + Sync>;

/// How long a retired pack stays, at least: readers that found an object's place just before
/// the move (a message shown, a single message downloaded) have opened it by then. Readers
/// that run long (restores, downloads) are jobs: the caller sweeps only while none runs.
pub const RETIRED_GRACE_MS: i64 = 10 * 60 * 1000;

/// Objects a statement names at most.
const BATCH: usize = 200;

/// What a compaction did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Compaction {
    /// Index rows of unreferenced objects deleted, and their bytes.
    pub objects_removed: u64,
    pub object_bytes_removed: u64,
    /// Packs written again without their dead objects.
    pub packs_rewritten: u64,
    /// Packs taken out of use (those rewritten, and those that held nothing alive).
    pub packs_retired: u64,
    /// Packs left as they were this time: a live object in them could not be read back intact
    /// (the store check names it); their dead rows stay for the next run.
    pub packs_skipped: u64,
    /// Live bytes copied into new packs.
    pub bytes_copied: u64,
}

/// What a sweep deleted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Swept {
    pub packs_deleted: u64,
    pub bytes_freed: u64,
}

/// Removes every object no backup message references, and rewrites or retires the packs that
/// held them. `now` (Unix ms) is when the packs are retired. `lock` must be held alone.
pub async fn compact(db: &Db, store: &ObjectStore, lock: &StoreLock, now: i64) -> Result<Compaction, CompactError> {
    if !lock.is_exclusive() {
        return Err("compaction needs the store's lock held alone".into());
    }
    let backend = Backend::of(db);
    let dead = dead_objects(db).await?;
    let mut done = Compaction::default();
    if dead.is_empty() {
        return Ok(done);
    }
    let mut live = live_objects(db, &dead).await?;
    let mut packs: Vec<&String> = dead.keys().collect();
    packs.sort();
    for pack in packs {
        let dead_here = &dead[pack];
        if store.pack_path(pack).is_none() {
            tracing::warn!(pack, "an index row names a pack file that is not ours: left to the store check");
            done.packs_skipped += 1;
            continue;
        }
        // Done: `Some(None)` retired whole, `Some(Some(bytes))` rewritten; `None` left as it was.
        let copied = match live.remove(pack) {
            None => retire_dead(db, backend, lock, pack, dead_here, now).await?.then_some(None),
            Some(live_here) => rewrite(db, backend, store, lock, pack, live_here, dead_here, now).await?.map(Some),
        };
        let Some(copied) = copied else {
            done.packs_skipped += 1;
            continue;
        };
        if let Some(bytes) = copied {
            done.packs_rewritten += 1;
            done.bytes_copied += bytes;
        }
        done.packs_retired += 1;
        done.objects_removed += dead_here.len() as u64;
        done.object_bytes_removed += dead_here.iter().map(|o| o.size.max(0) as u64).sum::<u64>();
    }
    Ok(done)
}

/// Deletes the retired packs listed before `now - RETIRED_GRACE_MS`. The caller holds `lock`
/// alone and has made sure no job that reads the store is running.
pub async fn sweep(db: &Db, store: &ObjectStore, lock: &StoreLock, now: i64) -> Result<Swept, CompactError> {
    if !lock.is_exclusive() {
        return Err("a sweep needs the store's lock held alone".into());
    }
    let backend = Backend::of(db);
    let due: Vec<(String,)> = sqlx::query_as("SELECT pack FROM retired_packs WHERE retired_at <= $1 ORDER BY pack")
        .bind(now.saturating_sub(RETIRED_GRACE_MS))
        .fetch_all(db)
        .await?;
    let due: Vec<String> = due.into_iter().map(|(pack,)| pack).collect();
    let mut swept = Swept::default();
    if due.is_empty() {
        return Ok(swept);
    }
    // A pack a row still points at is in use, whatever the list says: never deleted.
    let mut used = HashSet::new();
    for batch in due.chunks(BATCH) {
        let sql = format!("SELECT DISTINCT pack FROM objects WHERE pack IN ({})", backend.list(0, batch.len()));
        let mut query = sqlx::query_as::<_, (String,)>(&sql);
        for pack in batch {
            query = query.bind(pack);
        }
        used.extend(query.fetch_all(db).await?.into_iter().map(|(pack,)| pack));
    }
    for pack in &due {
        match store.pack_path(pack) {
            _ if used.contains(pack) => tracing::warn!(pack, "a pack listed as retired is still in use: kept"),
            None => tracing::warn!(pack, "a retired pack's name is not one of ours: not followed"),
            Some(_) if store.remote().is_some() => {
                let remote = store.remote().expect("matched");
                if !lock.confirm_now(db).await? {
                    return Err("the object store's lock was lost: the sweep stopped".into());
                }
                match remote.size(pack).await {
                    Ok(size) => {
                        remote.delete(pack).await?;
                        swept.packs_deleted += 1;
                        swept.bytes_freed += size;
                    }
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                    Err(error) => return Err(error.into()),
                }
            }
            Some(path) => match std::fs::metadata(&path) {
                Ok(metadata) => {
                    std::fs::remove_file(&path)?;
                    swept.packs_deleted += 1;
                    swept.bytes_freed += metadata.len();
                }
                // Deleted already (a sweep cut short before it took the pack off the list).
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => return Err(error.into()),
            },
        }
    }
    if swept.packs_deleted > 0 && store.remote().is_none() {
        std::fs::File::open(store.root())?.sync_all()?;
    }
    for batch in due.chunks(BATCH) {
        let sql = format!("DELETE FROM retired_packs WHERE pack IN ({})", backend.list(0, batch.len()));
        let mut query = sqlx::query(&sql);
        for pack in batch {
            query = query.bind(pack);
        }
        query.execute(db).await?;
    }
    Ok(swept)
}

/// Whether a compaction or a sweep would find anything to do, read without the lock: the lock
/// is taken only then (a backup that starts while it is held waits for its next retry).
pub async fn work_waiting(db: &Db, now: i64) -> Result<bool, sqlx::Error> {
    let dead: Option<(String,)> = sqlx::query_as(
        "SELECT o.content_hash FROM objects o \
         LEFT JOIN backup_messages bm ON bm.content_hash = o.content_hash WHERE bm.content_hash IS NULL LIMIT 1",
    )
    .fetch_optional(db)
    .await?;
    Ok(dead.is_some() || sweep_due(db, now).await?)
}

/// Whether a retired pack is due for deletion at `now`.
pub async fn sweep_due(db: &Db, now: i64) -> Result<bool, sqlx::Error> {
    let due: Option<(String,)> = sqlx::query_as("SELECT pack FROM retired_packs WHERE retired_at <= $1 LIMIT 1")
        .bind(now.saturating_sub(RETIRED_GRACE_MS))
        .fetch_optional(db)
        .await?;
    Ok(due.is_some())
}

/// The objects no backup message references, by pack.
async fn dead_objects(db: &Db) -> Result<HashMap<String, Vec<Located>>, sqlx::Error> {
    let mut rows = sqlx::query_as::<_, Located>(
        "SELECT o.content_hash, o.pack, o.pack_offset, o.size FROM objects o \
         LEFT JOIN backup_messages bm ON bm.content_hash = o.content_hash WHERE bm.content_hash IS NULL",
    )
    .fetch(db);
    let mut dead: HashMap<String, Vec<Located>> = HashMap::new();
    while let Some(object) = rows.try_next().await? {
        dead.entry(object.pack.clone()).or_default().push(object);
    }
    Ok(dead)
}

/// The other objects of the packs that hold dead ones, by pack (the index is read once).
async fn live_objects(db: &Db, dead: &HashMap<String, Vec<Located>>) -> Result<HashMap<String, Vec<Located>>, sqlx::Error> {
    let gone: HashSet<&str> = dead.values().flatten().map(|o| o.content_hash.as_str()).collect();
    let mut rows = sqlx::query_as::<_, Located>("SELECT content_hash, pack, pack_offset, size FROM objects").fetch(db);
    let mut live: HashMap<String, Vec<Located>> = HashMap::new();
    while let Some(object) = rows.try_next().await? {
        if dead.contains_key(&object.pack) && !gone.contains(object.content_hash.as_str()) {
            live.entry(object.pack.clone()).or_default().push(object);
        }
    }
    Ok(live)
}

/// Copies the live objects of `pack` into a new pack and moves their rows there, deleting the
/// dead rows and retiring `pack`, in one transaction. The bytes copied; `None` when the pack
/// was left as it was (a live object could not be read back intact).
#[allow(clippy::too_many_arguments)]
async fn rewrite(
    db: &Db,
    backend: Backend,
    store: &ObjectStore,
    lock: &StoreLock,
    pack: &str,
    mut live: Vec<Located>,
    dead: &[Located],
    now: i64,
) -> Result<Option<u64>, CompactError> {
    live.sort_by_key(|object| object.offset);
    let new = new_pack_name();
    // Listed before its first byte: cut short by a crash, it is swept like a retired pack.
    list_retired(db, &new, now).await?;
    let root = store.root().to_path_buf();
    let (from, to) = (pack.to_owned(), new.clone());
    let (live, copied) = match store.remote() {
        Some(remote) => {
            let copied = copy_live_remote(remote, &from, &to, &live).await;
            (live, copied)
        }
        None => {
            tokio::task::spawn_blocking(move || {
                let copied = copy_live(&root, &from, &to, &live);
                (live, copied)
            })
            .await?
        }
    };
    let offsets = match copied {
        Ok(offsets) => offsets,
        Err(error) => {
            tracing::warn!(pack, %error, "a pack could not be compacted: it stays as it is (see `portal-server check`)");
            sqlx::query("DELETE FROM retired_packs WHERE pack = $1").bind(&new).execute(db).await?;
            return Ok(None);
        }
    };
    let mut tx = db.begin().await?;
    // A write first: SQLite then holds the database for this transaction from its start.
    sqlx::query("DELETE FROM retired_packs WHERE pack = $1").bind(&new).execute(&mut *tx).await?;
    let moved: Vec<(&Located, i64)> = live.iter().zip(offsets).collect();
    for batch in moved.chunks(BATCH) {
        let mut sql = format!("UPDATE objects SET pack = {}, pack_offset = CASE content_hash", backend.list(0, 1));
        for i in 0..batch.len() {
            sql.push_str(&format!(" WHEN {} THEN {}", backend.list(1 + 2 * i, 1), backend.list(2 + 2 * i, 1)));
        }
        let at = 1 + 2 * batch.len();
        sql.push_str(&format!(
            " END WHERE pack = {} AND content_hash IN ({})",
            backend.list(at, 1),
            backend.list(at + 1, batch.len())
        ));
        let mut query = sqlx::query(&sql).bind(&new);
        for (object, offset) in batch {
            query = query.bind(&object.content_hash).bind(*offset);
        }
        query = query.bind(pack);
        for (object, _) in batch {
            query = query.bind(&object.content_hash);
        }
        if query.execute(&mut *tx).await?.rows_affected() != batch.len() as u64 {
            // Under the lock nothing else moves objects: the index changed under us.
            tracing::warn!(pack, "the index changed during a compaction: the pack stays as it is");
            return Ok(None);
        }
    }
    if !delete_dead(&mut tx, backend, lock, pack, dead).await? {
        return Ok(None);
    }
    retire(&mut tx, pack, now).await?;
    tx.commit().await?;
    Ok(Some(live.iter().map(|object| object.size.max(0) as u64).sum()))
}

/// A pack with nothing alive: its dead rows deleted and the pack retired, in one transaction.
/// `false` when it was left as it was.
async fn retire_dead(db: &Db, backend: Backend, lock: &StoreLock, pack: &str, dead: &[Located], now: i64) -> Result<bool, CompactError> {
    let mut tx = db.begin().await?;
    if !delete_dead(&mut tx, backend, lock, pack, dead).await? {
        return Ok(false);
    }
    retire(&mut tx, pack, now).await?;
    tx.commit().await?;
    Ok(true)
}

/// Deletes the dead rows of `pack`, each only while still unreferenced. `false` (and nothing
/// should be committed) when one was referenced again meanwhile.
async fn delete_dead(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    backend: Backend,
    lock: &StoreLock,
    pack: &str,
    dead: &[Located],
) -> Result<bool, sqlx::Error> {
    // The shared store's hold, still ours in this transaction: else a backup may be pointing at
    // what this would delete.
    if !lock.confirm(tx).await? {
        // Nothing more is done without it: the compaction stops here (the rest waits for the next).
        return Err(sqlx::Error::Protocol("the object store's lock was lost: the compaction stopped".into()));
    }
    for batch in dead.chunks(BATCH) {
        let n = batch.len();
        let sql = format!(
            "DELETE FROM objects WHERE pack = {} AND content_hash IN ({}) \
             AND content_hash NOT IN (SELECT bm.content_hash FROM backup_messages bm WHERE bm.content_hash IN ({}))",
            backend.list(0, 1),
            backend.list(1, n),
            backend.list(1 + n, n)
        );
        let mut query = sqlx::query(&sql).bind(pack);
        for object in batch.iter().chain(batch) {
            query = query.bind(&object.content_hash);
        }
        if query.execute(&mut **tx).await?.rows_affected() != n as u64 {
            tracing::warn!(pack, "content found unreferenced is referenced again: the pack stays as it is");
            return Ok(false);
        }
    }
    Ok(true)
}

async fn retire(tx: &mut sqlx::Transaction<'_, sqlx::Any>, pack: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO retired_packs (pack, retired_at) VALUES ($1, $2) \
         ON CONFLICT (pack) DO UPDATE SET retired_at = excluded.retired_at",
    )
    .bind(pack)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn list_retired(db: &Db, pack: &str, now: i64) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    retire(&mut tx, pack, now).await?;
    tx.commit().await
}

/// `copy_live` on the shared store: a pack there is one chunk's, so its live objects are
/// read in one request and written as the new pack whole.
async fn copy_live_remote(remote: &super::Remote, from: &str, to: &str, live: &[Located]) -> std::io::Result<Vec<i64>> {
    let invalid = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    if live.iter().any(|object| object.offset < 0 || object.size < 0) {
        return Err(invalid("an index row has a negative place"));
    }
    let ranges: Vec<std::ops::Range<u64>> = live.iter().map(Located::range).collect();
    let parts = remote.read_ranges(from, &ranges).await?;
    let (mut offsets, mut bytes) = (Vec::with_capacity(live.len()), Vec::new());
    for (object, part) in live.iter().zip(parts) {
        if ObjectStore::hash(&part) != object.content_hash {
            return Err(invalid(&format!("object {} is damaged", object.content_hash)));
        }
        offsets.push(bytes.len() as i64);
        bytes.extend_from_slice(&part);
    }
    remote.put(to, bytes).await?;
    Ok(offsets)
}

/// Copies these objects (in the order given) from pack `from` into the new pack `to`, each
/// checked against its hash; the new pack is on disk, its name too, before this returns. The
/// objects' offsets in it. On any error the new pack is removed again.
fn copy_live(root: &Path, from: &str, to: &str, live: &[Located]) -> std::io::Result<Vec<i64>> {
    let invalid = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    let source = pack_path(root, from).ok_or_else(|| invalid("not a pack name"))?;
    let target = pack_path(root, to).ok_or_else(|| invalid("not a pack name"))?;
    let mut input = std::fs::File::open(source)?;
    let written = (|| {
        let file = std::fs::OpenOptions::new().write(true).create_new(true).open(&target)?;
        let mut output = BufWriter::with_capacity(1 << 20, file);
        let (mut offsets, mut at, mut bytes) = (Vec::with_capacity(live.len()), 0_i64, Vec::new());
        for object in live {
            if object.offset < 0 || object.size < 0 {
                return Err(invalid("an index row has a negative place"));
            }
            input.seek(SeekFrom::Start(object.offset as u64))?;
            bytes.resize(object.size as usize, 0);
            input.read_exact(&mut bytes)?;
            if ObjectStore::hash(&bytes) != object.content_hash {
                return Err(invalid(&format!("object {} is damaged", object.content_hash)));
            }
            output.write_all(&bytes)?;
            offsets.push(at);
            at += object.size;
        }
        let file = output.into_inner().map_err(|error| error.into_error())?;
        file.sync_all()?;
        std::fs::File::open(root)?.sync_all()?;
        Ok(offsets)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&target);
    }
    written
}
