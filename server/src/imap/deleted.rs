//! Messages deleted from the mailbox: each backup compares the UIDs a folder has at the mail
//! server with those its backup holds, and marks the ones gone "deleted from the mailbox" (at
//! the time it noticed). The backup keeps them: they are what a person most often wants back.

use std::collections::HashSet;

use super::client::{Account, ImapSession};
use super::command::uid_set;
use super::{database, ImapConnector};
use crate::connector::Outcome;
use crate::db::{now_ms, Db};

/// UIDs an UPDATE names at a time.
const BATCH: usize = 500;

impl ImapConnector {
    /// Marks the messages of this folder (this UIDVALIDITY) that the server no longer has.
    pub(super) async fn notice_deleted(
        &self,
        session: &mut ImapSession,
        account: &Account,
        mailbox_id: i64,
        folder: &str,
        uid_validity: u32,
        exists: u32,
    ) -> Result<(), Outcome> {
        let held: Vec<(i64,)> = sqlx::query_as(
            "SELECT uid FROM backup_messages WHERE mailbox_id = $1 AND folder = $2 AND uid_validity = $3 AND deleted_at IS NULL",
        )
        .bind(mailbox_id)
        .bind(folder)
        .bind(i64::from(uid_validity))
        .fetch_all(&self.db)
        .await
        .map_err(database)?;
        if held.is_empty() {
            return Ok(());
        }
        let present: HashSet<u32> = if exists == 0 {
            HashSet::new()
        } else {
            // Only the UIDs the backup holds are asked about: the answer is bounded by them.
            let mut asked: Vec<u32> = held.iter().map(|(uid,)| *uid as u32).collect();
            asked.sort_unstable();
            let mut present = HashSet::new();
            for part in asked.chunks(5000) {
                let found = self
                    .reach
                    .step(account, "looking for deleted messages", session.uid_search(format!("UID {}", uid_set(part))))
                    .await?;
                present.extend(found);
            }
            present
        };
        let gone: Vec<i64> = held.into_iter().map(|(uid,)| uid).filter(|uid| !present.contains(&(*uid as u32))).collect();
        mark(&self.db, mailbox_id, folder, i64::from(uid_validity), &gone).await.map_err(database)
    }
}

/// Marks these messages of a folder deleted from the mailbox, now.
async fn mark(db: &Db, mailbox_id: i64, folder: &str, uid_validity: i64, uids: &[i64]) -> Result<(), sqlx::Error> {
    let now = now_ms();
    for batch in uids.chunks(BATCH) {
        let sql = format!(
            "UPDATE backup_messages SET deleted_at = $1 WHERE mailbox_id = $2 AND folder = $3 AND uid_validity = $4 \
             AND deleted_at IS NULL AND uid IN ({})",
            crate::db::numbered(4, batch.len())
        );
        // The index keeps the same mark (a search reads it alone); both in one transaction.
        let mut tx = db.begin().await?;
        for table in ["backup_messages", "message_search"] {
            let sql = sql.replacen("backup_messages", table, 1);
            let mut query = sqlx::query(&sql).bind(now).bind(mailbox_id).bind(folder).bind(uid_validity);
            for uid in batch {
                query = query.bind(uid);
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
    }
    if !uids.is_empty() {
        tracing::info!(mailbox_id, count = uids.len(), "a backup found messages deleted from the mailbox");
    }
    Ok(())
}

/// Marks every message of the folders the backup holds that the server no longer lists.
pub(super) async fn notice_folders_gone(db: &Db, mailbox_id: i64, listed: &HashSet<&str>) -> Result<(), sqlx::Error> {
    let held: Vec<(String,)> =
        sqlx::query_as("SELECT DISTINCT folder FROM backup_messages WHERE mailbox_id = $1 AND deleted_at IS NULL")
            .bind(mailbox_id)
            .fetch_all(db)
            .await?;
    for (folder,) in held.into_iter().filter(|(folder,)| !listed.contains(folder.as_str())) {
        let now = now_ms();
        let mut tx = db.begin().await?;
        for table in ["backup_messages", "message_search"] {
            sqlx::query(&format!(
                "UPDATE {table} SET deleted_at = $1 WHERE mailbox_id = $2 AND folder = $3 AND deleted_at IS NULL"
            ))
            .bind(now)
            .bind(mailbox_id)
            .bind(&folder)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        tracing::info!(mailbox_id, "a backup found a folder deleted from the mailbox");
    }
    Ok(())
}

/// A folder's UIDVALIDITY changed (the server renumbered it): the messages the backup holds
/// under the old numbers are marked gone from those places, in the backup and the index at
/// once. They are kept: retention and legal hold decide, as for any deleted message.
pub(super) async fn renumbered(db: &Db, mailbox_id: i64, folder: &str, uid_validity: i64) -> Result<(), sqlx::Error> {
    let now = now_ms();
    let mut tx = db.begin().await?;
    for table in ["backup_messages", "message_search"] {
        sqlx::query(&format!(
            "UPDATE {table} SET deleted_at = $1 WHERE mailbox_id = $2 AND folder = $3 AND uid_validity <> $4 AND deleted_at IS NULL"
        ))
        .bind(now)
        .bind(mailbox_id)
        .bind(folder)
        .bind(uid_validity)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}

/// Forgets the messages held under a folder's old UIDVALIDITY whose content the folder, read
/// again, holds under its new numbers: the same message, not a deleted one. Its content stays
/// (the new row points at it); the storage used is counted again.
pub(super) async fn forget_renumbered(db: &Db, mailbox_id: i64) -> Result<(), sqlx::Error> {
    const SAME: &str =
        "FROM backup_messages old JOIN backup_folders f ON f.mailbox_id = old.mailbox_id AND f.folder = old.folder \
         WHERE old.mailbox_id = $1 AND old.uid_validity <> f.uid_validity AND EXISTS (SELECT 1 FROM backup_messages new \
         WHERE new.mailbox_id = old.mailbox_id AND new.folder = old.folder AND new.uid_validity = f.uid_validity \
         AND new.content_hash = old.content_hash)";
    let same: Vec<(String, i64, i64)> =
        sqlx::query_as(&format!("SELECT old.folder, old.uid_validity, old.uid {SAME}")).bind(mailbox_id).fetch_all(db).await?;
    if same.is_empty() {
        return Ok(());
    }
    let mut tx = db.begin().await?;
    for batch in same.chunks(100) {
        let keys: Vec<String> = (0..batch.len()).map(|i| format!("(${}, ${}, ${})", 3 * i + 2, 3 * i + 3, 3 * i + 4)).collect();
        for table in ["message_search", "backup_messages"] {
            let sql =
                format!("DELETE FROM {table} WHERE mailbox_id = $1 AND (folder, uid_validity, uid) IN ({})", keys.join(", "));
            let mut query = sqlx::query(&sql).bind(mailbox_id);
            for (folder, uid_validity, uid) in batch {
                query = query.bind(folder).bind(uid_validity).bind(uid);
            }
            query.execute(&mut *tx).await?;
        }
    }
    sqlx::query("UPDATE mailboxes SET storage_used_bytes = (SELECT COALESCE(SUM(size), 0) FROM backup_messages WHERE mailbox_id = $1) WHERE id = $1")
        .bind(mailbox_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}
