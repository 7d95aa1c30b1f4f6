//! A new password for an IMAP mailbox whose password changed at its mail server: tried with
//! the server first, then stored encrypted; a backup stopped by the old one runs again.

use leptos::prelude::*;
use portal_api::ImapPassword;

use crate::api::{self, ApiError};
use crate::components::error_notice::ErrorNotice;
use crate::components::text_field::TextField;

#[component]
pub fn MailboxPasswordEdit(mailbox_id: i64, email: String, on_done: Callback<()>) -> impl IntoView {
    let open = RwSignal::new(false);
    let password = RwSignal::new(String::new());
    let save = Action::new_local(move |password: &String| {
        let body = ImapPassword { password: password.clone() };
        async move {
            api::change_mailbox_password(mailbox_id, &body).await?;
            on_done.run(());
            Ok::<(), ApiError>(())
        }
    });
    let error = move || save.value().get().and_then(Result::err);
    let saved = move || save.value().get().is_some_and(|r| r.is_ok());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        save.dispatch(password.get_untracked());
    };
    let again = Callback::new(move |_: ()| {
        save.dispatch(password.get_untracked());
    });
    let label = format!("New password for {email}");
    view! {
        <Show
            when=move || open.get() && !saved()
            fallback={
                let label = label.clone();
                move || view! {
                    <button type="button" class="button button--small" aria-label=label.clone() on:click=move |_| open.set(true)>
                        "New password"
                    </button>
                    {saved().then(|| view! { <p class="password-edit__saved" role="status">"Checked and saved."</p> })}
                }
            }
        >
            <form class="password-edit" on:submit=submit novalidate>
                <TextField
                    id=format!("mailbox-password-{mailbox_id}")
                    label=label.clone()
                    value=password
                    kind="password"
                    autocomplete="new-password"
                    error=Signal::derive_local(move || error().and_then(|e| e.field_error("password")))
                />
                // A 422 shows here too: its fields are marked one by one, and this sums it up with the request ID.
                {move || error().map(|error| view! { <ErrorNotice error retry=again /> })}
                <div class="password-edit__actions">
                    <button type="submit" class="button button--small button--primary" disabled=move || save.pending().get()>
                        {move || if save.pending().get() { "Checking…" } else { "Check and save" }}
                    </button>
                    <button type="button" class="button button--small" on:click=move |_| open.set(false)>"Cancel"</button>
                </div>
            </form>
        </Show>
    }
}
