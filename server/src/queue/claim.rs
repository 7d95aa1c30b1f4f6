//! A run's part of the queue: claiming a due job under a lease, renewing the lease with each
//! progress report, and recording how the run ended. Every write names the lease (owner and
//! attempt), so a run that lost its claim writes nothing.

use portal_api::{JobKind, JobStatus};

use super::policy::Decision;
use super::{sql_list, WAITING};
use crate::connector::JobParams;
use crate::db::{now_ms, Backend, Db};

/// A job claimed by one instance, as the claim read it back.
#[derive(Debug)]
pub struct Claimed {
    pub id: String,
    pub kind: JobKind,
    pub mailbox_id: i64,
    pub attempts: i32,
    pub retries: i32,
    /// What it was asked to do; `Err` (why) when its stored parameters do not read: the run
    /// then ends at once, as a failure on our side, instead of running on a guess.
    pub params: Result<JobParams, String>,
    /// Until when this claim holds unless renewed.
    pub lease_until: i64,
}

/// The claimed row as stored; read into a `Claimed` once the claim is committed, so that a
/// row this build cannot read never holds the queue up.
#[derive(Debug, sqlx::FromRow)]
struct ClaimedRow {
    id: String,
    kind: String,
    mailbox_id: i64,
    attempts: i32,
    retries: i32,
    params: String,
    lease_until: i64,
}

/// Whose claim a write is made under: the instance and the attempt it claimed.
#[derive(Clone, Copy, Debug)]
pub struct Lease<'a> {
    pub owner: &'a str,
    pub attempt: i32,
}

/// What a claim reads back of the job it took.
const CLAIMED_COLUMNS: &str = "id, kind, mailbox_id, attempts, retries, params, lease_until";
/// What an attempt whose instance stopped says, once the next one took over.
const INTERRUPTED: &str = "The server running it stopped; the next attempt took over.";

/// How many skipped items a run lists with its job (the count in its detail is always whole).
const MAX_SKIPPED_LISTED: usize = 1000;

/// Takes one due job: waiting and due, or running under a lease that ran out (its instance
/// died), of an organisation with fewer than `max_per_organisation` runs under way.
/// Its attempt is recorded as started at once, so a run whose instance dies still shows;
/// in the same transaction, so a database lost in between leaves no attempt uncounted.
pub async fn claim(
    db: &Db,
    owner: &str,
    lease_ms: i64,
    max_per_organisation: i64,
    postgres: bool,
) -> Result<Option<Claimed>, sqlx::Error> {
    loop {
        let Some(row) = claim_row(db, owner, lease_ms, max_per_organisation, postgres).await? else {
            return Ok(None);
        };
        let Ok(kind) = row.kind.parse::<JobKind>() else {
            // Not a kind this build runs: set aside, named, and the next due job is taken.
            tracing::error!(job = %row.id, kind = %row.kind, "a job of a kind this server does not know was set aside");
            set_aside(db, &row, owner).await?;
            continue;
        };
        let params = JobParams::try_from(row.params).map_err(|error| {
            tracing::error!(job = %row.id, %error, "a job's stored parameters could not be read");
            "Its stored parameters could not be read; start it again.".to_owned()
        });
        let ClaimedRow { id, mailbox_id, attempts, retries, lease_until, .. } = row;
        return Ok(Some(Claimed { id, kind, mailbox_id, attempts, retries, params, lease_until }));
    }
}

