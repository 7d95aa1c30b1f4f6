//! Indexes, once, the messages backed up before the index existed (or whose indexing was
//! missed): run in the background at each start until none is left. A message whose content
//! cannot be read is indexed by its place alone, so it is still listed, and never read again.

use std::path::Path;

use crate::db::{Backend, Db};
use crate::imap::store::{Located, ObjectStore};

use super::index::{insert, Place, Row};
use super::text::Indexed;

/// Messages read from the store at a time.
const BATCH: i64 = 200;

#[derive(sqlx::FromRow)]
struct Missing {
    mailbox_id: i64,
    folder: String,
    uid_validity: i64,
    uid: i64,
    internal_date: Option<i64>,
    content_hash: String,
    pack: Option<String>,
    pack_offset: Option<i64>,
    size: i64,
}

/// Indexes every message not indexed yet; returns how many it indexed.
pub async fn run(db: &Db, data_dir: &Path) -> Result<u64, sqlx::Error> {
    let store = ObjectStore::new(data_dir);
    let backend = Backend::of(db);
    let mut done = 0;
    loop {
        let missing: Vec<Missing> = sqlx::query_as(
            "SELECT bm.mailbox_id, bm.folder, bm.uid_validity, bm.uid, bm.internal_date, bm.content_hash, o.pack, o.pack_offset, bm.size \
             FROM backup_messages bm LEFT JOIN objects o ON o.content_hash = bm.content_hash \
             WHERE NOT EXISTS (SELECT 1 FROM message_search s WHERE s.mailbox_id = bm.mailbox_id AND s.folder = bm.folder \
                               AND s.uid_validity = bm.uid_validity AND s.uid = bm.uid) \
             LIMIT $1",
        )
        .bind(BATCH)
        .fetch_all(db)
        .await?;
        if missing.is_empty() {
            if done > 0 {
                tracing::info!(messages = done, "messages backed up before the search index are indexed");
            }
            return Ok(done);
        }
        let located: Vec<(usize, Located)> = missing
            .iter()
            .enumerate()
            .filter_map(|(i, m)| {
                Some((i, Located { content_hash: m.content_hash.clone(), pack: m.pack.clone()?, offset: m.pack_offset?, size: m.size }))
            })
            .collect();
        let (places, located): (Vec<usize>, Vec<Located>) = located.into_iter().unzip();
        let contents = store.read(located).await.map_err(sqlx::Error::Io)?;
        let mut indexed = vec![Indexed::default(); missing.len()];
        let parsed = tokio::task::spawn_blocking(move || {
            contents.into_iter().map(|bytes| bytes.ok().and_then(|raw| Indexed::read(&raw))).collect::<Vec<_>>()
        })
        .await
        .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
        for (i, found) in places.into_iter().zip(parsed) {
            indexed[i] = found.unwrap_or_default();
        }
        let rows: Vec<Row> = missing
            .iter()
            .zip(&indexed)
            .map(|(m, indexed)| Row {
                place: Place { mailbox_id: m.mailbox_id, folder: &m.folder, uid_validity: m.uid_validity, uid: m.uid },
                indexed,
                arrived: m.internal_date,
                size: m.size,
            })
            .collect();
        let mut connection = db.acquire().await?;
        insert(&mut connection, backend, &rows).await?;
        done += rows.len() as u64;
        // What a backup found deleted before the index existed.
        sqlx::query(
            "UPDATE message_search SET deleted_at = (SELECT bm.deleted_at FROM backup_messages bm WHERE bm.mailbox_id = message_search.mailbox_id \
             AND bm.folder = message_search.folder AND bm.uid_validity = message_search.uid_validity AND bm.uid = message_search.uid) \
             WHERE deleted_at IS NULL AND EXISTS (SELECT 1 FROM backup_messages bm WHERE bm.mailbox_id = message_search.mailbox_id \
             AND bm.folder = message_search.folder AND bm.uid_validity = message_search.uid_validity AND bm.uid = message_search.uid \
             AND bm.deleted_at IS NOT NULL)",
        )
        .execute(&mut *connection)
        .await?;
    }
}

/// Runs the backfill in the background; a failure is logged and tried again at the next start.
pub fn spawn(db: Db, data_dir: std::path::PathBuf) {
    tokio::spawn(async move {
        if let Err(error) = run(&db, &data_dir).await {
            tracing::warn!(%error, "indexing the messages backed up before the search index stopped; it goes on at the next start");
        }
    });
}
