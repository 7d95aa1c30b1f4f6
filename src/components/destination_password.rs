//! Edit on a restore or migration that the destination mailbox refused: a small inline form
//! for the destination's current password. The server stores it encrypted and puts the job
//! back on the queue; the password is never shown again.

use leptos::prelude::*;
use portal_api::jobs::DestinationPassword;
use portal_api::JobRow;

use crate::api::{self, ApiError};
use crate::components::error_notice::ErrorNotice;
use crate::components::text_field::TextField;

#[component]
pub fn DestinationPasswordEdit(row: JobRow, on_done: Callback<()>) -> impl IntoView {
    let open = RwSignal::new(false);
    let password = RwSignal::new(String::new());
    let id = row.id.clone();
    let save = Action::new_local(move |password: &String| {
        let (id, body) = (id.clone(), DestinationPassword { password: password.clone() });
        async move {
            api::set_destination_password(&id, &body).await?;
            on_done.run(());
            Ok::<(), ApiError>(())
        }
    });
    let error = move || save.value().get().and_then(Result::err);
    let field_error = move || error().and_then(|e| e.field_error("password"));
    let input_id = format!("destination-password-{}", row.id);
    let destination = row.destination.clone().unwrap_or_else(|| row.mailbox_email.clone());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        save.dispatch(password.get_untracked());
    };
    let save_again = Callback::new(move |_: ()| {
        save.dispatch(password.get_untracked());
    });

    view! {
        <Show
            when=move || open.get()
            fallback={
                let label = format!("Edit the destination password of {}", row.id);
                move || view! {
                    <button type="button" class="button button--small" aria-label=label.clone() on:click=move |_| open.set(true)>
                        "Edit"
                    </button>
                }
            }
        >
            <form class="password-edit" on:submit=submit novalidate>
                <TextField
                    id=input_id.clone()
                    label=format!("Current password of {destination}")
                    value=password
                    kind="password"
                    error=Signal::derive_local(field_error)
                />
                // A 422 shows here too: its fields are marked one by one, and this sums it up with the request ID.
                {move || error().map(|error| view! { <ErrorNotice error retry=save_again /> })}
                <div class="password-edit__actions">
                    <button type="submit" class="button button--small button--primary" disabled=move || save.pending().get()>
                        {move || if save.pending().get() { "Saving…" } else { "Save and retry" }}
                    </button>
                    <button type="button" class="button button--small" on:click=move |_| open.set(false)>"Cancel"</button>
                </div>
            </form>
        </Show>
    }
}
