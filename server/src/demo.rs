//! The built-in `demo` connector: deterministic, no outside server. Each demo mailbox has a
//! script that says how its jobs end, so the embedded default shows every status, and a run
//! takes a few seconds so its progress bar moves.

use std::time::Duration;

use portal_api::demo::DEMO_MAILBOX_PASSWORD;
use portal_api::JobKind;

use crate::connector::{BoxFuture, Connector, Outcome, Progress, ProgressSink, Work};
use crate::secrets::SecretString;

pub struct DemoConnector {
    /// Pause between two progress steps (a few hundred milliseconds; zero in tests).
    pub step: Duration,
    /// Where a finished download's file is written.
    pub data_dir: std::path::PathBuf,
    /// The shared store a finished download's file goes to, if there is one.
    pub remote: Option<crate::imap::store::Remote>,
}

/// The scripts a demo mailbox (or one job) can have. `slow` completes like `ok`, its steps
/// `SLOW_STEPS` times longer: a run that stays In Progress for minutes.
pub const SCRIPTS: [&str; 9] =
    ["ok", "partial", "auth_error", "space_full", "connection_then_ok", "unknown_then_ok", "unknown_always", "failed", "slow"];

const STEPS: u64 = 8;
const SLOW_STEPS: u32 = 10;

impl Connector for DemoConnector {
    fn run<'a>(&'a self, work: &'a Work, progress: &'a dyn ProgressSink) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            // Errors that stop a run before any data moves come first, as a real server's would.
            match (work.script.as_str(), work.attempt) {
                // A restore or migration gets in once Edit gave the destination's right password.
                ("auth_error", _) if matches!(work.kind, JobKind::Restore | JobKind::Migrate) => {
                    let given = work.destination_password.as_ref().map(SecretString::expose);
                    if given != Some(DEMO_MAILBOX_PASSWORD) {
                        return Outcome::Authentication(
                            "The destination mail server rejected the password (LOGIN failed).".into(),
                        );
                    }
                }
                // A backup gets in once the organisation's credentials are fixed.
                ("auth_error", _) if work.kind == JobKind::Backup && work.credentials_ok => {}
                ("auth_error", _) => return Outcome::Authentication("The mail server rejected the sign-in (401).".into()),
                ("connection_then_ok", 1) => {
                    return Outcome::Connection("The mail server asked us to slow down (429, throttled).".into())
                }
                ("unknown_then_ok", 1) | ("unknown_always", _) => {
                    return Outcome::Unknown("The mail server ended the session unexpectedly.".into())
                }
                ("failed", _) => return Outcome::Failed("The backup data for this job could not be opened.".into()),
                _ => {}
            }
            let (items_total, bytes_total) = size_of(&work.mailbox_email);
            let pause = if work.script == "slow" { self.step * SLOW_STEPS } else { self.step };
            for step in 1..=STEPS {
                if !pause.is_zero() {
                    tokio::time::sleep(pause).await;
                }
                progress
                    .report(Progress {
                        items_done: items_total * step / STEPS,
                        items_total: Some(items_total),
                        bytes_done: bytes_total * step / STEPS,
                        bytes_total: Some(bytes_total),
                    })
                    .await;
                if work.script == "space_full" && step == STEPS / 2 {
                    return Outcome::SpaceFull("The storage limit was reached halfway through.".into());
                }
            }
            let outcome = match work.script.as_str() {
                "partial" => Outcome::Partial {
                    skipped: vec!["INBOX/4471 (malformed MIME)".into(), "Sent/209 (attachment unreadable)".into()],
                },
                _ => Outcome::Completed,
            };
            if work.kind == JobKind::Download {
                if let Err(error) = self.write_download(work).await {
                    return Outcome::internal("writing the download file", error);
                }
            }
            outcome
        })
    }
}

