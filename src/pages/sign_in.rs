//! Sign in, then go back to the page that asked for it (`?next=`).

use leptos::prelude::*;
use leptos_router::components::Redirect;
use leptos_router::hooks::{use_navigate, use_query_map};
use portal_api::SignInRequest;

use crate::api::{self, ApiError};
use crate::components::error_notice::ErrorNotice;
use crate::components::text_field::TextField;
use crate::session::Session;
use crate::{paths, time};

/// Where to go after signing in: only a path on this site, never another site.
pub fn safe_next(next: Option<String>) -> String {
    match next {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.starts_with("/\\") => path,
        _ => paths::DASHBOARD.to_owned(),
    }
}

#[component]
pub fn SignInPage() -> impl IntoView {
    let session = expect_context::<Session>();
    let query = use_query_map();
    let next = move || safe_next(query.read_untracked().get("next"));
    let navigate = use_navigate();
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());

    // Too many attempts (429): the address and until when the server asked us to wait.
    let waiting = RwSignal::new(None::<(String, f64)>);
    let now = RwSignal::new(time::now_ms());
    let sign_in = Action::new_local(move |request: &SignInRequest| {
        let request = request.clone();
        let navigate = navigate.clone();
        async move {
            match api::sign_in(&request).await {
                Ok(_) => {
                    session.refetch();
                    navigate(&next(), Default::default());
                    Ok(())
                }
                Err(error) => {
                    if let (Some(429), Some(secs)) = (error.status, error.retry_after_secs) {
                        now.set(time::now_ms());
                        waiting.set(Some((request.email.clone(), now.get_untracked() + f64::from(secs) * 1000.0)));
                    }
                    Err::<(), ApiError>(error)
                }
            }
        }
    });
    // The clock moves only while there is a wait to count down.
    if let Ok(handle) = set_interval_with_handle(
        move || {
            if waiting.with_untracked(|w| w.as_ref().is_some_and(|(_, until)| *until > now.get_untracked())) {
                now.set(time::now_ms());
            }
        },
        std::time::Duration::from_millis(250),
    ) {
        on_cleanup(move || handle.clear());
    }
    // Seconds left before this address may be tried again; another address need not wait.
    let wait_left = move || {
        waiting.with(|w| {
            w.as_ref()
                .filter(|(address, _)| email.with(|typed| typed.trim().eq_ignore_ascii_case(address.trim())))
                .map(|(_, until)| ((until - now.get()) / 1000.0).ceil() as u32)
                .filter(|left| *left > 0)
        })
    };
    // Changes only when the wait starts or ends, not with every tick of the clock.
    let waits = Memo::new(move |_| wait_left().is_some());
    let error = move || sign_in.value().get().and_then(Result::err);
    // A 429 is about the address it was sent for, and only until its wait is over: typing
    // another address (or the wait ending) takes it away. Shown again for that address, it
    // counts down what is left, not the whole wait again.
    let notice = move || {
        let mut error = error()?;
        if error.status == Some(429) && error.retry_after_secs.is_some() {
            if !waits.get() {
                return None;
            }
            error.retry_after_secs = untrack(wait_left);
        }
        Some(error)
    };
    let field_error = move |field: &'static str| move || error().and_then(|e| e.field_error(field));
    // Field messages sit by their fields; any other failure is shown above the button.

    let already_signed_in = move || matches!(session.0.get(), Some(Ok(_)));
    // The button is never `disabled` while it waits: a disabled button drops the focus of
    // whoever just pressed it. It says it waits (`aria-disabled`), and this refuses the submit,
    // from the button or from Enter in a field.
    let busy = move || sign_in.pending().get() || waits.get();
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if untrack(busy) {
            return;
        }
        sign_in.dispatch(SignInRequest { email: email.get_untracked(), password: password.get_untracked() });
    };

    view! {
        <Show when=already_signed_in>
            <Redirect path=next() />
        </Show>
        <main class="sign-in" id="main">
            <form class="sign-in__form" on:submit=on_submit novalidate>
                <h1 class="sign-in__title">"Sign in to Backup Portal"</h1>
                <TextField
                    id="sign-in-email"
                    label="Email address"
                    value=email
                    kind="email"
                    autocomplete="username"
                    name="email"
                    required=true
                    error=Signal::derive_local(field_error("email"))
                />
                <TextField
                    id="sign-in-password"
                    label="Password"
                    value=password
                    kind="password"
                    autocomplete="current-password"
                    name="password"
                    required=true
                    error=Signal::derive_local(field_error("password"))
                />
                // A 422 shows here too: its fields are marked one by one, and this sums it up with the request ID.
                {move || notice().map(|error| view! { <ErrorNotice error /> })}
                <button type="submit" class="button button--primary" aria-disabled=move || busy().then_some("true")>
                    {move || match (sign_in.pending().get(), waits.get()) {
                        (true, _) => "Signing in…",
                        (false, true) => "Wait to sign in",
                        (false, false) => "Sign in",
                    }}
                </button>
            </form>
        </main>
    }
}
