//! Change password: the current one, and a new one of at least `MIN_PASSWORD_CHARS`
//! characters. Once changed, every other session of the person has ended; this one stays.

use leptos::prelude::*;
use portal_api::security::MIN_PASSWORD_CHARS;
use portal_api::PasswordChange;

use crate::api::{self, ApiError};
use crate::components::error_notice::ErrorNotice;
use crate::components::focus::focus_soon;
use crate::components::text_field::TextField;

/// The fields in the order shown, each with its input's ID (the focus goes to the first refused).
const FIELDS: [(&str, &str); 2] = [("current_password", "password-current"), ("new_password", "password-new")];

/// What the portal says of the fields before sending them: per field, nothing when it may do.
fn check(change: &PasswordChange) -> Vec<(&'static str, String)> {
    let mut wrong = Vec::new();
    if change.current_password.is_empty() {
        wrong.push(("current_password", "Enter the password you sign in with now.".to_owned()));
    }
    if change.new_password.chars().count() < MIN_PASSWORD_CHARS {
        wrong.push(("new_password", format!("Make it at least {MIN_PASSWORD_CHARS} characters long.")));
    }
    wrong
}

#[component]
pub fn PasswordForm(
    /// Runs once the password is changed (the page reads the sessions again: the others ended).
    on_changed: Callback<()>,
) -> impl IntoView {
    let current = RwSignal::new(String::new());
    let new = RwSignal::new(String::new());
    let typed_wrong = RwSignal::new(Vec::<(&'static str, String)>::new());
    let changed = RwSignal::new(false);
    let change = Action::new_local(move |change: &PasswordChange| {
        let change = change.clone();
        async move {
            match api::change_password(&change).await {
                Ok(()) => {
                    current.set(String::new());
                    new.set(String::new());
                    changed.set(true);
                    on_changed.run(());
                    Ok(())
                }
                Err(error) => {
                    if let Some((_, id)) = FIELDS.iter().find(|(field, _)| error.field_error(field).is_some()) {
                        focus_soon(*id);
                    }
                    Err::<(), ApiError>(error)
                }
            }
        }
    });
    let error = move || change.value().get().and_then(Result::err);
    let field = move |name: &'static str| {
        Signal::derive_local(move || {
            typed_wrong
                .with(|wrong| wrong.iter().find(|(field, _)| *field == name).map(|(_, message)| message.clone()))
                .or_else(|| error().and_then(|e| e.field_error(name)))
        })
    };
    let busy = move || change.pending().get();
    let send = move || {
        changed.set(false);
        let request = PasswordChange { current_password: current.get_untracked(), new_password: new.get_untracked() };
        let wrong = check(&request);
        if let Some((_, id)) = FIELDS.iter().find(|(field, _)| wrong.iter().any(|(w, _)| w == field)) {
            focus_soon(*id);
        }
        let fine = wrong.is_empty();
        typed_wrong.set(wrong);
        if fine {
            change.dispatch(request);
        }
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !untrack(busy) {
            send();
        }
    };
    let again = Callback::new(move |_: ()| send());

    view! {
        <section class="password-change" aria-labelledby="password-change-title">
            <h2 id="password-change-title">"Change password"</h2>
            <form class="password-change__form" on:submit=submit novalidate>
                <TextField
                    id="password-current"
                    label="Current password"
                    value=current
                    kind="password"
                    autocomplete="current-password"
                    required=true
                    error=field("current_password")
                />
                <TextField
                    id="password-new"
                    label="New password"
                    value=new
                    kind="password"
                    autocomplete="new-password"
                    required=true
                    hint=format!(
                        "At least {MIN_PASSWORD_CHARS} characters. A few unrelated words make a long password that is easy to remember."
                    )
                    error=field("new_password")
                />
                // A 422 shows here too: its fields are marked one by one, and this sums it up with the request ID.
                {move || error().map(|error| view! { <ErrorNotice error retry=again /> })}
                <Show when=move || changed.get()>
                    <p class="notice notice--success" role="status">
                        "Your password is changed. You stay signed in here; everywhere else you were signed in has been signed out."
                    </p>
                </Show>
                <div class="password-change__actions">
                    <button type="submit" class="button button--primary" aria-disabled=move || busy().then_some("true")>
                        {move || if busy() { "Changing…" } else { "Change password" }}
                    </button>
                </div>
            </form>
        </section>
    }
}
