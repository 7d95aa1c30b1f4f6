//! A download of an imap mailbox's backup: its messages are listed page by page and read from
//! the object store in batches bounded by count and bytes, while a blocking task writes the
//! batch before into the file. A download holds about three batches however large the mailbox.

use tokio::sync::{mpsc, oneshot};

use super::{ImapConnector, Run, SavedMessage, READ_BATCH};
use crate::connector::{Outcome, ProgressSink, Work};
use crate::db::numbered;
use crate::downloads::file::{FileWriter, MessageFile};

/// Messages listed from the database at a time.
const PAGE: usize = 1000;
/// Bytes of messages read from the store at a time (more only for a single larger message).
const BATCH_BYTES: i64 = 8 << 20;

/// A saved message and its place in the backup's order (folder, UIDVALIDITY, UID).
#[derive(sqlx::FromRow)]
struct Listed {
    #[sqlx(flatten)]
    message: SavedMessage,
    uid_validity: i64,
    uid: i64,
}

/// Where the listing goes on from: the last message listed.
type After = (String, i64, i64);

impl ImapConnector {
    /// A download: the mailbox's backup as one mbox file or a zip of EML files.
    pub(super) async fn download(&self, work: &Work, progress: &dyn ProgressSink) -> Outcome {
        let folders = Selection::of(&work.params);
        let folders = &folders;
        let mut run = Run::new(progress, &work.job_id);
        match self.totals(work.mailbox_id, folders).await {
            Ok((items, bytes)) => (run.items_total, run.bytes_total) = (items, Some(bytes)),
            Err(outcome) => return outcome,
        }
        // Messages chosen in a search that retention removed since: named, never a silent gap.
        if let Selection::Messages(chosen) = folders {
            match run.items_total {
                0 => {
                    return Outcome::Failed(format!(
                        "The chosen messages are no longer in the backup of {} (retention removed them).",
                        work.mailbox_email
                    ))
                }
                found if found < chosen.len() as u64 => match self.gone(work.mailbox_id, chosen).await {
                    Ok(gone) => gone.into_iter().for_each(|item| run.skip(item, super::restore::GONE)),
                    Err(outcome) => return outcome,
                },
                _ => {}
            }
        }
        let format = work.params.format();
        let (data_dir, job_id) = (self.data_dir.clone(), work.job_id.clone());
        // One batch waits while one is written and the next is read.
        let (batches, mut received) = mpsc::channel::<Vec<MessageFile>>(1);
        let (complete, completed) = oneshot::channel::<bool>();
        let writer = tokio::task::spawn_blocking(move || {
            let mut file = FileWriter::create(&data_dir, &job_id, format)?;
            while let Some(batch) = received.blocking_recv() {
                for message in &batch {
                    file.add(message)?;
                }
            }
            // A run that failed while reading drops its file unfinished: nothing is left of it.
            if completed.blocking_recv().unwrap_or(false) {
                file.finish().map(Some)
            } else {
                Ok(None)
            }
        });
        let read = self.read_all(work.mailbox_id, folders, &batches, &mut run).await;
        drop(batches);
        let _ = complete.send(read.is_ok());
        let written = writer.await;
        if let Err(outcome) = read {
            return outcome;
        }
        match written {
            Ok(Ok(_)) => {
                let published =
                    crate::downloads::file::publish(&self.data_dir, self.store.remote(), &work.job_id, format).await;
                if let Err(error) = published {
                    return Outcome::storage("saving the download file", error);
                }
                // The file is whole; its job is not yet Completed.
                crate::failpoint::hit("download.file-written");
                run.report(true).await;
                run.outcome()
            }
            Ok(Err(error)) => Outcome::storage("writing the download file", error),
            Err(error) => Outcome::internal("writing the download file", error),
        }
    }

