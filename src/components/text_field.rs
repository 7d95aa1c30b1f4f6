//! A labelled text input with its own error line, as every form of the portal has it: the
//! server's message for the field shows under it, and marks it invalid for screen readers.

use leptos::prelude::*;

#[component]
pub fn TextField(
    /// The input's ID; its error line is `{id}-error`.
    #[prop(into)]
    id: String,
    #[prop(into)] label: String,
    value: RwSignal<String>,
    /// The input's `type`.
    #[prop(default = "text")]
    kind: &'static str,
    #[prop(default = "off")] autocomplete: &'static str,
    #[prop(optional)] name: Option<&'static str>,
    #[prop(optional)] required: bool,
    /// The server's message for this field, when it refused it.
    #[prop(optional)]
    error: Option<Signal<Option<String>, LocalStorage>>,
    /// Enter in the field does this (for fields that stand outside a form of their own).
    #[prop(optional)]
    on_enter: Option<Callback<()>>,
    /// A line of help under the label (an example, what empty means); it is `{id}-hint`.
    #[prop(optional, into)]
    hint: Option<Signal<String>>,
) -> impl IntoView {
    let error_id = format!("{id}-error");
    let hint_id = format!("{id}-hint");
    let described_by = match hint {
        Some(_) => format!("{hint_id} {error_id}"),
        None => error_id.clone(),
    };
    let error = move || error.and_then(|e| e.get());
    view! {
        <div class="field">
            <label for=id.clone()>{label}</label>
            {hint.map(|hint| view! { <p class="field__hint" id=hint_id>{hint}</p> })}
            <input
                id=id
                name=name
                type=kind
                autocomplete=autocomplete
                aria-required=required.then_some("true")
                aria-invalid=move || error().is_some().to_string()
                aria-describedby=described_by
                prop:value=value
                on:input=move |ev| value.set(event_target_value(&ev))
                on:keydown=move |ev| {
                    if let Some(on_enter) = on_enter {
                        if ev.key() == "Enter" {
                            ev.prevent_default();
                            on_enter.run(());
                        }
                    }
                }
            />
            <p class="field__error" id=error_id>{error}</p>
        </div>
    }
}
