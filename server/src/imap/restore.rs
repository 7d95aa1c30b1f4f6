//! Restores and migrations: the backup's messages APPENDed into the destination mailbox with
//! their flags and dates. Each message copied is recorded with the job (`job_copies`), so a
//! run cut short (the mail server restarted, this instance stopped) goes on where it was: a
//! message is marked as being sent just before its APPEND and confirmed, in the same write
//! as the next one's mark, once answered. At most one message is in doubt after a cut; it is
//! looked for at the destination before it is sent again.

use std::collections::{BTreeMap, HashMap, HashSet};

use portal_api::{JobKind, OnConflict};

use super::client::{self, Account, Failure, ImapSession};
use super::command::{self, imap_date};
use super::{ImapConnector, Run, SavedMessage, READ_BATCH};
use crate::connector::{Outcome, ProgressSink, Work};

/// A message of the backup to copy, with its place in the backup (how its copy is recorded).
#[derive(sqlx::FromRow)]
struct ToCopy {
    #[sqlx(flatten)]
    message: SavedMessage,
    uid_validity: i64,
    uid: i64,
}

type Key = (String, i64, i64);

impl ToCopy {
    fn key(&self) -> Key {
        (self.message.folder.clone(), self.uid_validity, self.uid)
    }
}

/// Why a chosen message was not copied: it left the backup after it was chosen.
pub(super) const GONE: &str = "no longer in the backup (retention removed it after it was chosen)";

/// Bytes of message contents read from the store at a time (and at most `READ_BATCH` messages).
const BATCH_BYTES: i64 = 8 << 20;

impl ImapConnector {
    /// Restore (the folders asked for, or all) or migrate (all) from the backup into the
    /// destination mailbox, APPENDing each message with its flags and date.
    pub(super) async fn restore(&self, work: &Work, progress: &dyn ProgressSink) -> Outcome {
        let params = &work.params;
        let destination_email = params.destination.clone().unwrap_or_else(|| work.mailbox_email.clone());
        let folders = params.wanted_folders();
        let keep_both = work.kind == JobKind::Restore && params.on_conflict() == OnConflict::KeepBoth;

        let destination: Option<(i64,)> = match sqlx::query_as(
            "SELECT m.id FROM mailboxes m JOIN imap_accounts a ON a.mailbox_id = m.id WHERE m.email = $1 AND m.organisation_id = $2",
        )
        .bind(&destination_email)
        .bind(work.organisation_id)
        .fetch_optional(&self.db)
        .await
        {
            Ok(found) => found,
            Err(error) => return Outcome::internal("looking up the destination mailbox", error),
        };
        let Some((destination_id,)) = destination else {
            return Outcome::Failed(format!(
                "{destination_email} is not an IMAP mailbox of this organisation; add it under Account Settings › Mailboxes."
            ));
        };
        let mut account = match self.account(destination_id, work.organisation_id).await {
            Ok(account) => account,
            Err(outcome) => return outcome,
        };
        // A password given with Edit for this job replaces the saved one.
        if let Some(password) = &work.destination_password {
            account.password = password.clone();
        }
        let (messages, copied) = match self.to_copy(work, folders).await {
            Ok(found) => found,
            Err(error) => return Outcome::internal("reading the backup", error),
        };
        // Messages chosen in a search that retention removed since: named, never silently left out.
        let found: HashSet<(&str, i64, i64)> =
            messages.iter().map(|m| (m.message.folder.as_str(), m.uid_validity, m.uid)).collect();
        let gone: Vec<String> = params
            .messages
            .iter()
            .filter(|k| !found.contains(&(k.folder.as_str(), k.uid_validity, k.uid)))
            .map(|k| format!("{}, UID {}", command::shown(&k.folder), k.uid))
            .collect();
        drop(found);
        if messages.is_empty() {
            return Outcome::Failed(match params.messages.is_empty() {
                true => format!("There is nothing in the backup of {} to copy yet.", work.mailbox_email),
                false => {
                    format!("The chosen messages are no longer in the backup of {} (retention removed them).", work.mailbox_email)
                }
            });
        }
        let mut session = match client::sign_in(&account, &self.reach).await {
            Ok(session) => session,
            Err(failure) => return failure.into(),
        };
        let mut run = Run::new(progress, &work.job_id);
        gone.iter().for_each(|item| run.skip(item.clone(), GONE));
        run.items_total = messages.len() as u64;
        run.bytes_total = Some(messages.iter().map(|m| m.message.size.max(0) as u64).sum());
        // Into the mailbox it came from, the original of a copy in doubt is there anyway.
        let into_source = destination_id == work.mailbox_id;
        let into_folder = params.into_folder.as_deref();
        let copy =
            Copy { session: &mut session, account: &account, job_id: &work.job_id, keep_both, into_source, copied, into_folder };
        let outcome = match self.append_all(copy, messages, &mut run).await {
            Ok(()) => run.outcome(),
            Err(outcome) => outcome,
        };
        client::sign_out(session, &self.reach).await;
        outcome
    }