    /// Reads every message of the backup (of these folders, or all) and hands them to the
    /// writer in batches. Stops early, without error, when the writer has stopped (its error
    /// is the run's).
    async fn read_all(
        &self,
        mailbox_id: i64,
        folders: &Selection<'_>,
        writer: &mpsc::Sender<Vec<MessageFile>>,
        run: &mut Run<'_>,
    ) -> Result<(), Outcome> {
        let mut after: Option<After> = None;
        loop {
            let page = self.listed(mailbox_id, folders, after.as_ref()).await?;
            let Some(last) = page.last() else { return Ok(()) };
            after = Some((last.message.folder.clone(), last.uid_validity, last.uid));
            let more = page.len() == PAGE;
            let messages: Vec<SavedMessage> = page.into_iter().map(|listed| listed.message).collect();
            let mut rest = &messages[..];
            while !rest.is_empty() {
                let (batch, next) = rest.split_at(batch_length(rest));
                rest = next;
                let mut files = Vec::with_capacity(batch.len());
                for (message, bytes) in batch.iter().zip(self.contents(batch).await?) {
                    run.items_done += 1;
                    run.bytes_done += message.size.max(0) as u64;
                    match bytes {
                        Ok(raw) => {
                            files.push(MessageFile { folder: message.folder.clone(), internal_date: message.internal_date, raw })
                        }
                        Err(error) => run.unreadable(message.name(), &error),
                    }
                }
                if writer.send(files).await.is_err() {
                    return Ok(());
                }
                run.report(false).await;
            }
            if !more {
                return Ok(());
            }
        }
    }

    /// How many messages a download of this selection holds, and their bytes.
    async fn totals(&self, mailbox_id: i64, selection: &Selection<'_>) -> Result<(u64, u64), Outcome> {
        let sql = format!(
            "SELECT COUNT(*), CAST(SUM(bm.size) AS BIGINT) FROM backup_messages bm WHERE bm.mailbox_id = $1{}",
            selection.filter()
        );
        let mut query = sqlx::query_as::<_, (i64, Option<i64>)>(&sql).bind(mailbox_id);
        for value in selection.values() {
            query = match value {
                Value::Text(text) => query.bind(text),
                Value::Number(number) => query.bind(number),
            };
        }
        let (count, bytes) = query.fetch_one(&self.db).await.map_err(|e| Outcome::internal("reading the backup", e))?;
        Ok((count.max(0) as u64, bytes.unwrap_or(0).max(0) as u64))
    }

    /// The next `PAGE` messages of the backup after `after`, in the order of `saved_messages`
    /// (by folder, then as they were in it), with where their contents are.
    async fn listed(&self, mailbox_id: i64, selection: &Selection<'_>, after: Option<&After>) -> Result<Vec<Listed>, Outcome> {
        let values = selection.values();
        let from = match after {
            Some(_) => format!(" AND (bm.folder, bm.uid_validity, bm.uid) > ({})", numbered(1 + values.len(), 3)),
            None => String::new(),
        };
        let sql = format!(
            "SELECT bm.folder, bm.content_hash, o.pack, o.pack_offset, bm.size, bm.flags, bm.internal_date, bm.message_id, \
                    bm.uid_validity, bm.uid \
             FROM backup_messages bm LEFT JOIN objects o ON o.content_hash = bm.content_hash \
             WHERE bm.mailbox_id = $1{}{from} ORDER BY bm.folder, bm.uid_validity, bm.uid LIMIT {PAGE}",
            selection.filter()
        );
        let mut query = sqlx::query_as::<_, Listed>(&sql).bind(mailbox_id);
        for value in values {
            query = match value {
                Value::Text(text) => query.bind(text),
                Value::Number(number) => query.bind(number),
            };
        }
        if let Some((folder, uid_validity, uid)) = after {
            query = query.bind(folder).bind(uid_validity).bind(uid);
        }
        query.fetch_all(&self.db).await.map_err(|e| Outcome::internal("reading the backup", e))
    }
}

