//! A wait the server asked for (429 with `Retry-After`) before one thing may be tried again: an
//! address signed in with, a sign-in code. While it lasts, the button says it waits and the
//! notice counts down what is left; once it is over the notice goes. The sign-in page's two
//! steps use it.

use leptos::prelude::*;

use crate::api::ApiError;
use crate::time;

#[derive(Clone, Copy)]
pub struct RetryWait {
    /// What waits (the address, or the step), and until when (ms since the epoch).
    waiting: RwSignal<Option<(String, f64)>>,
    now: RwSignal<f64>,
}

impl RetryWait {
    /// The clock moves only while there is a wait to count down; it stops with the component
    /// that made it.
    #[allow(clippy::new_without_default)]
    pub fn new() -> RetryWait {
        let waiting = RwSignal::new(None::<(String, f64)>);
        let now = RwSignal::new(time::now_ms());
        if let Ok(handle) = set_interval_with_handle(
            move || {
                if waiting.with_untracked(|w| w.as_ref().is_some_and(|(_, until)| *until > now.get_untracked())) {
                    now.set(time::now_ms());
                }
            },
            std::time::Duration::from_millis(250),
        ) {
            on_cleanup(move || handle.clear());
        }
        RetryWait { waiting, now }
    }

    /// Starts the wait `error` asks for, if it is a 429 with `Retry-After`, for `what`.
    pub fn start(&self, what: &str, error: &ApiError) {
        if let (Some(429), Some(secs)) = (error.status, error.retry_after_secs) {
            self.now.set(time::now_ms());
            self.waiting.set(Some((what.to_owned(), self.now.get_untracked() + f64::from(secs) * 1000.0)));
        }
    }

    /// Seconds left before `what` may be tried again (`same` says whether the wait is for it:
    /// another address need not wait). Tracked.
    pub fn left(&self, same: impl Fn(&str) -> bool) -> Option<u32> {
        self.waiting.with(|w| {
            w.as_ref()
                .filter(|(what, _)| same(what))
                .map(|(_, until)| ((until - self.now.get()) / 1000.0).ceil() as u32)
                .filter(|left| *left > 0)
        })
    }

    /// The notice to show for `error`: a 429 only while its wait lasts (`waits`), counting
    /// down what is left of it rather than the whole wait again; any other error as it is.
    pub fn notice(error: ApiError, waits: bool, left: impl FnOnce() -> Option<u32>) -> Option<ApiError> {
        let mut error = error;
        if error.status == Some(429) && error.retry_after_secs.is_some() {
            if !waits {
                return None;
            }
            error.retry_after_secs = untrack(left);
            error.received_at_ms = time::now_ms();
        }
        Some(error)
    }
}