async fn claim_row(
    db: &Db,
    owner: &str,
    lease_ms: i64,
    max_per_organisation: i64,
    postgres: bool,
) -> Result<Option<ClaimedRow>, sqlx::Error> {
    let now = now_ms();
    // With several PostgreSQL instances claiming at the same moment, an organisation may
    // briefly have one run more per extra instance; the cap holds again as runs end.
    let skip_locked = if postgres { "FOR UPDATE OF j SKIP LOCKED" } else { "" };
    let in_progress = JobStatus::InProgress.as_str();
    let waiting = sql_list(&WAITING);
    let pick = format!(
        "SELECT j.id FROM jobs j JOIN mailboxes m ON m.id = j.mailbox_id \
         WHERE ((j.status IN ({waiting}) AND j.next_run_at IS NOT NULL AND j.next_run_at <= $3) \
                OR (j.status = '{in_progress}' AND j.lease_until < $3)) \
           AND (SELECT COUNT(*) FROM jobs r JOIN mailboxes rm ON rm.id = r.mailbox_id \
                WHERE r.status = '{in_progress}' AND r.lease_until >= $3 \
                  AND rm.organisation_id = m.organisation_id) < $4 \
         ORDER BY COALESCE(j.next_run_at, j.lease_until) LIMIT 1 {skip_locked}"
    );
    let claim = format!(
        "UPDATE jobs SET lease_owner = $1, lease_until = $2, attempts = attempts + 1, status = '{in_progress}', \
                started_at = COALESCE(started_at, $3), updated_at = $3, next_run_at = NULL \
         WHERE id = ({pick}) RETURNING {CLAIMED_COLUMNS}"
    );
    if postgres {
        // PostgreSQL: the claim and what goes with it (the attempt, the one before it closed,
        // the Backups row) in one statement, so one round trip: the queue's cost per job is
        // mostly round trips (`cargo xtask bench scale`). SQLite does the same step by step.
        let sql = format!(
            "WITH claimed AS ({claim}), \
             attempt AS (INSERT INTO job_attempts (job_id, number, started_at, instance) SELECT id, attempts, $3, $1 FROM claimed), \
             closed AS (UPDATE job_attempts a SET finished_at = $3, outcome = 'interrupted', detail = '{INTERRUPTED}' \
                        FROM claimed c WHERE a.job_id = c.id AND a.number < c.attempts AND a.finished_at IS NULL), \
             synced AS (UPDATE backups SET status = '{in_progress}', updated_at = $3 WHERE current_job_id = (SELECT id FROM claimed)) \
             SELECT {CLAIMED_COLUMNS} FROM claimed"
        );
        return sqlx::query_as(&sql).bind(owner).bind(now + lease_ms).bind(now).bind(max_per_organisation).fetch_optional(db).await;
    }
    let mut tx = db.begin().await?;
    let claimed: Option<ClaimedRow> = sqlx::query_as(&claim)
        .bind(owner)
        .bind(now + lease_ms)
        .bind(now)
        .bind(max_per_organisation)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(job) = claimed else {
        return Ok(None);
    };
    sqlx::query("INSERT INTO job_attempts (job_id, number, started_at, instance) VALUES ($1, $2, $3, $4)")
        .bind(&job.id)
        .bind(job.attempts)
        .bind(now)
        .bind(owner)
        .execute(&mut *tx)
        .await?;
    // An attempt its instance never finished (it stopped): ended now, named as such. A first
    // attempt has none before it.
    if job.attempts > 1 {
        sqlx::query(&format!(
            "UPDATE job_attempts SET finished_at = $1, outcome = 'interrupted', detail = '{INTERRUPTED}' \
             WHERE job_id = $2 AND number < $3 AND finished_at IS NULL"
        ))
        .bind(now)
        .bind(&job.id)
        .bind(job.attempts)
        .execute(&mut *tx)
        .await?;
    }
    sync_backup(&mut *tx, &job.id, JobStatus::InProgress, None, now).await?;
    tx.commit().await?;
    Ok(Some(job))
}

/// A claimed job this build cannot run: Failed, out of the queue, with why; nothing else of
/// it is touched (a newer server may read it).
async fn set_aside(db: &Db, row: &ClaimedRow, owner: &str) -> Result<(), sqlx::Error> {
    let detail = "This server cannot run a job of this kind; it was set aside.";
    let now = now_ms();
    let mut tx = db.begin().await?;
    sqlx::query(
        "UPDATE jobs SET status = $1, next_run_at = NULL, lease_owner = NULL, lease_until = NULL, finished_at = $2, \
                updated_at = $2, detail = $3 WHERE id = $4 AND lease_owner = $5 AND attempts = $6",
    )
    .bind(JobStatus::Failed.as_str())
    .bind(now)
    .bind(detail)
    .bind(&row.id)
    .bind(owner)
    .bind(row.attempts)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE job_attempts SET finished_at = $1, run_ended_at = $1, outcome = $2, detail = $3 WHERE job_id = $4 AND number = $5",
    )
        .bind(now)
        .bind(JobStatus::Failed.as_str())
        .bind(detail)
        .bind(&row.id)
        .bind(row.attempts)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// Notes when a run that lost its claim stopped (its attempt is closed by the run that takes