    /// The backup's messages (of these folders, or all) in their folders' order, and what this
    /// job copied already: `true` confirmed, `false` sent when the run was cut (in doubt).
    async fn to_copy(&self, work: &Work, folders: Option<&[String]>) -> Result<(Vec<ToCopy>, HashMap<Key, bool>), sqlx::Error> {
        let messages: Vec<ToCopy> = sqlx::query_as(
            "SELECT bm.folder, bm.content_hash, o.pack, o.pack_offset, bm.size, bm.flags, bm.internal_date, bm.message_id, \
                    bm.uid_validity, bm.uid \
             FROM backup_messages bm LEFT JOIN objects o ON o.content_hash = bm.content_hash \
             WHERE bm.mailbox_id = $1 ORDER BY bm.folder, bm.uid_validity, bm.uid",
        )
        .bind(work.mailbox_id)
        .fetch_all(&self.db)
        .await?;
        // Messages chosen in a search, else the folders asked for, else all.
        let chosen: HashSet<(&str, i64, i64)> =
            work.params.messages.iter().map(|k| (k.folder.as_str(), k.uid_validity, k.uid)).collect();
        let messages = messages
            .into_iter()
            .filter(|m| match chosen.is_empty() {
                false => chosen.contains(&(m.message.folder.as_str(), m.uid_validity, m.uid)),
                true => folders.is_none_or(|wanted| wanted.contains(&m.message.folder)),
            })
            .collect();
        let copied: Vec<(String, i64, i64, i32)> =
            sqlx::query_as("SELECT folder, uid_validity, uid, confirmed FROM job_copies WHERE job_id = $1")
                .bind(&work.job_id)
                .fetch_all(&self.db)
                .await?;
        Ok((
            messages,
            copied.into_iter().map(|(folder, validity, uid, confirmed)| ((folder, validity, uid), confirmed == 1)).collect(),
        ))
    }

