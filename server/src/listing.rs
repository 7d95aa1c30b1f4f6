//! What the list endpoints share: text search as a LIKE pattern, paging, validated, the
//! columns of a job's current run (Backups and the jobs lists), and the folders of a backup
//! (the forms' choices, and what a new restore or download may name). Below the handlers: both
//! `backups` and `jobs` import it, neither imports the other.

use portal_api::page::{DEFAULT_PER_PAGE, MAX_PER_PAGE};
use portal_api::{FieldError, JobKind, JobRun, JobStatus, StatusCount};
use serde::Deserialize;

use crate::db::{now_ms, rfc3339, Db};

/// Lower-cased search text and its `LIKE ... ESCAPE '\'` pattern (`%` and `_` match themselves).
pub fn search(q: Option<&str>) -> (String, String) {
    let text = q.unwrap_or("").trim().to_lowercase();
    let escaped = text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    (format!("%{escaped}%"), text)
}

/// Page number and size, or what is wrong with them (added to `errors`).
pub fn paging(page: Option<u32>, per_page: Option<u32>, errors: &mut Vec<FieldError>) -> (u32, u32) {
    let page = page.unwrap_or(1);
    if page == 0 {
        errors.push(FieldError::new("page", "Pages are numbered from 1."));
    }
    let per_page = per_page.unwrap_or(DEFAULT_PER_PAGE);
    if per_page == 0 || per_page > MAX_PER_PAGE {
        errors.push(FieldError::new("per_page", format!("Ask for 1 to {MAX_PER_PAGE} rows per page.")));
    }
    (page.max(1), per_page.clamp(1, MAX_PER_PAGE))
}

/// Totals of recent list queries, reused for a moment: paging through a list (or many people
/// looking at the same one) does not count the same rows again and again. A total older than
/// `COUNT_TTL` is still answered at once while one background count refreshes it, so a busy
/// list never waits for a count (live updates bring the fresh total a moment later).
#[derive(Default)]
pub struct CountCache(std::sync::Mutex<std::collections::HashMap<String, CountEntry>>);

pub struct CountEntry {
    at: std::time::Instant,
    total: i64,
    refreshing: bool,
}

pub const COUNT_TTL: std::time::Duration = std::time::Duration::from_secs(10);
/// Totals kept at most.
const COUNT_ENTRIES: usize = 1000;

impl CountCache {
    pub async fn get_or_count<F, Fut>(self: &std::sync::Arc<Self>, key: String, count: F) -> Result<i64, sqlx::Error>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<i64, sqlx::Error>> + Send + 'static,
    {
        let now = std::time::Instant::now();
        {
            let mut entries = self.0.lock().expect("count cache lock");
            if let Some(entry) = entries.get_mut(&key) {
                if now.duration_since(entry.at) >= COUNT_TTL && !entry.refreshing {
                    entry.refreshing = true;
                    let (cache, key) = (self.clone(), key.clone());
                    tokio::spawn(async move {
                        let fresh = count().await;
                        let mut entries = cache.0.lock().expect("count cache lock");
                        if let Some(entry) = entries.get_mut(&key) {
                            entry.refreshing = false;
                            if let Ok(total) = fresh {
                                (entry.at, entry.total) = (std::time::Instant::now(), total);
                            }
                        }
                    });
                }
                return Ok(entry.total);
            }
        }
        let total = count().await?;
        let mut entries = self.0.lock().expect("count cache lock");
        // One entry per recent filter; forgotten after a minute unused, and never more than
        // COUNT_ENTRIES whatever the search texts (the least recently counted go first).
        if entries.len() >= COUNT_ENTRIES {
            entries.retain(|_, entry| now.duration_since(entry.at) < std::time::Duration::from_secs(60));
        }
        if entries.len() >= COUNT_ENTRIES {
            let mut ages: Vec<std::time::Instant> = entries.values().map(|entry| entry.at).collect();
            ages.sort_unstable();
            let cut = ages[ages.len() / 2];
            entries.retain(|_, entry| entry.at > cut);
        }
        entries.insert(key, CountEntry { at: now, total, refreshing: false });
        Ok(total)
    }
}

/// The columns of a job's current run, as both lists select them (nullable: the Backups
/// list joins its jobs with LEFT JOIN).
#[derive(sqlx::FromRow, Deserialize)]
pub(crate) struct RunColumns {
    started_at: Option<i64>,
    items_done: Option<i64>,
    items_total: Option<i64>,
    bytes_done: Option<i64>,
    bytes_total: Option<i64>,
    retries: Option<i32>,
    next_run_at: Option<i64>,
    detail: Option<String>,
    lease_until: Option<i64>,
}

