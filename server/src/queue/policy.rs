//! The state machines of the four kinds of job, as pure rules: from how a run ended to the
//! job's next status and when (if ever) the engine works on it again.
//!
//! A backup is never Cancelled (it is not a status of backups): after its last retry it gives up
//! this run and stays Retrying until its next scheduled backup, which starts a fresh run with
//! a fresh count, or until someone forces a backup.

use portal_api::{JobKind, JobStatus};

use crate::connector::Outcome;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_retries: u32,
    pub retry_after_ms: i64,
    /// When a backup that used up its retries runs again (its next scheduled backup).
    pub backup_interval_ms: i64,
}

/// "2 item(s) skipped: …": the first few named; the job lists them all.
fn skipped_detail(skipped: &[String]) -> String {
    const NAMED: usize = 3;
    let named = skipped.iter().take(NAMED).cloned().collect::<Vec<_>>().join("; ");
    match skipped.len() {
        n if n <= NAMED => format!("{n} item(s) skipped: {named}"),
        n => format!("{n} item(s) skipped: {named}; and {} more, listed with the job", n - NAMED),
    }
}

/// What the engine does after a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub status: JobStatus,
    pub retries: u32,
    /// When the engine picks the job up again; `None`: not by itself.
    pub next_run_at: Option<i64>,
    /// The run is over (no retry pending).
    pub finished: bool,
    pub detail: Option<String>,
}

pub fn decide(kind: JobKind, outcome: &Outcome, retries: u32, policy: &RetryPolicy, now: i64) -> Decision {
    let done = |status, detail: Option<String>| Decision { status, retries, next_run_at: None, finished: true, detail };
    match outcome {
        Outcome::Completed => done(JobStatus::Completed, None),
        // Downloads have no Partially Complete: the file is ready, and says what it lacks.
        Outcome::Partial { skipped } => done(
            if kind == JobKind::Download { JobStatus::Completed } else { JobStatus::PartiallyComplete },
            Some(skipped_detail(skipped)),
        ),
        // Credentials do not fix themselves: wait for someone to fix them.
        Outcome::Authentication(detail) if kind != JobKind::Download => {
            done(JobStatus::AuthenticationError, Some(detail.clone()))
        }
        Outcome::SpaceFull(detail) if kind != JobKind::Download => done(JobStatus::SpaceFull, Some(detail.clone())),
        Outcome::Failed(detail) if kind != JobKind::Backup => done(JobStatus::Failed, Some(detail.clone())),
        // Connection trouble usually clears by itself: keep trying, but say what it is.
        Outcome::Connection(detail) if kind != JobKind::Download => {
            retry(kind, JobStatus::ConnectionError, detail, retries, policy, now)
        }
        Outcome::Connection(detail)
        | Outcome::Authentication(detail)
        | Outcome::SpaceFull(detail)
        | Outcome::Failed(detail)
        | Outcome::Unknown(detail) => retry(kind, JobStatus::Retrying, detail, retries, policy, now),
        Outcome::Internal { during, .. } => {
            let detail = internal_detail(during, retries < policy.max_retries);
            retry(kind, JobStatus::Retrying, &detail, retries, policy, now)
        }
        Outcome::StorageFull { .. } => {
            let detail = storage_full_detail(retries < policy.max_retries);
            retry(kind, JobStatus::Retrying, &detail, retries, policy, now)
        }
    }
}

/// What a job says when the service's own storage is full: the cause in our words, that it
/// is not the customer's subscription, and that nothing was lost; never the system's error.
pub fn storage_full_detail(tried_again: bool) -> String {
    let again = if tried_again { ", and it will be tried again" } else { "" };
    format!(
        "The backup storage of this service is full. This is on our side, not your subscription's storage: \
         nothing was lost{again}."
    )
}