    async fn append_all(&self, mut copy: Copy<'_>, messages: Vec<ToCopy>, run: &mut Run<'_>) -> Result<(), Outcome> {
        let mut by_folder: BTreeMap<String, Vec<ToCopy>> = BTreeMap::new();
        for message in messages {
            // Into the one folder asked for ("Restored 2026-12-01"), else the one it was in.
            let folder = copy.into_folder.map_or_else(|| message.message.folder.clone(), str::to_owned);
            by_folder.entry(folder).or_default().push(message);
        }
        let account = copy.account;
        for (folder, messages) in by_folder {
            if let Err(error) = command::quoted(&folder) {
                // Never sent: as a command line it could carry commands of its own.
                run.items_done += messages.len() as u64;
                run.bytes_done += messages.iter().map(|m| m.message.size.max(0) as u64).sum::<u64>();
                messages.iter().for_each(|m| run.skip(m.message.name(), &command::refusal(&error)));
                continue;
            }
            // Copied by an earlier run of this job: counted, not sent again.
            let (done, messages): (Vec<ToCopy>, Vec<ToCopy>) =
                messages.into_iter().partition(|m| copy.copied.get(&m.key()) == Some(&true));
            for message in &done {
                run.items_done += 1;
                run.bytes_done += message.message.size.max(0) as u64;
            }
            if messages.is_empty() {
                continue;
            }
            // A folder that exists already answers NO, which is fine; silence is not.
            if let Err(Failure::Connection(text)) =
                self.reach.step(account, "creating a folder", copy.session.create(&folder)).await
            {
                return Err(Outcome::Connection(text));
            }
            // A copy in doubt (its APPEND was under way when the run was cut) can be told by its
            // Message-ID and size, unless its original is in the same mailbox.
            let in_doubt = messages.iter().any(|m| copy.copied.get(&m.key()) == Some(&false));
            let present = if copy.keep_both && !(in_doubt && !copy.into_source) {
                HashSet::new()
            } else {
                self.present_messages(&mut copy, &folder).await?
            };
            // Already there: skipped on conflict, and a copy in doubt that arrived is not sent again.
            let (there, to_copy): (Vec<ToCopy>, Vec<ToCopy>) = messages.into_iter().partition(|m| {
                let there = m.message.message_id.as_ref().is_some_and(|id| present.contains(&(id.clone(), m.message.size)));
                there && (!copy.keep_both || copy.copied.get(&m.key()) == Some(&false))
            });
            for message in &there {
                run.items_done += 1;
                run.bytes_done += message.message.size.max(0) as u64;
            }
            let mut rest = &to_copy[..];
            while !rest.is_empty() {
                let mut bytes = 0;
                let take = rest
                    .iter()
                    .take(READ_BATCH)
                    .take_while(|m| {
                        bytes += m.message.size.max(0);
                        bytes <= BATCH_BYTES
                    })
                    .count()
                    .max(1);
                let (batch, next) = rest.split_at(take);
                rest = next;
                self.copy_batch(&mut copy, &folder, batch, run).await?;
            }
        }
        run.report(true).await;
        Ok(())
    }

    /// APPENDs one batch, each message marked as being sent just before, and confirmed (with
    /// the next one's mark) once answered.
    async fn copy_batch(&self, copy: &mut Copy<'_>, folder: &str, batch: &[ToCopy], run: &mut Run<'_>) -> Result<(), Outcome> {
        let contents = self.contents(batch.iter().map(|m| &m.message)).await?;
        let mut answered: Option<Key> = None;
        let mut result = Ok(());
        for (message, bytes) in batch.iter().zip(contents) {
            run.items_done += 1;
            run.bytes_done += message.message.size.max(0) as u64;
            let bytes = match bytes {
                Ok(bytes) => bytes,
                Err(error) => {
                    run.unreadable(message.message.name(), &error);
                    continue;
                }
            };
            self.record(copy.job_id, answered.take(), Some(message.key())).await?;
            let flags: Vec<String> = message.message.flags.split_whitespace().map(str::to_owned).collect();
            let date = message.message.internal_date.and_then(imap_date);
            match client::append(copy.session, self.reach.timeout, folder, &flags, date.as_deref(), &bytes).await {
                Ok(()) => {
                    answered = Some(message.key());
                    // At the destination, and not yet confirmed in the job's record.
                    crate::failpoint::hit("restore.between-appends");
                }
                Err(error) => match client::sort(copy.account, error) {
                    Failure::Other(text) => run.skip(message.message.name(), &text),
                    Failure::Quota(text) => {
                        result = Err(Outcome::SpaceFull(format!(
                            "The destination mailbox is full after {} message(s): {text}",
                            run.items_done - 1
                        )));
                        break;
                    }
                    failure => {
                        result = Err(failure.into());
                        break;
                    }
                },
            }
            run.report(false).await;
        }
        // What was answered is confirmed even when the run ends here.
        self.record(copy.job_id, answered, None).await?;
        result
    }

