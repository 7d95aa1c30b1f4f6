//! The durable job engine. Every job and attempt lives in the database; an engine instance
//! claims a due job with a lease, runs it through a connector, and records how it ended.
//! A job whose instance died (its lease ran out) is claimed again, so a restart loses nothing.
//! With PostgreSQL, instances share the queue through `FOR UPDATE SKIP LOCKED`.

pub mod demo;
pub mod policy;

use std::sync::Arc;
use std::time::Duration;

use portal_api::{JobKind, JobStatus};
use tokio::sync::{Notify, Semaphore};

use crate::connector::{BoxFuture, Connector, Outcome, Progress, ProgressSink, Work};
use crate::db::{now_ms, Db};
use policy::{decide, RetryPolicy};

#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub policy: RetryPolicy,
    /// How long a claim holds before another instance may take the job over; renewed with
    /// every progress report.
    pub lease_ms: i64,
    /// How often to look for due jobs when nothing wakes the engine.
    pub poll: Duration,
    /// Jobs run at once by this instance.
    pub workers: usize,
    /// Jobs of one organisation running at once (all instances together), so that one
    /// organisation's queue or silent mail server never holds every worker.
    pub max_runs_per_organisation: i64,
    /// How long a finished download's link works.
    pub download_link_ms: i64,
    /// Where download files are written.
    pub data_dir: std::path::PathBuf,
}

impl EngineConfig {
    pub fn new(max_retries: u32, retry_minutes: u32, backup_interval_hours: u32) -> Self {
        EngineConfig {
            policy: RetryPolicy {
                max_retries,
                retry_after_ms: i64::from(retry_minutes) * 60_000,
                backup_interval_ms: i64::from(backup_interval_hours) * 3_600_000,
            },
            lease_ms: 30_000,
            poll: Duration::from_secs(1),
            workers: 4,
            max_runs_per_organisation: 2,
            download_link_ms: 7 * 86_400_000,
            data_dir: std::path::PathBuf::from("data"),
        }
    }
}

#[derive(Clone)]
pub struct Engine {
    db: Db,
    config: EngineConfig,
    connector: Arc<dyn Connector>,
    /// Identifies this instance's leases.
    owner: String,
    wake: Arc<Notify>,
    secrets: crate::secrets::SecretBox,
    postgres: bool,
    /// Runs under way in this instance (each holds a worker).
    running: Arc<std::sync::atomic::AtomicUsize>,
}

/// A job this instance has claimed (its ID, for tests and logs).
#[derive(Debug)]
pub struct ClaimedJob(Claimed);

impl ClaimedJob {
    pub fn id(&self) -> &str {
        &self.0.id
    }
}

impl Engine {
    /// Records how a claimed run ended, as `execute` does after the connector (for tests that
    /// play a run's part by hand). Ignored when the run has lost its claim.
    pub async fn finish_claimed(&self, job: &ClaimedJob, outcome: &Outcome) -> Result<(), sqlx::Error> {
        let kind = JobKind::parse(&job.0.kind).unwrap_or(JobKind::Backup);
        self.finish(&job.0, kind, outcome).await
    }

    /// Runs a claimed job through the connector, holding its claim, as a worker does.
    pub async fn run_claimed(&self, job: ClaimedJob) -> Result<(), sqlx::Error> {
        self.execute(job.0).await
    }
}

#[derive(Debug, sqlx::FromRow)]
struct Claimed {
    id: String,
    kind: String,
    mailbox_id: i64,
    attempts: i32,
    retries: i32,
    params: String,
    /// Until when this claim holds unless renewed.
    lease_until: i64,
}

/// How many skipped items a run lists with its job (the count in its detail is always whole).
const MAX_SKIPPED_LISTED: usize = 1000;

/// Statuses in which a job waits for the engine (a start, or a retry).
const WAITING: &str = "'preparing_backup', 'on_queue', 'retrying', 'connection_error'";

impl Engine {
    pub fn new(db: Db, config: EngineConfig, connector: Arc<dyn Connector>, secrets: crate::secrets::SecretBox) -> Self {
        let owner = format!("engine-{}", hex::encode(rand::random::<[u8; 6]>()));
        let postgres = crate::db::Backend::of(&db) == crate::db::Backend::Postgres;
        let running = Arc::default();
        Engine { db, config, connector, owner, wake: Arc::new(Notify::new()), secrets, postgres, running }
    }

