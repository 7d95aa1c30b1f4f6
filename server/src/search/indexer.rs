//! The indexer: reads the messages a backup saved into the search index, right after the
//! backup, off its path (indexing a message's text in the database costs several times what
//! saving it does: `cargo xtask bench imap` fell from 0.53 to 0.15 of a plain client's speed
//! when the backup indexed as it went). Woken at the end of every backup run, and every few
//! minutes; it also indexes, once, the backups made before the index existed. A message
//! whose content cannot be read is indexed by its place alone, so it is still listed, and
//! never read again.

use std::time::Duration;

use crate::db::{Backend, Db};
use crate::imap::store::{Located, ObjectStore};

use super::index::{insert, Place, Row};
use super::text::Indexed;

/// Messages read from the store at a time, and their bytes at most (one larger message alone).
const BATCH: i64 = 200;
const BATCH_BYTES: i64 = 16 << 20;
/// How often the indexer looks without being woken (a backup of another instance).
const EVERY: Duration = Duration::from_secs(300);

static WANTED: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// Asks this instance's indexer to look for new messages now.
pub fn wake() {
    WANTED.notify_one();
}

#[derive(sqlx::FromRow)]
struct Pending {
    mailbox_id: i64,
    folder: String,
    uid_validity: i64,
    uid: i64,
    internal_date: Option<i64>,
    deleted_at: Option<i64>,
    content_hash: String,
    pack: Option<String>,
    pack_offset: Option<i64>,
    size: i64,
}

/// Indexes every message not indexed yet; returns how many it indexed.
pub async fn run(db: &Db, store: &ObjectStore) -> Result<u64, sqlx::Error> {
    let backend = Backend::of(db);
    let mut done = 0;
    let mut busy = 0_u32;
    loop {
        let pending: Vec<Pending> = sqlx::query_as(
            "SELECT bm.mailbox_id, bm.folder, bm.uid_validity, bm.uid, bm.internal_date, bm.deleted_at, bm.content_hash, \
                    o.pack, o.pack_offset, bm.size \
             FROM backup_messages bm LEFT JOIN objects o ON o.content_hash = bm.content_hash \
             WHERE bm.indexed = 0 LIMIT $1",
        )
        .bind(BATCH)
        .fetch_all(db)
        .await?;
        if pending.is_empty() {
            return Ok(done);
        }
        // At most BATCH_BYTES of messages in memory (one larger message alone).
        let mut bytes = 0;
        let take = pending
            .iter()
            .take_while(|m| {
                bytes += m.size.max(0);
                bytes <= BATCH_BYTES
            })
            .count()
            .max(1);
        let mut pending = pending;
        pending.truncate(take);
        let (places, located): (Vec<usize>, Vec<Located>) = pending
            .iter()
            .enumerate()
            .filter_map(|(i, m)| {
                Some((
                    i,
                    Located { content_hash: m.content_hash.clone(), pack: m.pack.clone()?, offset: m.pack_offset?, size: m.size },
                ))
            })
            .unzip();
        let contents = store.read(located).await.map_err(sqlx::Error::Io)?;
        let parsed = tokio::task::spawn_blocking(move || {
            contents.into_iter().map(|bytes| bytes.ok().and_then(|raw| Indexed::read(&raw))).collect::<Vec<_>>()
        })
        .await
        .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
        let mut indexed = vec![Indexed::default(); pending.len()];
        for (i, found) in places.into_iter().zip(parsed) {
            indexed[i] = found.unwrap_or_default();
        }
        let rows: Vec<Row> = pending
            .iter()
            .zip(&indexed)
            .map(|(m, indexed)| Row {
                place: Place { mailbox_id: m.mailbox_id, folder: &m.folder, uid_validity: m.uid_validity, uid: m.uid },
                indexed,
                arrived: m.internal_date,
                size: m.size,
                deleted_at: m.deleted_at,
            })
            .collect();
        // The rows and the marks in one transaction: a message is indexed once. SQLite may
        // refuse the write at once while another connection writes (a backup's end, a job):
        // the batch is read again and written a little later.
        match write(db, backend, &rows, &pending).await {
            Err(error) if is_busy(&error) && busy < BUSY_RETRIES => {
                busy += 1;
                tokio::time::sleep(Duration::from_millis(200 * u64::from(busy))).await;
                continue;
            }
            Err(error) => return Err(error),
            Ok(()) => busy = 0,
        }
        done += rows.len() as u64;
    }
}

/// Times a batch refused by a busy SQLite is tried again before the run gives up.
const BUSY_RETRIES: u32 = 5;

fn is_busy(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.code().as_deref() == Some("5") || e.message().contains("database is locked"))
}

/// The batch's search rows, and its messages marked indexed, in one transaction.
async fn write(db: &Db, backend: Backend, rows: &[Row<'_>], pending: &[Pending]) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    insert(&mut tx, backend, rows).await?;
    for batch in pending.chunks(100) {
        let keys: Vec<String> =
            (0..batch.len()).map(|i| format!("(${}, ${}, ${}, ${})", 4 * i + 1, 4 * i + 2, 4 * i + 3, 4 * i + 4)).collect();
        let sql = format!(
            "UPDATE backup_messages SET indexed = 1 WHERE (mailbox_id, folder, uid_validity, uid) IN ({})",
            keys.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for m in batch {
            query = query.bind(m.mailbox_id).bind(&m.folder).bind(m.uid_validity).bind(m.uid);
        }
        query.execute(&mut *tx).await?;
        // A backup may have found one deleted since it was read above: the index says so too.
        let sql = format!(
            "UPDATE message_search SET deleted_at = (SELECT bm.deleted_at FROM backup_messages bm \
             WHERE bm.mailbox_id = message_search.mailbox_id AND bm.folder = message_search.folder \
             AND bm.uid_validity = message_search.uid_validity AND bm.uid = message_search.uid) \
             WHERE (mailbox_id, folder, uid_validity, uid) IN ({})",
            keys.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for m in batch {
            query = query.bind(m.mailbox_id).bind(&m.folder).bind(m.uid_validity).bind(m.uid);
        }
        query.execute(&mut *tx).await?;
    }
    tx.commit().await?;    Ok(())
}

/// Runs the indexer in the background: at the start (older backups), when woken, and every
/// few minutes. A failure is logged and tried again next time.
pub fn spawn(db: Db, store: ObjectStore) {
    tokio::spawn(async move {
        let mut failures = 0_u32;
        loop {
            let wait = match run(&db, &store).await {
                Ok(count) => {
                    if count > 0 {
                        tracing::info!(messages = count, "messages indexed for search");
                    }
                    failures = 0;
                    EVERY
                }
                Err(error) => {
                    // A busy database (a backup writing) or one away: tried again soon, less
                    // often while it lasts.
                    failures = failures.saturating_add(1);
                    let wait = Duration::from_secs(1 << failures.min(6));
                    tracing::warn!(%error, retry_in_secs = wait.as_secs(), "indexing messages for search stopped; it goes on shortly");
                    wait
                }
            };
            let _ = tokio::time::timeout(wait, WANTED.notified()).await;
        }
    });
}
