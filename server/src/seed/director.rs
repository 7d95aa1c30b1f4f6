//! Keeps every status of every kind on show in the demo data, as people learn the product by
//! looking at it. The seeded statuses pass (a retry succeeds, a run ends); once a minute, a
//! status that a demo organisation (or the demo end user's mailbox) no longer shows is brought
//! back by a real run through the queue and the engine, whose demo script ends in that status.
//! Nothing is written as a status here. The runs it starts are marked (`JobParams::demo_cycle`)
//! and removed some hours after they finished, so a demo left running does not grow.

use std::time::Duration;

use portal_api::demo::DEMO_SIGN_INS;
use portal_api::{Connector, JobKind, JobStatus};

use crate::connector::JobParams;
use crate::db::{now_ms, Db};
use crate::queue;

/// How often the demo is looked at.
const EVERY: Duration = Duration::from_secs(60);
const MINUTE: i64 = 60_000;
/// How long a finished run the director started stays listed.
const KEEP_FINISHED_MS: i64 = 3 * 60 * MINUTE;

/// Runs until the process ends.
pub fn spawn(db: Db, data_dir: std::path::PathBuf, remote: Option<crate::imap::store::Remote>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(EVERY).await;
            if let Err(error) = keep_every_status(&db).await {
                tracing::warn!(%error, "the demo could not bring a status back");
            }
            if let Err(error) = remove_old_runs(&db, &data_dir, remote.as_ref(), now_ms() - KEEP_FINISHED_MS).await {
                tracing::warn!(%error, "the demo could not remove its old runs");
            }
        }
    })
}

/// The demo script that ends a run in `status`, and when that run starts (minutes from now):
/// `None` for statuses only people cause (Cancelled, Expired, a broken credential).
fn script_for(kind: JobKind, status: JobStatus) -> Option<(&'static str, i64)> {
    Some(match status {
        JobStatus::Completed => ("ok", 0),
        JobStatus::InProgress => ("slow", 0),
        // Waits, so that it is seen waiting.
        JobStatus::PreparingBackup | JobStatus::OnQueue => ("ok", 10),
        JobStatus::Retrying => ("unknown_then_ok", 0),
        JobStatus::ConnectionError => ("connection_then_ok", 0),
        JobStatus::PartiallyComplete => ("partial", 0),
        JobStatus::SpaceFull => ("space_full", 0),
        JobStatus::Failed => ("failed", 0),
        // A restore or migration refused by its destination waits for Edit.
        JobStatus::AuthenticationError if kind != JobKind::Backup => ("auth_error", 0),
        JobStatus::AuthenticationError | JobStatus::Cancelled | JobStatus::Expired => return None,
    })
}

/// Where statuses are kept on show: each demo organisation (what its admin and reseller see),
/// and the demo end user's own mailbox (her migrations, restores and downloads).
#[derive(Clone, Copy, Debug)]
enum Scope {
    Organisation(i64),
    Mailbox(i64),
}

impl Scope {
    /// SQL condition on `m` (the mailbox) for this scope, with its value as `$2`.
    fn condition(self) -> (&'static str, i64) {
        match self {
            Scope::Organisation(id) => ("m.organisation_id = $2", id),
            Scope::Mailbox(id) => ("m.id = $2", id),
        }
    }
}

/// Starts one run for each status (of each kind) that a scope does not show; returns how many.
pub async fn keep_every_status(db: &Db) -> Result<u32, sqlx::Error> {
    let organisations: Vec<(i64, i64, i64)> = sqlx::query_as(
        "SELECT o.id, o.storage_quota_bytes, COALESCE(CAST(SUM(m.storage_used_bytes) AS BIGINT), 0) \
         FROM organisations o JOIN mailboxes m ON m.organisation_id = o.id WHERE m.connector = $1 \
         GROUP BY o.id, o.storage_quota_bytes ORDER BY o.id",
    )
    .bind(Connector::Demo.as_str())
    .fetch_all(db)
    .await?;
    let mut started = 0;
    for (organisation_id, quota, used) in organisations {
        // Space Full only where the subscription is full, as the seed has it.
        let full = quota > 0 && used >= quota;
        started += keep_in(db, Scope::Organisation(organisation_id), full).await?;
    }
    let end_user: Option<(i64,)> = sqlx::query_as("SELECT id FROM mailboxes WHERE email = $1 AND connector = $2")
        .bind(DEMO_SIGN_INS[0].1)
        .bind(Connector::Demo.as_str())
        .fetch_optional(db)
        .await?;
    if let Some((mailbox_id,)) = end_user {
        started += keep_in(db, Scope::Mailbox(mailbox_id), false).await?;
    }
    Ok(started)
}

