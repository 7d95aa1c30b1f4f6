//! The job queue: the one module that changes a job's state. Every status a job (and the
//! Backups list's row of its mailbox) goes through is written here: queued, claimed,
//! renewed, progressing, finished, retried, brought forward, requeued after Edit, expired,
//! deleted. It is also the one place where job kinds and statuses are written into SQL.
//! The engine runs jobs and decides what a run's outcome means; handlers ask for changes.

mod claim;
pub mod policy;

use portal_api::{JobKind, JobStatus};

use crate::connector::JobParams;
use crate::db::{now_ms, Db};

pub use claim::{claim, finish, release, renew_lease, run_stopped, report_progress, Claimed, Finish, Lease};

/// Statuses in which a job waits for the engine (a start, or a retry).
const WAITING: [JobStatus; 4] = [JobStatus::PreparingBackup, JobStatus::OnQueue, JobStatus::Retrying, JobStatus::ConnectionError];

/// Statuses a job that will not run again unless asked is in.
const FINISHED: [JobStatus; 5] =
    [JobStatus::Completed, JobStatus::PartiallyComplete, JobStatus::Cancelled, JobStatus::Failed, JobStatus::Expired];

/// `'a', 'b'`: statuses as an SQL list (names from the enum, never typed by hand).
fn sql_list(statuses: &[JobStatus]) -> String {
    statuses.iter().map(|s| format!("'{}'", s.as_str())).collect::<Vec<_>>().join(", ")
}

/// Waiting or running: SQL list of the statuses of a job that is not over.
fn waiting_or_running() -> String {
    format!("{}, '{}'", sql_list(&WAITING), JobStatus::InProgress.as_str())
}

/// SQL: how many jobs of `j`'s kind are queued before `j` (zero unless `j` is On Queue).
pub fn queued_ahead_column() -> String {
    let on_queue = JobStatus::OnQueue.as_str();
    format!(
        "CASE WHEN j.status = '{on_queue}' THEN (SELECT COUNT(*) FROM jobs q WHERE q.kind = j.kind \
           AND q.status = '{on_queue}' AND q.next_run_at < j.next_run_at) ELSE 0 END"
    )
}

/// A new job ID: a kind letter and 8 characters that read unambiguously aloud to support.
pub fn new_job_id(kind: JobKind) -> String {
    const ALPHABET: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    let letter = match kind {
        JobKind::Backup => 'B',
        JobKind::Migrate => 'M',
        JobKind::Restore => 'R',
        JobKind::Download => 'D',
    };
    let random: [u8; 8] = rand::random();
    let tail: String = random.iter().map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char).collect();
    format!("{letter}-{tail}")
}

/// Where a job's destination password is kept (bound into its encryption).
pub fn destination_password_context(job_id: &str) -> String {
    format!("job:{job_id}:destination_password")
}

const DESTINATION_PASSWORD: &str = "destination_password";

/// The sealed destination password Edit gave a job, if any.
pub async fn sealed_destination_password(db: &Db, job_id: &str) -> Result<Option<String>, sqlx::Error> {
    let sealed: Option<(String,)> = sqlx::query_as("SELECT sealed FROM job_secrets WHERE job_id = $1 AND purpose = $2")
        .bind(job_id)
        .bind(DESTINATION_PASSWORD)
        .fetch_optional(db)
        .await?;
    Ok(sealed.map(|(sealed,)| sealed))
}

/// Queues a migration, restore or download now; returns its ID.
pub async fn enqueue(
    db: &Db,
    kind: JobKind,
    mailbox_id: i64,
    params: &JobParams,
    created_by: i64,
) -> Result<String, sqlx::Error> {
    enqueue_at(db, kind, mailbox_id, params, Some(created_by), now_ms()).await
}

/// Queues a migration, restore or download to start at `run_at` (On Queue until then).
pub async fn enqueue_at(
    db: &Db,
    kind: JobKind,
    mailbox_id: i64,
    params: &JobParams,
    created_by: Option<i64>,
    run_at: i64,
) -> Result<String, sqlx::Error> {
    let id = new_job_id(kind);
    sqlx::query(
        "INSERT INTO jobs (id, kind, mailbox_id, status, params, created_by, created_at, updated_at, next_run_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8)",
    )
    .bind(&id)
    .bind(kind.as_str())
    .bind(mailbox_id)
    .bind(JobStatus::OnQueue.as_str())
    .bind(params.to_json())
    .bind(created_by)
    .bind(now_ms())
    .bind(run_at)
    .execute(db)
    .await?;
    Ok(id)
}