    /// Runs under way in this instance now.
    pub fn running(&self) -> usize {
        self.running.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Whether the database is PostgreSQL (else SQLite).
    pub fn postgres(&self) -> bool {
        self.postgres
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Tells the engine a job was added, so it need not wait for its next look.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Runs the engine until the process ends: claims due jobs, runs up to `workers` at
    /// once, and queues each account's scheduled backup.
    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let slots = Arc::new(Semaphore::new(self.config.workers.max(1)));
            let mut last_schedule = 0_i64;
            loop {
                if now_ms() - last_schedule >= 60_000 {
                    last_schedule = now_ms();
                    if let Err(error) = self.schedule_backups().await {
                        tracing::warn!(%error, "could not queue scheduled backups");
                    }
                    if let Err(error) = self.expire_downloads().await {
                        tracing::warn!(%error, "could not expire download links");
                    }
                }
                let Ok(permit) = slots.clone().acquire_owned().await else {
                    return;
                };
                match self.claim().await {
                    Ok(Some(job)) => {
                        let engine = self.clone();
                        engine.running.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        tokio::spawn(async move {
                            if let Err(error) = engine.execute(job.0).await {
                                tracing::warn!(%error, "a job run could not be recorded");
                            }
                            engine.running.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
                            drop(permit);
                        });
                    }
                    Ok(None) => {
                        drop(permit);
                        let _ = tokio::time::timeout(self.config.poll, self.wake.notified()).await;
                    }
                    Err(error) => {
                        drop(permit);
                        tracing::warn!(%error, "could not look for due jobs");
                        tokio::time::sleep(self.config.poll).await;
                    }
                }
            }
        })
    }

    /// Runs every job that is due now, one after another, and returns how many ran.
    /// (What `spawn` does continuously; tests call this to step the engine.)
    pub async fn run_due(&self) -> Result<usize, sqlx::Error> {
        let mut ran = 0;
        while let Some(job) = self.claim().await? {
            self.execute(job.0).await?;
            ran += 1;
        }
        Ok(ran)
    }

    /// Takes one due job: waiting and due, or running under a lease that ran out (its instance
    /// died), of an organisation with fewer than `max_runs_per_organisation` runs under way.
    /// Its attempt is recorded as started at once, so a run whose instance dies still shows;
    /// in the same transaction, so a database lost in between leaves no attempt uncounted.
    pub async fn claim(&self) -> Result<Option<ClaimedJob>, sqlx::Error> {
        let now = now_ms();
        // With several PostgreSQL instances claiming at the same moment, an organisation may
        // briefly have one run more per extra instance; the cap holds again as runs end.
        let skip_locked = if self.postgres { "FOR UPDATE OF j SKIP LOCKED" } else { "" };
        let sql = format!(
            "UPDATE jobs SET lease_owner = $1, lease_until = $2, attempts = attempts + 1, status = 'in_progress', \
                    started_at = COALESCE(started_at, $3), updated_at = $3, next_run_at = NULL \
             WHERE id = (SELECT j.id FROM jobs j JOIN mailboxes m ON m.id = j.mailbox_id \
                         WHERE ((j.status IN ({WAITING}) AND j.next_run_at IS NOT NULL AND j.next_run_at <= $3) \
                                OR (j.status = 'in_progress' AND j.lease_until < $3)) \
                           AND (SELECT COUNT(*) FROM jobs r JOIN mailboxes rm ON rm.id = r.mailbox_id \
                                WHERE r.status = 'in_progress' AND r.lease_until >= $3 \
                                  AND rm.organisation_id = m.organisation_id) < $4 \
                         ORDER BY COALESCE(j.next_run_at, j.lease_until) LIMIT 1 {skip_locked}) \
             RETURNING id, kind, mailbox_id, attempts, retries, params, lease_until"
        );
        let mut tx = self.db.begin().await?;
        let claimed: Option<Claimed> = sqlx::query_as(&sql)
            .bind(&self.owner)
            .bind(now + self.config.lease_ms)
            .bind(now)
            .bind(self.config.max_runs_per_organisation)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(job) = claimed else {
            return Ok(None);
        };
        sqlx::query("INSERT INTO job_attempts (job_id, number, started_at) VALUES ($1, $2, $3)")
            .bind(&job.id)
            .bind(job.attempts)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        // An attempt its instance never finished (it stopped): ended now, named as such.
        sqlx::query(
            "UPDATE job_attempts SET finished_at = $1, outcome = 'interrupted', \
                    detail = 'The server running it stopped; the next attempt took over.' \
             WHERE job_id = $2 AND number < $3 AND finished_at IS NULL",
        )
        .bind(now)
        .bind(&job.id)
        .bind(job.attempts)
        .execute(&mut *tx)
        .await?;
        sync_backup(&mut *tx, &job.id, JobStatus::InProgress, None, now).await?;
        tx.commit().await?;
        Ok(Some(ClaimedJob(job)))
    }

    async fn execute(&self, job: Claimed) -> Result<(), sqlx::Error> {
        let (email, mailbox_script, organisation_id, connector): (String, String, i64, String) =
            sqlx::query_as("SELECT email, demo_script, organisation_id, connector FROM mailboxes WHERE id = $1")
                .bind(job.mailbox_id)
                .fetch_one(&self.db)
                .await?;
        let kind = JobKind::parse(&job.kind).unwrap_or(JobKind::Backup);
        let params = serde_json::from_str::<serde_json::Value>(&job.params).unwrap_or_default();
        // A job may carry its own script (a restore into a mailbox whose password is wrong...).
        let script = params.get("script").and_then(|s| s.as_str()).map(str::to_owned).unwrap_or(mailbox_script);
        let destination_password = match self.destination_password(&job.id, organisation_id).await? {
            Ok(password) => password,
            Err(outcome) => return self.finish(&job, kind, &outcome).await,
        };
        let credentials_ok = kind != JobKind::Backup || crate::credentials::store::all_working(&self.db, organisation_id).await?;
        let work = Work {
            job_id: job.id.clone(),
            kind,
            mailbox_id: job.mailbox_id,
            organisation_id,
            mailbox_email: email,
            connector,
            params,
            script,
            attempt: job.attempts.max(1) as u32,
            credentials_ok,
            destination_password,
        };
        let sink = LeaseKeeper { engine: self, job_id: &job.id, attempt: job.attempts };
        let Some(mut outcome) = self.run_holding_lease(&job, self.connector.run(&work, &sink)).await else {
            // Cancelled: another instance may take the job now, and its result counts.
            tracing::warn!(job = %job.id, "the claim on a run was lost; the run was stopped");
            return Ok(());
        };
        // The work is done; how it ended is not recorded yet.
        crate::failpoint::hit("engine.before-finish");
        // The demo connector has no messages of its own; the imap connector writes its file itself.
        if kind == JobKind::Download
            && work.connector == "demo"
            && matches!(outcome, Outcome::Completed | Outcome::Partial { .. })
        {
            if let Err(error) = self.write_download(&job, &work.mailbox_email).await {
                outcome = Outcome::internal("writing the download file", error);
            }
        }
        self.finish(&job, kind, &outcome).await
    }

    /// Runs `run` while renewing this instance's claim on `job`. When the claim is lost (taken
    /// over, or not renewed in time because the database could not be reached), the run is
    /// stopped, dropping all its work, before another instance may take the job: `None`.
    async fn run_holding_lease(&self, job: &Claimed, run: BoxFuture<'_, Outcome>) -> Option<Outcome> {
        let lease = self.config.lease_ms.max(300);
        // The run stops a sixth of a lease before its claim would lapse, counted from the claim
        // itself: no other instance can take the job while this one still works on it.
        let margin = lease / 6;
        let mut held_until = job.lease_until;
        let every = Duration::from_millis((lease / 3) as u64);
        let mut next_renewal = tokio::time::Instant::now() + every;
        tokio::pin!(run);
        loop {
            let stop_in = Duration::from_millis((held_until - margin - now_ms()).max(0) as u64);
            tokio::select! {
                outcome = &mut run => return Some(outcome),
                _ = tokio::time::sleep(stop_in) => {
                    tracing::warn!(job = %job.id, "the claim could not be renewed in time; the run was stopped");
                    return None;
                }
                _ = tokio::time::sleep_until(next_renewal) => {
                    next_renewal = tokio::time::Instant::now() + every;
                    let until = now_ms() + lease;
                    let renewal = sqlx::query(
                        "UPDATE jobs SET lease_until = $1 WHERE id = $2 AND lease_owner = $3 AND attempts = $4 AND status = 'in_progress'",
                    )
                    .bind(until)
                    .bind(&job.id)
                    .bind(&self.owner)
                    .bind(job.attempts)
                    .execute(&self.db);
                    // A renewal waiting on a database out of reach gives up at the stop, too.
                    let wait = Duration::from_millis((held_until - margin - now_ms()).max(0) as u64);
                    match tokio::time::timeout(wait, renewal).await {
                        Ok(Ok(done)) if done.rows_affected() == 1 => held_until = until,
                        // Taken over by another instance: its run counts.
                        Ok(Ok(_)) => return None,
                        Ok(Err(error)) => tracing::warn!(job = %job.id, %error, "the claim could not be renewed; trying again"),
                        Err(_) => {
                            tracing::warn!(job = %job.id, "the claim could not be renewed in time; the run was stopped");
                            return None;
                        }
                    }
                }
            }
        }
    }

    /// The destination password given by Edit, decrypted for this run. One that no longer
    /// decrypts (the master key was changed) ends the run in Authentication Error, which Edit fixes.
    async fn destination_password(
        &self,
        job_id: &str,
        organisation_id: i64,
    ) -> Result<Result<Option<crate::secrets::SecretString>, Outcome>, sqlx::Error> {
        let sealed: Option<(String,)> =
            sqlx::query_as("SELECT sealed FROM job_secrets WHERE job_id = $1 AND purpose = 'destination_password'")
                .bind(job_id)
                .fetch_optional(&self.db)
                .await?;
        let Some((sealed,)) = sealed else {
            return Ok(Ok(None));
        };
        let context = destination_password_context(job_id);
        match self.secrets.open(&self.db, organisation_id, &context, &sealed).await {
            Ok(bytes) => Ok(Ok(Some(crate::secrets::SecretString::new(String::from_utf8_lossy(&bytes).into_owned())))),
            Err(crate::secrets::SecretError::Database(error)) => Err(error),
            Err(error) => {
                tracing::warn!(job = job_id, %error, "destination password not usable");
                Ok(Err(Outcome::Authentication(
                    "The saved destination password could not be read; enter it again with Edit.".into(),
                )))
            }
        }
    }

    /// The file of a finished download, from the demo mailbox's few messages (through the
    /// same writer as a real mailbox's).
    async fn write_download(&self, job: &Claimed, email: &str) -> std::io::Result<()> {
        use crate::downloads::file;
        let format = file::Format::from_params(&job.params);
        let (data_dir, job_id, email) = (self.config.data_dir.clone(), job.id.clone(), email.to_owned());
        tokio::task::spawn_blocking(move || file::write_file(&data_dir, &job_id, format, file::demo_messages(&email)).map(|_| ()))
            .await
            .map_err(std::io::Error::other)?
    }

    async fn finish(&self, job: &Claimed, kind: JobKind, outcome: &Outcome) -> Result<(), sqlx::Error> {
        if let Outcome::Internal { during, error } = outcome {
            tracing::error!(job = %job.id, during, error, "a run failed on our side");
        }
        let now = now_ms();
        let decision = decide(kind, outcome, job.retries.max(0) as u32, &self.config.policy, now);
        let mut tx = self.db.begin().await?;
        let link_ready = kind == JobKind::Download && decision.status == JobStatus::Completed;
        let updated = sqlx::query(
            "UPDATE jobs SET status = $1, retries = $2, next_run_at = $3, detail = $4, \
                    finished_at = $5, lease_owner = NULL, lease_until = NULL, updated_at = $6, expires_at = $9 \
             WHERE id = $7 AND lease_owner = $8 AND attempts = $10",
        )
        .bind(decision.status.as_str())
        .bind(decision.retries as i32)
        .bind(decision.next_run_at)
        .bind(&decision.detail)
        .bind(decision.finished.then_some(now))
        .bind(now)
        .bind(&job.id)
        .bind(&self.owner)
        .bind(link_ready.then_some(now + self.config.download_link_ms))
        .bind(job.attempts)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            // The job was claimed again after this run's lease ran out: that run's result counts.
            return Ok(());
        }
        sqlx::query("UPDATE job_attempts SET finished_at = $1, outcome = $2, detail = $3 WHERE job_id = $4 AND number = $5")
            .bind(now)
            .bind(decision.status.as_str())
            .bind(&decision.detail)
            .bind(&job.id)
            .bind(job.attempts)
            .execute(&mut *tx)
            .await?;
        // What this run skipped replaces what an earlier run of the same job listed.
        sqlx::query("DELETE FROM job_skipped_items WHERE job_id = $1").bind(&job.id).execute(&mut *tx).await?;
        if let Outcome::Partial { skipped } = outcome {
            for item in skipped.iter().take(MAX_SKIPPED_LISTED) {
                let (what, why) = item.split_once(": ").unwrap_or((item.as_str(), ""));
                sqlx::query("INSERT INTO job_skipped_items (job_id, item, reason) VALUES ($1, $2, $3)")
                    .bind(&job.id)
                    .bind(what)
                    .bind(why)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        let success = matches!(decision.status, JobStatus::Completed | JobStatus::PartiallyComplete);
        sync_backup(&mut *tx, &job.id, decision.status, Some(success), now).await?;
        tx.commit().await
    }

    /// Queues a backup for every account whose last backup is older than the interval and
    /// that has none waiting or running. Returns how many it queued.
    pub async fn schedule_backups(&self) -> Result<u64, sqlx::Error> {
        let now = now_ms();
        let due: Vec<(i64,)> = sqlx::query_as(&format!(
            "SELECT b.mailbox_id FROM backups b LEFT JOIN jobs j ON j.id = b.current_job_id \
             WHERE (b.last_backup_at IS NULL OR b.last_backup_at < $1) \
               AND (j.id IS NULL OR j.status NOT IN ({WAITING}, 'in_progress'))"
        ))
        .bind(now - self.config.policy.backup_interval_ms)
        .fetch_all(&self.db)
        .await?;
        let mut queued = 0;
        for (mailbox_id,) in &due {
            // None: someone forced one in the meantime.
            if enqueue_backup(&self.db, *mailbox_id, None, now).await?.is_some() {
                queued += 1;
            }
        }
        if queued > 0 {
            self.wake();
        }
        Ok(queued)
    }

    /// Downloads whose link has run out become Expired. Returns how many did.
    pub async fn expire_downloads(&self) -> Result<u64, sqlx::Error> {
        let now = now_ms();
        let expired = sqlx::query(
            "UPDATE jobs SET status = 'expired', updated_at = $1 \
             WHERE kind = 'download' AND status = 'completed' AND expires_at IS NOT NULL AND expires_at <= $1",
        )
        .bind(now)
        .execute(&self.db)
        .await?;
        Ok(expired.rows_affected())
    }
}

