//! The demo's migrations, restores and downloads: one in every status of its kind, for each
//! organisation of the first reseller.

use super::*;

/// One migration, restore and download in every status of its kind, for each organisation of
/// the first reseller, so every status can be seen (and the demo end user has some of each).
pub(super) async fn seed_other_jobs(tx: &mut sqlx::Transaction<'_, sqlx::Any>, now: i64) -> Result<(), sqlx::Error> {
    for org_index in 0..3_i64 {
        let first_mailbox = org_index * 20 + 1;
        for (kind_index, kind) in [JobKind::Migrate, JobKind::Restore, JobKind::Download].into_iter().enumerate() {
            for (k, status) in kind.statuses().iter().copied().enumerate() {
                let k = k as i64;
                // The demo end user (the first mailbox) gets the first few statuses of each kind.
                let offset = if org_index == 0 && k < 3 { 0 } else { (k * 3 + kind_index as i64 + org_index) % 20 };
                let mailbox_id = first_mailbox + offset;
                let (email,): (String,) =
                    sqlx::query_as("SELECT email FROM mailboxes WHERE id = $1").bind(mailbox_id).fetch_one(&mut **tx).await?;
                let mut job = DemoJob::for_status(kind, status, k, now);
                // One run held by "another instance" per organisation (a migration, a restore or a
                // download in turn), within the organisation's share of runs; the others are taken over.
                if status == JobStatus::InProgress && kind_index as i64 != org_index {
                    job.lease_until = Some(0);
                }
                // Restores elsewhere and migrations go into another mailbox of the same
                // organisation, the only place they may go.
                let (colleague,): (String,) = sqlx::query_as("SELECT email FROM mailboxes WHERE id = $1")
                    .bind(first_mailbox + (offset + 10) % 20)
                    .fetch_one(&mut **tx)
                    .await?;
                let params = match kind {
                    JobKind::Restore => serde_json::json!({
                        "destination": if k % 2 == 0 { email.clone() } else { colleague },
                        "folders": if k % 3 == 0 { vec![] } else { vec!["Inbox", "Sent Items"] },
                        "on_conflict": if k % 2 == 0 { "skip" } else { "keep_both" },
                        "script": job.script,
                    }),
                    JobKind::Migrate => serde_json::json!({
                        "destination": colleague,
                        "script": job.script,
                    }),
                    _ => serde_json::json!({
                        "format": if k % 2 == 0 { "mbox" } else { "eml_zip" },
                        "script": job.script,
                    }),
                };
                job.insert(tx, kind, mailbox_id, status, &params.to_string()).await?;
            }
        }
    }
    Ok(())
}

/// A job that reads as the seeded status does, and the demo script that makes the engine
/// continue it believably (an error that recovers on retry, or one that persists).
pub(super) struct DemoJob {
    pub(super) script: &'static str,
    pub(super) created_at: i64,
    pub(super) started_at: Option<i64>,
    pub(super) finished_at: Option<i64>,
    pub(super) items_done: i64,
    pub(super) items_total: Option<i64>,
    pub(super) attempts: i32,
    pub(super) retries: i32,
    pub(super) next_run_at: Option<i64>,
    /// Running under another instance's lease: an expired one (that instance "died", the engine
    /// takes the run over at once) or one that holds a while yet.
    pub(super) lease_until: Option<i64>,
    pub(super) detail: Option<&'static str>,
    pub(super) expires_at: Option<i64>,
}