/// The Backups list's row of a mailbox just added: Preparing Backup until its first backup.
pub async fn add_backup_row(tx: &mut sqlx::Transaction<'_, sqlx::Any>, mailbox_id: i64, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO backups (mailbox_id, status, updated_at) VALUES ($1, $2, $3)")
        .bind(mailbox_id)
        .bind(JobStatus::PreparingBackup.as_str())
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Queues a backup of one mailbox now, and makes it the one the Backups list shows; `None`
/// when one is already waiting or running (checked in the same transaction, so two requests
/// at once cannot both start one).
pub async fn enqueue_backup(db: &Db, mailbox_id: i64, created_by: Option<i64>, now: i64) -> Result<Option<String>, sqlx::Error> {
    enqueue_backup_with(db, mailbox_id, created_by, &JobParams::default(), now).await
}

/// Queues a backup with its own parameters, to start at `run_at` (Preparing Backup until then).
pub async fn enqueue_backup_with(
    db: &Db,
    mailbox_id: i64,
    created_by: Option<i64>,
    params: &JobParams,
    run_at: i64,
) -> Result<Option<String>, sqlx::Error> {
    let id = new_job_id(JobKind::Backup);
    let now = now_ms();
    let preparing = JobStatus::PreparingBackup.as_str();
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO jobs (id, kind, mailbox_id, status, params, created_by, created_at, updated_at, next_run_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8)",
    )
    .bind(&id)
    .bind(JobKind::Backup.as_str())
    .bind(mailbox_id)
    .bind(preparing)
    .bind(params.to_json())
    .bind(created_by)
    .bind(now)
    .bind(run_at)
    .execute(&mut *tx)
    .await?;
    let taken = sqlx::query(&format!(
        "UPDATE backups SET status = $1, current_job_id = $2, updated_at = $3 \
         WHERE mailbox_id = $4 AND (current_job_id IS NULL OR current_job_id IN \
               (SELECT id FROM jobs WHERE status NOT IN ({})))",
        waiting_or_running()
    ))
    .bind(preparing)
    .bind(&id)
    .bind(now)
    .bind(mailbox_id)
    .execute(&mut *tx)
    .await?;
    if taken.rows_affected() == 0 {
        tx.rollback().await?;
        return Ok(None);
    }
    tx.commit().await?;
    Ok(Some(id))
}

/// Force Backup of one mailbox: a waiting retry is brought forward (it keeps its count);
/// otherwise a new backup is queued. `false`: one is already waiting or running.
pub async fn force_backup(db: &Db, mailbox_id: i64, status: JobStatus, created_by: i64) -> Result<bool, sqlx::Error> {
    let now = now_ms();
    if matches!(status, JobStatus::Retrying | JobStatus::ConnectionError) {
        let moved = sqlx::query(
            "UPDATE jobs SET next_run_at = $1, updated_at = $1 \
             WHERE id = (SELECT current_job_id FROM backups WHERE mailbox_id = $2) AND next_run_at IS NOT NULL",
        )
        .bind(now)
        .bind(mailbox_id)
        .execute(db)
        .await?;
        if moved.rows_affected() > 0 {
            return Ok(true);
        }
    }
    Ok(enqueue_backup(db, mailbox_id, Some(created_by), now).await?.is_some())
}

/// Marks the mailbox's current backup as changed, so that open pages redraw its row (a PSA
/// ticket was opened or closed about it). Its state is left as it is.
pub async fn touch_backup(db: &Db, mailbox_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE jobs SET updated_at = $1 WHERE id = (SELECT current_job_id FROM backups WHERE mailbox_id = $2)")
        .bind(now_ms())
        .bind(mailbox_id)
        .execute(db)
        .await?;
    Ok(())
}

/// The mailboxes whose last backup is older than `interval_ms` and that have none waiting or running.
pub async fn due_for_backup(db: &Db, interval_ms: i64) -> Result<Vec<i64>, sqlx::Error> {
    let due: Vec<(i64,)> = sqlx::query_as(&format!(
        "SELECT b.mailbox_id FROM backups b LEFT JOIN jobs j ON j.id = b.current_job_id \
         WHERE (b.last_backup_at IS NULL OR b.last_backup_at < $1) \
           AND (j.id IS NULL OR j.status NOT IN ({}))",
        waiting_or_running()
    ))
    .bind(now_ms() - interval_ms)
    .fetch_all(db)
    .await?;
    Ok(due.into_iter().map(|(id,)| id).collect())
}

/// Whose backups stopped in Authentication Error start again: an organisation's (its
/// credentials were fixed), or one mailbox's (its password was).
pub enum Stopped {
    Organisation(i64),
    Mailbox(i64),
}

/// Queues a new backup for each mailbox whose backup stopped in Authentication Error, within
/// `scope`; returns how many were queued.
pub async fn restart_stopped_backups(db: &Db, scope: Stopped, created_by: Option<i64>) -> Result<u64, sqlx::Error> {
    let (condition, id) = match scope {
        Stopped::Organisation(id) => ("m.organisation_id = $1", id),
        Stopped::Mailbox(id) => ("m.id = $1", id),
    };
    let stopped: Vec<(i64,)> = sqlx::query_as(&format!(
        "SELECT b.mailbox_id FROM backups b JOIN mailboxes m ON m.id = b.mailbox_id WHERE {condition} AND b.status = $2"
    ))
    .bind(id)
    .bind(JobStatus::AuthenticationError.as_str())
    .fetch_all(db)
    .await?;
    let now = now_ms();
    let mut queued = 0;
    for (mailbox_id,) in stopped {
        if enqueue_backup(db, mailbox_id, created_by, now).await?.is_some() {
            queued += 1;
        }
    }
    Ok(queued)
}

