//! What asks for a current code before it changes the second factor (remove the authenticator,
//! make new recovery codes): it stands in for the button that opened it, says what will happen,
//! takes a code from the app or a recovery code, and Keep it closes it, the focus back on that
//! button.

use leptos::prelude::*;

use crate::api::ApiError;
use crate::components::error_notice::ErrorNotice;
use crate::components::focus::focus_soon;
use crate::components::security::code_field::{check_code, CodeField};

#[component]
pub fn CodeRequest(
    /// The group's ID (the focus goes there when it opens); its field is `{id}-code`.
    id: &'static str,
    /// Its name for screen readers: "Remove the authenticator app?"
    label: &'static str,
    /// What will happen, in a sentence or two.
    #[prop(into)]
    question: String,
    /// The button that does it, and what it says while it runs.
    yes: &'static str,
    busy_text: &'static str,
    #[prop(optional)] danger: bool,
    busy: Signal<bool>,
    /// The last refusal of it, if any.
    error: Signal<Option<ApiError>, LocalStorage>,
    /// Does it with the code typed.
    on_code: Callback<String>,
    /// Keep it: closes it; the focus goes to `back_to`.
    on_keep: Callback<()>,
    back_to: &'static str,
) -> impl IntoView {
    let field_id = format!("{id}-code");
    let code = RwSignal::new(String::new());
    let typed_wrong = RwSignal::new(None::<&'static str>);
    let field_error = Signal::derive_local(move || {
        typed_wrong.get().map(str::to_owned).or_else(|| {
            error.get().and_then(|e| {
                e.field_error("code")
                    .or_else(|| e.is_problem("invalid-credentials").then(|| "That code was not accepted.".to_owned()))
            })
        })
    });
    let send = {
        let field_id = field_id.clone();
        move || {
            if busy.get_untracked() {
                return;
            }
            let typed = code.get_untracked();
            typed_wrong.set(check_code(&typed, true));
            if typed_wrong.get_untracked().is_some() {
                focus_soon(field_id.clone());
            } else {
                on_code.run(typed.trim().to_owned());
            }
        }
    };
    let on_enter = Callback::new({
        let send = send.clone();
        move |_: ()| send()
    });
    let again = Callback::new({
        let send = send.clone();
        move |_: ()| send()
    });
    let yes_class = if danger { "button button--small button--danger" } else { "button button--small button--primary" };

    view! {
        <div class="code-request" id=id role="group" aria-label=label tabindex="-1">
            <p>{question}</p>
            <CodeField
                id=field_id
                label="Code from your authenticator app, or a recovery code"
                value=code
                recovery=true
                error=field_error
                on_enter
            />
            {move || error.get().map(|error| view! { <ErrorNotice error retry=again /> })}
            <div class="code-request__actions">
                <button type="button" class=yes_class aria-disabled=move || busy.get().then_some("true") on:click=move |_| send()>
                    {move || if busy.get() { busy_text } else { yes }}
                </button>
                <button
                    type="button"
                    class="button button--small"
                    on:click=move |_| {
                        on_keep.run(());
                        focus_soon(back_to);
                    }
                >
                    "Keep it"
                </button>
            </div>
        </div>
    }
}
