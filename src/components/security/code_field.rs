//! The field a sign-in code is typed into: the six digits of an authenticator app (a number
//! keyboard on a phone, and the code the phone offers from a text message or app), or, where
//! one is accepted, a recovery code (`xxxxx-xxxxx`, letters too).

use leptos::prelude::*;

#[component]
pub fn CodeField(
    /// The input's ID; its error line is `{id}-error`, its hint `{id}-hint`.
    #[prop(into)]
    id: String,
    #[prop(into)] label: Signal<String>,
    value: RwSignal<String>,
    /// Whether a recovery code is being typed (letters and a dash) rather than six digits.
    #[prop(optional, into)]
    recovery: Signal<bool>,
    #[prop(optional, into)] hint: Option<Signal<String>>,
    /// Why the code was refused, by the portal or the server.
    error: Signal<Option<String>, LocalStorage>,
    /// Enter in the field does this (for fields that stand outside a form of their own).
    #[prop(optional)]
    on_enter: Option<Callback<()>>,
) -> impl IntoView {
    let error_id = format!("{id}-error");
    let hint_id = format!("{id}-hint");
    let described_by = match hint {
        Some(_) => format!("{hint_id} {error_id}"),
        None => error_id.clone(),
    };
    view! {
        <div class="field code-field">
            <label for=id.clone()>{label}</label>
            {hint.map(|hint| view! { <p class="field__hint" id=hint_id>{hint}</p> })}
            <input
                id=id
                name="code"
                type="text"
                class="code-field__input"
                inputmode=move || if recovery.get() { "text" } else { "numeric" }
                autocomplete=move || if recovery.get() { "off" } else { "one-time-code" }
                autocapitalize="off"
                spellcheck="false"
                maxlength="64"
                aria-required="true"
                aria-invalid=move || error.get().is_some().to_string()
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
            <p class="field__error" id=error_id>{move || error.get()}</p>
        </div>
    }
}

/// What the portal says of a code before sending it: nothing when it may be right.
pub fn check_code(typed: &str, recovery_allowed: bool) -> Option<&'static str> {
    let digits: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
    if digits.is_empty() {
        Some(if recovery_allowed {
            "Enter the six digits your authenticator app shows, or a recovery code."
        } else {
            "Enter the six digits your authenticator app shows."
        })
    } else if !recovery_allowed && (digits.len() != 6 || !digits.bytes().all(|b| b.is_ascii_digit())) {
        Some("The code is six digits, as your authenticator app shows it.")
    } else {
        None
    }
}

#[cfg(all(test, target_arch = "wasm32"))]
mod tests {
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::check_code;

    #[wasm_bindgen_test]
    fn a_code_is_checked_for_what_can_be_seen_before_it_is_sent() {
        assert!(check_code("", true).is_some());
        assert!(check_code("   ", false).is_some());
        assert_eq!(check_code("123 456", false), None);
        assert!(check_code("12345", false).is_some());
        assert!(check_code("abcde-12345", false).is_some(), "only six digits where no recovery code is taken");
        assert_eq!(check_code("abcde-12345", true), None);
    }
}
