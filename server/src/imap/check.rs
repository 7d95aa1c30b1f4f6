//! The store check (`portal-server check`): the object store against the database. Every
//! indexed object is read from its pack at its place and hashed (BLAKE3, as stored); every
//! backup message must have its content indexed; and what no message needs is listed: objects
//! no message references, pack files no index row points at, bytes past a pack's last object.
//! `repair` removes those, never anything a message needs. Damage (missing or corrupt content)
//! is reported, not repaired: only a copy of the data folder can bring it back.
//!
//! Memory stays bounded however large the store: the index is read a page at a time (keyset
//! on the content hash), the two anti-joins are streamed, objects are hashed as they are read,
//! and what is kept per pack file is a few numbers.

use std::collections::HashMap;
use std::fmt;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use futures_util::TryStreamExt;

use super::store::{Located, ObjectStore, StoreLock, BLOCK};

mod remote;
use crate::db::{now_ms, Backend, Db};

/// Index rows read (and objects checked) at a time.
const PAGE: i64 = 500;
/// Problems named in the report; the rest are counted.
const NAMED: usize = 20;

pub type CheckError = Box<dyn std::error::Error + Send + Sync>;

/// What the check found (and, asked to, removed).
#[derive(Debug, Default)]
pub struct Report {
    pub objects_checked: u64,
    pub bytes_checked: u64,
    /// Pack files in the data folder.
    pub pack_files: u64,
    /// Objects whose pack file is gone or ends before them.
    pub missing: u64,
    /// Objects whose bytes do not hash to their name, or whose index row is not one we write.
    pub corrupt: u64,
    /// Objects the file system would not give (an I/O error, permissions).
    pub unreadable: u64,
    /// Backup messages whose content has no index row.
    pub messages_without_content: u64,
    /// Indexed objects no backup message references.
    pub unreferenced_objects: u64,
    pub unreferenced_object_bytes: u64,
    /// Pack files no index row points at.
    pub unindexed_packs: u64,
    pub unindexed_pack_bytes: u64,
    /// Pack files whose every object is unreferenced.
    pub unreferenced_packs: u64,
    /// Bytes past the last indexed object of a pack (what a write cut short left).
    pub tail_bytes: u64,
    /// The first problems found, in words.
    pub named: Vec<String>,
    pub repair: Repair,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub enum Repair {
    #[default]
    NotAsked,
    /// Asked for, not done: why.
    Refused(String),
    Done {
        rows_deleted: u64,
        packs_deleted: u64,
        bytes_freed: u64,
    },
}

impl Report {
    /// Content a backup needs is missing or damaged.
    pub fn damaged(&self) -> bool {
        self.missing + self.corrupt + self.unreadable + self.messages_without_content > 0
    }

    /// Content no message needs is there (what `repair` removes).
    pub fn unreferenced(&self) -> bool {
        self.unreferenced_objects + self.unindexed_packs + self.unreferenced_packs + self.tail_bytes > 0
    }

    /// The command's exit status: 1 damaged, 2 a repair asked for was not done, else 0.
    pub fn exit_code(&self) -> i32 {
        match (&self.repair, self.damaged()) {
            (_, true) => 1,
            (Repair::Refused(_), false) => 2,
            _ => 0,
        }
    }