impl RunColumns {
    pub(crate) fn into_run(self, status: JobStatus, max_retries: u32, queue_position: Option<u64>) -> JobRun {
        let count = |v: Option<i64>| v.unwrap_or(0).max(0) as u64;
        // Running, but its claim lapsed: the instance that ran it stopped (a worker takes it over).
        let interrupted_at = self.lease_until.filter(|until| status == JobStatus::InProgress && *until < now_ms()).map(rfc3339);
        JobRun {
            started_at: self.started_at.map(rfc3339),
            items_done: count(self.items_done),
            items_total: self.items_total.map(|v| v.max(0) as u64),
            bytes_done: count(self.bytes_done),
            bytes_total: self.bytes_total.map(|v| v.max(0) as u64),
            retries: self.retries.unwrap_or(0).max(0) as u32,
            max_retries,
            next_run_at: self.next_run_at.map(rfc3339),
            queue_position,
            detail: self.detail,
            interrupted_at,
        }
    }
}

/// A real mailbox's backup has the folders it read; the demo ones have the demo folders.
pub(crate) async fn folders_in_backup(db: &crate::db::Db, mailbox_id: i64) -> Result<Vec<String>, sqlx::Error> {
    let (connector,): (String,) =
        sqlx::query_as("SELECT connector FROM mailboxes WHERE id = $1").bind(mailbox_id).fetch_one(db).await?;
    if connector.parse::<portal_api::Connector>().map_err(|error| sqlx::Error::Decode(Box::new(error)))?
        != portal_api::Connector::Imap
    {
        return Ok(portal_api::jobs::FOLDERS.iter().map(|f| (*f).to_owned()).collect());
    }
    let folders: Vec<(String,)> =
        sqlx::query_as("SELECT DISTINCT folder FROM backup_messages WHERE mailbox_id = $1 ORDER BY folder")
            .bind(mailbox_id)
            .fetch_all(db)
            .await?;
    Ok(folders.into_iter().map(|(folder,)| folder).collect())
}

/// The mailboxes of Account Settings › Mailboxes: how each is reached, how its backup stands,
/// what it holds, and whether it is on legal hold (`mailboxes` and `retention` answer with it).
const SELECT_MAILBOXES: &str = "SELECT m.id, m.email, m.connector, a.host, a.port, a.security, a.username, b.status, \
       (SELECT COUNT(*) FROM backup_messages bm WHERE bm.mailbox_id = m.id) AS messages, m.storage_used_bytes, m.legal_hold \
     FROM mailboxes m JOIN backups b ON b.mailbox_id = m.id LEFT JOIN imap_accounts a ON a.mailbox_id = m.id";

#[derive(sqlx::FromRow)]
struct MailboxRecord {
    id: i64,
    email: String,
    #[sqlx(try_from = "String")]
    connector: portal_api::Connector,
    host: Option<String>,
    port: Option<i32>,
    security: Option<String>,
    username: Option<String>,
    #[sqlx(try_from = "String")]
    status: JobStatus,
    messages: i64,
    storage_used_bytes: i64,
    legal_hold: i32,
}

fn mailbox_summary(record: MailboxRecord) -> portal_api::OrganisationMailbox {
    let imap = match (record.host, record.port, record.security, record.username) {
        (Some(host), Some(port), Some(security), Some(username)) => {
            Some(portal_api::ImapSettings { host, port: port.max(0) as u32, security, username })
        }
        _ => None,
    };
    portal_api::OrganisationMailbox {
        id: record.id,
        email: record.email,
        connector: record.connector,
        imap,
        backup_status: record.status,
        messages: record.messages.max(0) as u64,
        storage_used_bytes: record.storage_used_bytes.max(0) as u64,
        legal_hold: record.legal_hold != 0,
    }
}

/// An organisation's mailboxes, by address.
pub(crate) async fn organisation_mailboxes(
    db: &crate::db::Db,
    organisation_id: i64,
) -> Result<Vec<portal_api::OrganisationMailbox>, sqlx::Error> {
    let records: Vec<MailboxRecord> =
        sqlx::query_as(&format!("{SELECT_MAILBOXES} WHERE m.organisation_id = $1 ORDER BY m.email"))
            .bind(organisation_id)
            .fetch_all(db)
            .await?;
    Ok(records.into_iter().map(mailbox_summary).collect())
}

/// One mailbox, as the list shows it.
pub(crate) async fn mailbox(db: &crate::db::Db, mailbox_id: i64) -> Result<portal_api::OrganisationMailbox, sqlx::Error> {
    let record: MailboxRecord =
        sqlx::query_as(&format!("{SELECT_MAILBOXES} WHERE m.id = $1")).bind(mailbox_id).fetch_one(db).await?;
    Ok(mailbox_summary(record))
}

/// The most messages one restore or download may name (more: restore their folders).
pub const MAX_CHOSEN_MESSAGES: usize = 1000;

