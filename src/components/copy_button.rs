use leptos::prelude::*;

/// Copies a value (an ID support will ask for) to the clipboard, and says so.
#[component]
pub fn CopyButton(
    /// The text to copy.
    value: String,
    /// What is copied, for screen readers: "Copy {what}".
    what: &'static str,
    /// What the button says, when "Copy" alone would not do ("Copy all").
    #[prop(default = "Copy")]
    label: &'static str,
) -> impl IntoView {
    let copied = RwSignal::new(false);
    let copy = move |_| {
        if let Some(window) = web_sys::window() {
            let _ = window.navigator().clipboard().write_text(&value);
            copied.set(true);
        }
    };
    view! {
        <button type="button" class="copy-button" on:click=copy aria-label=format!("Copy {what}")>
            {move || if copied.get() { "Copied" } else { label }}
        </button>
    }
}
