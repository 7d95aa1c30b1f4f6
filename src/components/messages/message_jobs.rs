//! Restore or download the chosen messages: one job per mailbox they came from (a job reads
//! one mailbox's backup). The jobs made are listed with links to their pages on System
//! Status; a mailbox whose job was refused keeps its messages ticked and shows why, with Try
//! again.

use leptos::prelude::*;
use portal_api::{DownloadFormat, JobKind, JobRow, NewJob};

use crate::access::may_choose_destination;
use crate::api::{self, ApiError};
use crate::components::error_notice::ErrorNotice;
use crate::components::focus::focus_soon;
use crate::components::messages::created_jobs::CreatedJobs;
use crate::components::messages::restore_form::{focus_form, RestoreChoice, RestoreForm};
use crate::components::messages::selection::{by_mailbox, count_words, Chosen};
use crate::session::Session;

/// What to make: a restore (with the form's choices) or a download, for these mailboxes'
/// messages (mailbox ID, its address, the message IDs).
#[derive(Clone, Debug, PartialEq)]
struct Ask {
    restore: Option<RestoreChoice>,
    groups: Vec<(i64, String, Vec<i64>)>,
}

/// The restore form's fields in the order shown, each with the element (after the panel's
/// prefix) that takes the focus when the server refused it.
const FIELDS: [(&str, &str); 3] =
    [("restore_to", "restore-original_folder"), ("destination", "restore-destination"), ("on_conflict", "restore-conflict")];

/// One mailbox's job: the mailbox (ID, address), its messages, and the job made or the refusal.
type Outcome = (i64, String, Vec<i64>, Result<JobRow, ApiError>);

fn new_job(ask: &Ask, mailbox_id: i64, messages: Vec<i64>) -> NewJob {
    let (kind, format) = match ask.restore {
        Some(_) => (JobKind::Restore, None),
        // Exactly one message is one EML file; more go as EML files in a zip.
        None => (JobKind::Download, Some(if messages.len() == 1 { DownloadFormat::Eml } else { DownloadFormat::EmlZip })),
    };
    NewJob {
        kind,
        mailbox_id,
        folders: Vec::new(),
        destination: ask.restore.as_ref().and_then(|r| r.destination.clone()),
        on_conflict: ask.restore.as_ref().map(|r| r.on_conflict),
        format,
        messages,
        restore_to: ask.restore.as_ref().map(|r| r.restore_to),
    }
}

