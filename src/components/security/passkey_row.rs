//! One of the person's passkeys: its name, when it was added and last used, whether it signs in
//! on its own; Rename, the sign-in rule, and Remove (asked first: it signs the person out
//! everywhere else).

use leptos::prelude::*;
use portal_api::{PasskeyChange, PasskeyRow};

use crate::api::{self, ApiError};
use crate::components::confirm::Confirm;
use crate::components::error_notice::ErrorNotice;
use crate::components::focus::focus_soon;
use crate::components::local_time::LocalTime;
use crate::components::text_field::TextField;

/// What the rows share, kept by the section so that it outlives any one row's drawing.
#[derive(Clone, Copy)]
pub struct PasskeyRows {
    /// A change (the passkey's ID and what changes); answers with the ID.
    change: Action<(String, PasskeyChange), (String, Result<(), ApiError>)>,
    remove: Action<String, (String, Result<(), ApiError>)>,
}

impl PasskeyRows {
    /// `title_id`: where the focus goes once a passkey is removed (its row is gone).
    pub fn new(
        list: LocalResource<Result<Vec<PasskeyRow>, ApiError>>,
        done: RwSignal<Option<String>>,
        title_id: &'static str,
    ) -> Self {
        let change = Action::new_local(move |(id, change): &(String, PasskeyChange)| {
            let (id, change) = (id.clone(), change.clone());
            async move {
                let result = api::change_passkey(&id, &change).await.map(|row| {
                    done.set(Some(match change.passwordless {
                        Some(true) => format!("“{}” now signs you in on its own, without your password.", row.name),
                        Some(false) => format!("“{}” now signs you in only after your password.", row.name),
                        None => format!("Renamed to “{}”.", row.name),
                    }));
                    list.refetch();
                    focus_soon(button_id(&id, "rename"));
                });
                (id, result)
            }
        });
        let remove = Action::new_local(move |id: &String| {
            let id = id.clone();
            async move {
                let result = api::remove_passkey(&id).await.map(|()| {
                    done.set(Some("The passkey is removed; you are signed out everywhere else.".to_owned()));
                    list.refetch();
                    focus_soon(title_id);
                });
                (id, result)
            }
        });
        PasskeyRows { change, remove }
    }
}

fn button_id(passkey_id: &str, what: &str) -> String {
    format!("passkey-{passkey_id}-{what}")
}

#[component]
pub fn PasskeyItem(key: PasskeyRow, rows: PasskeyRows) -> impl IntoView {
    let PasskeyRows { change, remove } = rows;
    let id = StoredValue::new(key.id.clone());
    let name_id = format!("passkey-{}-name", key.id);
    let renaming = RwSignal::new(false);
    let asking = RwSignal::new(false);
    let new_name = RwSignal::new(key.name.clone());
    let mine = move |of: Option<String>| of.is_some_and(|i| i == id.get_value());
    let changing = move || change.pending().get() && mine(change.input().get().map(|(i, _)| i));
    let removing = move || remove.pending().get() && mine(remove.input().get());
    let change_error = move || change.value().get().filter(|(i, _)| *i == id.get_value()).and_then(|(_, r)| r.err());
    let remove_error = move || remove.value().get().filter(|(i, _)| *i == id.get_value()).and_then(|(_, r)| r.err());
    let alone = key.passwordless;
    let rename_id = button_id(&key.id, "rename");
    let remove_id = button_id(&key.id, "remove");
    let back_to = remove_id.clone();
    let save = move |_| {
        if !changing() {
            change.dispatch((id.get_value(), PasskeyChange { name: Some(new_name.get_untracked()), passwordless: None }));
        }
    };
    let rename_field = move || {
        renaming.get().then(|| {
            view! {
                <div class="passkey__rename">
                    <TextField
                        id=format!("passkey-{}-new-name", id.get_value())
                        label="New name"
                        value=new_name
                        error=Signal::derive_local(move || change_error().and_then(|e| e.field_error("name")))
                        on_enter=Callback::new(move |_: ()| {
                            if !changing() {
                                change.dispatch((id.get_value(), PasskeyChange { name: Some(new_name.get_untracked()), passwordless: None }));
                            }
                        })
                    />
                    <button type="button" class="button button--small button--primary" on:click=save aria-disabled=move || changing().then_some("true")>
                        {move || if changing() { "Saving…" } else { "Save name" }}
                    </button>
                </div>
            }
        })
    };
    view! {
        <li class="passkey">
            <div class="passkey__head">
                <h3 class="passkey__name" id=name_id.clone()>{key.name.clone()}</h3>
                {alone.then(|| view! { <span class="status-badge status-badge--success">"Signs in on its own"</span> })}
            </div>
            <dl class="passkey__facts">
                <div>
                    <dt>"Added"</dt>
                    <dd><LocalTime at=Some(key.created_at.clone()) /></dd>
                </div>
                <div>
                    <dt>"Last used"</dt>
                    <dd><LocalTime at=key.last_used_at.clone() /></dd>
                </div>
            </dl>
            {rename_field}
            <div class="passkey__actions">
                <button type="button" class="button button--small" id=rename_id aria-describedby=name_id.clone() aria-expanded=move || renaming.get().to_string()
                    on:click=move |_| {
                        renaming.update(|r| *r = !*r);
                        if renaming.get_untracked() {
                            focus_soon(format!("passkey-{}-new-name", id.get_value()));
                        }
                    }>
                    {move || if renaming.get() { "Cancel rename" } else { "Rename" }}
                </button>
                <button type="button" class="button button--small" aria-describedby=name_id.clone() aria-disabled=move || changing().then_some("true")
                    on:click=move |_| {
                        if !changing() {
                            change.dispatch((id.get_value(), PasskeyChange { name: None, passwordless: Some(!alone) }));
                        }
                    }>
                    {if alone { "Ask for my password first" } else { "Let it sign in on its own" }}
                </button>
                <Show when=move || !asking.get()>
                    <button type="button" class="button button--small button--danger" id=remove_id.clone() aria-describedby=name_id.clone()
                        on:click=move |_| {
                            asking.set(true);
                            focus_soon(button_id(&id.get_value(), "remove-ask"));
                        }>
                        "Remove"
                    </button>
                </Show>
            </div>
            <Show when=move || asking.get()>
                <Confirm
                    id=button_id(&id.get_value(), "remove-ask")
                    class="passkey__remove-ask"
                    label="Remove this passkey?"
                    question=format!("“{}” will no longer sign you in, and you are signed out everywhere else (one of those sessions may have been opened with it).", key.name)
                    yes="Remove passkey"
                    busy_text="Removing…"
                    busy=Signal::derive(removing)
                    on_yes=Callback::new(move |_: ()| {
                        remove.dispatch(id.get_value());
                    })
                    on_keep=Callback::new(move |_: ()| asking.set(false))
                    back_to=back_to.clone()
                />
            </Show>
            {move || change_error().filter(|e| e.field_error("name").is_none()).map(|error| view! { <ErrorNotice error /> })}
            {move || remove_error().map(|error| view! { <ErrorNotice error /> })}
        </li>
    }
}
