//! A backup run's saving side: its chunks' contents into the run's pack and their records into
//! the database, a few at a time while the next chunks are fetched, within the organisation's
//! storage quota.

use super::*;

/// Saves the chunks of a backup run: their contents into the run's pack, their records into
/// the database. Cloned into a task per chunk, so that the next chunks are fetched meanwhile;
/// chunks are checked side by side and recorded one after the other.
#[derive(Clone)]
pub(super) struct Saver {
    pub(super) db: Db,
    pub(super) backend: Backend,
    pub(super) pack: std::sync::Arc<std::sync::Mutex<store::PackWriter>>,
    /// The store's lock the pack holds, confirmed as each chunk is recorded.
    pub(super) lock: std::sync::Arc<store::StoreLock>,
}

/// Which folder a chunk is of, and the last UID it covers (how far the folder has been read).
#[derive(Clone)]
pub(super) struct Chunk {
    pub(super) mailbox_id: i64,
    pub(super) folder: String,
    pub(super) uid_validity: u32,
    pub(super) through: Option<u32>,
}

impl Saver {
    pub(super) async fn new(db: Db, store: &ObjectStore) -> Result<Saver, Outcome> {
        let pack = store.pack_writer(&db).await.map_err(|e| Outcome::storage("opening the backup storage", e))?;
        let lock = pack.lock();
        Ok(Saver { backend: Backend::of(&db), db, pack: std::sync::Arc::new(std::sync::Mutex::new(pack)), lock })
    }

