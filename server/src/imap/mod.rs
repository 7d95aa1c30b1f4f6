//! The `imap` connector: real mailboxes over IMAP. A backup reads every folder incrementally
//! (UIDVALIDITY + last UID per folder) into the object store; a restore or migration APPENDs
//! from it with flags and dates kept; a download is built from it. Every status the portal
//! shows for these mailboxes is the result of that work.

pub mod check;
pub mod client;
pub mod command;
mod deleted;
mod download;
pub mod guard;
mod restore;
mod run;
mod save;
pub mod store;

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Instant;

use futures_util::StreamExt;
use portal_api::JobKind;

use crate::connector::{BoxFuture, Connector, Outcome, Progress, ProgressSink, Work};
use crate::db::{now_ms, Backend, Db};
use crate::secrets::{SecretBox, SecretString};
use client::{Account, Failure, ImapSession, Reach, Security};
use command::uid_set;
use run::Run;
use save::{remember_unreadable, Chunk, Quota, Saver, Saves};
use store::ObjectStore;

/// What a run fetches per UID FETCH, at most: enough for the progress to move and a stop to
/// keep most. A run holds about four chunks in memory at most: one being read, two being
/// saved, and the pack writer's buffer.
const FETCH_CHUNK: usize = 500;
const FETCH_CHUNK_BYTES: u64 = 32 << 20;
/// Rows a single INSERT writes: a chunk's. With unnumbered placeholders (`Backend::rows`) one
/// long statement costs less than several short ones.
const INSERT_BATCH: usize = 500;
/// How often progress is stored while a run goes on.
const PROGRESS_EVERY_MS: u128 = 500;

pub struct ImapConnector {
    db: Db,
    /// Where connections may go, each step's deadline, the largest message taken.
    reach: Reach,
    store: ObjectStore,
    secrets: SecretBox,
    data_dir: PathBuf,
}

impl From<Failure> for Outcome {
    fn from(failure: Failure) -> Outcome {
        match failure {
            Failure::Connection(text) => Outcome::Connection(text),
            Failure::Authentication(text) => Outcome::Authentication(text),
            Failure::Quota(text) => Outcome::SpaceFull(text),
            Failure::Other(text) => Outcome::Unknown(text),
        }
    }
}

/// Where a mailbox's IMAP password is sealed (bound into its encryption).
pub fn password_context(mailbox_id: i64) -> String {
    format!("mailbox:{mailbox_id}:imap_password")
}

/// A message of a backup, as the database lists it.
#[derive(sqlx::FromRow)]
struct SavedMessage {
    folder: String,
    content_hash: String,
    /// Where its content is (none if the store lost track of it).
    pack: Option<String>,
    pack_offset: Option<i64>,
    size: i64,
    flags: String,
    internal_date: Option<i64>,
    message_id: Option<String>,
}

/// What a backup run reads of a folder: the messages after those saved, as (UID, size).
struct FolderPlan {
    folder: String,
    uid_validity: u32,
    new: Vec<(u32, u32)>,
}

/// What one UID FETCH brought.
#[derive(Default)]
struct ChunkRead {
    answered: HashSet<u32>,
    /// A message the server could not read (it closes the connection after one).
    unreadable: Option<u32>,
    /// The message that did not fit the subscription's storage; the chunk stops before it.
    full: Option<u32>,
    /// The connection failed while reading.
    cut: Option<Outcome>,
    /// Messages the server could not read.
    skipped: Vec<(u32, &'static str)>,
    /// The messages as fetched, for the save to check and store.
    raw: Vec<RawMessage>,
}

/// A message as the server sent it.
struct RawMessage {
    uid: u32,
    flags: String,
    internal_date: Option<i64>,
    body: Vec<u8>,
}

const UNREADABLE: &str = "the mail server could not read it";

impl SavedMessage {
    /// How a skipped message is named: its folder and Message-ID.
    fn name(&self) -> String {
        format!("{}, {}", command::shown(&self.folder), self.message_id.as_deref().unwrap_or("a message without Message-ID"))
    }
}

/// Messages read from the store at a time (restores and downloads).
const READ_BATCH: usize = 200;

/// A message fetched and checked, waiting to be stored with the rest of its chunk.
struct Fetched {
    uid: u32,
    content_hash: String,
    size: i64,
    flags: String,
    internal_date: Option<i64>,
    message_id: Option<String>,
}

impl ImapConnector {
    pub fn new(db: Db, secrets: SecretBox, store: ObjectStore, data_dir: PathBuf, reach: Reach) -> ImapConnector {
        ImapConnector { store, db, secrets, data_dir, reach }
    }