/// `prefix`: the IDs of the panel's elements start with it. `on_made`: the messages a job
/// was made for (the search unticks them).
#[component]
pub fn MessageJobs(
    #[prop(into)] prefix: String,
    chosen: Signal<Vec<Chosen>>,
    #[prop(optional)] on_made: Option<Callback<Vec<i64>>>,
    /// Untick all (the search's panel has it; a preview's has not).
    #[prop(optional)]
    on_clear: Option<Callback<()>>,
) -> impl IntoView {
    let session = expect_context::<Session>();
    let choose_destination = Signal::derive(move || session.role().is_some_and(may_choose_destination));
    let restoring = RwSignal::new(false);
    let made = RwSignal::new(Vec::<JobRow>::new());
    let (restore_id, download_id, made_id) =
        (format!("{prefix}-restore"), format!("{prefix}-download"), format!("{prefix}-made-title"));
    let start = {
        let (made_id, prefix) = (made_id.clone(), prefix.clone());
        Action::new_local(move |ask: &Ask| {
            let ask = ask.clone();
            let (made_id, prefix) = (made_id.clone(), prefix.clone());
            async move {
                let mut outcomes: Vec<Outcome> = Vec::new();
                for (mailbox_id, mailbox, messages) in ask.groups.iter().cloned() {
                    let answer = api::start_job(&new_job(&ask, mailbox_id, messages.clone())).await;
                    outcomes.push((mailbox_id, mailbox, messages, answer));
                }
                let done: Vec<JobRow> = outcomes.iter().filter_map(|(_, _, _, answer)| answer.as_ref().ok().cloned()).collect();
                if !done.is_empty() {
                    let ids: Vec<i64> =
                        outcomes.iter().filter(|(_, _, _, a)| a.is_ok()).flat_map(|(_, _, ids, _)| ids.clone()).collect();
                    made.update(|list| {
                        for row in done.into_iter().rev() {
                            list.insert(0, row);
                        }
                    });
                    if let Some(on_made) = on_made {
                        on_made.run(ids);
                    }
                }
                match outcomes.iter().find_map(|(_, _, _, answer)| answer.as_ref().err()) {
                    None => {
                        restoring.set(false);
                        // What was made is said where the form was: the focus goes there.
                        focus_soon(made_id);
                    }
                    // The first choice the server refused takes the focus, its message read with it.
                    Some(error) => {
                        if let Some(id) = FIELDS.iter().find(|(field, _)| error.field_error(field).is_some()).map(|(_, id)| id) {
                            focus_soon(format!("{prefix}-{id}"));
                        }
                    }
                }
                (ask, outcomes)
            }
        })
    };
    let busy = Signal::derive(move || start.pending().get());
    // The last attempt's refusals, one per mailbox, with what was asked (for Try again).
    let failures = move || {
        start.value().get().map(|(ask, outcomes)| {
            let failed: Vec<(i64, String, Vec<i64>, ApiError)> = outcomes
                .into_iter()
                .filter_map(|(mailbox_id, mailbox, messages, answer)| {
                    answer.err().map(|error| (mailbox_id, mailbox, messages, error))
                })
                .collect();
            (ask, failed)
        })
    };
    let first_error = Signal::derive_local(move || failures().and_then(|(_, failed)| failed.into_iter().next().map(|f| f.3)));
    let count = Signal::derive(move || chosen.with(Vec::len));
    let what = Signal::derive(move || count_words(count.get()));
    let mailboxes = Signal::derive(move || by_mailbox(&chosen.get()).into_iter().map(|(_, mailbox, _)| mailbox).collect());
    let none = move || count.get() == 0;
    let ask = move |restore: Option<RestoreChoice>| {
        let groups = by_mailbox(&chosen.get_untracked());
        if !groups.is_empty() && !start.pending().get_untracked() {
            start.dispatch(Ask { restore, groups });
        }
    };
    let on_restore = Callback::new(move |choice: RestoreChoice| ask(Some(choice)));
    let on_cancel = {
        let restore_id = restore_id.clone();
        Callback::new(move |_: ()| {
            restoring.set(false);
            // A refusal is about what was asked then: it goes with the form.
            start.value().set(None);
            focus_soon(restore_id.clone());
        })
    };
    let open_restore = {
        let prefix = prefix.clone();
        move |_| {
            if untrack(none) {
                return;
            }
            let open = !restoring.get_untracked();
            restoring.set(open);
            if open {
                focus_form(&prefix);
            }
        }
    };
    let retry_failed = move || {
        failures().map(|(ask, failed)| {
            failed
                .into_iter()
                .map(|(mailbox_id, mailbox, messages, error)| {
                    let again =
                        Ask { restore: ask.restore.clone(), groups: vec![(mailbox_id, mailbox.clone(), messages.clone())] };
                    let retry = Callback::new(move |_: ()| {
                        if !start.pending().get_untracked() {
                            start.dispatch(again.clone());
                        }
                    });
                    let noun = if ask.restore.is_some() { "restore" } else { "download" };
                    // What the server said of the request that no field of the form shows
                    // (too many messages, some no longer in the backup): said here, in its words.
                    let shown_by_form = ask.restore.is_some();
                    let reasons: Vec<String> = error
                        .problem
                        .iter()
                        .flat_map(|problem| problem.errors.iter())
                        .filter(|e| !(shown_by_form && FIELDS.iter().any(|(field, _)| *field == e.field)))
                        .map(|e| e.message.clone())
                        .collect();
                    view! {
                        <div class="message-jobs__failure">
                            <p class="message-jobs__failed-what">
                                {format!("The {noun} of {} from {mailbox} was not started:", count_words(messages.len()))}
                            </p>
                            {(!reasons.is_empty()).then(|| view! {
                                <ul class="message-jobs__reasons">
                                    {reasons.into_iter().map(|reason| view! { <li>{reason}</li> }).collect_view()}
                                </ul>
                            })}
                            <ErrorNotice error retry />
                        </div>
                    }
                })
                .collect_view()
        })
    };
    // Untick all keeps the focus (it only waits, as the buttons beside it, until something is ticked).
    let on_clear_click = move |_| {
        if let Some(on_clear) = on_clear {
            on_clear.run(());
            restoring.set(false);
            start.value().set(None);
        }
    };
    let hint_id = format!("{prefix}-hint");
    // A preview's panel is for its one message: nothing to tick or clear.
    let single = on_clear.is_none();

    view! {
        <section class="message-jobs" aria-label="Restore or download">
            <div class="message-jobs__bar">
                <p class="message-jobs__count" id=hint_id.clone() aria-live="polite">
                    {move || match (none(), single) {
                        (true, _) => "Tick messages to restore or download them.".to_owned(),
                        (false, true) => "Put this message back into a mailbox, or download it as an EML file.".to_owned(),
                        (false, false) => format!("{} chosen", what.get()),
                    }}
                </p>
                <button
                    type="button"
                    class="button"
                    id=restore_id
                    aria-expanded=move || restoring.get().to_string()
                    aria-disabled=move || none().then_some("true")
                    aria-describedby=hint_id.clone()
                    on:click=open_restore
                >
                    "Restore…"
                </button>
                <button
                    type="button"
                    class="button"
                    id=download_id
                    aria-disabled=move || (none() || busy.get()).then_some("true")
                    aria-describedby=hint_id
                    on:click=move |_| {
                        if !untrack(none) {
                            ask(None);
                        }
                    }
                >
                    {move || if count.get() > 1 { "Download as EML files (zip)" } else { "Download as EML file" }}
                </button>
                {on_clear.map(|_| view! {
                    <button type="button" class="button button--quiet" on:click=on_clear_click aria-disabled=move || none().then_some("true")>
                        "Untick all"
                    </button>
                })}
            </div>
            <Show when=move || restoring.get() && !none()>
                <RestoreForm
                    prefix=prefix.clone()
                    what
                    mailboxes
                    may_choose_destination=choose_destination
                    busy
                    error=first_error
                    on_submit=on_restore
                    on_cancel
                />
            </Show>
            {retry_failed}
            <CreatedJobs made title_id=made_id />
        </section>
    }
}