impl DemoConnector {
    /// The file of a finished download, from the demo mailbox's few messages (through the
    /// same writer as a real mailbox's).
    async fn write_download(&self, work: &Work) -> std::io::Result<()> {
        use crate::downloads::file;
        let (data_dir, job_id, format, email) =
            (self.data_dir.clone(), work.job_id.clone(), work.params.format(), work.mailbox_email.clone());
        let dir = data_dir.clone();
        let id = job_id.clone();
        tokio::task::spawn_blocking(move || file::write_file(&dir, &id, format, file::demo_messages(&email)).map(|_| ()))
            .await
            .map_err(std::io::Error::other)??;
        file::publish(&data_dir, self.remote.as_ref(), &job_id, format).await
    }
}

/// A stable, believable size for a mailbox: some hundreds of messages, some hundred MB.
fn size_of(email: &str) -> (u64, u64) {
    let hash = email.bytes().fold(1469598103934665603_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(1099511628211));
    let items = 200 + hash % 4800;
    (items, items * (40_000 + hash % 60_000))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    struct Recorder(Mutex<Vec<Progress>>);
    impl ProgressSink for Recorder {
        fn report<'a>(&'a self, progress: Progress) -> BoxFuture<'a, ()> {
            self.0.lock().unwrap().push(progress);
            Box::pin(async {})
        }
    }

    /// A backup of a demo mailbox with this script, at this attempt.
    fn backup(script: &str, attempt: u32, credentials_ok: bool) -> Work {
        Work {
            job_id: "B-TEST".into(),
            kind: JobKind::Backup,
            mailbox_id: 1,
            organisation_id: 1,
            mailbox_email: "a@b.example".into(),
            connector: portal_api::Connector::Demo,
            params: Default::default(),
            script: script.into(),
            attempt,
            credentials_ok,
            destination_password: None,
        }
    }

    fn connector() -> DemoConnector {
        DemoConnector { step: Duration::ZERO, data_dir: std::env::temp_dir(), remote: None }
    }

    async fn run(script: &str, attempt: u32) -> (Outcome, Vec<Progress>) {
        let recorder = Recorder(Mutex::new(Vec::new()));
        let outcome = connector().run(&backup(script, attempt, false), &recorder).await;
        (outcome, recorder.0.into_inner().unwrap())
    }

    #[tokio::test]
    async fn a_good_mailbox_completes_with_progress_up_to_its_total() {
        let (outcome, progress) = run("ok", 1).await;
        assert_eq!(outcome, Outcome::Completed);
        assert_eq!(progress.len() as u64, STEPS);
        let last = progress.last().unwrap();
        assert_eq!(Some(last.items_done), last.items_total);
        assert!(progress.windows(2).all(|w| w[0].bytes_done <= w[1].bytes_done));
    }

    #[tokio::test]
    async fn transient_errors_recover_on_the_next_attempt() {
        assert!(matches!(run("connection_then_ok", 1).await.0, Outcome::Connection(_)));
        assert_eq!(run("connection_then_ok", 2).await.0, Outcome::Completed);
        assert!(matches!(run("unknown_then_ok", 1).await.0, Outcome::Unknown(_)));
        assert_eq!(run("unknown_then_ok", 2).await.0, Outcome::Completed);
        assert!(matches!(run("unknown_always", 9).await.0, Outcome::Unknown(_)));
    }

    #[tokio::test]
    async fn a_backup_refused_for_its_credentials_gets_in_once_they_are_fixed() {
        let work = |credentials_ok| backup("auth_error", 1, credentials_ok);
        let sink = Recorder(Mutex::new(Vec::new()));
        let connector = connector();
        assert!(matches!(connector.run(&work(false), &sink).await, Outcome::Authentication(_)));
        assert_eq!(connector.run(&work(true), &sink).await, Outcome::Completed);
    }

    #[tokio::test]
    async fn each_script_ends_as_written() {
        assert!(matches!(run("auth_error", 3).await.0, Outcome::Authentication(_)));
        assert!(matches!(run("space_full", 1).await.0, Outcome::SpaceFull(_)));
        assert!(matches!(run("partial", 1).await.0, Outcome::Partial { .. }));
        assert!(matches!(run("failed", 1).await.0, Outcome::Failed(_)));
    }
}