/// the job over). Only this attempt's own row is written, whoever holds the job now.
pub async fn run_stopped(db: &Db, job_id: &str, attempt: i32) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE job_attempts SET run_ended_at = $1 WHERE job_id = $2 AND number = $3 AND run_ended_at IS NULL")
        .bind(now_ms())
        .bind(job_id)
        .bind(attempt)
        .execute(db)
        .await?;
    Ok(())
}

/// Extends a running job's lease to `until`; `false`: the claim was lost (taken over).
pub async fn renew_lease(db: &Db, job_id: &str, lease: Lease<'_>, until: i64) -> Result<bool, sqlx::Error> {
    let renewed =
        sqlx::query("UPDATE jobs SET lease_until = $1 WHERE id = $2 AND lease_owner = $3 AND attempts = $4 AND status = $5")
            .bind(until)
            .bind(job_id)
            .bind(lease.owner)
            .bind(lease.attempt)
            .bind(JobStatus::InProgress.as_str())
            .execute(db)
            .await?;
    Ok(renewed.rows_affected() == 1)
}

/// How soon another instance may take over a run given back: what a stopped run's last file
/// writes (off the async runtime) need to end.
const RELEASE_MARGIN_MS: i64 = 1_000;

/// Gives a stopped run back to the queue (this instance is shutting down and the run did not
/// end within the grace period): its lease is made to run out a moment from now, so another
/// instance takes it over then, and its attempt ends as interrupted. `false`: the claim was
/// already lost.
pub async fn release(db: &Db, job_id: &str, lease: Lease<'_>) -> Result<bool, sqlx::Error> {
    let now = now_ms();
    let mut tx = db.begin().await?;
    let released = sqlx::query(
        "UPDATE jobs SET lease_until = $1, updated_at = $2 WHERE id = $3 AND lease_owner = $4 AND attempts = $5 AND status = $6",
    )
    .bind(now + RELEASE_MARGIN_MS)
    .bind(now)
    .bind(job_id)
    .bind(lease.owner)
    .bind(lease.attempt)
    .bind(JobStatus::InProgress.as_str())
    .execute(&mut *tx)
    .await?;
    if released.rows_affected() == 0 {
        return Ok(false);
    }
    sqlx::query(
        "UPDATE job_attempts SET finished_at = $1, run_ended_at = $1, outcome = 'interrupted', \
                detail = 'The server running it shut down and gave it back to the queue; the next attempt goes on with it.' \
         WHERE job_id = $2 AND number = $3 AND finished_at IS NULL",
    )
    .bind(now)
    .bind(job_id)
    .bind(lease.attempt)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Stores a run's progress and extends its lease to `lease_until`.
pub async fn report_progress(
    db: &Db,
    job_id: &str,
    lease: Lease<'_>,
    progress: &crate::connector::Progress,
    lease_until: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE jobs SET items_done = $1, items_total = $2, bytes_done = $3, bytes_total = $4, \
                lease_until = $5, updated_at = $6 WHERE id = $7 AND lease_owner = $8 AND attempts = $9",
    )
    .bind(progress.items_done as i64)
    .bind(progress.items_total.map(|v| v as i64))
    .bind(progress.bytes_done as i64)
    .bind(progress.bytes_total.map(|v| v as i64))
    .bind(lease_until)
    .bind(now_ms())
    .bind(job_id)
    .bind(lease.owner)
    .bind(lease.attempt)
    .execute(db)
    .await?;
    Ok(())
}

/// How a run ended, as the engine decided it.
pub struct Finish<'a> {
    pub decision: &'a Decision,
    /// What the run skipped, "item: why" each.
    pub skipped: &'a [String],
    /// A download's link: until when it works, when the file is ready.
    pub link_until: Option<i64>,
}

