//! The durable job engine. Every job and attempt lives in the database; an engine instance
//! claims a due job with a lease, runs it through a connector, and records how it ended.
//! A job whose instance died (its lease ran out) is claimed again, so a restart loses nothing.
//! With PostgreSQL, instances share the queue through `FOR UPDATE SKIP LOCKED`.

use std::sync::Arc;
use std::time::Duration;

use portal_api::{JobKind, JobStatus};
use tokio::sync::{watch, Notify, Semaphore};

use crate::connector::{BoxFuture, Connector, Outcome, Progress, ProgressSink, Work};
use crate::db::{now_ms, Db};
use crate::queue::policy::{decide, RetryPolicy};
use crate::queue::{self, Claimed, Finish, Lease};

/// How long a shutdown waits for the runs it stopped to give their claims back.
const ABANDON_WAIT: Duration = Duration::from_secs(10);

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
    /// This instance's name, the start of its lease owner (a random part makes each unique).
    pub instance: String,
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
            instance: "engine".into(),
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
    /// Set when a shutdown's grace period is over: runs still going stop and give their job
    /// back to the queue.
    abandon: Arc<watch::Sender<bool>>,
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
        self.finish(&job.0, outcome).await
    }

    /// Runs a claimed job through the connector, holding its claim, as a worker does.
    pub async fn run_claimed(&self, job: ClaimedJob) -> Result<(), sqlx::Error> {
        self.execute(job.0).await
    }
}

impl Engine {
    pub fn new(db: Db, config: EngineConfig, connector: Arc<dyn Connector>, secrets: crate::secrets::SecretBox) -> Self {
        // Unique even when two instances are given the same name: two owners alike would each
        // take the other's claims for their own.
        let owner = format!("{}-{}", config.instance, hex::encode(rand::random::<[u8; 6]>()));
        let postgres = crate::db::Backend::of(&db) == crate::db::Backend::Postgres;
        let running = Arc::default();
        let abandon = Arc::new(watch::channel(false).0);
        Engine { db, config, connector, owner, wake: Arc::new(Notify::new()), secrets, postgres, running, abandon }
    }

    /// This instance's name in the leases it holds and the attempts it ran.
    pub fn owner(&self) -> &str {
        &self.owner
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
        let (_never, shutdown) = watch::channel(false);
        // The sender is dropped: `shutting_down` then never resolves.
        tokio::spawn(self.run_until(shutdown, Duration::ZERO))
    }

