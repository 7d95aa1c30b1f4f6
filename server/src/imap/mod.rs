//! The `imap` connector: real mailboxes over IMAP. A backup reads every folder incrementally
//! (UIDVALIDITY + last UID per folder) into the object store; a restore or migration APPENDs
//! from it with flags and dates kept; a download is built from it. Every status the portal
//! shows for these mailboxes is the result of that work.

pub mod check;
pub mod client;
pub mod command;
mod download;
pub mod guard;
mod restore;
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

/// Each message checked (a message without a single header is no email: mail-parser
/// accepts nearly anything), and hashed: what to store, what to record, what was skipped.
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

const UNREADABLE: &str = "the mail server could not read it";
const NOT_AN_EMAIL: &str = "it could not be read as an email (no headers)";

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
    pub fn new(db: Db, secrets: SecretBox, data_dir: PathBuf, reach: Reach) -> ImapConnector {
        let store = ObjectStore::new(&data_dir);
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
        let mut saves = Saves::new(Saver::new(self.db.clone(), &self.store)?);
        let read = self.read_folders(session, account, work, plan, &mut quota, &mut saves, run).await;
        // However the reading ended, the chunks being saved are saved before the run ends.
        let saved = saves.finish(run).await;
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
            sqlx::query("DELETE FROM backup_messages WHERE mailbox_id = $1 AND folder = $2 AND uid_validity <> $3")
                .bind(work.mailbox_id)
                .bind(&folder)
                .bind(i64::from(uid_validity))
                .execute(&self.db)
                .await
                .map_err(database)?;
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

/// Saves the chunks of a backup run: their contents into the run's pack, their records into
/// the database. Cloned into a task per chunk, so that the next chunks are fetched meanwhile;
/// chunks are checked side by side and recorded one after the other.
#[derive(Clone)]
struct Saver {
    db: Db,
    backend: Backend,
    pack: std::sync::Arc<std::sync::Mutex<store::PackWriter>>,
}

/// Which folder a chunk is of, and the last UID it covers (how far the folder has been read).
#[derive(Clone)]
struct Chunk {
    mailbox_id: i64,
    folder: String,
    uid_validity: u32,
    through: Option<u32>,
}

impl Saver {
    fn new(db: Db, store: &ObjectStore) -> Result<Saver, Outcome> {
        let pack = store.pack_writer().map_err(|e| Outcome::storage("opening the backup storage", e))?;
        Ok(Saver { backend: Backend::of(&db), db, pack: std::sync::Arc::new(std::sync::Mutex::new(pack)) })
    }

    /// Checks and hashes a chunk, then stores it once the chunk before it (`after`) is
    /// stored; says whether it was (`done`). Returns what it skipped (`item`, `why`).
    async fn save(
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

    async fn save_after(
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
    async fn write_contents(&self, contents: Vec<(String, Vec<u8>)>) -> Result<Vec<store::Located>, Outcome> {
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
    async fn save_chunk(
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
struct Saves {
    saver: Saver,
    under_way: std::collections::VecDeque<Saving>,
    last_done: Option<tokio::sync::oneshot::Receiver<bool>>,
}

impl Saves {
    fn new(saver: Saver) -> Saves {
        Saves { saver, under_way: Default::default(), last_done: None }
    }

    fn start(&mut self, chunk: Chunk, raw: Vec<RawMessage>, unreadable: Vec<(u32, &'static str)>) {
        let (done, next_after) = tokio::sync::oneshot::channel();
        let after = self.last_done.replace(next_after);
        self.under_way.push_back(tokio::spawn(self.saver.clone().save(chunk, raw, unreadable, after, done)));
    }

    /// Waits until another save may start.
    async fn make_room(&mut self, run: &mut Run<'_>) -> Result<(), Outcome> {
        while self.under_way.len() >= SAVES_IN_FLIGHT {
            self.settle_oldest(run).await?;
        }
        Ok(())
    }

    /// Waits for every save under way (none is left running behind the run); the first
    /// failure is why the run ends.
    async fn finish(&mut self, run: &mut Run<'_>) -> Result<(), Outcome> {
        let mut first = Ok(());
        while !self.under_way.is_empty() {
            let settled = self.settle_oldest(run).await;
            first = first.and(settled);
        }
        first
    }

    /// Waits for the oldest save and lists what it skipped; its failure ends the run.
    async fn settle_oldest(&mut self, run: &mut Run<'_>) -> Result<(), Outcome> {
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

/// How far a run has got, stored now and then so the portal's progress bar moves.
struct Run<'a> {
    sink: &'a dyn ProgressSink,
    job_id: &'a str,
    items_done: u64,
    items_total: u64,
    bytes_done: u64,
    bytes_total: Option<u64>,
    skipped: Vec<String>,
    last_report: Instant,
}

impl<'a> Run<'a> {
    fn new(sink: &'a dyn ProgressSink, job_id: &'a str) -> Run<'a> {
        Run {
            sink,
            job_id,
            items_done: 0,
            items_total: 0,
            bytes_done: 0,
            bytes_total: None,
            skipped: Vec::new(),
            last_report: Instant::now(),
        }
    }

    fn skip(&mut self, item: String, reason: &str) {
        self.skipped.push(format!("{item}: {reason}"));
    }

    /// A message whose backup copy could not be read: the error to the log, not to the list.
    fn unreadable(&mut self, item: String, error: &std::io::Error) {
        tracing::warn!(job = self.job_id, item, %error, "a backup copy could not be read");
        self.skip(item, "the backup copy could not be read");
    }

    async fn report(&mut self, now: bool) {
        if !now && self.last_report.elapsed().as_millis() < PROGRESS_EVERY_MS {
            return;
        }
        self.last_report = Instant::now();
        self.sink
            .report(Progress {
                items_done: self.items_done,
                items_total: Some(self.items_total),
                bytes_done: self.bytes_done,
                bytes_total: self.bytes_total,
            })
            .await;
    }

    fn outcome(&self) -> Outcome {
        if self.skipped.is_empty() {
            Outcome::Completed
        } else {
            Outcome::Partial { skipped: self.skipped.clone() }
        }
    }
}

/// The subscription's storage: what the organisation's mailboxes use and may use (0: no limit).
struct Quota {
    used: i64,
    limit: i64,
}

impl Quota {
    async fn load(db: &Db, organisation_id: i64) -> Result<Quota, sqlx::Error> {
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
    fn fits(&mut self, size: i64) -> bool {
        if self.limit > 0 && self.used + size > self.limit {
            return false;
        }
        self.used += size;
        true
    }
}

/// A message the backup could not take, named again by every later backup while the server has it.
async fn remember_unreadable<'e, E>(
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
