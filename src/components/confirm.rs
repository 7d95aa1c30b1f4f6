//! The question that stands in for a button whose action cannot be undone (a webhook's Delete,
//! a token's Revoke): what will happen, the button that does it, and "Keep it", which closes the
//! question and gives the focus back to the button it stood in for.

use leptos::prelude::*;

use crate::components::focus::focus_soon;

#[component]
pub fn Confirm(
    /// The group's ID: whoever opens the question moves the focus to it.
    #[prop(into)]
    id: String,
    /// The feature's class for the group (`webhook__confirm`).
    class: &'static str,
    /// Its name for screen readers: "Delete this webhook?"
    label: &'static str,
    /// What will happen, in a sentence or two.
    question: String,
    /// The button that does it ("Delete webhook"), and what it says while it runs ("Deleting…").
    yes: &'static str,
    busy_text: &'static str,
    busy: Signal<bool>,
    on_yes: Callback<()>,
    /// Keep it: closes the question (`on_keep`); the focus goes to `back_to`.
    on_keep: Callback<()>,
    #[prop(into)] back_to: String,
) -> impl IntoView {
    view! {
        <div class=class id=id role="group" aria-label=label tabindex="-1">
            <p>{question}</p>
            <button
                type="button"
                class="button button--small button--danger"
                aria-disabled=move || busy.get().then_some("true")
                on:click=move |_| {
                    if !busy.get_untracked() {
                        on_yes.run(());
                    }
                }
            >
                {move || if busy.get() { busy_text } else { yes }}
            </button>
            <button
                type="button"
                class="button button--small"
                on:click=move |_| {
                    on_keep.run(());
                    focus_soon(back_to.clone());
                }
            >
                "Keep it"
            </button>
        </div>
    }
}