/// What a job says of a failure on our side: what was being done, never the error itself.
pub fn internal_detail(during: &str, tried_again: bool) -> String {
    let again = if tried_again { "; it will be tried again" } else { "" };
    format!("Something went wrong on our side while {during}{again}.")
}

fn retry(kind: JobKind, status: JobStatus, detail: &str, retries: u32, policy: &RetryPolicy, now: i64) -> Decision {
    if retries < policy.max_retries {
        return Decision {
            status,
            retries: retries + 1,
            next_run_at: Some(now + policy.retry_after_ms),
            finished: false,
            detail: Some(detail.to_owned()),
        };
    }
    let given_up = format!("{detail} (gave up after {} retries)", policy.max_retries);
    match kind {
        // Its next run (the next scheduled backup) starts with a fresh count: retries 0 with
        // Retrying reads as "retries used up" in the portal.
        JobKind::Backup => Decision {
            status,
            retries: 0,
            next_run_at: Some(now + policy.backup_interval_ms),
            finished: true,
            detail: Some(given_up),
        },
        _ => Decision { status: JobStatus::Cancelled, retries, next_run_at: None, finished: true, detail: Some(given_up) },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: RetryPolicy = RetryPolicy { max_retries: 25, retry_after_ms: 1_800_000, backup_interval_ms: 86_400_000 };
    const NOW: i64 = 1_000_000;

    fn unknown() -> Outcome {
        Outcome::Unknown("the server closed the connection unexpectedly".into())
    }

    #[test]
    fn an_unknown_error_is_retried_every_30_minutes() {
        for kind in JobKind::ALL {
            let d = decide(kind, &unknown(), 0, &POLICY, NOW);
            assert_eq!((d.status, d.retries, d.next_run_at, d.finished), (JobStatus::Retrying, 1, Some(NOW + 1_800_000), false));
            assert!(kind.allows(d.status));
        }
    }

    #[test]
    fn an_internal_error_is_retried_and_never_shown() {
        let error = "error returned from database: (code: 1) no such table: imap_accounts at /srv/portal/data/portal.db";
        let outcome = Outcome::internal("reading the backup", error);
        for kind in JobKind::ALL {
            let d = decide(kind, &outcome, 0, &POLICY, NOW);
            assert_eq!((d.status, d.retries, d.finished), (JobStatus::Retrying, 1, false), "as an unknown error");
            assert_eq!(
                d.detail.as_deref(),
                Some("Something went wrong on our side while reading the backup; it will be tried again.")
            );
            let last = decide(kind, &outcome, 25, &POLICY, NOW).detail.unwrap();
            assert_eq!(last, "Something went wrong on our side while reading the backup. (gave up after 25 retries)");
        }
    }

    #[test]
    fn our_full_storage_is_retried_and_named_in_our_words() {
        let full = Outcome::storage("saving messages", std::io::ErrorKind::StorageFull.into());
        assert_eq!(full, Outcome::StorageFull { during: "saving messages".into() });
        for kind in JobKind::ALL {
            let d = decide(kind, &full, 0, &POLICY, NOW);
            assert_eq!(
                (d.status, d.retries, d.finished),
                (JobStatus::Retrying, 1, false),
                "not Space Full: not the subscription's"
            );
            assert_eq!(
                d.detail.unwrap(),
                "The backup storage of this service is full. This is on our side, not your subscription's storage: \
                 nothing was lost, and it will be tried again."
            );
            let last = decide(kind, &full, 25, &POLICY, NOW).detail.unwrap();
            assert!(last.ends_with("nothing was lost. (gave up after 25 retries)"), "{last}");
        }
        // Any other failure writing our files stays an internal error.
        let other = Outcome::storage("writing the download file", std::io::ErrorKind::PermissionDenied.into());
        assert!(matches!(other, Outcome::Internal { .. }));
    }

    #[test]
    fn after_25_retries_a_migration_restore_or_download_is_cancelled() {
        for kind in [JobKind::Migrate, JobKind::Restore, JobKind::Download] {
            let mut retries = 0;
            let mut status = JobStatus::OnQueue;
            for _ in 0..=25 {
                let d = decide(kind, &unknown(), retries, &POLICY, NOW);
                retries = d.retries;
                status = d.status;
                if d.finished {
                    break;
                }
            }
            assert_eq!((status, retries), (JobStatus::Cancelled, 25), "{kind:?}");
        }
        let last = decide(JobKind::Restore, &unknown(), 24, &POLICY, NOW);
        assert_eq!((last.status, last.retries), (JobStatus::Retrying, 25), "the 25th retry still happens");
    }

    #[test]
    fn a_backup_past_its_retries_waits_for_its_next_scheduled_run() {
        let d = decide(JobKind::Backup, &unknown(), 25, &POLICY, NOW);
        assert_eq!(d.status, JobStatus::Retrying);
        assert!(d.finished);
        assert_eq!(d.retries, 0, "the next scheduled run has all its retries again");
        assert_eq!(d.next_run_at, Some(NOW + 86_400_000));
        assert!(d.detail.unwrap().contains("gave up after 25 retries"));
    }

    #[test]
    fn connection_errors_keep_their_name_while_they_are_retried() {
        let d = decide(JobKind::Backup, &Outcome::Connection("throttled (429)".into()), 3, &POLICY, NOW);
        assert_eq!((d.status, d.retries, d.finished), (JobStatus::ConnectionError, 4, false));
        let d = decide(JobKind::Restore, &Outcome::Connection("timeout".into()), 25, &POLICY, NOW);
        assert_eq!(d.status, JobStatus::Cancelled);
    }

    #[test]
    fn errors_someone_must_fix_end_the_run() {
        for kind in [JobKind::Backup, JobKind::Migrate, JobKind::Restore] {
            let d = decide(kind, &Outcome::Authentication("password rejected".into()), 0, &POLICY, NOW);
            assert_eq!((d.status, d.next_run_at, d.finished), (JobStatus::AuthenticationError, None, true));
            let d = decide(kind, &Outcome::SpaceFull("quota".into()), 0, &POLICY, NOW);
            assert_eq!(d.status, JobStatus::SpaceFull);
        }
    }

    #[test]
    fn every_decision_is_a_status_of_its_kind() {
        let outcomes = [
            Outcome::Completed,
            Outcome::Partial { skipped: vec!["INBOX/17".into()] },
            Outcome::Connection("reset".into()),
            Outcome::Authentication("401".into()),
            Outcome::SpaceFull("full".into()),
            Outcome::Failed("bug".into()),
            unknown(),
            Outcome::internal("reading the backup", "disk I/O error"),
            Outcome::StorageFull { during: "saving messages".into() },
        ];
        for kind in JobKind::ALL {
            for outcome in &outcomes {
                for retries in [0, 25] {
                    let d = decide(kind, outcome, retries, &POLICY, NOW);
                    assert!(kind.allows(d.status), "{kind:?} {outcome:?} -> {:?}", d.status);
                }
            }
        }
    }

    #[test]
    fn partial_runs_list_what_was_skipped() {
        let d = decide(JobKind::Backup, &Outcome::Partial { skipped: vec!["INBOX/17".into(), "Sent/3".into()] }, 0, &POLICY, NOW);
        assert_eq!(d.status, JobStatus::PartiallyComplete);
        assert_eq!(d.detail.unwrap(), "2 item(s) skipped: INBOX/17; Sent/3");
        // Many: the first few named, the rest counted (the job lists them all).
        let many: Vec<String> = (1..=5).map(|i| format!("INBOX, UID {i}: no headers")).collect();
        let d = decide(JobKind::Backup, &Outcome::Partial { skipped: many }, 0, &POLICY, NOW);
        assert!(d.detail.unwrap().ends_with("INBOX, UID 3: no headers; and 2 more, listed with the job"));
    }
}
