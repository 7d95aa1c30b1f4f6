//! A list whose refresh failed keeps showing what it last read, under this notice: the
//! answers to what the user did beside its rows stay in view, and the list does not pass for
//! current. The failed request is also in the Problems panel.

use leptos::prelude::*;

use crate::api::ApiError;
use crate::components::error_notice::meaning;
use crate::time;

/// `at`: when the list shown was read (ms since the epoch).
#[component]
pub fn RefreshFailed(error: ApiError, at: f64) -> impl IntoView {
    let status = error.status.map(|s| format!("{s} · ")).unwrap_or_default();
    let heading = format!("Not refreshed: {status}{}", meaning(error.status));
    let request_id = error.request_id().map(str::to_owned);
    // A status, not an alert: a refresh in the background fails again at each change.
    view! {
        <div class="refresh-failed" role="status">
            <p class="refresh-failed__heading">{heading}</p>
            <p>
                {format!("The list below is as read at {}. It is read again at the next change.", time::local_time_seconds(at))}
            </p>
            {request_id.map(|id| view! { <p class="refresh-failed__id">"Request ID " <code>{id}</code></p> })}
        </div>
    }
}

/// What a list shows after a read (`read`: a page, when it was read, for which filter): the
/// page read; after a failed refresh, the page last read for the same filter (`last`) with the
/// failure and when that page was read; else the failure, for the error boundary.
#[allow(clippy::type_complexity)]
pub fn page_to_show<P, Q: PartialEq>(
    read: Result<(P, f64, Q), ApiError>,
    last: Option<(P, f64, Q)>,
    shown: &Q,
) -> Result<(P, Option<(ApiError, f64)>), ApiError> {
    match (read, last) {
        (Ok((page, _, _)), _) => Ok((page, None)),
        (Err(error), Some((page, at, filter))) if filter == *shown => Ok((page, Some((error, at)))),
        (Err(error), _) => Err(error),
    }
}
