//! A list that follows live updates (`crate::live`), as System Status › Backups and the job
//! tabs are: read again on every change and whenever its filter changes, with the time of the
//! last read ("Live · updated 14:02:31"). A list whose refresh failed keeps showing what it
//! last read, under a notice: the answers to what the user did beside its rows stay in view,
//! and the list does not pass for current. The failed request is also in the Problems panel.
//!
//! A page makes the list with `use_live_list` and shows it with `<LiveListView>`.

use std::future::Future;

use leptos::prelude::*;
use portal_api::Page;

use crate::api::ApiError;
use crate::components::error_notice::{meaning, ErrorList};
use crate::live::Live;
use crate::time;

/// A page read, when it was read (ms since the epoch), and for which filter.
type Read<T, Q> = (Page<T>, f64, Q);

/// A live list: made by `use_live_list`, shown by `LiveListView`.
pub struct LiveList<T: Send + Sync + 'static, Q: Send + Sync + 'static> {
    filter: Memo<Q>,
    read: LocalResource<Result<Read<T, Q>, ApiError>>,
    /// The last page read: kept while a refresh fails, and shown under a notice that says so.
    last_read: Memo<Option<Read<T, Q>>>,
    live: Option<Live>,
}

impl<T: Send + Sync + 'static, Q: Send + Sync + 'static> Clone for LiveList<T, Q> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Send + Sync + 'static, Q: Send + Sync + 'static> Copy for LiveList<T, Q> {}

/// The list of what `fetch` reads for `filter`: read again when the filter changes and on
/// every live change.
pub fn use_live_list<T, Q, Fut>(filter: Memo<Q>, fetch: impl Fn(Q) -> Fut + 'static) -> LiveList<T, Q>
where
    T: Clone + PartialEq + Send + Sync + 'static,
    Q: Clone + PartialEq + Send + Sync + 'static,
    Fut: Future<Output = Result<Page<T>, ApiError>> + 'static,
{
    let live = use_context::<Live>();
    // Each answer carries the time it was fetched, for "updated 14:02:31".
    let read = LocalResource::new(move || {
        let filter = filter.get();
        // Fetch again on every live change.
        if let Some(live) = live {
            live.tick.track();
        }
        let page = fetch(filter.clone());
        async move { page.await.map(|page| (page, time::now_ms(), filter)) }
    });
    let last_read = Memo::new(move |last: Option<&Option<Read<T, Q>>>| match read.get() {
        Some(Ok(read)) => Some(read),
        _ => last.cloned().flatten(),
    });
    LiveList { filter, read, last_read, live }
}

impl<T, Q> LiveList<T, Q>
where
    T: Clone + PartialEq + Send + Sync + 'static,
    Q: Clone + PartialEq + Send + Sync + 'static,
{
    /// Reads the list again now (after the user changed something in it).
    pub fn refetch(&self) {
        self.read.refetch();
    }

    /// "Live · updated 14:02:31", or how the list is kept fresh while the stream is down;
    /// nothing before the first read. Tracked.
    pub fn updated(&self) -> Option<String> {
        let live = self.live;
        self.last_read
            .with(|read| read.as_ref().map(|(_, at, _)| *at))
            .map(|at| format!("{} · updated {}", live.map(|l| l.describe()).unwrap_or("Updated"), time::local_time_seconds(at)))
    }

    /// How many rows match the filter, as last read. Tracked.
    pub fn total(&self) -> Option<u64> {
        self.last_read.with(|read| read.as_ref().map(|(page, _, _)| page.total))
    }
}

/// The list drawn by `show` (the page read and the filter it was read for). `loading` until
/// the first read; while it is read again, what it showed stays; after a failed refresh, the
/// page last read for the same filter under `RefreshFailed`; else the failure.
#[component]
pub fn LiveListView<T, Q, F, V>(list: LiveList<T, Q>, loading: &'static str, show: F) -> impl IntoView
where
    T: Clone + PartialEq + Send + Sync + 'static,
    Q: Clone + PartialEq + Send + Sync + 'static,
    F: Fn(Page<T>, Q) -> V + Clone + Send + Sync + 'static,
    V: IntoView + 'static,
{
    view! {
        <Transition fallback=move || view! { <p class="loading" role="status">{loading}</p> }>
            <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>
                {move || {
                    let show = show.clone();
                    Suspend::new(async move {
                        let shown = list.filter.get_untracked();
                        let (page, failed) = page_to_show(list.read.await, list.last_read.get_untracked(), &shown)?;
                        Ok::<_, ApiError>(view! {
                            {failed.map(|(error, at)| view! { <RefreshFailed error at /> })}
                            {show(page, shown)}
                        })
                    })
                }}
            </ErrorBoundary>
        </Transition>
    }
}

/// `at`: when the list shown was read (ms since the epoch).
#[component]
fn RefreshFailed(error: ApiError, at: f64) -> impl IntoView {
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

/// What a list shows after a read: the page read; after a failed refresh, the page last read
/// for the same filter (`last`) with the failure and when that page was read; else the
/// failure, for the error boundary.
#[allow(clippy::type_complexity, clippy::result_large_err)]
fn page_to_show<P, Q: PartialEq>(
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
