//! When the session ends under a page (signed out elsewhere, or timed out), the user signs in
//! again right where the request failed: the page stays, with everything typed into it, and
//! the action that failed runs again. Signing in as someone else reloads the portal instead,
//! so nothing of the other user's view stays on screen.

use std::sync::atomic::{AtomicU32, Ordering};

use leptos::prelude::*;
use portal_api::SignInRequest;

use crate::api::{self, ApiError};
use crate::components::text_field::TextField;
use crate::session::Session;

static NEXT_ID: AtomicU32 = AtomicU32::new(0);

#[component]
pub fn SignInAgain(retry: Option<Callback<()>>) -> impl IntoView {
    let known = use_context::<Session>().and_then(|s| s.0.get_untracked()).and_then(Result::ok).map(|s| s.email);
    let email = RwSignal::new(known.clone().unwrap_or_default());
    let password = RwSignal::new(String::new());
    let sign_in = Action::new_local(move |request: &SignInRequest| {
        let request = request.clone();
        let known = known.clone();
        async move {
            let session = api::sign_in(&request).await?;
            let same_user = known.is_some_and(|k| k.eq_ignore_ascii_case(&session.email));
            match (same_user, retry) {
                (true, Some(retry)) => retry.run(()),
                (true, None) => {}
                (false, _) => {
                    if let Some(window) = web_sys::window() {
                        let _ = window.location().reload();
                    }
                }
            }
            Ok::<(), ApiError>(())
        }
    });
    let error = move || sign_in.value().get().and_then(Result::err);
    let signed_in = move || matches!(sign_in.value().get(), Some(Ok(())));
    let message = move || {
        error().map(|e| match e.problem {
            Some(problem) => problem.detail.unwrap_or(problem.title),
            None => e.message,
        })
    };
    let send = move || {
        sign_in.dispatch(SignInRequest { email: email.get_untracked(), password: password.get_untracked() });
    };
    // Not a <form>: it often stands inside the form whose request failed. Unique IDs: two
    // requests of one page may fail at once.
    let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let (email_id, password_id) = (format!("sign-in-again-email-{n}"), format!("sign-in-again-password-{n}"));

    view! {
        <Show
            when=signed_in
            fallback=move || view! {
                <div class="sign-in-again" role="group" aria-label="Sign in again">
                    <p class="sign-in-again__lead">"Sign in again here; what you typed on this page stays, and we repeat what you asked."</p>
                    <TextField id=email_id.clone() label="Email address" value=email kind="email" autocomplete="username" />
                    <TextField
                        id=password_id.clone()
                        label="Password"
                        value=password
                        kind="password"
                        autocomplete="current-password"
                        error=Signal::derive_local(message)
                        on_enter=Callback::new(move |_: ()| send())
                    />
                    <button type="button" class="button button--primary" disabled=move || sign_in.pending().get() on:click=move |_| send()>
                        {move || if sign_in.pending().get() { "Signing in…" } else { "Sign in and continue" }}
                    </button>
                </div>
            }
        >
            <p class="notice notice--success" role="status">"Signed in again."</p>
        </Show>
    }
}