impl DemoJob {
    pub(super) fn for_status(kind: JobKind, status: JobStatus, k: i64, now: i64) -> Self {
        let backup = kind == JobKind::Backup;
        let total = if backup { 300 + k * 37 } else { 400 + k * 53 };
        // Backups ran recently and often; the other jobs were asked for over the last hours.
        let created_at = if backup { now - (12 + k * 23) * MINUTE } else { now - (30 + k * 47) * MINUTE };
        let finished = Self {
            script: "ok",
            created_at,
            started_at: Some(created_at + MINUTE),
            finished_at: Some(created_at + if backup { 2 } else { 20 } * MINUTE),
            items_done: total,
            items_total: Some(total),
            attempts: 1,
            retries: 0,
            next_run_at: None,
            lease_until: None,
            detail: None,
            expires_at: None,
        };
        let waiting = Self { started_at: None, finished_at: None, items_done: 0, items_total: None, attempts: 0, ..finished };
        let failing = |script, attempts, retries, next_in: i64, detail| Self {
            script,
            finished_at: None,
            items_done: 0,
            attempts,
            retries,
            next_run_at: Some(now + next_in * MINUTE),
            detail: Some(detail),
            ..finished
        };
        let unexpected = "The mail server ended the session unexpectedly.";
        match status {
            JobStatus::PreparingBackup => Self { next_run_at: Some(now + (2 + k) * MINUTE), ..waiting },
            JobStatus::OnQueue => {
                Self { created_at: now - (2 + k) * MINUTE, next_run_at: Some(now + (10 + k) * MINUTE), ..waiting }
            }
            JobStatus::InProgress => Self {
                started_at: Some(now - (2 + k) * MINUTE),
                finished_at: None,
                items_done: total / 3,
                // Backups move at once in the demo; the other kinds' runs are held a while by another instance.
                lease_until: Some(if backup { 0 } else { now + 10 * MINUTE }),
                ..finished
            },
            JobStatus::Completed if kind == JobKind::Download => {
                Self { expires_at: finished.finished_at.map(|f| f + 7 * 24 * HOUR), ..finished }
            }
            JobStatus::Expired => Self {
                created_at: now - 9 * 24 * HOUR,
                started_at: Some(now - 9 * 24 * HOUR + MINUTE),
                finished_at: Some(now - 9 * 24 * HOUR + 20 * MINUTE),
                expires_at: Some(now - 2 * 24 * HOUR + 20 * MINUTE),
                ..finished
            },
            JobStatus::Retrying => failing("unknown_then_ok", 4, 3 + (k % 5) as i32, 5 + k, unexpected),
            JobStatus::ConnectionError if backup => {
                failing("connection_then_ok", 2, 1, 20 + k, "The mail server asked us to slow down (429, throttled).")
            }
            JobStatus::ConnectionError => {
                failing("connection_then_ok", 2, 1, 25 + k, "The destination mail server did not answer (timeout).")
            }
            JobStatus::Cancelled => Self {
                script: "unknown_always",
                items_done: 0,
                attempts: 26,
                retries: 25,
                detail: Some("The mail server ended the session unexpectedly. (gave up after 25 retries)"),
                ..finished
            },
            JobStatus::Failed => Self {
                script: "failed",
                items_done: 0,
                detail: Some("The backup data for this job could not be opened."),
                ..finished
            },
            JobStatus::AuthenticationError => Self {
                script: "auth_error",
                items_done: 0,
                detail: Some(if backup {
                    "The mail server rejected the sign-in (401)."
                } else {
                    "The destination mailbox rejected its password (401)."
                }),
                ..finished
            },
            JobStatus::SpaceFull => Self {
                script: "space_full",
                items_done: total / 2,
                detail: Some(if backup {
                    "The storage limit was reached halfway through."
                } else {
                    "The destination mailbox is full (its 2 GB quota was reached)."
                }),
                ..finished
            },
            JobStatus::PartiallyComplete => Self {
                script: "partial",
                detail: Some(if backup {
                    "2 item(s) skipped: INBOX/4471 (malformed MIME), Sent/209 (attachment unreadable)"
                } else {
                    "3 item(s) not delivered: Inbox/812, Inbox/1020, Sent Items/77 (rejected by the destination)"
                }),
                ..finished
            },
            _ => finished,
        }
    }

    /// Stores the job; returns its new ID.
    pub(super) async fn insert(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        kind: JobKind,
        mailbox_id: i64,
        status: JobStatus,
        params: &str,
    ) -> Result<String, sqlx::Error> {
        let id = new_job_id(kind);
        let bytes_per_item = 50_000;
        sqlx::query(
            "INSERT INTO jobs (id, kind, mailbox_id, status, params, created_at, updated_at, started_at, \
                               finished_at, items_done, items_total, bytes_done, bytes_total, attempts, retries, \
                               next_run_at, lease_until, detail, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
        )
        .bind(&id)
        .bind(kind.as_str())
        .bind(mailbox_id)
        .bind(status.as_str())
        .bind(params)
        .bind(self.created_at)
        .bind(self.started_at)
        .bind(self.finished_at)
        .bind(self.items_done)
        .bind(self.items_total)
        .bind(self.items_done * bytes_per_item)
        .bind(self.items_total.map(|t| t * bytes_per_item))
        .bind(self.attempts)
        .bind(self.retries)
        .bind(self.next_run_at)
        .bind(self.lease_until)
        .bind(self.detail)
        .bind(self.expires_at)
        .execute(&mut **tx)
        .await?;
        Ok(id)
    }
}