    /// Runs the engine until `shutdown` is set; then it claims nothing more, lets its runs
    /// finish for up to `grace`, and gives those still going back to the queue (another
    /// instance takes them over at once), before it returns.
    pub async fn run_until(self, mut shutdown: watch::Receiver<bool>, grace: Duration) {
        let workers = self.config.workers.max(1);
        let slots = Arc::new(Semaphore::new(workers));
        let mut last_schedule = 0_i64;
        loop {
            if *shutdown.borrow() {
                break;
            }
            if now_ms() - last_schedule >= 60_000 {
                last_schedule = now_ms();
                if let Err(error) = self.schedule_backups().await {
                    tracing::warn!(%error, "could not queue scheduled backups");
                }
                if let Err(error) = self.expire_downloads().await {
                    tracing::warn!(%error, "could not expire download links");
                }
            }
            let permit = tokio::select! {
                permit = slots.clone().acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => return,
                },
                () = until_set(&mut shutdown) => break,
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
                    tokio::select! {
                        _ = tokio::time::timeout(self.config.poll, self.wake.notified()) => {}
                        () = until_set(&mut shutdown) => break,
                    }
                }
                Err(error) => {
                    drop(permit);
                    tracing::warn!(%error, "could not look for due jobs");
                    tokio::time::sleep(self.config.poll).await;
                }
            }
        }
        // Shutting down: every worker's slot back means every run has ended.
        let all = u32::try_from(workers).unwrap_or(u32::MAX);
        if tokio::time::timeout(grace, slots.acquire_many(all)).await.is_ok() {
            return;
        }
        tracing::info!(running = self.running(), "shutting down: runs still going are given back to the queue");
        self.abandon.send_replace(true);
        // Each run stops at its next turn and gives its claim back; the database's own
        // deadline bounds how long that takes.
        if tokio::time::timeout(ABANDON_WAIT, slots.acquire_many(all)).await.is_err() {
            tracing::warn!("runs could not be given back in time; other instances take them over when their claims run out");
        }
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

    /// Takes one due job (`queue::claim`) under this instance's lease.
    pub async fn claim(&self) -> Result<Option<ClaimedJob>, sqlx::Error> {
        let claimed =
            queue::claim(&self.db, &self.owner, self.config.lease_ms, self.config.max_runs_per_organisation, self.postgres);
        Ok(claimed.await?.map(ClaimedJob))
    }

    async fn execute(&self, job: Claimed) -> Result<(), sqlx::Error> {
        let (email, mailbox_script, organisation_id, connector): (String, String, i64, String) =
            sqlx::query_as("SELECT email, demo_script, organisation_id, connector FROM mailboxes WHERE id = $1")
                .bind(job.mailbox_id)
                .fetch_one(&self.db)
                .await?;
        // A job that cannot run as stored ends at once, named, instead of running on a guess.
        let params = match &job.params {
            Ok(params) => params.clone(),
            Err(why) => return self.finish(&job, &Outcome::Failed(why.clone())).await,
        };
        let Ok(connector) = connector.parse::<portal_api::Connector>() else {
            tracing::error!(job = %job.id, connector, "a mailbox's connector could not be read");
            return self.finish(&job, &Outcome::Failed("Its mailbox's connector could not be read.".into())).await;
        };
        let destination_password = match self.destination_password(&job.id, organisation_id).await? {
            Ok(password) => password,
            Err(outcome) => return self.finish(&job, &outcome).await,
        };
        let credentials_ok =
            job.kind != JobKind::Backup || crate::credentials::store::all_working(&self.db, organisation_id).await?;
        let work = Work {
            job_id: job.id.clone(),
            kind: job.kind,
            mailbox_id: job.mailbox_id,
            organisation_id,
            mailbox_email: email,
            connector,
            // A job may carry its own script (a restore into a mailbox whose password is wrong...).
            script: params.script.clone().unwrap_or(mailbox_script),
            params,
            attempt: job.attempts.max(1) as u32,
            credentials_ok,
            destination_password,
        };
        let sink = LeaseKeeper { engine: self, job_id: &job.id, attempt: job.attempts };
        let Some(outcome) = self.run_holding_lease(&job, self.connector.run(&work, &sink)).await else {
            // Stopped: another instance may take the job now, and its result counts. When the
            // run stopped is kept with its attempt (what shows no two runs overlapped).
            if let Err(error) = queue::run_stopped(&self.db, &job.id, job.attempts).await {
                tracing::warn!(job = %job.id, %error, "when a stopped run ended could not be noted");
            }
            return Ok(());
        };
        // The work is done; how it ended is not recorded yet.
        crate::failpoint::hit("engine.before-finish");
        self.finish(&job, &outcome).await
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
        let mut abandon = self.abandon.subscribe();
        // Boxed already: selected on by reference, and dropped for real when given back.
        let mut run = run;
        loop {
            let stop_in = Duration::from_millis((held_until - margin - now_ms()).max(0) as u64);
            tokio::select! {
                outcome = &mut run => return Some(outcome),
                () = until_set(&mut abandon) => {
                    // The run is dropped first (its connections closed, its database writes over);
                    // a file write it had handed to a blocking thread may still be ending, which
                    // the second before another instance may take the job over is for.
                    drop(run);
                    let lease = Lease { owner: &self.owner, attempt: job.attempts };
                    match queue::release(&self.db, &job.id, lease).await {
                        Ok(_) => tracing::info!(job = %job.id, "shutting down: the run was given back to the queue"),
                        Err(error) => tracing::warn!(job = %job.id, %error, "shutting down: the run could not be given back; its claim runs out instead"),
                    }
                    return None;
                }
                _ = tokio::time::sleep(stop_in) => {
                    tracing::warn!(job = %job.id, "the claim could not be renewed in time; the run was stopped");
                    return None;
                }
                _ = tokio::time::sleep_until(next_renewal) => {
                    next_renewal = tokio::time::Instant::now() + every;
                    let until = now_ms() + lease;
                    let lease = Lease { owner: &self.owner, attempt: job.attempts };
                    let renewal = queue::renew_lease(&self.db, &job.id, lease, until);
                    // A renewal waiting on a database out of reach gives up at the stop, too.
                    let wait = Duration::from_millis((held_until - margin - now_ms()).max(0) as u64);
                    match tokio::time::timeout(wait, renewal).await {
                        Ok(Ok(true)) => held_until = until,
                        // Taken over by another instance: its run counts.
                        Ok(Ok(false)) => {
                            tracing::warn!(job = %job.id, "the claim on a run was lost; the run was stopped");
                            return None;
                        }
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
        let Some(sealed) = queue::sealed_destination_password(&self.db, job_id).await? else {
            return Ok(Ok(None));
        };
        let context = queue::destination_password_context(job_id);
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

    async fn finish(&self, job: &Claimed, outcome: &Outcome) -> Result<(), sqlx::Error> {
        if let Outcome::Internal { during, error } = outcome {
            tracing::error!(job = %job.id, during, error, "a run failed on our side");
        }
        let now = now_ms();
        let decision = decide(job.kind, outcome, job.retries.max(0) as u32, &self.config.policy, now);
        let link_ready = job.kind == JobKind::Download && decision.status == JobStatus::Completed;
        let skipped = match outcome {
            Outcome::Partial { skipped } => skipped.as_slice(),
            _ => &[],
        };
        let end = Finish { decision: &decision, skipped, link_until: link_ready.then_some(now + self.config.download_link_ms) };
        queue::finish(&self.db, &job.id, Lease { owner: &self.owner, attempt: job.attempts }, end).await
    }

    /// Queues a backup for every account whose last backup is older than the interval and
    /// that has none waiting or running. Returns how many it queued.
    pub async fn schedule_backups(&self) -> Result<u64, sqlx::Error> {
        let now = now_ms();
        let mut queued = 0;
        for mailbox_id in queue::due_for_backup(&self.db, self.config.policy.backup_interval_ms).await? {
            // None: someone forced one in the meantime.
            if queue::enqueue_backup(&self.db, mailbox_id, None, now).await?.is_some() {
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
        queue::expire_downloads(&self.db).await
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
            let lease = Lease { owner: &self.engine.owner, attempt: self.attempt };
            let until = now_ms() + self.engine.config.lease_ms;
            let result = queue::report_progress(&self.engine.db, self.job_id, lease, &progress, until).await;
            if let Err(error) = result {
                tracing::warn!(%error, job = self.job_id, "progress not stored");
            }
        })
    }
}

/// Resolves when `flag` is set (never, once nothing can set it).
async fn until_set(flag: &mut watch::Receiver<bool>) {
    if flag.wait_for(|set| *set).await.is_err() {
        std::future::pending::<()>().await;
    }
}