impl ImapConnector {
    /// The chosen messages the backup no longer holds, named as a skipped item is.
    async fn gone(&self, mailbox_id: i64, chosen: &[crate::connector::MessageKey]) -> Result<Vec<String>, Outcome> {
        let mut gone = Vec::new();
        for key in chosen {
            let found: Option<(i64,)> = sqlx::query_as(
                "SELECT uid FROM backup_messages WHERE mailbox_id = $1 AND folder = $2 AND uid_validity = $3 AND uid = $4",
            )
            .bind(mailbox_id)
            .bind(&key.folder)
            .bind(key.uid_validity)
            .bind(key.uid)
            .fetch_optional(&self.db)
            .await
            .map_err(|e| Outcome::internal("reading the backup", e))?;
            if found.is_none() {
                gone.push(format!("{}, UID {}", super::command::shown(&key.folder), key.uid));
            }
        }
        Ok(gone)
    }
}

/// Which messages of a backup a download takes: all, the folders asked for, or the messages
/// chosen in a search.
pub(super) enum Selection<'a> {
    All,
    Folders(&'a [String]),
    Messages(&'a [crate::connector::MessageKey]),
}

/// A value bound to a selection's placeholders.
enum Value<'a> {
    Text(&'a str),
    Number(i64),
}

impl<'a> Selection<'a> {
    pub(super) fn of(params: &'a crate::connector::JobParams) -> Selection<'a> {
        match (params.messages.as_slice(), params.wanted_folders()) {
            ([_, ..], _) => Selection::Messages(&params.messages),
            ([], Some(folders)) => Selection::Folders(folders),
            ([], None) => Selection::All,
        }
    }

    /// ` AND …` keeping to the selection, placeholders after the mailbox's (`$1`).
    fn filter(&self) -> String {
        match self {
            Selection::All => String::new(),
            Selection::Folders(folders) => format!(" AND bm.folder IN ({})", numbered(1, folders.len())),
            Selection::Messages(keys) => {
                let rows: Vec<String> = (0..keys.len()).map(|i| format!("({})", numbered(1 + 3 * i, 3))).collect();
                format!(" AND (bm.folder, bm.uid_validity, bm.uid) IN ({})", rows.join(", "))
            }
        }
    }

    /// What the filter's placeholders are bound to, in order.
    fn values(&self) -> Vec<Value<'a>> {
        match self {
            Selection::All => Vec::new(),
            Selection::Folders(folders) => folders.iter().map(|f| Value::Text(f)).collect(),
            Selection::Messages(keys) => {
                keys.iter().flat_map(|k| [Value::Text(&k.folder), Value::Number(k.uid_validity), Value::Number(k.uid)]).collect()
            }
        }
    }
}

/// How many of these messages the next read from the store takes: at most `READ_BATCH`, and
/// `BATCH_BYTES` unless a single message is larger.
fn batch_length(messages: &[SavedMessage]) -> usize {
    let mut bytes = 0;
    let fitting = messages
        .iter()
        .take(READ_BATCH)
        .take_while(|message| {
            bytes += message.size.max(0);
            bytes <= BATCH_BYTES
        })
        .count();
    fitting.max(1).min(messages.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sized(size: i64) -> SavedMessage {
        SavedMessage {
            folder: "INBOX".into(),
            content_hash: String::new(),
            pack: None,
            pack_offset: None,
            size,
            flags: String::new(),
            internal_date: None,
            message_id: None,
        }
    }

    #[test]
    fn reads_are_cut_by_count_and_bytes() {
        let small: Vec<SavedMessage> = (0..500).map(|_| sized(4_000)).collect();
        assert_eq!(batch_length(&small), READ_BATCH);
        let large: Vec<SavedMessage> = (0..10).map(|_| sized(3 << 20)).collect();
        assert_eq!(batch_length(&large), 2, "8 MB hold two of 3 MB");
        // A message larger than a batch goes alone.
        assert_eq!(batch_length(&[sized(20 << 20), sized(10)]), 1);
        assert_eq!(batch_length(&[sized(10)]), 1);
    }
}
