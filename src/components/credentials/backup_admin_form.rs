//! Re Authenticate: the backup admin's username and password. The server checks them with
//! Microsoft before saving them (encrypted); a wrong password, a locked account and a missing
//! permission each come back on their own field.
//!
//! The form belongs to the page, not to the card: a live update reloads the credentials and
//! rebuilds every card, and a form someone is typing in must stay open, with what was typed
//! and the answer to Check and save.
//!
//! There is one form per page, and the page can switch to another organisation while a save
//! is on its way: its answer is kept with the organisation it was for, and is neither shown
//! in another organisation's form nor taken as that organisation's fix.

use leptos::prelude::*;
use portal_api::{BackupAdminSignIn, CredentialKind};

use crate::api::{self, ApiError};
use crate::components::credentials::just_fixed::JustFixed;
use crate::components::error_notice::ErrorNotice;
use crate::components::text_field::TextField;

/// The page's Re Authenticate form: open or not, what was typed, and the answer; provided as context.
#[derive(Clone, Copy)]
pub struct BackupAdminDraft {
    open: RwSignal<bool>,
    user: RwSignal<String>,
    password: RwSignal<String>,
    /// The answer, with the organisation it was for.
    save: Action<(i64, BackupAdminSignIn), (i64, Result<(), ApiError>)>,
}

impl BackupAdminDraft {
    /// `organisation` is the one the page shows now; `on_saved` runs once the new sign-in was
    /// checked and saved for it (the credentials reload).
    pub fn provide(organisation: Signal<Option<i64>>, on_saved: Callback<()>) -> BackupAdminDraft {
        let open = RwSignal::new(false);
        let password = RwSignal::new(String::new());
        let just_fixed = use_context::<JustFixed>();
        let save = Action::new_local(move |(organisation_id, sign_in): &(i64, BackupAdminSignIn)| {
            let (organisation_id, sign_in) = (*organisation_id, sign_in.clone());
            async move {
                let result = api::reauthenticate_backup_admin(organisation_id, &sign_in).await.map(|_| ());
                // Another organisation was chosen meanwhile: its form and its cards are not
                // this answer's.
                if result.is_ok() && organisation.get_untracked() == Some(organisation_id) {
                    open.set(false);
                    password.set(String::new());
                    if let Some(JustFixed(fixed)) = just_fixed {
                        fixed.set(Some(CredentialKind::BackupAdmin));
                    }
                    on_saved.run(());
                }
                (organisation_id, result)
            }
        });
        let draft = BackupAdminDraft { open, user: RwSignal::new(String::new()), password, save };
        provide_context(draft);
        draft
    }

    /// Closes the form and forgets what was typed and answered (another organisation was chosen).
    pub fn reset(&self) {
        self.open.set(false);
        self.password.set(String::new());
        self.save.value().set(None);
    }

    /// Whether a save for this organisation is on its way.
    fn pending_for(&self, organisation_id: i64) -> bool {
        self.save.pending().get() && self.save.input().with(|input| input.as_ref().is_some_and(|(id, _)| *id == organisation_id))
    }

    /// The answer to the last save for this organisation, if that is the last answer.
    fn error_for(&self, organisation_id: i64) -> Option<ApiError> {
        self.save.value().with(|value| match value {
            Some((id, Err(error))) if *id == organisation_id => Some(error.clone()),
            _ => None,
        })
    }
}

#[component]
pub fn BackupAdminForm(organisation_id: i64, username: Option<String>, primary: bool) -> impl IntoView {
    let draft = expect_context::<BackupAdminDraft>();
    let BackupAdminDraft { open, user, password, save } = draft;
    let error = move || draft.error_for(organisation_id);
    let pending = move || draft.pending_for(organisation_id);
    let field = move |name: &'static str| move || error().and_then(|e| e.field_error(name));
    let send = move || {
        JustFixed::set(None);
        save.dispatch((
            organisation_id,
            BackupAdminSignIn { username: user.get_untracked(), password: password.get_untracked() },
        ));
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        send();
    };
    let send_again = Callback::new(move |_: ()| send());
    let start = move |_| {
        user.set(username.clone().unwrap_or_default());
        save.value().set(None);
        open.set(true);
    };

    view! {
        <Show
            when=move || open.get()
            fallback=move || view! {
                <button type="button" class=if primary { "button button--primary" } else { "button" } on:click=start.clone()>
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
                    <button type="submit" class="button button--primary" disabled=pending>
                        {move || if pending() { "Checking with Microsoft…" } else { "Check and save" }}
                    </button>
                    <button type="button" class="button" on:click=move |_| open.set(false)>"Cancel"</button>
                </div>
            </form>
        </Show>
    }
}
