//! Enforce SSO for one organisation: its people sign in with Microsoft only, except the one
//! admin named to keep a password (for the day Microsoft cannot be reached). Saved with its
//! own button: the two go together, and the server checks the admin.

use leptos::prelude::*;
use portal_api::{SignInPolicy, SignInPolicyInput};

use crate::api::{self, ApiError};
use crate::components::error_notice::ErrorNotice;
use crate::components::text_field::TextField;

#[component]
pub fn SsoRule(organisation_id: i64, policy: SignInPolicy, name: String) -> impl IntoView {
    let current = RwSignal::new(policy.clone());
    let enforce = RwSignal::new(policy.enforce_sso);
    let break_glass = RwSignal::new(policy.break_glass_email.clone().unwrap_or_default());
    let save = Action::new_local(move |_: &()| {
        // Only these two: the two-factor rule is left as it is.
        let input = SignInPolicyInput {
            enforce_sso: Some(enforce.get_untracked()),
            break_glass_email: Some(break_glass.get_untracked().trim().to_owned()),
            ..Default::default()
        };
        async move {
            let saved = api::save_sign_in_policy(organisation_id, &input).await?;
            current.set(saved);
            Ok::<(), ApiError>(())
        }
    });
    let error = move || save.value().get().and_then(Result::err);
    let field_error = move |field: &'static str| move || error().and_then(|e| e.field_error(field));
    let available = policy.sso_available;
    let state = move || {
        current.with(|p| match (p.enforce_sso, p.break_glass_email.as_deref()) {
            (true, Some(admin)) => format!("On: only {admin} may still sign in with a password."),
            (true, None) => "On.".to_owned(),
            (false, _) => "Off: people choose between their password and Sign in with Microsoft.".to_owned(),
        })
    };
    let changed = move || {
        current.with(|p| {
            p.enforce_sso != enforce.get() || p.break_glass_email.clone().unwrap_or_default() != break_glass.get().trim()
        })
    };
    let id = format!("sso-rule-{organisation_id}");
    view! {
        <form
            class="sign-in-rules__rule sso-rule"
            on:submit=move |ev| {
                ev.prevent_default();
                if !save.pending().get_untracked() && untrack(changed) {
                    save.dispatch(());
                }
            }
        >
            <div class="sign-in-rules__choice">
                <input type="checkbox" id=id.clone() prop:checked=enforce disabled=!available aria-describedby=format!("{id}-state")
                    on:change=move |ev| enforce.set(event_target_checked(&ev)) />
                <label for=id.clone()>{format!("Require sign-in with Microsoft for {name}")}</label>
            </div>
            {(!available).then(|| view! {
                <p class="field__hint">"Its Microsoft tenant is not known yet: give consent under Credentials first."</p>
            })}
            <TextField
                id=format!("{id}-break-glass")
                label="Admin who keeps a password (break glass)"
                value=break_glass
                kind="email"
                hint=Signal::derive(|| "An admin of this organisation, for when Microsoft cannot be reached.".to_owned())
                error=Signal::derive_local(field_error("break_glass_email"))
            />
            <p class="sign-in-rules__state" id=format!("{id}-state") aria-live="polite">{state}</p>
            {move || error().filter(|e| e.field_error("break_glass_email").is_none()).map(|error| view! { <ErrorNotice error /> })}
            <button type="submit" class="button" aria-disabled=move || (save.pending().get() || !changed()).then_some("true")>
                {move || if save.pending().get() { "Saving…" } else { "Save" }}
            </button>
        </form>
    }
}