    /// The IMAP account of a mailbox, its password opened; `Err` is how the run ends.
    async fn account(&self, mailbox_id: i64, organisation_id: i64) -> Result<Account, Outcome> {
        let row: Option<(String, i32, String, String, String)> =
            sqlx::query_as("SELECT host, port, security, username, password_sealed FROM imap_accounts WHERE mailbox_id = $1")
                .bind(mailbox_id)
                .fetch_optional(&self.db)
                .await
                .map_err(|e| Outcome::internal("reading the mailbox's settings", e))?;
        let Some((host, port, security, username, sealed)) = row else {
            return Err(Outcome::Failed("This mailbox has no IMAP settings.".into()));
        };
        let password = self
            .secrets
            .open(&self.db, organisation_id, &password_context(mailbox_id), &sealed)
            .await
            .map_err(|_| Outcome::Authentication("The saved password could not be read; enter it again.".into()))?;
        Ok(Account {
            host,
            port: u16::try_from(port).unwrap_or(993),
            security: Security::parse(&security).unwrap_or(Security::Tls),
            username,
            password: SecretString::new(String::from_utf8_lossy(&password).into_owned()),
        })
    }

    async fn backup(&self, work: &Work, progress: &dyn ProgressSink) -> Outcome {
        let account = match self.account(work.mailbox_id, work.organisation_id).await {
            Ok(account) => account,
            Err(outcome) => return outcome,
        };
        let mut session = match client::sign_in(&account, &self.reach).await {
            Ok(session) => session,
            Err(failure) => return failure.into(),
        };
        let mut run = Run::new(progress, &work.job_id);
        let outcome = match self.backup_folders(&mut session, &account, work, &mut run).await {
            Ok(()) => run.outcome(),
            Err(outcome) => outcome,
        };
        // What this run saved is read for search now, in the background.
        crate::search::indexer::wake();
        client::sign_out(session, &self.reach).await;
        outcome
    }

