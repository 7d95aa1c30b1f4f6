//! What a job's status means right now: progress while it runs, when it starts or retries,
//! and for every error its cause and what to do. The same for every kind of job.

use leptos::prelude::*;
use leptos_router::components::A;
use portal_api::error_types;
use portal_api::jobs::explain;
use portal_api::{JobKind, JobRun, JobStatus};

use crate::bytes::human_bytes;
use crate::session::Session;
use crate::{paths, time};

/// "14:30 (in 12 min)" for an RFC 3339 time; empty if it does not parse.
fn at_and_in(at: Option<&str>) -> String {
    at.and_then(time::parse)
        .map(|ms| format!("{} ({})", time::local_time(ms), time::relative(ms - time::now_ms())))
        .unwrap_or_default()
}

/// What a status's "what to do" asks the reader to use, beyond reading it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Needs {
    /// Try again, Edit or Request again on the job itself (`Session::may_manage`).
    ManageJob,
    /// Account Settings: the credentials, the subscription (`Action::ViewSettings`).
    Settings,
}

/// Whom `portal_api::jobs::explain`'s "what to do" for this status is for: `None` when anyone
/// who sees the job can follow it (wait, contact support, download the file).
pub fn todo_needs(kind: JobKind, status: JobStatus) -> Option<Needs> {
    use JobStatus::*;
    match (kind, status) {
        // "Fix the credentials on Account Settings", "Upgrade the subscription's storage".
        (JobKind::Backup, AuthenticationError | SpaceFull) => Some(Needs::Settings),
        (JobKind::Backup, _) => None,
        // "Try again", "Choose Edit", "… then try again", "Request the download again".
        (_, Cancelled | AuthenticationError | SpaceFull | Expired) => Some(Needs::ManageJob),
        (JobKind::Migrate, ConnectionError) => Some(Needs::ManageJob),
        _ => None,
    }
}

/// What to say instead of a "what to do" the reader may not follow: who can, and what to quote.
pub fn ask_admin(id: &str) -> String {
    format!("Your organisation's admin can fix this: ask them, quoting {id}.")
}

/// `id` is what to quote about it (the job's ID, or a backup's Mailbox Email ID); `may_manage`
/// whether the reader may act on this job (Try again, Edit, Request again; never asked of a
/// backup). A "what to do" that points at a control the reader is not offered is replaced by
/// who can do it.
#[component]
pub fn JobRunSummary(
    kind: JobKind,
    status: JobStatus,
    run: JobRun,
    #[prop(into)] id: String,
    #[prop(optional)] may_manage: bool,
) -> impl IntoView {
    let explanation = explain(kind, status);
    let interrupted = status == JobStatus::InProgress && run.interrupted_at.is_some();
    let line = match status {
        // Its server stopped: the bar is frozen, and saying so is the honest thing.
        JobStatus::InProgress if interrupted => Some(format!(
            "Interrupted{} · continues when a worker is free; nothing it saved is lost. No word from its server since {}.",
            run.percent().map(|p| format!(" at {p}%")).unwrap_or_default(),
            at_and_in(run.interrupted_at.as_deref())
        )),
        JobStatus::InProgress => None,
        JobStatus::PreparingBackup | JobStatus::OnQueue => Some(match (&run.next_run_at, run.queue_position) {
            (_, Some(ahead)) if ahead > 0 => format!("Waiting for {ahead} job(s) ahead of it."),
            (Some(at), _) => format!("Starts at {}", at_and_in(Some(at))),
            _ => "Waiting for its turn.".to_owned(),
        }),
        // A backup that used up its retries waits for its next scheduled run, with a fresh count.
        JobStatus::Retrying | JobStatus::ConnectionError if run.retries == 0 && run.next_run_at.is_some() => {
            Some(format!("Retries used up · next scheduled backup at {}", at_and_in(run.next_run_at.as_deref())))
        }
        JobStatus::Retrying | JobStatus::ConnectionError if run.next_run_at.is_some() => {
            Some(format!("Retry {} of {} · next try at {}", run.retries, run.max_retries, at_and_in(run.next_run_at.as_deref())))
        }
        JobStatus::Retrying | JobStatus::ConnectionError => {
            Some(format!("Retries used up ({} of {}).", run.retries, run.max_retries))
        }
        _ => None,
    };
    let progress = (status == JobStatus::InProgress).then(|| {
        let percent = run.percent();
        let items = match run.items_total {
            Some(total) => format!("{} of {} items", run.items_done, total),
            None => format!("{} items", run.items_done),
        };
        let bytes = match run.bytes_total {
            Some(total) => format!("{} of {}", human_bytes(run.bytes_done), human_bytes(total)),
            None => human_bytes(run.bytes_done),
        };
        let started = run.started_at.as_deref().map(|at| format!(" · started {}", at_and_in(Some(at)))).unwrap_or_default();
        view! {
            <div class=if interrupted { "job-run__progress job-run__progress--interrupted" } else { "job-run__progress" }>
                <progress max="100" value=percent.unwrap_or(0).to_string() aria-label="Progress">
                    {percent.map(|p| format!("{p}%")).unwrap_or_default()}
                </progress>
                <span class="job-run__numbers">
                    {format!("{}{items} · {bytes}{started}", percent.map(|p| format!("{p}% · ")).unwrap_or_default())}
                </span>
            </div>
        }
    });
    // Credentials are fixed in Account Settings: linked for those who may open it (and only they
    // are told to fix the subscription's storage there).
    let may_fix_credentials =
        use_context::<Session>().is_some_and(|session| untrack(|| session.may(portal_api::Action::ViewSettings)));
    let may_follow = match todo_needs(kind, status) {
        None => true,
        Some(Needs::ManageJob) => may_manage,
        Some(Needs::Settings) => may_fix_credentials,
    };
    let todo = if may_follow { explanation.what_to_do.to_owned() } else { ask_admin(&id) };
    // Healthy states need no explanation; everything else says why and what to do.
    let explain_it = !matches!(status, JobStatus::Completed | JobStatus::InProgress);
    view! {
        <div class="job-run">
            {progress}
            {line.map(|line| view! { <p class="job-run__line">{line}</p> })}
            {explain_it.then(|| view! {
                <p class="job-run__cause">{explanation.cause}</p>
                <p class=if may_follow { "job-run__todo" } else { "job-run__todo job-run__todo--ask" }>
                    <strong>"What to do: "</strong>{todo}
                </p>
            })}
            {run.detail.filter(|_| explain_it).map(|detail| view! { <p class="job-run__detail">"Reported: " {detail}</p> })}
            {error_types::for_job(kind, status).map(|entry| view! {
                <A href=paths::error_type(entry.id) attr:class="job-run__about">{format!("About “{}”", entry.title)}</A>
            })}
            {(kind == JobKind::Backup && status == JobStatus::AuthenticationError && may_fix_credentials).then(|| view! {
                <A href=paths::CREDENTIALS attr:class="job-run__fix">"Open Account Settings › Credentials"</A>
            })}
        </div>
    }
}
