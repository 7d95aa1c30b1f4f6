//! The daily pruning: for each organisation with a retention, the backed-up messages that a
//! backup found deleted from their mailbox longer ago than it keeps them are removed (never in
//! a mailbox on legal hold), with their search rows; then the content no message references
//! any more leaves the object store for real (`imap::store::compact`). A service: the handlers
//! only set what it applies, and it imports no handler.

use std::time::Duration;

use portal_api::{ActivityAction, Connector, JobKind, JobStatus};

use crate::activity::store::{self as activity, Actor, Target};
use crate::db::{now_ms, Backend, Db};
use crate::imap::store::compact::{self, Compaction, Swept};
use crate::imap::store::ObjectStore;

pub type PruneError = Box<dyn std::error::Error + Send + Sync>;

const DAY_MS: i64 = 86_400_000;
/// Messages removed per transaction.
const BATCH: i64 = 500;
/// Search rows a statement names (four values each).
const KEYS: usize = 100;

/// What a run did.
#[derive(Debug, Default)]
pub struct Summary {
    /// Organisations with a retention (the others keep everything).
    pub organisations: u64,
    /// Backed-up messages removed, and their bytes.
    pub messages: u64,
    pub bytes: u64,
    /// What the store's compaction did; `None` when it had nothing to do or was put off (`put_off`).
    pub compaction: Option<Compaction>,
    /// Retired pack files deleted.
    pub swept: Swept,
    /// Why the store's part (or the deletion of retired packs) waits for the next run.
    pub put_off: Option<String>,
}

/// Applies every organisation's retention as of `now` (Unix ms), then compacts the store.
pub async fn prune(db: &Db, store: &ObjectStore, now: i64) -> Result<Summary, PruneError> {
    let mut summary = Summary::default();
    let policies: Vec<(i64, i64, Option<i64>)> = sqlx::query_as(
        "SELECT organisation_id, keep_deleted_days, changed_by FROM retention \
         WHERE keep_deleted_days IS NOT NULL ORDER BY organisation_id",
    )
    .fetch_all(db)
    .await?;
    for (organisation_id, days, changed_by) in policies {
        let (messages, bytes) = prune_organisation(db, organisation_id, now - days.max(1) * DAY_MS).await?;
        sqlx::query(
            "UPDATE retention SET last_pruned_at = $1, last_pruned_messages = $2, last_pruned_bytes = $3 \
             WHERE organisation_id = $4",
        )
        .bind(now)
        .bind(messages as i64)
        .bind(bytes as i64)
        .bind(organisation_id)
        .execute(db)
        .await?;
        summary.organisations += 1;
        summary.messages += messages;
        summary.bytes += bytes;
        if messages > 0 {
            let what = format!("{messages} message(s), {bytes} bytes, deleted from the mailbox more than {days} day(s) ago");
            match changed_by {
                Some(user_id) => {
                    let target = Target::organisation(organisation_id).named(what);
                    activity::record(db, &Pruning { on_behalf_of: user_id }, ActivityAction::MessagesPruned, target).await;
                }
                None => tracing::info!(organisation_id, "retention pruned {what}"),
            }
        }
    }
    store_work(db, store, now, &mut summary).await?;
    Ok(summary)
}

/// Removes the organisation's messages deleted from their mailbox before `before`, except in
/// mailboxes on legal hold, a batch per transaction. Answers how many, and their bytes.
async fn prune_organisation(db: &Db, organisation_id: i64, before: i64) -> Result<(u64, u64), sqlx::Error> {
    let backend = Backend::of(db);
    let (mut messages, mut bytes) = (0, 0);
    loop {
        let mut tx = db.begin().await?;
        // The hold is a condition of the DELETE itself: no later step can take it away.
        let removed: Vec<(i64, String, i64, i64, i64)> = sqlx::query_as(
            "DELETE FROM backup_messages \
             WHERE deleted_at < $1 \
               AND mailbox_id IN (SELECT m.id FROM mailboxes m WHERE m.organisation_id = $2 AND m.legal_hold = 0) \
               AND (mailbox_id, folder, uid_validity, uid) IN ( \
                   SELECT bm.mailbox_id, bm.folder, bm.uid_validity, bm.uid FROM backup_messages bm \
                   JOIN mailboxes m ON m.id = bm.mailbox_id \
                   WHERE m.organisation_id = $2 AND m.legal_hold = 0 AND bm.deleted_at < $1 LIMIT $3) \
             RETURNING mailbox_id, folder, uid_validity, uid, size",
        )
        .bind(before)
        .bind(organisation_id)
        .bind(BATCH)
        .fetch_all(&mut *tx)
        .await?;
        if removed.is_empty() {
            tx.commit().await?;
            return Ok((messages, bytes));
        }
        for keys in removed.chunks(KEYS) {
            let sql = format!(
                "DELETE FROM message_search WHERE (mailbox_id, folder, uid_validity, uid) IN (VALUES {})",
                backend.rows(keys.len(), 4)
            );
            let mut query = sqlx::query(&sql);
            for (mailbox_id, folder, uid_validity, uid, _) in keys {
                query = query.bind(*mailbox_id).bind(folder).bind(*uid_validity).bind(*uid);
            }
            query.execute(&mut *tx).await?;
        }
        let mut per_mailbox: std::collections::BTreeMap<i64, i64> = std::collections::BTreeMap::new();
        for (mailbox_id, _, _, _, size) in &removed {
            *per_mailbox.entry(*mailbox_id).or_default() += (*size).max(0);
        }
        for (mailbox_id, size) in per_mailbox {
            // Taken off what the mailbox holds (not counted again): a backup adding to it meanwhile is kept.
            sqlx::query(
                "UPDATE mailboxes SET storage_used_bytes = CASE WHEN storage_used_bytes > $1 THEN storage_used_bytes - $1 ELSE 0 END \
                 WHERE id = $2",
            )
            .bind(size)
            .bind(mailbox_id)
            .execute(&mut *tx)
            .await?;
            bytes += size as u64;
        }
        tx.commit().await?;
        messages += removed.len() as u64;
    }
}