    /// Reads every folder's new messages into the store. `Err` ends the run (what was saved
    /// before stays saved).
    async fn backup_folders(
        &self,
        session: &mut ImapSession,
        account: &Account,
        work: &Work,
        run: &mut Run<'_>,
    ) -> Result<(), Outcome> {
        let reach = &self.reach;
        let meter = session.meter();
        let mut names = Vec::new();
        let listing = reach.step(account, "listing the folders", session.list(Some(""), Some("*"))).await?;
        reach.each(account, "listing the folders", &meter, client::DEFAULT_ANSWER, listing, |name| names.push(name)).await?;
        let selectable =
            names.iter().filter(|n| !n.attributes().iter().any(|a| matches!(a, async_imap::types::NameAttribute::NoSelect)));
        // A name no command can carry (CR, LF, NUL: a hostile server's) is listed, not read.
        let (folders, refused) = command::sendable(selectable.map(|n| n.name().to_owned()));
        refused.into_iter().for_each(|(folder, why)| run.skip(folder, &why));
        // Every IMAP mailbox has an INBOX (RFC 3501, any case): a listing without one read
        // nothing of the mailbox, and that is never a complete backup.
        if !folders.iter().any(|f| f.eq_ignore_ascii_case("INBOX")) {
            return Err(Outcome::Unknown(format!(
                "{}:{} listed no INBOX, which every mailbox has, so its mail could not be read and nothing is called backed up. \
                 It will be tried again; if it keeps happening, the mail server needs a look.",
                account.host, account.port
            )));
        }

        // A folder the backup holds that the server no longer lists: its messages were deleted with it.
        let listed_names: HashSet<&str> = names.iter().map(|n| n.name()).collect();
        deleted::notice_folders_gone(&self.db, work.mailbox_id, &listed_names).await.map_err(database)?;

        // First what there is to do, so that the progress has a total.
        let mut plan = Vec::new();
        for folder in &folders {
            let selected = reach.step(account, "opening a folder", session.examine(folder)).await?;
            let uid_validity = selected.uid_validity.unwrap_or(0);
            let known: Option<(i64, i64)> =
                sqlx::query_as("SELECT uid_validity, last_uid FROM backup_folders WHERE mailbox_id = $1 AND folder = $2")
                    .bind(work.mailbox_id)
                    .bind(folder)
                    .fetch_optional(&self.db)
                    .await
                    .map_err(database)?;
            // A new UIDVALIDITY means the UIDs were renumbered: read the folder again (the
            // store keeps each content once, so nothing is written twice).
            let after = match known {
                Some((validity, last_uid)) if validity == i64::from(uid_validity) => last_uid.max(0) as u32,
                _ => 0,
            };
            if after > 0 {
                self.notice_deleted(session, account, work.mailbox_id, folder, uid_validity, selected.exists).await?;
            }
            let listed = self.list_known_unreadable(session, account, work.mailbox_id, folder, uid_validity, run).await?;
            // The new messages' UIDs and sizes: chunks are cut by size, and the progress has a
            // total in bytes. (`n:*` always names the last message, even below n.)
            let mut new: Vec<(u32, u32)> = Vec::new();
            if selected.exists > 0 {
                let what = "listing the new messages";
                let sizes = reach.step(account, what, session.uid_fetch(format!("{}:*", after + 1), "RFC822.SIZE")).await?;
                let add = |message: async_imap::types::Fetch| new.extend(message.uid.zip(message.size));
                reach.each(account, what, &meter, client::DEFAULT_ANSWER, sizes, add).await?;
            }
            new.retain(|(uid, _)| *uid > after && !listed.contains(uid));
            new.sort_unstable();
            let too_large: Vec<u32> =
                new.iter().filter(|(_, size)| u64::from(*size) > reach.max_message).map(|(uid, _)| *uid).collect();
            if !too_large.is_empty() {
                new.retain(|(_, size)| u64::from(*size) <= reach.max_message);
                self.list_too_large(work.mailbox_id, folder, uid_validity, &too_large, run).await?;
            }
            run.items_total += new.len() as u64;
            *run.bytes_total.get_or_insert(0) += new.iter().map(|(_, size)| u64::from(*size)).sum::<u64>();
            plan.push(FolderPlan { folder: folder.clone(), uid_validity, new });
        }
        run.report(true).await;

        let mut quota = Quota::load(&self.db, work.organisation_id).await.map_err(database)?;
        let mut saves = Saves::new(Saver::new(self.db.clone(), &self.store).await?);
        let read = self.read_folders(session, account, work, plan, &mut quota, &mut saves, run).await;
        // However the reading ended, the chunks being saved are saved before the run ends.
        let saved = saves.finish(run).await;
        deleted::forget_renumbered(&self.db, work.mailbox_id).await.map_err(database)?;
        run.report(true).await;
        read.and(saved)
    }

