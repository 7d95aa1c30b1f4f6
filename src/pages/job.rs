//! One migration, restore or download (`/status/restores/R-…`): its status with cause and what
//! to do, what it does, when, and its actions. The address can be shared with support; an old
//! one (the job was deleted) says so where the job would be.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;
use portal_api::jobs::destination_password_fixes;
use portal_api::{JobKind, JobRow, JobStatus};

use crate::components::copy_button::CopyButton;
use crate::components::error_notice::ErrorList;
use crate::components::jobs::destination_password::{DestinationEdits, DestinationPasswordEdit};
use crate::components::jobs::job_actions::{may_manage, DeleteJobButton, JobAction, JobActionError, JobActions, RetryJobButton};
use crate::components::jobs::job_run::JobRunSummary;
use crate::components::jobs::skipped_items::{SkippedItems, SkippedOf};
use crate::components::jobs::status_badge::StatusBadge;
use crate::components::local_time::LocalTime;
use crate::live::Live;
use crate::{api, paths};

#[component]
pub fn MigratePage() -> impl IntoView {
    view! { <JobPage kind=JobKind::Migrate /> }
}

#[component]
pub fn RestorePage() -> impl IntoView {
    view! { <JobPage kind=JobKind::Restore /> }
}

#[component]
pub fn DownloadPage() -> impl IntoView {
    view! { <JobPage kind=JobKind::Download /> }
}

#[component]
fn JobPage(kind: JobKind) -> impl IntoView {
    let params = use_params_map();
    let live = use_context::<Live>();
    let id = Memo::new(move |_| params.read().get("id").unwrap_or_default());
    let deleted = RwSignal::new(false);
    let job = LocalResource::new(move || {
        let id = id.get();
        if let Some(live) = live {
            live.tick.track();
        }
        async move { api::job(&id).await }
    });
    JobActions::provide(Callback::new(move |(what, _): (JobAction, String)| match what {
        JobAction::Delete => deleted.set(true),
        JobAction::Retry => job.refetch(),
    }));
    let refresh = Callback::new(move |_: ()| job.refetch());
    DestinationEdits::provide(refresh);
    let noun = kind.id_label().trim_end_matches(" ID");
    let list = move || paths::jobs(kind);
    let plural = kind.plural();

    view! {
        <section class="job-page" aria-labelledby="job-title">
            <header class="page-header">
                <p class="page-header__trail">
                    "System Status › " <A href=list()>{plural}</A>
                </p>
                <h1 id="job-title">{move || format!("{noun} {}", id.get())}</h1>
            </header>
            <Show
                when=move || !deleted.get()
                fallback=move || {
                    view! {
                        <p class="notice notice--success" role="status">
                            {format!("{noun} {} was deleted. ", id.get_untracked())}
                            <A href=list()>{format!("Back to {plural}")}</A>
                        </p>
                    }
                }
            >
                <Transition fallback=|| view! { <p class="loading" role="status">"Loading…"</p> }>
                    <ErrorBoundary fallback=move |errors| view! {
                        <ErrorList errors />
                        <p class="job-page__back"><A href=list()>{format!("Back to {plural}")}</A></p>
                    }>
                        {move || Suspend::new(async move { job.await.map(|row| view! { <JobDetails row /> }) })}
                    </ErrorBoundary>
                </Transition>
                // Outside the part a live update rebuilds, so the answer to an action stays.
                <JobActionError id=id.get_untracked() />
            </Show>
        </section>
    }
}

#[component]
fn JobDetails(row: JobRow) -> impl IntoView {
    let kind = row.kind;
    let may_manage = may_manage(&row);
    let noun = kind.id_label().trim_end_matches(" ID").to_lowercase();
    view! {
        <div class="job-page__status" data-status=row.status.as_str()>
            <StatusBadge status=row.status interrupted=row.run.interrupted_at.is_some() />
            <JobRunSummary kind status=row.status run=row.run.clone() id=row.id.clone() may_manage />
            {(row.status == JobStatus::PartiallyComplete).then(|| view! { <SkippedItems of=SkippedOf::Job(row.id.clone()) /> })}
        </div>
        <dl class="job-page__facts">
            <dt>{kind.id_label()}</dt>
            <dd><code>{row.id.clone()}</code> <CopyButton value=row.id.clone() what=kind.id_label() /></dd>
            <dt>"Mailbox"</dt>
            <dd>{row.mailbox_email.clone()} " · " {row.organisation.clone()}</dd>
            <dt>{if kind == JobKind::Download { "File" } else { "What and where" }}</dt>
            <dd>{row.target.clone()}</dd>
            <dt>"Asked for"</dt>
            <dd><LocalTime at=Some(row.created_at.clone()) /></dd>
            {row.finished_at.clone().map(|at| view! { <dt>"Finished"</dt> <dd><LocalTime at=Some(at) /></dd> })}
            {row.download_url.clone().map(|url| view! {
                <dt>"File"</dt>
                <dd>
                    // Not a portal route: the browser fetches the file itself.
                    <a class="button button--small" href=url download="" rel="external">"Download"</a>
                    " Link expires " <LocalTime at=row.expires_at.clone() />
                </dd>
            })}
        </dl>
        <div class="job-page__actions">
            // Every action below is for whoever may act on the job: anyone else is told so, not
            // left with an empty space.
            {(!may_manage).then(|| view! {
                <p class="job-page__no-actions">
                    {format!("Nothing here is for you to do: your organisation's admin manages this {noun}.")}
                </p>
            })}
            <RetryJobButton row=row.clone() />
            {destination_password_fixes(row.kind, row.status).then(|| view! { <DestinationPasswordEdit row=row.clone() /> })}
            <DeleteJobButton row=row.clone() />
        </div>
    }
}