/// The store's part: compaction while no backup writes, and the deletion of retired packs
/// while no job reads. Either is put off (to the next run) rather than waited for.
async fn store_work(db: &Db, store: &ObjectStore, now: i64, summary: &mut Summary) -> Result<(), PruneError> {
    let writing = running(db, &[JobKind::Backup, JobKind::Migrate]).await?;
    if writing > 0 {
        summary.put_off = Some(format!("{writing} backup(s) running: the store is compacted at the next run"));
        return Ok(());
    }
    if !compact::work_waiting(db, now).await? {
        return Ok(());
    }
    let lock = match store.lock(db, true).await {
        Ok(lock) => lock,
        Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
            summary.put_off = Some("a backup is writing to the store: it is compacted at the next run".into());
            return Ok(());
        }
        Err(error) => return Err(error.into()),
    };
    summary.compaction = Some(compact::compact(db, store, &lock, now).await?);
    sweep_locked(db, store, &lock, now, summary).await
}

/// Deletes the retired packs that are due, if no job reads the store and no backup writes it.
pub async fn sweep(db: &Db, store: &ObjectStore, now: i64) -> Result<Summary, PruneError> {
    let mut summary = Summary::default();
    if !compact::sweep_due(db, now).await? {
        return Ok(summary);
    }
    match store.lock(db, true).await {
        Ok(lock) => sweep_locked(db, store, &lock, now, &mut summary).await?,
        Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
            summary.put_off = Some("a backup is writing to the store".into());
        }
        Err(error) => return Err(error.into()),
    }
    Ok(summary)
}

async fn sweep_locked(
    db: &Db,
    store: &ObjectStore,
    lock: &crate::imap::store::StoreLock,
    now: i64,
    summary: &mut Summary,
) -> Result<(), PruneError> {
    // A restore or download that read the places before a compaction reads the old packs.
    let reading = running(db, &JobKind::ALL).await?;
    if reading > 0 {
        summary.put_off = Some(format!("{reading} job(s) reading the store: retired packs are deleted later"));
        return Ok(());
    }
    summary.swept = compact::sweep(db, store, lock, now).await?;
    Ok(())
}

/// Jobs of these kinds running on real (IMAP) mailboxes, here or on another instance.
async fn running(db: &Db, kinds: &[JobKind]) -> Result<i64, sqlx::Error> {
    let backend = Backend::of(db);
    let sql = format!(
        "SELECT COUNT(*) FROM jobs j JOIN mailboxes m ON m.id = j.mailbox_id \
         WHERE m.connector = {} AND j.status = {} AND j.lease_until > {} AND j.kind IN ({})",
        backend.list(0, 1),
        backend.list(1, 1),
        backend.list(2, 1),
        backend.list(3, kinds.len())
    );
    let mut query = sqlx::query_as::<_, (i64,)>(&sql)
        .bind(Connector::Imap.as_str())
        .bind(JobStatus::InProgress.as_str())
        // Leases are kept by the real clock, whatever `now` a run is given.
        .bind(now_ms());
    for kind in kinds {
        query = query.bind(kind.as_str());
    }
    Ok(query.fetch_one(db).await?.0)
}

/// The pruning, in the activity log: on behalf of whoever set the organisation's retention.
struct Pruning {
    on_behalf_of: i64,
}

impl Actor for Pruning {
    fn user_id(&self) -> i64 {
        self.on_behalf_of
    }
    fn email(&self) -> &str {
        "Daily pruning (retention)"
    }
    fn token(&self) -> Option<(&str, &str)> {
        None
    }
    fn address(&self) -> Option<&str> {
        None
    }
    fn reseller_id(&self) -> Option<i64> {
        None
    }
    fn organisation_id(&self) -> Option<i64> {
        None
    }
    fn mailbox_id(&self) -> Option<i64> {
        None
    }
}

/// The first run this long after the server starts.
const FIRST_RUN: Duration = Duration::from_secs(5 * 60);
/// Retired packs are looked at this often between the daily runs.
const SWEEP_EVERY: Duration = Duration::from_secs(3600);

/// Prunes once a day (the first time a little after the start), and deletes retired packs that
/// are due every hour in between.
pub fn spawn(db: Db, store: ObjectStore) {
    tokio::spawn(async move {
        tokio::time::sleep(FIRST_RUN).await;
        let mut every = tokio::time::interval(SWEEP_EVERY);
        // Ticks missed during a long run are not made up at once.
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_run: Option<i64> = None;
        loop {
            every.tick().await;
            let now = now_ms();
            let daily = last_run.is_none_or(|at| now - at >= DAY_MS - SWEEP_EVERY.as_millis() as i64 / 2);
            let done = if daily {
                last_run = Some(now);
                prune(&db, &store, now).await
            } else {
                sweep(&db, &store, now).await
            };
            match done {
                Ok(summary) if daily || summary.swept.packs_deleted > 0 => tracing::info!(?summary, "retention pruning"),
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "the retention pruning could not finish: again at the next run"),
            }
        }
    });
}