    fn name(&mut self, problem: String) {
        if self.named.len() < NAMED {
            self.named.push(problem);
        }
    }
}

/// What is known of a pack from the index.
#[derive(Default)]
struct PackUse {
    objects: u64,
    unreferenced: u64,
    /// Where its last indexed object ends.
    end: i64,
    /// Where its last unreferenced object ends.
    unreferenced_end: i64,
}

/// `check_store` of the data folder's store.
pub async fn check(db: &Db, data_dir: &Path, repair: bool) -> Result<Report, CheckError> {
    check_store(db, ObjectStore::new(data_dir, None), repair).await
}

/// Checks the store against the database; with `repair`, removes what no message needs.
/// `Err` only when the check itself could not go on (the database, the shared store's listing).
pub async fn check_store(db: &Db, store: ObjectStore, repair: bool) -> Result<Report, CheckError> {
    let mut report = Report::default();
    // Taken before anything is read, so that what is found unreferenced stays so until removed.
    let lock = if repair {
        match claim(db, &store).await? {
            Ok(lock) => Some(lock),
            Err(why) => {
                report.repair = Repair::Refused(why);
                None
            }
        }
    } else {
        None
    };
    let checked = check_with(db, store, lock.as_ref(), report).await;
    // Given back however the check ended: a command ends next, and a hold left behind would
    // keep every instance's backups out of the store for a minute.
    if let Some(lock) = lock {
        lock.release().await;
    }
    checked
}

async fn check_with(db: &Db, store: ObjectStore, lock: Option<&StoreLock>, mut report: Report) -> Result<Report, CheckError> {
    let repairing = lock.is_some();
    let mut packs: HashMap<String, PackUse> = HashMap::new();
    verify_objects(db, &store, &mut report, &mut packs).await?;
    let rows_deleted = unreferenced_objects(db, &mut report, &mut packs, lock).await?;
    if repairing {
        last_objects_after_repair(db, &mut packs).await?;
    }
    messages_without_content(db, &mut report).await?;
    // Packs that compaction took out of use: the pruning deletes them after a grace period
    // (a restore may still be reading one); neither a problem nor the check's to delete.
    let retired: std::collections::HashSet<String> =
        sqlx::query_as::<_, (String,)>("SELECT pack FROM retired_packs").fetch_all(db).await?.into_iter().map(|(p,)| p).collect();
    let (mut report, (packs_deleted, bytes_freed)) = match store.remote() {
        Some(shared) => {
            let found = remote::scan_packs(db, lock, shared, &packs, &retired, &mut report).await?;
            (report, found)
        }
        None => tokio::task::spawn_blocking(move || scan_packs(&store, packs, &retired, report, repairing)).await??,
    };
    if repairing {
        report.repair = Repair::Done { rows_deleted, packs_deleted, bytes_freed };
    }
    Ok(report)
}

/// The store to this repair alone: no backup (of a real mailbox: only those write the store)
/// may be running, here or on another instance.
async fn claim(db: &Db, store: &ObjectStore) -> Result<Result<StoreLock, String>, CheckError> {
    let (running,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM jobs j JOIN mailboxes m ON m.id = j.mailbox_id \
         WHERE m.connector = $2 AND j.kind IN ($3, $4) AND j.status = $5 AND j.lease_until > $1",
    )
    .bind(now_ms())
    .bind(portal_api::Connector::Imap.as_str())
    .bind(portal_api::JobKind::Backup.as_str())
    .bind(portal_api::JobKind::Migrate.as_str())
    .bind(portal_api::JobStatus::InProgress.as_str())
    .fetch_one(db)
    .await?;
    let later = "nothing was removed; repair again when no backup runs (or with the server stopped)";
    if running > 0 {
        return Ok(Err(format!("{running} backup(s) are running, {later}.")));
    }
    match store.lock(db, true).await {
        Ok(lock) => Ok(Ok(lock)),
        Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
            Ok(Err(format!("a backup is writing to the store{}, {later}.", if store.remote().is_some() { "" } else { " on this machine" })))
        }
        Err(error) => Err(error.into()),
    }
}

/// Reads every indexed object, a page at a time, and hashes it.
async fn verify_objects(
    db: &Db,
    store: &ObjectStore,
    report: &mut Report,
    packs: &mut HashMap<String, PackUse>,
) -> Result<(), CheckError> {
    let mut after = String::new();
    loop {
        let page: Vec<Located> = sqlx::query_as(
            "SELECT content_hash, pack, pack_offset, size FROM objects WHERE content_hash > $1 ORDER BY content_hash LIMIT $2",
        )
        .bind(&after)
        .bind(PAGE)
        .fetch_all(db)
        .await?;
        let Some(last) = page.last() else { return Ok(()) };
        after = last.content_hash.clone();
        for object in &page {
            let used = packs.entry(object.pack.clone()).or_default();
            used.objects += 1;
            used.end = used.end.max(object.offset.saturating_add(object.size));
        }
        let verdicts = match store.remote() {
            Some(shared) => remote::verify_page(shared, page).await,
            None => {
                let store = store.clone();
                tokio::task::spawn_blocking(move || verify_page(&store, page)).await?
            }
        };
        for (object, verdict) in verdicts {
            report.objects_checked += 1;
            let (count, what) = match verdict {
                Verdict::Sound => {
                    report.bytes_checked += object.size as u64;
                    continue;
                }
                Verdict::Missing(why) => (&mut report.missing, format!("missing: {why}")),
                Verdict::Corrupt(why) => (&mut report.corrupt, format!("corrupt: {why}")),
                Verdict::Unreadable(error) => (&mut report.unreadable, format!("unreadable: {error}")),
            };
            *count += 1;
            report.name(format!(
                "{what} (object {} in {} at {}, {} bytes)",
                object.content_hash, object.pack, object.offset, object.size
            ));
        }
    }
}

