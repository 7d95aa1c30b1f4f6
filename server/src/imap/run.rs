//! A run's progress as it goes: items and bytes done, what was skipped and why, reported to
//! the engine now and then so the portal's progress bar moves, and how the run ended.

use super::*;

/// How far a run has got, stored now and then so the portal's progress bar moves.
pub(super) struct Run<'a> {
    pub(super) sink: &'a dyn ProgressSink,
    pub(super) job_id: &'a str,
    pub(super) items_done: u64,
    pub(super) items_total: u64,
    pub(super) bytes_done: u64,
    pub(super) bytes_total: Option<u64>,
    pub(super) skipped: Vec<String>,
    pub(super) last_report: Instant,
}

impl<'a> Run<'a> {
    pub(super) fn new(sink: &'a dyn ProgressSink, job_id: &'a str) -> Run<'a> {
        Run {
            sink,
            job_id,
            items_done: 0,
            items_total: 0,
            bytes_done: 0,
            bytes_total: None,
            skipped: Vec::new(),
            last_report: Instant::now(),
        }
    }

    pub(super) fn skip(&mut self, item: String, reason: &str) {
        self.skipped.push(format!("{item}: {reason}"));
    }

    /// A message whose backup copy could not be read: the error to the log, not to the list.
    pub(super) fn unreadable(&mut self, item: String, error: &std::io::Error) {
        tracing::warn!(job = self.job_id, item, %error, "a backup copy could not be read");
        self.skip(item, "the backup copy could not be read");
    }

    pub(super) async fn report(&mut self, now: bool) {
        if !now && self.last_report.elapsed().as_millis() < PROGRESS_EVERY_MS {
            return;
        }
        self.last_report = Instant::now();
        self.sink
            .report(Progress {
                items_done: self.items_done,
                items_total: Some(self.items_total),
                bytes_done: self.bytes_done,
                bytes_total: self.bytes_total,
            })
            .await;
    }

    pub(super) fn outcome(&self) -> Outcome {
        if self.skipped.is_empty() {
            Outcome::Completed
        } else {
            Outcome::Partial { skipped: self.skipped.clone() }
        }
    }
}
