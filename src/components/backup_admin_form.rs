//! Re Authenticate: the backup admin's username and password. The server checks them with
//! Microsoft before saving them (encrypted); a wrong password, a locked account and a missing
//! permission each come back on their own field.

use leptos::prelude::*;
use portal_api::{BackupAdminSignIn, CredentialKind};

use crate::api::{self, ApiError};
use crate::components::credential_card::JustFixed;
use crate::components::error_notice::ErrorNotice;
use crate::components::text_field::TextField;

#[component]
pub fn BackupAdminForm(organisation_id: i64, username: Option<String>, primary: bool, on_saved: Callback<()>) -> impl IntoView {
    let open = RwSignal::new(false);
    let user = RwSignal::new(username.unwrap_or_default());
    let password = RwSignal::new(String::new());
    let save = Action::new_local(move |sign_in: &BackupAdminSignIn| {
        let sign_in = sign_in.clone();
        async move {
            api::reauthenticate_backup_admin(organisation_id, &sign_in).await?;
            open.set(false);
            password.set(String::new());
            JustFixed::set(Some(CredentialKind::BackupAdmin));
            on_saved.run(());
            Ok::<(), ApiError>(())
        }
    });
    let error = move || save.value().get().and_then(Result::err);
    let field = move |name: &'static str| move || error().and_then(|e| e.field_error(name));
    let send = move || {
        JustFixed::set(None);
        save.dispatch(BackupAdminSignIn { username: user.get_untracked(), password: password.get_untracked() });
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        send();
    };
    let send_again = Callback::new(move |_: ()| send());

    view! {
        <Show
            when=move || open.get()
            fallback=move || view! {
                <button type="button" class=if primary { "button button--primary" } else { "button" } on:click=move |_| open.set(true)>
                    "Re Authenticate"
                </button>
            }
        >
            <form class="credential__form" on:submit=submit novalidate aria-label="Backup admin sign-in">
                <TextField
                    id="backup-admin-username"
                    label="Backup admin's username"
                    value=user
                    kind="email"
                    autocomplete="username"
                    error=Signal::derive_local(field("username"))
                />
                <TextField
                    id="backup-admin-password"
                    label="Password"
                    value=password
                    kind="password"
                    autocomplete="current-password"
                    error=Signal::derive_local(field("password"))
                />
                // A 422 shows here too: its fields are marked one by one, and this sums it up with the request ID.
                {move || error().map(|error| view! { <ErrorNotice error retry=send_again /> })}
                <div class="credential__actions">
                    <button type="submit" class="button button--primary" disabled=move || save.pending().get()>
                        {move || if save.pending().get() { "Checking with Microsoft…" } else { "Check and save" }}
                    </button>
                    <button type="button" class="button" on:click=move |_| open.set(false)>"Cancel"</button>
                </div>
            </form>
        </Show>
    }
}