    /// Fetches the planned UIDs of each folder chunk by chunk, each chunk saved (in `saves`)
    /// while the next ones are fetched.
    #[allow(clippy::too_many_arguments)]
    async fn read_folders(
        &self,
        session: &mut ImapSession,
        account: &Account,
        work: &Work,
        plan: Vec<FolderPlan>,
        quota: &mut Quota,
        saves: &mut Saves,
        run: &mut Run<'_>,
    ) -> Result<(), Outcome> {
        for FolderPlan { folder, uid_validity, new } in plan {
            if new.is_empty() {
                continue;
            }
            self.reach.step(account, "opening a folder", session.examine(&folder)).await?;
            // Renumbered: what the backup held under the old UIDs is kept, marked gone from
            // those places, until the folder read again holds the same content (below).
            deleted::renumbered(&self.db, work.mailbox_id, &folder, i64::from(uid_validity)).await.map_err(database)?;
            let mut remaining: &[(u32, u32)] = &new;
            while !remaining.is_empty() {
                let taken = &remaining[..chunk_length(remaining)];
                let largest = taken.iter().map(|(_, size)| u64::from(*size)).max().unwrap_or(0);
                let chunk: Vec<u32> = taken.iter().map(|(uid, _)| *uid).collect();
                let chunk = chunk.as_slice();
                let at = Chunk { mailbox_id: work.mailbox_id, folder: folder.clone(), uid_validity, through: None };
                let read = self.fetch_chunk(session, account, (chunk, largest), at, quota, saves, run).await?;
                // The fetch stream ends quietly when the connection drops between two messages:
                // what was asked for and not sent is checked with a NOOP before it is called missing.
                let missing = chunk.iter().any(|uid| !read.answered.contains(uid));
                let alive = read.cut.is_none()
                    && (read.full.is_some()
                        || !missing
                        || self.reach.step(account, "checking the connection", session.noop()).await.is_ok());
                // How far the folder is read: the last UID before which every one asked for came
                // (a server need not answer in order, and a cut leaves gaps).
                let prefix = |stop: Option<u32>| {
                    chunk.iter().take_while(|uid| Some(**uid) != stop && read.answered.contains(uid)).last().copied()
                };
                let through = match read.full {
                    Some(stop) => prefix(Some(stop)),
                    None if alive => {
                        for uid in chunk.iter().filter(|uid| !read.answered.contains(uid)) {
                            run.skip(format!("{folder}, UID {uid}"), "the mail server did not send it (deleted meanwhile?)");
                        }
                        chunk.last().copied()
                    }
                    None => prefix(None),
                };
                saves.make_room(run).await?;
                saves.start(
                    Chunk { mailbox_id: work.mailbox_id, folder: folder.clone(), uid_validity, through },
                    read.raw,
                    read.skipped,
                );
                if read.full.is_some() || !alive {
                    saves.finish(run).await?;
                }
                run.report(false).await;
                if read.full.is_some() {
                    return Err(Outcome::SpaceFull(format!(
                        "The subscription's storage is full ({} used of {}): the backup stopped after {} message(s); what was saved is kept.",
                        human(quota.used),
                        human(quota.limit),
                        run.items_done
                    )));
                }
                if !alive {
                    // Dovecot closes the connection after a message it cannot read: that one is
                    // listed, and the backup signs in again and goes on after it.
                    let (Some(_), None, Some(through)) = (read.unreadable, &read.cut, through) else {
                        return Err(read.cut.unwrap_or_else(|| {
                            Outcome::Connection(format!(
                                "The connection to {}:{} was lost while messages were being read.",
                                account.host, account.port
                            ))
                        }));
                    };
                    *session = client::sign_in(account, &self.reach).await.map_err(Outcome::from)?;
                    self.reach.step(account, "opening a folder", session.examine(&folder)).await?;
                    remaining = &remaining[remaining.iter().take_while(|(uid, _)| *uid <= through).count()..];
                    continue;
                }
                remaining = &remaining[chunk.len()..];
            }
        }
        Ok(())
    }

