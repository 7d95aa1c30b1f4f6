//! Edit on a restore or migration that the destination mailbox refused: a small inline form
//! for the destination's current password. The server stores it encrypted and puts the job
//! back on the queue; the password is never shown again.
//!
//! The forms belong to the page, not to the row: a live update rebuilds the row, and a form
//! someone is typing in must stay open, with what was typed and the answer to Save.

use std::collections::HashMap;

use leptos::prelude::*;
use portal_api::jobs::DestinationPassword;
use portal_api::JobRow;

use crate::api::{self, ApiError};
use crate::components::error_notice::ErrorNotice;
use crate::components::jobs::job_actions::may_manage;
use crate::components::text_field::TextField;

/// The page's open destination-password forms; provided as context.
#[derive(Clone, Copy)]
pub struct DestinationEdits {
    /// What was typed, by job ID; a job is here while its form is open. The signals are the
    /// page's own, so that a rebuilt row finds its form as it was.
    open: RwSignal<HashMap<String, RwSignal<String>>>,
    owner: StoredValue<Owner>,
    save: Action<(String, String), ()>,
    failed: RwSignal<Option<(String, ApiError)>>,
}

impl DestinationEdits {
    /// `on_done` runs once a password was saved (the job is queued again).
    pub fn provide(on_done: Callback<()>) -> DestinationEdits {
        let open = RwSignal::new(HashMap::<String, RwSignal<String>>::new());
        let failed = RwSignal::new(None::<(String, ApiError)>);
        let save = Action::new_local(move |(id, password): &(String, String)| {
            let (id, body) = (id.clone(), DestinationPassword { password: password.clone() });
            async move {
                match api::set_destination_password(&id, &body).await {
                    Ok(_) => {
                        forget_failure(failed, &id);
                        open.update(|open| {
                            open.remove(&id);
                        });
                        on_done.run(());
                    }
                    Err(error) => failed.set(Some((id, error))),
                }
            }
        });
        let edits = DestinationEdits { open, owner: StoredValue::new(Owner::current().unwrap_or_default()), save, failed };
        provide_context(edits);
        edits
    }

    /// What was typed into this job's form, if it is open.
    fn typed(&self, id: &str) -> Option<RwSignal<String>> {
        self.open.with(|open| open.get(id).copied())
    }

    fn open(&self, id: &str) {
        let typed = self.owner.with_value(|owner| owner.with(|| RwSignal::new(String::new())));
        self.open.update(|open| {
            open.entry(id.to_owned()).or_insert(typed);
        });
    }

    fn close(&self, id: &str) {
        self.open.update(|open| {
            open.remove(id);
        });
        forget_failure(self.failed, id);
    }

    fn dispatch(&self, id: &str) {
        if let Some(typed) = self.typed(id) {
            self.save.dispatch((id.to_owned(), typed.get_untracked()));
        }
    }

    fn pending_for(&self, id: &str) -> bool {
        self.save.pending().get() && self.save.input().with(|input| input.as_ref().is_some_and(|(i, _)| i == id))
    }

    fn error_for(&self, id: &str) -> Option<ApiError> {
        self.failed.with(|failed| failed.as_ref().filter(|(failed_id, _)| failed_id == id).map(|(_, error)| error.clone()))
    }
}

fn forget_failure(failed: RwSignal<Option<(String, ApiError)>>, id: &str) {
    if failed.with_untracked(|f| f.as_ref().is_some_and(|(failed_id, _)| failed_id == id)) {
        failed.set(None);
    }
}

/// Edit, for whoever may act on this job (an end user only on a restore into their own mailbox).
#[component]
pub fn DestinationPasswordEdit(row: JobRow) -> impl IntoView {
    if !may_manage(&row) {
        return None;
    }
    let edits = expect_context::<DestinationEdits>();
    let id = StoredValue::new(row.id.clone());
    let error = move || id.with_value(|id| edits.error_for(id));
    let field_error = move || error().and_then(|e| e.field_error("password"));
    let input_id = format!("destination-password-{}", row.id);
    let destination = row.destination.clone().unwrap_or_else(|| row.mailbox_email.clone());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        id.with_value(|id| edits.dispatch(id));
    };
    let save_again = Callback::new(move |_: ()| id.with_value(|id| edits.dispatch(id)));
    let pending = move || id.with_value(|id| edits.pending_for(id));
    let label = format!("Edit the destination password of {}", row.id);

    Some(move || match id.with_value(|id| edits.typed(id)) {
        None => {
            let label = label.clone();
            view! {
                <button type="button" class="button button--small" aria-label=label on:click=move |_| id.with_value(|id| edits.open(id))>
                    "Edit"
                </button>
            }
            .into_any()
        }
        Some(typed) => view! {
            <form class="password-edit" on:submit=submit novalidate>
                <TextField
                    id=input_id.clone()
                    label=format!("Current password of {destination}")
                    value=typed
                    kind="password"
                    error=Signal::derive_local(field_error)
                />
                // A 422 shows here too: its fields are marked one by one, and this sums it up with the request ID.
                {move || error().map(|error| view! { <ErrorNotice error retry=save_again /> })}
                <div class="password-edit__actions">
                    <button type="submit" class="button button--small button--primary" disabled=pending>
                        {move || if pending() { "Saving…" } else { "Save and retry" }}
                    </button>
                    <button type="button" class="button button--small" on:click=move |_| id.with_value(|id| edits.close(id))>
                        "Cancel"
                    </button>
                </div>
            </form>
        }
        .into_any(),
    })
}