enum Verdict {
    Sound,
    Missing(&'static str),
    Corrupt(&'static str),
    Unreadable(std::io::Error),
}

/// Each object of a page, read in pack order (a pack stays open while the next object is in it).
fn verify_page(store: &ObjectStore, mut page: Vec<Located>) -> Vec<(Located, Verdict)> {
    page.sort_by(|a, b| (&a.pack, a.offset).cmp(&(&b.pack, b.offset)));
    let mut open: Option<(String, std::io::Result<(std::fs::File, u64)>)> = None;
    page.into_iter()
        .map(|object| {
            let verdict = verify_one(store, &mut open, &object);
            (object, verdict)
        })
        .collect()
}

fn verify_one(
    store: &ObjectStore,
    open: &mut Option<(String, std::io::Result<(std::fs::File, u64)>)>,
    object: &Located,
) -> Verdict {
    let Some(path) = store.pack_path(&object.pack) else {
        return Verdict::Corrupt("the index names a pack file that is not one of ours");
    };
    if object.offset < 0 || object.size < 0 {
        return Verdict::Corrupt("the index row has a negative place");
    }
    if open.as_ref().is_none_or(|(name, _)| *name != object.pack) {
        let opened = std::fs::File::open(&path).and_then(|file| {
            let len = file.metadata()?.len();
            Ok((file, len))
        });
        *open = Some((object.pack.clone(), opened));
    }
    let (file, len) = match open.as_mut().map(|(_, opened)| opened) {
        Some(Ok((file, len))) => (file, *len),
        Some(Err(error)) if error.kind() == std::io::ErrorKind::NotFound => return Verdict::Missing("its pack file is gone"),
        Some(Err(error)) => return Verdict::Unreadable(std::io::Error::new(error.kind(), error.to_string())),
        None => unreachable!("opened above"),
    };
    if (object.offset as u64).saturating_add(object.size as u64) > len {
        return Verdict::Missing("its pack file ends before it");
    }
    let mut hasher = blake3::Hasher::new();
    let read = file.seek(SeekFrom::Start(object.offset as u64)).and_then(|_| {
        let mut part = Read::by_ref(file).take(object.size as u64);
        hasher.update_reader(&mut part)?;
        Ok(part.limit())
    });
    match read {
        Ok(0) if hasher.finalize().to_hex().as_str() == object.content_hash => Verdict::Sound,
        Ok(0) => Verdict::Corrupt("its bytes do not match its hash"),
        Ok(_) => Verdict::Missing("its pack file ends before it"),
        Err(error) => Verdict::Unreadable(error),
    }
}

/// Objects no backup message references: counted per pack; with `repair`, their rows deleted.
/// Returns how many rows were deleted.
async fn unreferenced_objects(
    db: &Db,
    report: &mut Report,
    packs: &mut HashMap<String, PackUse>,
    lock: Option<&StoreLock>,
) -> Result<u64, CheckError> {
    // An anti-join the database runs once (a hashed or automatic index on the messages'
    // hashes), streamed.
    let mut rows = sqlx::query_as::<_, Located>(
        "SELECT o.content_hash, o.pack, o.pack_offset, o.size FROM objects o \
         LEFT JOIN backup_messages bm ON bm.content_hash = o.content_hash WHERE bm.content_hash IS NULL",
    )
    .fetch(db);
    let (mut batch, mut deleted) = (Vec::new(), 0);
    while let Some(object) = rows.try_next().await? {
        report.unreferenced_objects += 1;
        report.unreferenced_object_bytes += object.size.max(0) as u64;
        let used = packs.entry(object.pack.clone()).or_default();
        used.unreferenced += 1;
        used.unreferenced_end = used.unreferenced_end.max(object.offset.saturating_add(object.size));
        report.name(format!(
            "unreferenced: object {} in {} ({} bytes) is in no backup",
            object.content_hash, object.pack, object.size
        ));
        if let Some(lock) = lock {
            batch.push(object.content_hash);
            if batch.len() == PAGE as usize {
                deleted += delete_objects(db, lock, &std::mem::take(&mut batch)).await?;
            }
        }
    }
    drop(rows);
    if let (Some(lock), false) = (lock, batch.is_empty()) {
        deleted += delete_objects(db, lock, &batch).await?;
    }
    Ok(deleted)
}

/// Deletes these index rows, each only while no message references it, under the store's lock
/// (confirmed in the same transaction: a repair whose hold lapsed deletes nothing).
async fn delete_objects(db: &Db, lock: &StoreLock, hashes: &[String]) -> Result<u64, CheckError> {
    let mut tx = db.begin().await?;
    if !lock.confirm(&mut tx).await? {
        return Err("the object store's lock was lost: the repair stopped".into());
    }
    let sql = format!(
        "DELETE FROM objects WHERE content_hash IN ({}) \
         AND NOT EXISTS (SELECT 1 FROM backup_messages bm WHERE bm.content_hash = objects.content_hash)",
        Backend::of(db).list(0, hashes.len())
    );
    let mut query = sqlx::query(&sql);
    for hash in hashes {
        query = query.bind(hash);
    }
    let deleted = query.execute(&mut *tx).await?.rows_affected();
    tx.commit().await?;
    Ok(deleted)
}

/// A pack still in use whose last object's row the repair deleted ends where its last object
/// left now ends (its bytes after that are cut off). Rare, so the scan of the index per such
/// pack (there is no index on `pack`) is affordable.
async fn last_objects_after_repair(db: &Db, packs: &mut HashMap<String, PackUse>) -> Result<(), CheckError> {
    let changed =
        packs.iter_mut().filter(|(_, u)| u.unreferenced > 0 && u.unreferenced < u.objects && u.unreferenced_end >= u.end);
    for (name, used) in changed {
        let (end,): (Option<i64>,) =
            sqlx::query_as("SELECT MAX(pack_offset + size) FROM objects WHERE pack = $1").bind(name).fetch_one(db).await?;
        used.end = end.unwrap_or(0);
    }
    Ok(())
}

/// Backup messages whose content the store has no row for.
async fn messages_without_content(db: &Db, report: &mut Report) -> Result<(), CheckError> {
    let mut rows = sqlx::query_as::<_, (i64, String, i64, String)>(
        "SELECT bm.mailbox_id, bm.folder, bm.uid, bm.content_hash FROM backup_messages bm \
         LEFT JOIN objects o ON o.content_hash = bm.content_hash WHERE o.content_hash IS NULL",
    )
    .fetch(db);
    while let Some((mailbox_id, folder, uid, hash)) = rows.try_next().await? {
        report.messages_without_content += 1;
        report.name(format!(
            "no content: mailbox {mailbox_id}, {}, UID {uid} points at {hash}, which the store does not hold",
            super::command::shown(&folder)
        ));
    }
    Ok(())
}

/// What the index says of a pack file found in the store: `Ok(true)` when no backup needs any
/// of it (what a repair deletes), `Ok(false)` to leave alone, `Err` in use (its end to look at).
fn judge_pack<'u>(
    name: &str,
    len: u64,
    used: Option<&'u PackUse>,
    retired: &std::collections::HashSet<String>,
    report: &mut Report,
) -> Result<bool, &'u PackUse> {
    match used {
        None if retired.contains(name) => Ok(false),
        None => {
            report.unindexed_packs += 1;
            report.unindexed_pack_bytes += len;
            report.name(format!("unindexed: pack file {name} ({len} bytes) has no index row"));
            Ok(true)
        }
        // Seen only by the second look at the index (a row added meanwhile): left alone.
        Some(used) if used.objects == 0 => Ok(false),
        Some(used) if used.unreferenced == used.objects => {
            report.unreferenced_packs += 1;
            report.name(format!("unreferenced: pack file {name} ({len} bytes) holds nothing any backup needs"));
            Ok(true)
        }
        Some(used) => Err(used),
    }
}