    /// In one write: `answered` confirmed, `sending` marked as under way.
    async fn record(&self, job_id: &str, answered: Option<Key>, sending: Option<Key>) -> Result<(), Outcome> {
        if answered.is_none() && sending.is_none() {
            return Ok(());
        }
        let failed = |e| Outcome::internal("recording the copy", e);
        let mut tx = self.db.begin().await.map_err(failed)?;
        if let Some((folder, validity, uid)) = &answered {
            sqlx::query(
                "UPDATE job_copies SET confirmed = 1 WHERE job_id = $1 AND folder = $2 AND uid_validity = $3 AND uid = $4",
            )
            .bind(job_id)
            .bind(folder)
            .bind(validity)
            .bind(uid)
            .execute(&mut *tx)
            .await
            .map_err(failed)?;
        }
        if let Some((folder, validity, uid)) = &sending {
            sqlx::query(
                "INSERT INTO job_copies (job_id, folder, uid_validity, uid, confirmed) VALUES ($1, $2, $3, $4, 0) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(job_id)
            .bind(folder)
            .bind(validity)
            .bind(uid)
            .execute(&mut *tx)
            .await
            .map_err(failed)?;
        }
        tx.commit().await.map_err(failed)
    }

    /// What the destination folder holds already (Message-ID and size), read one answer at a
    /// time: a folder's headers may be far larger than any one answer.
    async fn present_messages(&self, copy: &mut Copy<'_>, folder: &str) -> Result<HashSet<(String, i64)>, Outcome> {
        let (reach, account) = (&self.reach, copy.account);
        let what = "reading the folder's messages";
        let selected = reach.step(account, "opening a folder", copy.session.select(folder)).await?;
        let mut present = HashSet::new();
        if selected.exists == 0 {
            return Ok(present);
        }
        let meter = copy.session.meter();
        let headers = reach.step(account, what, copy.session.uid_fetch("1:*", "(UID RFC822.SIZE BODY.PEEK[HEADER])")).await?;
        let add = |message: async_imap::types::Fetch| {
            let header = message.header().unwrap_or_default();
            if let (Some(size), Some(parsed)) = (message.size, mail_parser::MessageParser::default().parse_headers(header)) {
                if let Some(id) = parsed.message_id() {
                    present.insert((id.to_owned(), i64::from(size)));
                }
            }
        };
        reach.each(account, what, &meter, client::DEFAULT_ANSWER, headers, add).await?;
        Ok(present)
    }

    /// A migration: the source is backed up first (only what is new), then copied.
    pub(super) async fn migrate(&self, work: &Work, progress: &dyn ProgressSink) -> Outcome {
        let mut skipped = match self.backup(work, progress).await {
            Outcome::Completed => Vec::new(),
            Outcome::Partial { skipped } => skipped,
            other => return other,
        };
        // What the source could not give is missing at the destination too: say so.
        match self.restore(work, progress).await {
            Outcome::Completed if skipped.is_empty() => Outcome::Completed,
            Outcome::Completed => Outcome::Partial { skipped },
            Outcome::Partial { skipped: more } => {
                skipped.extend(more);
                Outcome::Partial { skipped }
            }
            other => other,
        }
    }
}

/// One run's copying into the destination.
struct Copy<'a> {
    session: &'a mut ImapSession,
    account: &'a Account,
    job_id: &'a str,
    keep_both: bool,
    /// Restoring into the mailbox the backup is of.
    into_source: bool,
    /// What earlier runs of the job copied: confirmed, or in doubt.
    copied: HashMap<Key, bool>,
    /// The one folder every message goes into, when one was asked for.
    into_folder: Option<&'a str>,
}