/// Try again / Request again: a cancelled, failed or expired job goes back on the queue with
/// the same ID. `false`: it is no longer in one of those states.
pub async fn retry(db: &Db, id: &str) -> Result<bool, sqlx::Error> {
    let now = now_ms();
    let requeued = sqlx::query(&format!(
        "UPDATE jobs SET status = $1, retries = 0, next_run_at = $2, finished_at = NULL, started_at = NULL, \
                detail = NULL, items_done = 0, bytes_done = 0, expires_at = NULL, updated_at = $2 \
         WHERE id = $3 AND status IN ({})",
        sql_list(&[JobStatus::Cancelled, JobStatus::Failed, JobStatus::Expired])
    ))
    .bind(JobStatus::OnQueue.as_str())
    .bind(now)
    .bind(id)
    .execute(db)
    .await?;
    Ok(requeued.rows_affected() > 0)
}

/// Edit: a restore or migration in Authentication Error gets its destination's password
/// (sealed) and goes back on the queue at once. `false`: it is no longer waiting for one.
pub async fn requeue_with_password(db: &Db, id: &str, sealed: &str) -> Result<bool, sqlx::Error> {
    let now = now_ms();
    let mut tx = db.begin().await?;
    let requeued = sqlx::query(
        "UPDATE jobs SET status = $1, retries = 0, next_run_at = $2, finished_at = NULL, started_at = NULL, \
                detail = NULL, items_done = 0, bytes_done = 0, updated_at = $2 \
         WHERE id = $3 AND status = $4",
    )
    .bind(JobStatus::OnQueue.as_str())
    .bind(now)
    .bind(id)
    .bind(JobStatus::AuthenticationError.as_str())
    .execute(&mut *tx)
    .await?;
    if requeued.rows_affected() == 0 {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO job_secrets (job_id, purpose, sealed, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (job_id, purpose) DO UPDATE SET sealed = excluded.sealed, updated_at = excluded.updated_at",
    )
    .bind(id)
    .bind(DESTINATION_PASSWORD)
    .bind(sealed)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Deletes a finished migration, restore or download and what hangs on it. `false`: it is not
/// (or no longer) finished, or is a backup.
pub async fn delete_finished(db: &Db, id: &str) -> Result<bool, sqlx::Error> {
    let condition = format!("kind <> '{}' AND status IN ({})", JobKind::Backup.as_str(), sql_list(&FINISHED));
    delete_where(db, id, &condition).await
}

/// Deletes a run of any kind that is over: it has finished, waits for nothing, and is not its
/// mailbox's current backup (the demo's director removes its old runs so).
pub async fn delete_finished_run(db: &Db, id: &str) -> Result<bool, sqlx::Error> {
    let condition = format!(
        "finished_at IS NOT NULL AND status NOT IN ({}) AND NOT EXISTS (SELECT 1 FROM backups b WHERE b.current_job_id = jobs.id)",
        waiting_or_running()
    );
    delete_where(db, id, &condition).await
}

/// Deletes job `id` and what hangs on it, in one transaction, if `condition` holds for it.
async fn delete_where(db: &Db, id: &str, condition: &str) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    for dependent in [
        "DELETE FROM job_secrets WHERE job_id = $1",
        "DELETE FROM job_attempts WHERE job_id = $1",
        "DELETE FROM job_skipped_items WHERE job_id = $1",
        "DELETE FROM job_copies WHERE job_id = $1",
    ] {
        sqlx::query(dependent).bind(id).execute(&mut *tx).await?;
    }
    let deleted = sqlx::query(&format!("DELETE FROM jobs WHERE id = $1 AND {condition}")).bind(id).execute(&mut *tx).await?;
    if deleted.rows_affected() == 0 {
        return Ok(false);
    }
    tx.commit().await?;
    Ok(true)
}

/// Downloads whose link has run out become Expired. Returns how many did.
pub async fn expire_downloads(db: &Db) -> Result<u64, sqlx::Error> {
    let expired = sqlx::query(
        "UPDATE jobs SET status = $1, updated_at = $2 \
         WHERE kind = $3 AND status = $4 AND expires_at IS NOT NULL AND expires_at <= $2",
    )
    .bind(JobStatus::Expired.as_str())
    .bind(now_ms())
    .bind(JobKind::Download.as_str())
    .bind(JobStatus::Completed.as_str())
    .execute(db)
    .await?;
    Ok(expired.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_ids_name_their_kind_and_avoid_lookalike_characters() {
        let id = new_job_id(JobKind::Restore);
        assert!(id.starts_with("R-") && id.len() == 10, "{id}");
        assert!(!id[2..].contains(['0', 'O', '1', 'I']), "{id}");
        assert_ne!(new_job_id(JobKind::Restore), id);
    }

    #[test]
    fn status_lists_are_written_from_the_enum() {
        assert_eq!(sql_list(&[JobStatus::OnQueue, JobStatus::Failed]), "'on_queue', 'failed'");
        assert!(waiting_or_running().ends_with("'in_progress'"));
    }
}
