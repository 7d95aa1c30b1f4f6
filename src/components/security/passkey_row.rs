//! One of the person's passkeys: its name, when it was added and last used, whether it signs in
//! on its own; Rename, the sign-in rule, and Remove (asked first: it signs the person out
//! everywhere else). A change redraws the row in place (the list keeps it by its ID), so the
//! focus stays on the button that made it.

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
    remove: Action<String, (String, Result<(), ApiError>)>,
    /// What was done last, said at the top of the section.
    done: RwSignal<Option<String>>,
}

impl PasskeyRows {
    /// `title_id`: where the focus goes once a passkey is removed (its row is gone).
    pub fn new(
        list: LocalResource<Result<Vec<PasskeyRow>, ApiError>>,
        done: RwSignal<Option<String>>,
        title_id: &'static str,
    ) -> Self {
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
        PasskeyRows { remove, done }
    }
}

fn button_id(passkey_id: &str, what: &str) -> String {
    format!("passkey-{passkey_id}-{what}")
}

#[component]
pub fn PasskeyItem(key: PasskeyRow, rows: PasskeyRows) -> impl IntoView {
    let PasskeyRows { remove, done } = rows;
    let id = StoredValue::new(key.id.clone());
    let row = RwSignal::new(key);
    let name_id = format!("passkey-{}-name", id.get_value());
    let rename_id = button_id(&id.get_value(), "rename");
    let remove_id = button_id(&id.get_value(), "remove");
    let renaming = RwSignal::new(false);
    let asking = RwSignal::new(false);
    let new_name = RwSignal::new(row.get_untracked().name);
    let change = Action::new_local(move |change: &PasskeyChange| {
        let change = change.clone();
        async move {
            let changed = api::change_passkey(&id.get_value(), &change).await?;
            done.set(Some(match change.passwordless {
                Some(true) => format!("“{}” now signs you in on its own, without your password.", changed.name),
                Some(false) => format!("“{}” now signs you in only after your password.", changed.name),
                None => format!("Renamed to “{}”.", changed.name),
            }));
            if change.name.is_some() {
                renaming.set(false);
                focus_soon(button_id(&id.get_value(), "rename"));
            }
            row.set(changed);
            Ok::<(), ApiError>(())
        }
    });
    let changing = move || change.pending().get();
    let change_error = move || change.value().get().and_then(Result::err);
    let removing = move || remove.pending().get() && remove.input().get().is_some_and(|i| i == id.get_value());
    let remove_error = move || remove.value().get().filter(|(i, _)| *i == id.get_value()).and_then(|(_, r)| r.err());
    let alone = move || row.with(|r| r.passwordless);
    let rename = move || {
        if !changing() {
            change.dispatch(PasskeyChange { name: Some(new_name.get_untracked()), passwordless: None });
        }
    };
    let rename_field = move || {
        renaming.get().then(|| {
            view! {
                <div class="passkey__rename">
                    <TextField
                        id=button_id(&id.get_value(), "new-name")
                        label="New name"
                        value=new_name
                        error=Signal::derive_local(move || change_error().and_then(|e| e.field_error("name")))
                        on_enter=Callback::new(move |_: ()| rename())
                    />
                    <button
                        type="button"
                        class="button button--small button--primary"
                        on:click=move |_| rename()
                        aria-disabled=move || changing().then_some("true")
                    >
                        {move || if changing() { "Saving…" } else { "Save name" }}
                    </button>
                </div>
            }
        })
    };
    let back_to = remove_id.clone();

    view! {
        <li class="passkey">
            <div class="passkey__head">
                <h3 class="passkey__name" id=name_id.clone()>{move || row.with(|r| r.name.clone())}</h3>
                {move || alone().then(|| view! { <span class="status-badge status-badge--success">"Signs in on its own"</span> })}
            </div>
            <dl class="passkey__facts">
                <div>
                    <dt>"Added"</dt>
                    <dd>{move || view! { <LocalTime at=Some(row.with(|r| r.created_at.clone())) /> }}</dd>
                </div>
                <div>
                    <dt>"Last used"</dt>
                    <dd>{move || view! { <LocalTime at=row.with(|r| r.last_used_at.clone()) /> }}</dd>
                </div>
            </dl>
            {rename_field}
            <div class="passkey__actions">
                <button
                    type="button"
                    class="button button--small"
                    id=rename_id
                    aria-describedby=name_id.clone()
                    aria-expanded=move || renaming.get().to_string()
                    on:click=move |_| {
                        renaming.update(|r| *r = !*r);
                        if renaming.get_untracked() {
                            new_name.set(row.with_untracked(|r| r.name.clone()));
                            focus_soon(button_id(&id.get_value(), "new-name"));
                        }
                    }
                >
                    {move || if renaming.get() { "Cancel rename" } else { "Rename" }}
                </button>
                <button
                    type="button"
                    class="button button--small"
                    aria-describedby=name_id.clone()
                    aria-disabled=move || changing().then_some("true")
                    on:click=move |_| {
                        if !changing() {
                            change.dispatch(PasskeyChange { name: None, passwordless: Some(!alone()) });
                        }
                    }
                >
                    {move || if alone() { "Ask for my password first" } else { "Let it sign in on its own" }}
                </button>
                <Show when=move || !asking.get()>
                    <button
                        type="button"
                        class="button button--small button--danger"
                        id=remove_id.clone()
                        aria-describedby=name_id.clone()
                        on:click=move |_| {
                            asking.set(true);
                            focus_soon(button_id(&id.get_value(), "remove-ask"));
                        }
                    >
                        "Remove"
                    </button>
                </Show>
            </div>
            <Show when=move || asking.get()>
                <Confirm
                    id=button_id(&id.get_value(), "remove-ask")
                    class="passkey__remove-ask"
                    label="Remove this passkey?"
                    question=format!(
                        "“{}” will no longer sign you in, and you are signed out everywhere else (one of those sessions may have been opened with it).",
                        row.with_untracked(|r| r.name.clone())
                    )
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