/// Stores progress and renews the lease while a run goes on.
struct LeaseKeeper<'a> {
    engine: &'a Engine,
    job_id: &'a str,
    /// This claim's attempt number: a run that lost its claim (even to this same instance,
    /// after its lease ran out) no longer writes.
    attempt: i32,
}

impl ProgressSink for LeaseKeeper<'_> {
    fn report<'a>(&'a self, progress: Progress) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let now = now_ms();
            let result = sqlx::query(
                "UPDATE jobs SET items_done = $1, items_total = $2, bytes_done = $3, bytes_total = $4, \
                        lease_until = $5, updated_at = $6 WHERE id = $7 AND lease_owner = $8 AND attempts = $9",
            )
            .bind(progress.items_done as i64)
            .bind(progress.items_total.map(|v| v as i64))
            .bind(progress.bytes_done as i64)
            .bind(progress.bytes_total.map(|v| v as i64))
            .bind(now + self.engine.config.lease_ms)
            .bind(now)
            .bind(self.job_id)
            .bind(&self.engine.owner)
            .bind(self.attempt)
            .execute(&self.engine.db)
            .await;
            if let Err(error) = result {
                tracing::warn!(%error, job = self.job_id, "progress not stored");
            }
        })
    }
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

/// Where a job's destination password is kept (bound into its encryption).
pub fn destination_password_context(job_id: &str) -> String {
    format!("job:{job_id}:destination_password")
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

/// Queues a backup of one mailbox now, and makes it the one the Backups list shows; `None`
/// when one is already waiting or running (checked in the same transaction, so two requests
/// at once cannot both start one).
pub async fn enqueue_backup(db: &Db, mailbox_id: i64, created_by: Option<i64>, now: i64) -> Result<Option<String>, sqlx::Error> {
    let id = new_job_id(JobKind::Backup);
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO jobs (id, kind, mailbox_id, status, created_by, created_at, updated_at, next_run_at) \
         VALUES ($1, 'backup', $2, 'preparing_backup', $3, $4, $4, $4)",
    )
    .bind(&id)
    .bind(mailbox_id)
    .bind(created_by)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let taken = sqlx::query(&format!(
        "UPDATE backups SET status = 'preparing_backup', current_job_id = $1, updated_at = $2 \
         WHERE mailbox_id = $3 AND (current_job_id IS NULL OR current_job_id IN \
               (SELECT id FROM jobs WHERE status NOT IN ({WAITING}, 'in_progress')))"
    ))
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
}
