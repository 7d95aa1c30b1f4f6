//! An account's last 30 backups as a small bar chart (SVG): one bar per run, oldest on the
//! left; its height is what the run saved, its colour the run's status on the one status
//! scale. Each bar names its run when pointed at; the caption counts the outcomes in words,
//! so the chart is never the only way to read it.

use leptos::prelude::*;
use portal_api::backups::BACKUP_HISTORY_RUNS;
use portal_api::{BackupRunEntry, JobStatus};

use crate::api;
use crate::bytes::human_bytes;
use crate::components::error_notice::ErrorNotice;
use crate::time;

/// One slot of `SLOT` units per run: whole numbers only (formatting floats would pull
/// kilobytes of code into the wasm).
const SLOT: u32 = 10;
const WIDTH: u32 = SLOT * BACKUP_HISTORY_RUNS as u32;
const HEIGHT: u32 = 56;
const MIN_BAR: u32 = 4;

/// "Last 30 backups" and a button that opens the chart below it.
#[component]
pub fn BackupHistoryToggle(mailbox_id: i64, mailbox_email: String) -> impl IntoView {
    let open = RwSignal::new(false);
    let region = format!("backup-history-{mailbox_id}");
    view! {
        <button
            type="button"
            class="link-button backup-history__toggle"
            aria-expanded=move || open.get().to_string()
            aria-controls=region.clone()
            on:click=move |_| open.update(|o| *o = !*o)
        >
            {move || if open.get() { "Hide history" } else { "Last 30 backups" }}
            <span class="visually-hidden">{format!(" of {mailbox_email}")}</span>
        </button>
        <div id=region>
            <Show when=move || open.get()>
                <BackupHistoryChart mailbox_id />
            </Show>
        </div>
    }
}

#[component]
fn BackupHistoryChart(mailbox_id: i64) -> impl IntoView {
    let history = LocalResource::new(move || api::backup_history(mailbox_id));
    view! {
        <Suspense fallback=|| view! { <p class="loading" role="status">"Loading history…"</p> }>
            {move || Suspend::new(async move {
                match history.await {
                    Ok(history) => either_chart(history.runs).into_any(),
                    Err(error) => view! { <ErrorNotice error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

fn either_chart(mut runs: Vec<BackupRunEntry>) -> impl IntoView {
    if runs.is_empty() {
        return view! { <p class="backup-history__empty">"No backup has run yet."</p> }.into_any();
    }
    runs.reverse(); // oldest on the left
                    // A square-root scale: the first full backup would otherwise flatten every later one.
    let tallest = runs.iter().map(|r| r.bytes_done).max().unwrap_or(0).max(1) as f64;
    let bars = runs
        .iter()
        .enumerate()
        .map(|(n, run)| {
            let height = MIN_BAR + (f64::from(HEIGHT - MIN_BAR) * (run.bytes_done as f64 / tallest).sqrt()) as u32;
            let when = time::parse(&run.created_at).map(time::local).unwrap_or_default();
            let label = format!("{when}: {}, {} items, {}", run.status.label(), run.items_done, human_bytes(run.bytes_done));
            view! {
                <rect
                    class=format!("backup-history__bar backup-history__bar--{}", run.status.tone().as_str())
                    x=(n as u32 * SLOT + 1).to_string()
                    y=(HEIGHT - height).to_string()
                    width=(SLOT - 2).to_string()
                    height=height.to_string()
                >
                    <title>{label}</title>
                </rect>
            }
        })
        .collect_view();
    let summary = summary(&runs);
    view! {
        <figure class="backup-history">
            <svg
                class="backup-history__chart"
                viewBox=format!("0 0 {WIDTH} {HEIGHT}")
                role="img"
                aria-label=format!("Bar chart of the last {} backups. {summary}", runs.len())
            >
                {bars}
            </svg>
            <figcaption class="backup-history__caption">{format!("{summary} Oldest on the left; height is the data saved.")}</figcaption>
        </figure>
    }
    .into_any()
}

/// "27 completed, 2 partially complete, 1 connection error."
fn summary(runs: &[BackupRunEntry]) -> String {
    let mut counts: Vec<(JobStatus, usize)> = Vec::new();
    for run in runs {
        match counts.iter_mut().find(|(status, _)| *status == run.status) {
            Some((_, count)) => *count += 1,
            None => counts.push((run.status, 1)),
        }
    }
    counts.sort_by_key(|c| std::cmp::Reverse(c.1));
    let parts: Vec<String> = counts.iter().map(|(status, count)| format!("{count} {}", status.label().to_lowercase())).collect();
    format!("{}.", parts.join(", "))
}
