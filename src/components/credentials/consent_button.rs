//! Continue: starts an admin consent and sends the browser to the identity provider's
//! consent page; it comes back to the credentials page, which says how it went.

use leptos::prelude::*;

use crate::api;
use crate::components::error_notice::ErrorNotice;

#[component]
pub fn ConsentButton(organisation_id: i64, primary: bool) -> impl IntoView {
    let start = Action::new_local(move |_: &()| async move {
        let consent = api::start_consent(organisation_id).await?;
        if let Some(window) = web_sys::window() {
            let _ = window.location().assign(&consent.authorize_url);
        }
        Ok::<(), api::ApiError>(())
    });
    let again = Callback::new(move |_: ()| {
        start.dispatch(());
    });
    view! {
        <p class="credential__hint">"A global administrator of this organisation approves the backup app at Microsoft."</p>
        <button
            type="button"
            class=if primary { "button button--primary" } else { "button" }
            disabled=move || start.pending().get()
            on:click=move |_| {
                start.dispatch(());
            }
        >
            {move || if start.pending().get() { "Opening Microsoft…" } else { "Continue" }}
        </button>
        {move || start.value().get().and_then(Result::err).map(|error| view! { <ErrorNotice error retry=again /> })}
    }
}