    /// Checks and hashes a chunk, then stores it once the chunk before it (`after`) is
    /// stored; says whether it was (`done`). Returns what it skipped (`item`, `why`).
    pub(super) async fn save(
        self,
        chunk: Chunk,
        raw: Vec<RawMessage>,
        unreadable: Vec<(u32, &'static str)>,
        after: Option<tokio::sync::oneshot::Receiver<bool>>,
        done: tokio::sync::oneshot::Sender<bool>,
    ) -> Result<Vec<(String, &'static str)>, Outcome> {
        let saved = self.save_after(chunk, raw, unreadable, after).await;
        let _ = done.send(saved.is_ok());
        saved
    }

    pub(super) async fn save_after(
        self,
        chunk: Chunk,
        raw: Vec<RawMessage>,
        unreadable: Vec<(u32, &'static str)>,
        after: Option<tokio::sync::oneshot::Receiver<bool>>,
    ) -> Result<Vec<(String, &'static str)>, Outcome> {
        let (contents, messages, mut skipped) =
            tokio::task::spawn_blocking(move || examine(raw)).await.map_err(|e| Outcome::internal("checking messages", e))?;
        // Recorded in order: how far a folder was read only moves forward, past saved messages.
        if let Some(after) = after {
            if !after.await.unwrap_or(false) {
                return Err(Outcome::internal("saving messages", "an earlier chunk was not saved"));
            }
        }
        skipped.extend(unreadable);
        let located = self.write_contents(contents).await?;
        // The pack holds the contents; nothing points at them yet.
        crate::failpoint::hit("backup.pack-written");
        self.save_chunk(&chunk, messages, &skipped, &located).await.map_err(database)?;
        Ok(skipped.into_iter().map(|(uid, why)| (format!("{}, UID {uid}", chunk.folder), why)).collect())
    }

    /// Writes the contents the store does not hold yet into the run's pack.
    pub(super) async fn write_contents(&self, contents: Vec<(String, Vec<u8>)>) -> Result<Vec<store::Located>, Outcome> {
        let hashes: Vec<&str> = contents.iter().map(|(hash, _)| hash.as_str()).collect();
        let mut missing = ObjectStore::missing(&self.db, self.backend, &hashes).await.map_err(database)?;
        // The same content twice in a chunk is written once.
        let new: Vec<(String, Vec<u8>)> = contents.into_iter().filter(|(hash, _)| missing.remove(hash)).collect();
        let pack = self.pack.clone();
        let written = tokio::task::spawn_blocking(move || {
            pack.lock().map_err(|_| std::io::Error::other("an earlier write failed"))?.append(new)
        })
        .await
        .map_err(std::io::Error::other)
        .and_then(|written| written);
        written.map_err(|e| Outcome::storage("writing messages to the backup storage", e))
    }

    /// Records a chunk of stored messages and how far the folder has been read, at once.
    pub(super) async fn save_chunk(
        &self,
        chunk: &Chunk,
        messages: Vec<Fetched>,
        skipped: &[(u32, &str)],
        located: &[store::Located],
    ) -> Result<(), sqlx::Error> {
        let (mailbox_id, folder, uid_validity, last_uid) =
            (chunk.mailbox_id, chunk.folder.as_str(), chunk.uid_validity, chunk.through);
        let now = now_ms();
        let backend = self.backend;
        let mut tx = self.db.begin().await?;
        if !self.lock.confirm(&mut tx).await? {
            // The shared store's hold lapsed: a repair may have begun, so nothing is pointed at.
            return Err(sqlx::Error::Protocol("the object store's lock was lost".into()));
        }
        ObjectStore::record(&mut tx, backend, located).await?;
        // Indexed, but the messages and the folder's last UID not yet: all in one transaction.
        crate::failpoint::hit("backup.index-recorded");
        for (uid, reason) in skipped {
            remember_unreadable(&mut *tx, mailbox_id, folder, uid_validity, *uid, reason).await?;
        }
        // Many rows a statement: per-statement costs, not rows, are what a backup would wait on.
        let (mut added, mut recount) = (0_i64, false);
        for batch in messages.chunks(INSERT_BATCH) {
            let sql = format!(
                "INSERT INTO backup_messages (mailbox_id, folder, uid_validity, saved_at, uid, content_hash, size, flags, internal_date, message_id) \
                 VALUES {} ON CONFLICT DO NOTHING",
                backend.rows(batch.len(), 10)
            );
            let mut query = sqlx::query(&sql);
            for message in batch {
                query = query
                    .bind(mailbox_id)
                    .bind(folder)
                    .bind(i64::from(uid_validity))
                    .bind(now)
                    .bind(i64::from(message.uid))
                    .bind(&message.content_hash)
                    .bind(message.size)
                    .bind(&message.flags)
                    .bind(message.internal_date)
                    .bind(&message.message_id);
            }
            let inserted = query.execute(&mut *tx).await?.rows_affected();
            if inserted == batch.len() as u64 {
                added += batch.iter().map(|m| m.size).sum::<i64>();
            } else {
                // Some were there already (a chunk saved twice): count what the backup holds.
                recount = true;
            }
        }
        if recount {
            sqlx::query("UPDATE mailboxes SET storage_used_bytes = (SELECT COALESCE(SUM(size), 0) FROM backup_messages WHERE mailbox_id = $1) WHERE id = $1")
                .bind(mailbox_id)
                .execute(&mut *tx)
                .await?;
        } else {
            sqlx::query("UPDATE mailboxes SET storage_used_bytes = storage_used_bytes + $1 WHERE id = $2")
                .bind(added)
                .bind(mailbox_id)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(last_uid) = last_uid {
            sqlx::query(
                "INSERT INTO backup_folders (mailbox_id, folder, uid_validity, last_uid) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (mailbox_id, folder) DO UPDATE SET uid_validity = excluded.uid_validity, last_uid = excluded.last_uid",
            )
            .bind(mailbox_id)
            .bind(folder)
            .bind(i64::from(uid_validity))
            .bind(i64::from(last_uid))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await
    }
}

/// A chunk's save under way: what it skipped, or why the run ends.
type Saving = tokio::task::JoinHandle<Result<Vec<(String, &'static str)>, Outcome>>;

/// Chunks saved at once. Two let a slow save (the database writing its log back) pass
/// without holding the reading up; each chunk in memory is one more.
const SAVES_IN_FLIGHT: usize = 2;

/// A run's chunk saves under way, oldest first; each records its chunk after the one before.
pub(super) struct Saves {
    pub(super) saver: Saver,
    pub(super) under_way: std::collections::VecDeque<Saving>,
    pub(super) last_done: Option<tokio::sync::oneshot::Receiver<bool>>,
}

impl Saves {
    pub(super) fn new(saver: Saver) -> Saves {
        Saves { saver, under_way: Default::default(), last_done: None }
    }

    pub(super) fn start(&mut self, chunk: Chunk, raw: Vec<RawMessage>, unreadable: Vec<(u32, &'static str)>) {
        let (done, next_after) = tokio::sync::oneshot::channel();
        let after = self.last_done.replace(next_after);
        self.under_way.push_back(tokio::spawn(self.saver.clone().save(chunk, raw, unreadable, after, done)));
    }

    /// Waits until another save may start.
    pub(super) async fn make_room(&mut self, run: &mut Run<'_>) -> Result<(), Outcome> {
        while self.under_way.len() >= SAVES_IN_FLIGHT {
            self.settle_oldest(run).await?;
        }
        Ok(())
    }

    /// Waits for every save under way (none is left running behind the run); the first
    /// failure is why the run ends.
    pub(super) async fn finish(&mut self, run: &mut Run<'_>) -> Result<(), Outcome> {
        let mut first = Ok(());
        while !self.under_way.is_empty() {
            let settled = self.settle_oldest(run).await;
            first = first.and(settled);
        }
        first
    }

    /// Waits for the oldest save and lists what it skipped; its failure ends the run.
    pub(super) async fn settle_oldest(&mut self, run: &mut Run<'_>) -> Result<(), Outcome> {
        let Some(task) = self.under_way.pop_front() else { return Ok(()) };
        let skipped = task.await.unwrap_or_else(|e| Err(Outcome::internal("saving messages", e)))?;
        for (item, why) in skipped {
            run.skip(item, why);
        }
        Ok(())
    }
}

/// A run cancelled (a deadline, a lost claim) leaves no save of its own running behind it.
impl Drop for Saves {
    fn drop(&mut self) {
        self.under_way.iter().for_each(|task| task.abort());
    }
}

/// The subscription's storage: what the organisation's mailboxes use and may use (0: no limit).
pub(super) struct Quota {
    pub(super) used: i64,
    pub(super) limit: i64,
}

impl Quota {
    pub(super) async fn load(db: &Db, organisation_id: i64) -> Result<Quota, sqlx::Error> {
        let (limit, used): (i64, Option<i64>) = sqlx::query_as(
            "SELECT o.storage_quota_bytes, (SELECT CAST(SUM(m.storage_used_bytes) AS BIGINT) FROM mailboxes m WHERE m.organisation_id = o.id) \
             FROM organisations o WHERE o.id = $1",
        )
        .bind(organisation_id)
        .fetch_one(db)
        .await?;
        Ok(Quota { used: used.unwrap_or(0), limit })
    }

    /// Whether `size` more bytes fit; counts them if so.
    pub(super) fn fits(&mut self, size: i64) -> bool {
        if self.limit > 0 && self.used + size > self.limit {
            return false;
        }
        self.used += size;
        true
    }
}

/// A message the backup could not take, named again by every later backup while the server has it.
pub(super) async fn remember_unreadable<'e, E>(
    db: E,
    mailbox_id: i64,
    folder: &str,
    uid_validity: u32,
    uid: u32,
    reason: &str,
) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query(
        "INSERT INTO backup_unreadable (mailbox_id, folder, uid_validity, uid, reason) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT DO NOTHING",
    )
    .bind(mailbox_id)
    .bind(folder)
    .bind(i64::from(uid_validity))
    .bind(i64::from(uid))
    .bind(reason)
    .execute(db)
    .await
    .map(|_| ())
}

/// Each message checked (a message without a single header is no email: mail-parser
/// accepts nearly anything), and hashed: what to store, what to record, what was skipped.
/// Its text is read for search afterwards, off the backup's path (`search/indexer.rs`).
#[allow(clippy::type_complexity)]
fn examine(raw: Vec<RawMessage>) -> (Vec<(String, Vec<u8>)>, Vec<Fetched>, Vec<(u32, &'static str)>) {
    let (mut contents, mut messages, mut skipped) = (Vec::with_capacity(raw.len()), Vec::with_capacity(raw.len()), Vec::new());
    let parser = mail_parser::MessageParser::default();
    for message in raw {
        let headers = parser.parse_headers(&message.body[..]).filter(|m| !m.headers().is_empty());
        let Some(headers) = headers else {
            skipped.push((message.uid, NOT_AN_EMAIL));
            continue;
        };
        let message_id = headers.message_id().map(str::to_owned);
        let content_hash = ObjectStore::hash(&message.body);
        messages.push(Fetched {
            uid: message.uid,
            content_hash: content_hash.clone(),
            size: message.body.len() as i64,
            flags: message.flags,
            internal_date: message.internal_date,
            message_id,
        });
        contents.push((content_hash, message.body));
    }
    (contents, messages, skipped)
}

const NOT_AN_EMAIL: &str = "it could not be read as an email (no headers)";
