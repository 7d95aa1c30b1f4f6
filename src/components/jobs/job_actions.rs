//! Try again / Request again and Delete on a migration, restore or download. The actions
//! belong to the page, not to the row: a live update rebuilds the row, and the answer to
//! what the user did (an error, its countdown, its retry) must stay beside it.

use leptos::prelude::*;
use portal_api::{JobKind, JobRow, JobStatus};

use crate::api::{self, ApiError};
use crate::components::error_notice::ErrorNotice;
use crate::session::Session;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobAction {
    Retry,
    Delete,
}

/// The page's job actions and the last one that failed; provided as context.
#[derive(Clone, Copy)]
pub struct JobActions {
    action: Action<(JobAction, String), ()>,
    failed: RwSignal<Option<(JobAction, String, ApiError)>>,
}

impl JobActions {
    /// `on_done` runs after an action succeeded, with what was done to which job.
    pub fn provide(on_done: Callback<(JobAction, String)>) -> JobActions {
        let failed = RwSignal::new(None::<(JobAction, String, ApiError)>);
        let action = Action::new_local(move |(what, id): &(JobAction, String)| {
            let (what, id) = (*what, id.clone());
            async move {
                let result = match what {
                    JobAction::Retry => api::retry_job(&id).await.map(|_| ()),
                    JobAction::Delete => api::delete_job(&id).await,
                };
                match result {
                    Ok(()) => {
                        if failed.with_untracked(|f| f.as_ref().is_some_and(|(_, failed_id, _)| *failed_id == id)) {
                            failed.set(None);
                        }
                        on_done.run((what, id));
                    }
                    Err(error) => failed.set(Some((what, id, error))),
                }
            }
        });
        let actions = JobActions { action, failed };
        provide_context(actions);
        actions
    }

    fn run(&self, what: JobAction, id: String) {
        self.action.dispatch((what, id));
    }

    /// Whether an action on this job is on its way (its buttons wait).
    fn pending_for(&self, id: &str) -> bool {
        self.action.pending().get() && self.action.input().with(|input| input.as_ref().is_some_and(|(_, i)| i == id))
    }
}

/// Whether the signed-in person may act on this job (`portal_api::Action::ManageJob`): an end
/// user is offered nothing on a job that writes into another mailbox, a migration above all.
pub fn may_manage(row: &JobRow) -> bool {
    let session = expect_context::<Session>();
    untrack(|| session.may_manage(row))
}

/// Try again (cancelled or failed) or Request again (a download that can be asked for again);
/// nothing otherwise, nor to whoever may not act on this job.
#[component]
pub fn RetryJobButton(row: JobRow) -> impl IntoView {
    if !may_manage(&row) {
        return None;
    }
    let label = match (row.kind, row.status) {
        (JobKind::Download, JobStatus::Expired | JobStatus::Cancelled | JobStatus::Failed) => "Request again",
        (_, JobStatus::Cancelled | JobStatus::Failed) => "Try again",
        _ => return None,
    };
    let actions = expect_context::<JobActions>();
    let id = row.id.clone();
    let pending_id = row.id.clone();
    Some(view! {
        <button
            type="button"
            class="button button--small"
            aria-label=format!("{label}: {}", row.id)
            disabled=move || actions.pending_for(&pending_id)
            on:click=move |_| actions.run(JobAction::Retry, id.clone())
        >
            {label}
        </button>
    })
}

/// Delete a finished job, after saying what goes with it; nothing while it may still change,
/// nor to whoever may not act on this job.
#[component]
pub fn DeleteJobButton(row: JobRow) -> impl IntoView {
    if !row.status.is_deletable() || !may_manage(&row) {
        return None;
    }
    let actions = expect_context::<JobActions>();
    let confirming = RwSignal::new(false);
    let what = format!("{} {}", row.kind.id_label().trim_end_matches(" ID"), row.id);
    let consequence = if row.kind == JobKind::Download {
        "It leaves the list, and its file is deleted: the link stops working."
    } else {
        "It leaves the list. The mail it moved stays where it is."
    };
    let (id, pending_id) = (row.id.clone(), row.id.clone());
    let label = format!("Delete {}", row.id);
    Some(view! {
        <Show
            when=move || confirming.get()
            fallback={
                let label = label.clone();
                move || view! {
                    <button type="button" class="button button--small" aria-label=label.clone() on:click=move |_| confirming.set(true)>
                        "Delete"
                    </button>
                }
            }
        >
            <div class="job-delete" role="group" aria-label=format!("Delete {what}?")>
                <p class="job-delete__question">{format!("Delete {what}? {consequence}")}</p>
                <button
                    type="button"
                    class="button button--small button--danger"
                    disabled={
                        let pending_id = pending_id.clone();
                        move || actions.pending_for(&pending_id)
                    }
                    on:click={
                        let id = id.clone();
                        move |_| actions.run(JobAction::Delete, id.clone())
                    }
                >
                    {format!("Delete {what}")}
                </button>
                <button type="button" class="button button--small" on:click=move |_| confirming.set(false)>"Keep it"</button>
            </div>
        </Show>
    })
}

/// The explanation of the last action on this job that failed, if any; its retry (after a
/// wait or a new sign-in) runs the same action again.
#[component]
pub fn JobActionError(id: String) -> impl IntoView {
    let actions = expect_context::<JobActions>();
    move || {
        actions.failed.get().filter(|(_, failed_id, _)| *failed_id == id).map(|(what, id, error)| {
            let again = Callback::new(move |_: ()| actions.run(what, id.clone()));
            view! { <ErrorNotice error retry=again /> }
        })
    }
}