    /// One UID FETCH of a chunk: each message checked, stored, and counted against the quota.
    /// What arrives is held up to `FETCH_CHUNK_BYTES` actually received (a server may send far
    /// more than it declared): past that, what came so far is handed to `saves` as a chunk of its own.
    #[allow(clippy::too_many_arguments)]
    async fn fetch_chunk(
        &self,
        session: &mut ImapSession,
        account: &Account,
        (chunk, largest): (&[u32], u64),
        at: Chunk,
        quota: &mut Quota,
        saves: &mut Saves,
        run: &mut Run<'_>,
    ) -> Result<ChunkRead, Outcome> {
        let sort = |e| Outcome::from(client::sort(account, e));
        let mut read = ChunkRead::default();
        let mut held = 0_u64;
        let reach = &self.reach;
        // Each message has the room of one; what the server sends beyond ends the connection.
        let meter = session.meter();
        meter.arm(reach.message_answer());
        let fetch = session.uid_fetch(uid_set(chunk), "(UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])");
        let mut stream = reach.step(account, "asking for messages", fetch).await?;
        loop {
            meter.arm(reach.message_answer());
            let message = match tokio::time::timeout(reach.message_deadline(largest), stream.next()).await {
                Err(_) => {
                    read.cut = Some(reach.late(account, "sending a message").into());
                    break;
                }
                Ok(None) => break,
                Ok(Some(Err(error))) => {
                    read.cut = Some(sort(error));
                    break;
                }
                Ok(Some(Ok(message))) => message,
            };
            let Some(uid) = message.uid else { continue };
            read.answered.insert(uid);
            run.items_done += 1;
            let Some(body) = message.body() else {
                read.unreadable = Some(uid);
                read.skipped.push((uid, UNREADABLE));
                continue;
            };
            if !quota.fits(body.len() as i64) {
                read.full = Some(uid);
                run.items_done -= 1;
                break;
            }
            run.bytes_done += body.len() as u64;
            held += body.len() as u64;
            // Checked, hashed and stored by the chunk's save, while the next chunk arrives.
            read.raw.push(RawMessage {
                uid,
                flags: message.flags().map(|f| client::flag_text(&f)).collect::<Vec<_>>().join(" "),
                internal_date: message.internal_date().map(|d| d.timestamp_millis()),
                body: body.to_vec(),
            });
            if held > FETCH_CHUNK_BYTES {
                // Saved through the last UID before which every one asked for has come.
                let through = chunk.iter().take_while(|uid| read.answered.contains(uid)).last().copied();
                saves.make_room(run).await?;
                saves.start(Chunk { through, ..at.clone() }, std::mem::take(&mut read.raw), std::mem::take(&mut read.skipped));
                held = 0;
            }
            run.report(false).await;
        }
        drop(stream);
        meter.arm_default();
        Ok(read)
    }

    /// Lists again the messages of this folder an earlier backup could not take, while the
    /// server still has them; forgets those that are gone.
    async fn list_known_unreadable(
        &self,
        session: &mut ImapSession,
        account: &Account,
        mailbox_id: i64,
        folder: &str,
        uid_validity: u32,
        run: &mut Run<'_>,
    ) -> Result<HashSet<u32>, Outcome> {
        let known: Vec<(i64, i64, String)> =
            sqlx::query_as("SELECT uid_validity, uid, reason FROM backup_unreadable WHERE mailbox_id = $1 AND folder = $2")
                .bind(mailbox_id)
                .bind(folder)
                .fetch_all(&self.db)
                .await
                .map_err(database)?;
        if known.is_empty() {
            return Ok(HashSet::new());
        }
        let current: Vec<u32> =
            known.iter().filter(|(validity, _, _)| *validity == i64::from(uid_validity)).map(|(_, uid, _)| *uid as u32).collect();
        let present: HashSet<u32> = if current.is_empty() {
            HashSet::new()
        } else {
            let mut sorted = current.clone();
            sorted.sort_unstable();
            self.reach.step(account, "looking for messages", session.uid_search(format!("UID {}", uid_set(&sorted)))).await?
        };
        for (validity, uid, reason) in &known {
            if *validity == i64::from(uid_validity) && present.contains(&(*uid as u32)) {
                run.skip(format!("{folder}, UID {uid}"), reason);
            } else {
                sqlx::query(
                    "DELETE FROM backup_unreadable WHERE mailbox_id = $1 AND folder = $2 AND uid_validity = $3 AND uid = $4",
                )
                .bind(mailbox_id)
                .bind(folder)
                .bind(validity)
                .bind(uid)
                .execute(&self.db)
                .await
                .map_err(database)?;
            }
        }
        Ok(present)
    }