/// The places of messages chosen by their IDs in this mailbox's backup, in their backup's
/// order; `Err` lists the IDs that are not among them.
pub(crate) async fn chosen_messages(
    db: &crate::db::Db,
    mailbox_id: i64,
    ids: &[i64],
) -> Result<Result<Vec<crate::connector::MessageKey>, Vec<i64>>, sqlx::Error> {
    let mut found: Vec<(i64, String, i64, i64)> = Vec::with_capacity(ids.len());
    for batch in ids.chunks(500) {
        let sql = format!(
            "SELECT s.id, s.folder, s.uid_validity, s.uid FROM message_search s JOIN backup_messages bm \
             ON bm.mailbox_id = s.mailbox_id AND bm.folder = s.folder AND bm.uid_validity = s.uid_validity AND bm.uid = s.uid \
             WHERE s.mailbox_id = $1 AND s.id IN ({})",
            crate::db::numbered(1, batch.len())
        );
        let mut query = sqlx::query_as(&sql).bind(mailbox_id);
        for id in batch {
            query = query.bind(id);
        }
        found.extend(query.fetch_all(db).await?);
    }
    let known: std::collections::HashSet<i64> = found.iter().map(|(id, ..)| *id).collect();
    let mut missing: Vec<i64> = ids.iter().copied().filter(|id| !known.contains(id)).collect();
    if !missing.is_empty() {
        missing.dedup();
        return Ok(Err(missing));
    }
    let mut keys: Vec<crate::connector::MessageKey> = found
        .into_iter()
        .map(|(_, folder, uid_validity, uid)| crate::connector::MessageKey { folder, uid_validity, uid })
        .collect();
    keys.sort();
    keys.dedup();
    Ok(Ok(keys))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_count_cache_stays_bounded_whatever_is_searched() {
        let cache = std::sync::Arc::new(CountCache::default());
        for i in 0..(COUNT_ENTRIES * 3) {
            cache.get_or_count(format!("jobs q=made-up-{i}"), || async { Ok(1) }).await.unwrap();
        }
        assert!(cache.0.lock().unwrap().len() <= COUNT_ENTRIES);
    }

    #[test]
    fn wildcards_are_escaped_and_paging_is_checked() {
        assert_eq!(search(Some(" 50%_Off ")), ("%50\\%\\_off%".to_owned(), "50%_off".to_owned()));
        let mut errors = Vec::new();
        assert_eq!(paging(None, None, &mut errors), (1, 50));
        assert!(errors.is_empty());
        paging(Some(0), Some(500), &mut errors);
        assert_eq!(errors.len(), 2);
    }
}

/// `$2` the kind, `$3` the search text (empty: any), `$4` its pattern (`j` a job, `m` its
/// mailbox, `o` its organisation).
pub const JOB_FILTER: &str = "j.kind = $2 AND ($3 = '' OR LOWER(j.id) LIKE $4 ESCAPE '\\' \
     OR LOWER(m.email) LIKE $4 ESCAPE '\\' OR LOWER(o.name) LIKE $4 ESCAPE '\\')";

/// A count for every status of the kind (zero included), in the user's scope, under a text search.
/// Backups are counted by account (their current state), the other kinds by job.
pub async fn status_counts(
    db: &Db,
    user: impl crate::access::Principal,
    kind: JobKind,
    q: Option<&str>,
) -> Result<Vec<StatusCount>, sqlx::Error> {
    let (pattern, text) = search(q);
    let (scope, scope_id) = crate::access::scope(user).condition();
    let sql = if kind == JobKind::Backup {
        format!(
            "SELECT b.status, COUNT(*) FROM backups b JOIN mailboxes m ON m.id = b.mailbox_id \
             JOIN organisations o ON o.id = m.organisation_id \
             WHERE {scope} AND $2 = $5 AND ($3 = '' OR LOWER(m.email) LIKE $4 ESCAPE '\\' \
               OR LOWER(o.name) LIKE $4 ESCAPE '\\') GROUP BY b.status"
        )
    } else {
        format!("SELECT j.status, COUNT(*) FROM jobs j JOIN mailboxes m ON m.id = j.mailbox_id JOIN organisations o ON o.id = m.organisation_id WHERE {scope} AND {JOB_FILTER} GROUP BY j.status")
    };
    let rows: Vec<(String, i64)> = sqlx::query_as(&sql)
        .bind(scope_id)
        .bind(kind.as_str())
        .bind(&text)
        .bind(&pattern)
        .bind(JobKind::Backup.as_str())
        .fetch_all(db)
        .await?;
    Ok(kind
        .statuses()
        .iter()
        .map(|status| StatusCount {
            status: *status,
            count: rows.iter().find(|(s, _)| s == status.as_str()).map(|(_, n)| *n as u64).unwrap_or(0),
        })
        .collect())
}
