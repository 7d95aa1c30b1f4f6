//! Keeps every status of every kind on show in the demo data, as people learn the product by
//! looking at it. The seeded statuses pass (a retry succeeds, a run ends); once a minute, a
//! status that no demo mailbox shows any more is brought back by a real run through the queue
//! and the engine, whose demo script ends in that status. Nothing is written as a status here.

use std::time::Duration;

use portal_api::{Connector, JobKind, JobStatus};

use crate::connector::JobParams;
use crate::db::{now_ms, Db};
use crate::queue;

/// How often the demo is looked at.
const EVERY: Duration = Duration::from_secs(60);
const MINUTE: i64 = 60_000;
/// Finished jobs the director started are removed beyond this many per kind, oldest first, so
/// that a demo left running for weeks does not grow without end.
const KEEP_COMPLETED: i64 = 40;

/// Runs until the process ends.
pub fn spawn(db: Db) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(EVERY).await;
            if let Err(error) = keep_every_status(&db).await {
                tracing::warn!(%error, "the demo could not bring a status back");
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

/// Starts one run for each status (of each kind) that no demo mailbox shows; returns how many.
pub async fn keep_every_status(db: &Db) -> Result<u32, sqlx::Error> {
    let mut started = 0;
    for kind in JobKind::ALL {
        let shown = shown_statuses(db, kind).await?;
        for status in kind.statuses().iter().copied().filter(|s| !shown.contains(s)) {
            let Some((script, in_minutes)) = script_for(kind, status) else { continue };
            let run_at = now_ms() + in_minutes * MINUTE;
            let params = JobParams { script: Some(script.to_owned()), ..Default::default() };
            if kind == JobKind::Backup {
                if let Some(mailbox_id) = idle_demo_mailbox(db).await? {
                    started += u32::from(queue::enqueue_backup_with(db, mailbox_id, None, &params, run_at).await?.is_some());
                }
            } else if let Some((mailbox_id, template)) = template_job(db, kind).await? {
                let params = JobParams { script: params.script, ..template };
                queue::enqueue_at(db, kind, mailbox_id, &params, None, run_at).await?;
                started += 1;
            }
        }
        if kind != JobKind::Backup {
            prune(db, kind).await?;
        }
    }
    Ok(started)
}

/// The statuses demo mailboxes show now, for one kind (backups: the Backups list's rows).
async fn shown_statuses(db: &Db, kind: JobKind) -> Result<Vec<JobStatus>, sqlx::Error> {
    let demo = Connector::Demo.as_str();
    let rows: Vec<(String,)> = if kind == JobKind::Backup {
        sqlx::query_as("SELECT DISTINCT b.status FROM backups b JOIN mailboxes m ON m.id = b.mailbox_id WHERE m.connector = $1")
            .bind(demo)
            .fetch_all(db)
            .await?
    } else {
        sqlx::query_as(
            "SELECT DISTINCT j.status FROM jobs j JOIN mailboxes m ON m.id = j.mailbox_id WHERE m.connector = $1 AND j.kind = $2",
        )
        .bind(demo)
        .bind(kind.as_str())
        .fetch_all(db)
        .await?
    };
    rows.into_iter().map(|(status,)| status.parse().map_err(|e| sqlx::Error::Decode(Box::new(e)))).collect()
}

/// A demo mailbox whose backup is neither waiting nor running, the one backed up longest ago.
async fn idle_demo_mailbox(db: &Db) -> Result<Option<i64>, sqlx::Error> {
    let idle: Option<(i64,)> = sqlx::query_as(
        "SELECT b.mailbox_id FROM backups b JOIN mailboxes m ON m.id = b.mailbox_id \
         WHERE m.connector = $1 AND b.status IN ($2, $3) ORDER BY b.last_backup_at LIMIT 1",
    )
    .bind(Connector::Demo.as_str())
    .bind(JobStatus::Completed.as_str())
    .bind(JobStatus::PartiallyComplete.as_str())
    .fetch_optional(db)
    .await?;
    Ok(idle.map(|(id,)| id))
}

/// The newest job of the kind on a demo mailbox: its mailbox and what it was asked to do.
async fn template_job(db: &Db, kind: JobKind) -> Result<Option<(i64, JobParams)>, sqlx::Error> {
    let newest: Option<(i64, String)> = sqlx::query_as(
        "SELECT j.mailbox_id, j.params FROM jobs j JOIN mailboxes m ON m.id = j.mailbox_id \
         WHERE m.connector = $1 AND j.kind = $2 ORDER BY j.created_at DESC LIMIT 1",
    )
    .bind(Connector::Demo.as_str())
    .bind(kind.as_str())
    .fetch_optional(db)
    .await?;
    newest
        .map(|(mailbox_id, params)| {
            JobParams::try_from(params).map(|params| (mailbox_id, params)).map_err(|e| sqlx::Error::Decode(Box::new(e)))
        })
        .transpose()
}

/// Removes the oldest completed jobs that nobody asked for (the seed's and the director's)
/// beyond `KEEP_COMPLETED`.
async fn prune(db: &Db, kind: JobKind) -> Result<(), sqlx::Error> {
    let surplus: Vec<(String,)> = sqlx::query_as(
        "SELECT j.id FROM jobs j JOIN mailboxes m ON m.id = j.mailbox_id \
         WHERE m.connector = $1 AND j.kind = $2 AND j.status = $3 AND j.created_by IS NULL \
         ORDER BY j.created_at DESC LIMIT 1000 OFFSET $4",
    )
    .bind(Connector::Demo.as_str())
    .bind(kind.as_str())
    .bind(JobStatus::Completed.as_str())
    .bind(KEEP_COMPLETED)
    .fetch_all(db)
    .await?;
    for (id,) in surplus {
        queue::delete_finished(db, &id).await?;
    }
    Ok(())
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