    /// Lists the messages over `--max-message-mb` (never fetched: one could hold the memory
    /// of the whole server), and keeps them listed with the known unreadable ones, so every
    /// later backup names them again while the server has them.
    async fn list_too_large(
        &self,
        mailbox_id: i64,
        folder: &str,
        uid_validity: u32,
        uids: &[u32],
        run: &mut Run<'_>,
    ) -> Result<(), Outcome> {
        let reason = format!("larger than {} MB, the most this service takes for one message", self.reach.max_message >> 20);
        for uid in uids {
            remember_unreadable(&self.db, mailbox_id, folder, uid_validity, *uid, &reason).await.map_err(database)?;
            run.skip(format!("{folder}, UID {uid}"), &reason);
        }
        Ok(())
    }

    /// The contents of these messages from the store, each checked, in the same order.
    async fn contents<'m>(
        &self,
        messages: impl IntoIterator<Item = &'m SavedMessage>,
    ) -> Result<Vec<std::io::Result<Vec<u8>>>, Outcome> {
        let mut found: Vec<Option<store::Located>> = messages
            .into_iter()
            .map(|m| match (&m.pack, m.pack_offset) {
                (Some(pack), Some(offset)) => {
                    Some(store::Located { content_hash: m.content_hash.clone(), pack: pack.clone(), offset, size: m.size })
                }
                _ => None,
            })
            .collect();
        let located: Vec<store::Located> = found.iter().flatten().cloned().collect();
        let mut read =
            self.store.read(located).await.map_err(|e| Outcome::internal("reading the backup storage", e))?.into_iter();
        Ok(found
            .iter_mut()
            .map(|place| match place.take() {
                Some(_) => read.next().unwrap_or_else(|| Err(std::io::ErrorKind::NotFound.into())),
                None => Err(std::io::Error::new(std::io::ErrorKind::NotFound, "not in the store")),
            })
            .collect())
    }
}

impl Connector for ImapConnector {
    fn run<'a>(&'a self, work: &'a Work, progress: &'a dyn ProgressSink) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            match work.kind {
                JobKind::Backup => self.backup(work, progress).await,
                JobKind::Restore => self.restore(work, progress).await,
                JobKind::Migrate => self.migrate(work, progress).await,
                JobKind::Download => self.download(work, progress).await,
            }
        })
    }
}

fn database(error: sqlx::Error) -> Outcome {
    Outcome::internal("recording the backup", error)
}

/// How many of these messages (UID, size) the next chunk takes: at most `FETCH_CHUNK`, and
/// `FETCH_CHUNK_BYTES` unless a single message is larger.
fn chunk_length(messages: &[(u32, u32)]) -> usize {
    let mut bytes = 0;
    let fitting = messages
        .iter()
        .take(FETCH_CHUNK)
        .take_while(|(_, size)| {
            bytes += u64::from(*size);
            bytes <= FETCH_CHUNK_BYTES
        })
        .count();
    fitting.max(1).min(messages.len())
}

fn human(bytes: i64) -> String {
    let mb = bytes.max(0) as f64 / 1_000_000.0;
    if mb >= 1000.0 {
        format!("{:.1} GB", mb / 1000.0)
    } else {
        format!("{mb:.1} MB")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_cut_by_count_and_size() {
        let small: Vec<(u32, u32)> = (1..=1200).map(|uid| (uid, 4_000)).collect();
        assert_eq!(chunk_length(&small), FETCH_CHUNK);
        assert_eq!(chunk_length(&small[1000..]), 200);
        let large: Vec<(u32, u32)> = (1..=10).map(|uid| (uid, 10 << 20)).collect();
        assert_eq!(chunk_length(&large), 3);
        // A message larger than a chunk goes alone.
        assert_eq!(chunk_length(&[(1, 64 << 20), (2, 10)]), 1);
    }
}
