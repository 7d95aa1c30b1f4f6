//! Restore the chosen messages: into the folders they were in or a new "Restored YYYY-MM-DD"
//! folder; into the mailbox each came from or (for admins and resellers) another; and what to
//! do with a message that is there already. Each choice the server refuses is named on it.

use leptos::prelude::*;
use portal_api::{OnConflict, RestoreTo};

use crate::api::ApiError;
use crate::components::focus::focus_soon;
use crate::components::text_field::TextField;

/// What the form asks a restore to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestoreChoice {
    pub restore_to: RestoreTo,
    /// Another mailbox's address; none: each message into the mailbox it came from.
    pub destination: Option<String>,
    pub on_conflict: OnConflict,
}

/// The folder a restore into a new folder makes today ("Restored 2026-12-02": the day it is
/// asked for, UTC, as the server names it).
pub fn new_folder_name() -> String {
    let today: String = js_sys::Date::new_0().to_iso_string().into();
    format!("Restored {}", today.get(..10).unwrap_or_default())
}

/// `prefix`: the IDs of the form's elements start with it (`{prefix}-restore-title`, …).
/// `mailboxes`: the addresses of the mailboxes the chosen messages came from.
#[component]
pub fn RestoreForm(
    #[prop(into)] prefix: String,
    /// "3 messages".
    what: Signal<String>,
    mailboxes: Signal<Vec<String>>,
    may_choose_destination: Signal<bool>,
    busy: Signal<bool>,
    /// The last answer that failed, for the fields it names.
    error: Signal<Option<ApiError>, LocalStorage>,
    on_submit: Callback<RestoreChoice>,
    on_cancel: Callback<()>,
) -> impl IntoView {
    let restore_to = RwSignal::new(RestoreTo::OriginalFolder);
    let elsewhere = RwSignal::new(false);
    let destination = RwSignal::new(String::new());
    let on_conflict = RwSignal::new(OnConflict::Skip);
    let field = move |name: &'static str| Signal::derive_local(move || error.get().and_then(|e| e.field_error(name)));
    let (folder_error, conflict_error) = (field("restore_to"), field("on_conflict"));
    let id = {
        let prefix = prefix.clone();
        move |name: &str| format!("{prefix}-{name}")
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let another = elsewhere.get_untracked() && may_choose_destination.get_untracked();
        on_submit.run(RestoreChoice {
            restore_to: restore_to.get_untracked(),
            destination: another.then(|| destination.get_untracked().trim().to_owned()),
            on_conflict: on_conflict.get_untracked(),
        });
    };
    let folder_choice = {
        let id = id.clone();
        move |value: RestoreTo, label: String, hint: &'static str| {
            let input_id = id(&format!("restore-{}", value.as_str()));
            let hint_id = format!("{input_id}-hint");
            view! {
                <div class="restore-form__choice">
                    <input
                        type="radio"
                        id=input_id.clone()
                        name=id("restore-to")
                        aria-describedby=hint_id.clone()
                        prop:checked=move || restore_to.get() == value
                        on:change=move |_| restore_to.set(value)
                    />
                    <label for=input_id>{label}</label>
                    <p class="field__hint" id=hint_id>{hint}</p>
                </div>
            }
        }
    };
    let into_own = move || match mailboxes.get().as_slice() {
        [one] => format!("Into your own mailbox, {one}."),
        _ => "Into your own mailbox.".to_owned(),
    };
    let into_original_label = move || {
        if mailboxes.with(|m| m.len() > 1) {
            "The mailbox each came from".to_owned()
        } else {
            match mailboxes.get().first() {
                Some(mailbox) => format!("The mailbox it came from, {mailbox}"),
                None => "The mailbox it came from".to_owned(),
            }
        }
    };
    let title_id = id("restore-title");
    let labelled_by = title_id.clone();
    let mailbox_name = id("restore-into");
    let (original_id, another_id, conflict_id) = (id("restore-original"), id("restore-another"), id("restore-conflict"));
    let folder_error_id = id("restore-to-error");
    let folder_described_by = folder_error_id.clone();
    let conflict_error_id = format!("{conflict_id}-error");

    view! {
        <form class="restore-form" on:submit=submit novalidate aria-labelledby=labelled_by>
            <h3 class="restore-form__title" id=title_id tabindex="-1">{move || format!("Restore {}", what.get())}</h3>
            <fieldset class="restore-form__group" aria-describedby=folder_described_by>
                <legend>"Into which folder"</legend>
                {folder_choice(
                    RestoreTo::OriginalFolder,
                    "The folders they were in".to_owned(),
                    "Each message goes back where it was, beside what is there now.",
                )}
                {folder_choice(
                    RestoreTo::NewFolder,
                    format!("A new folder, “{}”", new_folder_name()),
                    "All of them together in one folder, apart from what is there now.",
                )}
                <p class="field__error" id=folder_error_id>{move || folder_error.get()}</p>
            </fieldset>
            <Show
                when=move || may_choose_destination.get()
                fallback=move || view! { <p class="restore-form__into">{into_own}</p> }
            >
                <fieldset class="restore-form__group">
                    <legend>"Into which mailbox"</legend>
                    <div class="restore-form__choice">
                        <input
                            type="radio"
                            id=original_id.clone()
                            name=mailbox_name.clone()
                            prop:checked=move || !elsewhere.get()
                            on:change=move |_| elsewhere.set(false)
                        />
                        <label for=original_id.clone()>{into_original_label}</label>
                    </div>
                    <div class="restore-form__choice">
                        <input
                            type="radio"
                            id=another_id.clone()
                            name=mailbox_name.clone()
                            prop:checked=move || elsewhere.get()
                            on:change=move |_| elsewhere.set(true)
                        />
                        <label for=another_id.clone()>"Another mailbox"</label>
                    </div>
                </fieldset>
            </Show>
            <Show when=move || elsewhere.get() && may_choose_destination.get()>
                <TextField
                    id=id("restore-destination")
                    label="Restore into (mailbox address)"
                    value=destination
                    kind="email"
                    hint="A mailbox your organisation backs up, e.g. name@example.com."
                    error=field("destination")
                />
            </Show>
            <div class="field">
                <label for=conflict_id.clone()>"When a message is already there"</label>
                <select
                    id=conflict_id
                    aria-describedby=conflict_error_id.clone()
                    aria-invalid=move || conflict_error.get().is_some().to_string()
                    prop:value=move || on_conflict.get().as_str()
                    on:change=move |ev| on_conflict.set(OnConflict::parse(&event_target_value(&ev)).unwrap_or(OnConflict::Skip))
                >
                    <option value=OnConflict::Skip.as_str()>"Leave it, do not copy it again"</option>
                    <option value=OnConflict::KeepBoth.as_str()>"Keep both"</option>
                </select>
                <p class="field__error" id=conflict_error_id>{move || conflict_error.get()}</p>
            </div>
            <div class="restore-form__actions">
                <button type="submit" class="button button--primary" aria-disabled=move || busy.get().then_some("true")>
                    {move || if busy.get() { "Restoring…".to_owned() } else { format!("Restore {}", what.get()) }}
                </button>
                <button type="button" class="button" on:click=move |_| on_cancel.run(())>"Cancel"</button>
            </div>
        </form>
    }
}

/// Moves the focus to the form's heading (when it opens).
pub fn focus_form(prefix: &str) {
    focus_soon(format!("{prefix}-restore-title"));
}