async fn keep_in(db: &Db, scope: Scope, full: bool) -> Result<u32, sqlx::Error> {
    let mut started = 0;
    // One mailbox's backup shows one status at a time: backups are kept per organisation.
    let kinds = match scope {
        Scope::Organisation(_) => &JobKind::ALL[..],
        Scope::Mailbox(_) => &JobKind::ALL[1..],
    };
    for &kind in kinds {
        let shown = shown_statuses(db, scope, kind).await?;
        for status in kind.statuses().iter().copied().filter(|s| !shown.contains(s)) {
            let Some((script, in_minutes)) = script_for(kind, status) else { continue };
            if status == JobStatus::SpaceFull && !full {
                continue;
            }
            let run_at = now_ms() + in_minutes * MINUTE;
            let params = JobParams { script: Some(script.to_owned()), demo_cycle: true, ..Default::default() };
            if kind == JobKind::Backup {
                if let Some(mailbox_id) = idle_mailbox(db, scope).await? {
                    started += u32::from(queue::enqueue_backup_with(db, mailbox_id, None, &params, run_at).await?.is_some());
                }
            } else if let Some((mailbox_id, template)) = template_job(db, scope, kind).await? {
                // What the template asked for, with the script that ends in the missing status.
                let params = JobParams { script: params.script, demo_cycle: true, ..template };
                queue::enqueue_at(db, kind, mailbox_id, &params, None, run_at).await?;
                started += 1;
            }
        }
    }
    Ok(started)
}

/// The statuses a scope shows now for one kind (backups: the Backups list's rows). A status
/// this build does not know is left out (and logged), not a reason to stop.
async fn shown_statuses(db: &Db, scope: Scope, kind: JobKind) -> Result<Vec<JobStatus>, sqlx::Error> {
    let (condition, id) = scope.condition();
    let sql = if kind == JobKind::Backup {
        format!("SELECT DISTINCT b.status FROM backups b JOIN mailboxes m ON m.id = b.mailbox_id WHERE m.connector = $1 AND {condition}")
    } else {
        format!(
            "SELECT DISTINCT j.status FROM jobs j JOIN mailboxes m ON m.id = j.mailbox_id \
             WHERE m.connector = $1 AND {condition} AND j.kind = $3"
        )
    };
    let mut query = sqlx::query_as::<_, (String,)>(&sql).bind(Connector::Demo.as_str()).bind(id);
    if kind != JobKind::Backup {
        query = query.bind(kind.as_str());
    }
    let rows = query.fetch_all(db).await?;
    Ok(rows
        .into_iter()
        .filter_map(|(status,)| match status.parse() {
            Ok(status) => Some(status),
            Err(error) => {
                tracing::warn!(%error, "the demo left out a status it does not know");
                None
            }
        })
        .collect())
}

/// A demo mailbox of the scope whose backup Completed (most of them: taking one does not take
/// away a status shown by one mailbox only), backed up longest ago.
async fn idle_mailbox(db: &Db, scope: Scope) -> Result<Option<i64>, sqlx::Error> {
    let (condition, id) = scope.condition();
    let idle: Option<(i64,)> = sqlx::query_as(&format!(
        "SELECT b.mailbox_id FROM backups b JOIN mailboxes m ON m.id = b.mailbox_id \
         WHERE m.connector = $1 AND {condition} AND b.status = $3 ORDER BY b.last_backup_at LIMIT 1"
    ))
    .bind(Connector::Demo.as_str())
    .bind(id)
    .bind(JobStatus::Completed.as_str())
    .fetch_optional(db)
    .await?;
    Ok(idle.map(|(id,)| id))
}

/// A job of the kind in the scope, one the seed or a person made (not the director): its
/// mailbox and what it was asked to do, so the new run asks the same.
async fn template_job(db: &Db, scope: Scope, kind: JobKind) -> Result<Option<(i64, JobParams)>, sqlx::Error> {
    let (condition, id) = scope.condition();
    let jobs: Vec<(i64, String)> = sqlx::query_as(&format!(
        "SELECT j.mailbox_id, j.params FROM jobs j JOIN mailboxes m ON m.id = j.mailbox_id \
         WHERE m.connector = $1 AND {condition} AND j.kind = $3 ORDER BY j.created_at, j.id LIMIT 50"
    ))
    .bind(Connector::Demo.as_str())
    .bind(id)
    .bind(kind.as_str())
    .fetch_all(db)
    .await?;
    Ok(jobs.into_iter().find_map(|(mailbox_id, params)| {
        JobParams::try_from(params).ok().filter(|params| !params.demo_cycle).map(|params| (mailbox_id, params))
    }))
}

/// Removes the runs the director started that finished before `before` (a backup's only once
/// a newer one is its mailbox's current run), with a download's file; returns how many.
pub async fn remove_old_runs(
    db: &Db,
    data_dir: &std::path::Path,
    remote: Option<&crate::imap::store::Remote>,
    before: i64,
) -> Result<u32, sqlx::Error> {
    let old: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT j.id, j.kind, j.params FROM jobs j WHERE j.finished_at IS NOT NULL AND j.finished_at < $1 \
           AND j.params LIKE '%demo_cycle%' AND NOT EXISTS (SELECT 1 FROM backups b WHERE b.current_job_id = j.id) \
         LIMIT 500",
    )
    .bind(before)
    .fetch_all(db)
    .await?;
    let mut removed = 0;
    for (id, kind, params) in old {
        // The marker read properly, not only matched as text.
        if !JobParams::try_from(params).is_ok_and(|params| params.demo_cycle) {
            continue;
        }
        if queue::delete_finished_run(db, &id).await? {
            removed += 1;
            if kind == JobKind::Download.as_str() {
                crate::downloads::file::remove_files(data_dir, remote, &id).await;
            }
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_people_do_not_cause_has_a_script_that_exists() {
        for kind in JobKind::ALL {
            for status in kind.statuses() {
                if let Some((script, _)) = script_for(kind, *status) {
                    assert!(crate::demo::SCRIPTS.contains(&script), "{kind} {status}: {script}");
                }
            }
        }
    }
}