/// The pack files against what the index says of them; with `repair`, the unindexed and
/// unreferenced ones deleted and cut-off ends removed. Returns the report and (files
/// deleted, bytes freed).
fn scan_packs(
    store: &ObjectStore,
    packs: HashMap<String, PackUse>,
    retired: &std::collections::HashSet<String>,
    mut report: Report,
    repair: bool,
) -> std::io::Result<(Report, (u64, u64))> {
    let (mut deleted, mut freed) = (0, 0);
    let root = store.root();
    let entries = match std::fs::read_dir(root) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok((report, (0, 0))),
        entries => entries?,
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        // Only the files we write (the lock file and anything else are not ours to judge).
        if !name.ends_with(".pack") || store.pack_path(&name).is_none() {
            continue;
        }
        let path: PathBuf = entry.path();
        let len = entry.metadata()?.len();
        report.pack_files += 1;
        let whole = match judge_pack(&name, len, packs.get(&name), retired, &mut report) {
            Ok(whole) => whole,
            Err(used) => {
                // Appends start on a block, so a pack in use ends with its last object's block.
                let end = (used.end.max(0) as u64).div_ceil(BLOCK as u64) * BLOCK as u64;
                let tail = len.saturating_sub(end);
                if tail > 0 {
                    report.tail_bytes += tail;
                    report.name(format!("unindexed: the last {tail} bytes of pack file {name} have no index row"));
                    if repair {
                        std::fs::OpenOptions::new().write(true).open(&path)?.set_len(end)?;
                        freed += tail;
                    }
                }
                false
            }
        };
        if whole && repair {
            std::fs::remove_file(&path)?;
            deleted += 1;
            freed += len;
        }
    }
    if repair && deleted > 0 {
        std::fs::File::open(root)?.sync_all()?;
    }
    Ok((report, (deleted, freed)))
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Checked {} object(s), {}, in {} pack file(s).",
            self.objects_checked,
            human(self.bytes_checked),
            self.pack_files
        )?;
        writeln!(
            f,
            "Damage: {} missing, {} corrupt, {} unreadable; {} backup message(s) without content.",
            self.missing, self.corrupt, self.unreadable, self.messages_without_content
        )?;
        writeln!(
            f,
            "Unreferenced: {} object(s) in no backup ({}); {} pack file(s) with no index row ({}); {} pack file(s) holding \
             only unreferenced objects; {} past the last object of packs in use.",
            self.unreferenced_objects,
            human(self.unreferenced_object_bytes),
            self.unindexed_packs,
            human(self.unindexed_pack_bytes),
            self.unreferenced_packs,
            human(self.tail_bytes)
        )?;
        if !self.named.is_empty() {
            writeln!(f, "First problems found:")?;
            for problem in &self.named {
                writeln!(f, "  - {problem}")?;
            }
        }
        match &self.repair {
            Repair::Done { rows_deleted, packs_deleted, bytes_freed } => writeln!(
                f,
                "Repair: deleted {rows_deleted} index row(s) and {packs_deleted} pack file(s); {} freed.",
                human(*bytes_freed)
            )?,
            Repair::Refused(why) => writeln!(f, "Repair not done: {why}")?,
            Repair::NotAsked if self.unreferenced() => writeln!(f, "Run it with --repair to remove what no backup needs.")?,
            Repair::NotAsked => {}
        }
        if self.damaged() {
            write!(
                f,
                "The store is DAMAGED: backups need content it no longer holds intact. Put the data folder's packs back \
                 from a copy; until then those messages cannot be restored or downloaded."
            )
        } else {
            write!(f, "Every backup's content is there and intact.")
        }
    }
}

fn human(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{:.1} GiB", b as f64 / f64::from(1 << 30)),
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / f64::from(1 << 20)),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / f64::from(1 << 10)),
        b => format!("{b} bytes"),
    }
}