/// Records how a claimed run ended. Ignored when the run has lost its claim (the job was
/// claimed again after this run's lease ran out: that run's result counts).
pub async fn finish(db: &Db, job_id: &str, lease: Lease<'_>, end: Finish<'_>) -> Result<(), sqlx::Error> {
    let now = now_ms();
    let decision = end.decision;
    let success = matches!(decision.status, JobStatus::Completed | JobStatus::PartiallyComplete);
    let end_job = "UPDATE jobs SET status = $1, retries = $2, next_run_at = $3, detail = $4, \
                finished_at = $5, lease_owner = NULL, lease_until = NULL, updated_at = $6, expires_at = $9 \
         WHERE id = $7 AND lease_owner = $8 AND attempts = $10";
    let postgres = Backend::of(db) == Backend::Postgres;
    // PostgreSQL: the job, its attempt and its Backups row in one statement (one round trip);
    // SQLite step by step. A row back: the run still held its claim, and its end is recorded.
    let sql = if postgres {
        format!(
            "WITH ended AS ({end_job} RETURNING id), \
             attempt AS (UPDATE job_attempts SET finished_at = $6, run_ended_at = $6, outcome = $1, detail = $4 \
                         WHERE job_id = $7 AND number = $10 AND EXISTS (SELECT 1 FROM ended)), \
             synced AS (UPDATE backups SET status = $1, updated_at = $6, last_backup_at = $6, \
                               last_success_at = CASE WHEN $11 = 1 THEN $6 ELSE last_success_at END \
                        WHERE current_job_id = (SELECT id FROM ended)) \
             SELECT id FROM ended"
        )
    } else {
        format!("{end_job} RETURNING id")
    };
    let query = sqlx::query_as::<_, (String,)>(&sql)
        .bind(decision.status.as_str())
        .bind(decision.retries as i32)
        .bind(decision.next_run_at)
        .bind(&decision.detail)
        .bind(decision.finished.then_some(now))
        .bind(now)
        .bind(job_id)
        .bind(lease.owner)
        .bind(end.link_until)
        .bind(lease.attempt);
    let query = if postgres { query.bind(i32::from(success)) } else { query };
    let mut tx = db.begin().await?;
    let ended = query.fetch_optional(&mut *tx).await?.is_some();
    if !ended {
        return Ok(());
    }
    if !postgres {
        sqlx::query(
            "UPDATE job_attempts SET finished_at = $1, run_ended_at = $1, outcome = $2, detail = $3 WHERE job_id = $4 AND number = $5",
        )
        .bind(now)
        .bind(decision.status.as_str())
        .bind(&decision.detail)
        .bind(job_id)
        .bind(lease.attempt)
        .execute(&mut *tx)
        .await?;
        sync_backup(&mut *tx, job_id, decision.status, Some(success), now).await?;
    }
    // What this run skipped replaces what an earlier run of the same job listed.
    sqlx::query("DELETE FROM job_skipped_items WHERE job_id = $1").bind(job_id).execute(&mut *tx).await?;
    for item in end.skipped.iter().take(MAX_SKIPPED_LISTED) {
        let (what, why) = item.split_once(": ").unwrap_or((item.as_str(), ""));
        sqlx::query("INSERT INTO job_skipped_items (job_id, item, reason) VALUES ($1, $2, $3)")
            .bind(job_id)
            .bind(what)
            .bind(why)
            .execute(&mut *tx)
            .await?;
    }
    // What the organisation's PSA and webhooks hear of it, in the same transaction: recorded
    // if and only if the run's end is.
    crate::outbox::events::job_finished(&mut tx, job_id, decision.status, decision.finished, decision.detail.as_deref()).await?;
    tx.commit().await
}

/// Keeps the Backups list's row of a backup job's mailbox in step with the job.
/// `success`: the run ended (Some), and whether it saved the mailbox.
async fn sync_backup<'e, E>(db: E, job_id: &str, status: JobStatus, success: Option<bool>, now: i64) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Any>,
{
    sqlx::query(
        "UPDATE backups SET status = $1, updated_at = $2, \
                last_backup_at = CASE WHEN $3 = 1 THEN $2 ELSE last_backup_at END, \
                last_success_at = CASE WHEN $4 = 1 THEN $2 ELSE last_success_at END \
         WHERE current_job_id = $5",
    )
    .bind(status.as_str())
    .bind(now)
    .bind(i32::from(success.is_some()))
    .bind(i32::from(success == Some(true)))
    .bind(job_id)
    .execute(db)
    .await?;
    Ok(())
}
