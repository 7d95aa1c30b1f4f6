//! Create a token: its name, what it may do (read only, or read and act) and how long it lasts.

use leptos::prelude::*;
use portal_api::{CreatedApiToken, NewApiToken, TokenAccess};

use crate::api::{self, ApiError};
use crate::components::error_notice::ErrorNotice;
use crate::components::focus::focus_soon;
use crate::components::text_field::TextField;

/// How long a new token lasts, in days: the choices, and the one chosen at first.
const LIFETIMES: [i64; 4] = [7, 30, 90, 365];
const DEFAULT_LIFETIME: i64 = 90;

/// What a token of this access level may do, in a line.
fn explain(access: TokenAccess) -> &'static str {
    match access {
        TokenAccess::Read => "Reads statuses, settings and the activity log. Changes nothing.",
        TokenAccess::Act => "Reads too, and can also Force Backup, start restores, migrations and downloads, and Try again.",
    }
}

/// The fields in the order shown, each with the element that takes the focus when the server
/// refused it.
const FIELDS: [(&str, &str); 3] = [("name", "token-name"), ("access", "token-access-read"), ("expires_in_days", "token-expires")];

#[component]
pub fn NewTokenForm(on_created: Callback<CreatedApiToken>) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let access = RwSignal::new(TokenAccess::Read);
    let days = RwSignal::new(DEFAULT_LIFETIME);
    let create = Action::new_local(move |token: &NewApiToken| {
        let token = token.clone();
        async move {
            match api::create_api_token(&token).await {
                Ok(created) => {
                    name.set(String::new());
                    access.set(TokenAccess::Read);
                    days.set(DEFAULT_LIFETIME);
                    on_created.run(created);
                    // The token is shown once, below: the focus goes there so it is not missed.
                    focus_soon("token-secret-title");
                    Ok(())
                }
                Err(error) => {
                    // The first field it names takes the focus, its message read with it.
                    if let Some((_, id)) = FIELDS.iter().find(|(field, _)| error.field_error(field).is_some()) {
                        focus_soon(*id);
                    }
                    Err::<(), ApiError>(error)
                }
            }
        }
    });
    let error = move || create.value().get().and_then(Result::err);
    let field = move |name: &'static str| Signal::derive_local(move || error().and_then(|e| e.field_error(name)));
    let access_error = field("access");
    let expires_error = field("expires_in_days");
    let busy = move || create.pending().get();
    let new_token = move || NewApiToken {
        name: name.get_untracked().trim().to_owned(),
        access: access.get_untracked().as_str().to_owned(),
        expires_in_days: days.get_untracked(),
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !untrack(busy) {
            create.dispatch(new_token());
        }
    };
    // The fields stay as they were when it failed.
    let again = Callback::new(move |_: ()| {
        create.dispatch(new_token());
    });
    let levels = TokenAccess::ALL
        .into_iter()
        .map(|level| {
            let id = format!("token-access-{}", level.as_str());
            let hint_id = format!("{id}-hint");
            view! {
                <div class="new-token__level">
                    <input
                        type="radio"
                        name="token-access"
                        id=id.clone()
                        value=level.as_str()
                        aria-describedby=hint_id.clone()
                        prop:checked=move || access.get() == level
                        on:change=move |_| access.set(level)
                    />
                    <label for=id>{level.label()}</label>
                    <p class="field__hint" id=hint_id>{explain(level)}</p>
                </div>
            }
        })
        .collect_view();
    let lifetimes = LIFETIMES
        .into_iter()
        .map(|lifetime| view! { <option value=lifetime.to_string() selected=lifetime == DEFAULT_LIFETIME>{format!("{lifetime} days")}</option> })
        .collect_view();

    view! {
        <form class="new-token" on:submit=submit novalidate aria-labelledby="new-token-title">
            <h2 id="new-token-title">"Create a token"</h2>
            <TextField
                id="token-name"
                label="Name"
                value=name
                hint="What will use it, e.g. “HaloPSA sync”: it names the token here and in Activity."
                error=field("name")
            />
            <fieldset class="new-token__access" aria-describedby="token-access-error">
                <legend>"Access level"</legend>
                {levels}
                <p class="field__error" id="token-access-error">{move || access_error.get()}</p>
            </fieldset>
            <div class="field">
                <label for="token-expires">"Expires in"</label>
                <select
                    id="token-expires"
                    aria-describedby="token-expires-hint token-expires-error"
                    aria-invalid=move || expires_error.get().is_some().to_string()
                    prop:value=move || days.get().to_string()
                    on:change=move |ev| days.set(event_target_value(&ev).parse().unwrap_or(DEFAULT_LIFETIME))
                >
                    {lifetimes}
                </select>
                <p class="field__hint" id="token-expires-hint">"After that it stops working. Create a new one before then."</p>
                <p class="field__error" id="token-expires-error">{move || expires_error.get()}</p>
            </div>
            // A 422 shows here too: its fields are marked one by one, and this sums it up with the request ID.
            {move || error().map(|error| view! { <ErrorNotice error retry=again /> })}
            <div class="new-token__actions">
                <button type="submit" class="button button--primary" aria-disabled=move || busy().then_some("true")>
                    {move || if busy() { "Creating…" } else { "Create token" }}
                </button>
            </div>
        </form>
    }
}
