//! When the session ends under a page (signed out elsewhere, or timed out), the user signs in
//! again right where the request failed: the page stays, with everything typed into it, and
//! the action that failed runs again. Signing in as someone else reloads the portal instead,
//! so nothing of the other user's view stays on screen. An account with a second factor is
//! asked for its code here too.

use std::sync::atomic::{AtomicU32, Ordering};

use leptos::prelude::*;
use portal_api::{SecondFactorCode, SessionInfo, SignInRequest};

use crate::api::{self, ApiError, SignInAnswer};
use crate::components::focus::focus_soon;
use crate::components::security::code_field::{check_code, CodeField};
use crate::components::text_field::TextField;
use crate::session::Session;

static NEXT_ID: AtomicU32 = AtomicU32::new(0);

/// What a refused request says, in a line under its field.
fn said(error: &ApiError) -> String {
    match &error.problem {
        Some(problem) => problem.detail.clone().unwrap_or_else(|| problem.title.clone()),
        None => error.message.clone(),
    }
}

#[component]
pub fn SignInAgain(retry: Option<Callback<()>>) -> impl IntoView {
    let known = use_context::<Session>().and_then(|s| s.0.get_untracked()).and_then(Result::ok).map(|s| s.email);
    let email = RwSignal::new(known.clone().unwrap_or_default());
    let password = RwSignal::new(String::new());
    let code = RwSignal::new(String::new());
    // Unique IDs: two requests of one page may fail at once.
    let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let (email_id, password_id, code_id) =
        (format!("sign-in-again-email-{n}"), format!("sign-in-again-password-{n}"), format!("sign-in-again-code-{n}"));
    // The password was right and a code is asked for.
    let asked_code = RwSignal::new(false);
    // Why the code step ended (its time ran out), said under the password.
    let step_ended = RwSignal::new(None::<String>);
    let code_wrong = RwSignal::new(None::<&'static str>);
    let known = StoredValue::new(known);
    let signed_in = move |session: SessionInfo| {
        let same_user = known.get_value().is_some_and(|k| k.eq_ignore_ascii_case(&session.email));
        match (same_user, retry) {
            (true, Some(retry)) => retry.run(()),
            (true, None) => {}
            (false, _) => {
                if let Some(window) = web_sys::window() {
                    let _ = window.location().reload();
                }
            }
        }
    };
    let sign_in = Action::new_local({
        let code_id = code_id.clone();
        move |request: &SignInRequest| {
            let request = request.clone();
            let code_id = code_id.clone();
            async move {
                match api::sign_in(&request).await? {
                    SignInAnswer::SignedIn(session) => {
                        signed_in(session);
                        Ok(true)
                    }
                    SignInAnswer::SecondFactor(_) => {
                        password.set(String::new());
                        asked_code.set(true);
                        focus_soon(code_id);
                        Ok::<bool, ApiError>(false)
                    }
                }
            }
        }
    });
    let second = Action::new_local({
        let password_id = password_id.clone();
        move |typed: &String| {
            let request = SecondFactorCode { code: typed.trim().to_owned() };
            let password_id = password_id.clone();
            async move {
                match api::sign_in_second_factor(&request).await {
                    Ok(session) => {
                        signed_in(session);
                        Ok(true)
                    }
                    // The time to answer ran out: the password again.
                    Err(error) if error.status == Some(401) && said(&error).to_lowercase().contains("password again") => {
                        step_ended.set(Some(said(&error)));
                        asked_code.set(false);
                        focus_soon(password_id);
                        Err(error)
                    }
                    Err(error) => {
                        code.set(String::new());
                        Err(error)
                    }
                }
            }
        }
    });
    let password_message = move || step_ended.get().or_else(|| sign_in.value().get().and_then(Result::err).map(|e| said(&e)));
    let code_message =
        move || code_wrong.get().map(str::to_owned).or_else(|| second.value().get().and_then(Result::err).map(|e| said(&e)));
    let signed_in_here = move || {
        matches!(sign_in.value().get(), Some(Ok(true))) || (asked_code.get() && matches!(second.value().get(), Some(Ok(true))))
    };
    let send = move || {
        step_ended.set(None);
        sign_in.dispatch(SignInRequest { email: email.get_untracked(), password: password.get_untracked() });
    };
    let send_code = move || {
        let typed = code.get_untracked();
        code_wrong.set(check_code(&typed, true));
        if code_wrong.get_untracked().is_none() {
            second.dispatch(typed);
        }
    };
    let busy = move || sign_in.pending().get() || second.pending().get();

    // Not a <form>: it often stands inside the form whose request failed.
    view! {
        <Show
            when=signed_in_here
            fallback=move || {
                let code_id = code_id.clone();
                view! {
                <div class="sign-in-again" role="group" aria-label="Sign in again">
                    <p class="sign-in-again__lead">"Sign in again here; what you typed on this page stays, and we repeat what you asked."</p>
                    <Show
                        when=move || asked_code.get()
                        fallback={
                            let (email_id, password_id) = (email_id.clone(), password_id.clone());
                            move || view! {
                                <TextField id=email_id.clone() label="Email address" value=email kind="email" autocomplete="username" />
                                <TextField
                                    id=password_id.clone()
                                    label="Password"
                                    value=password
                                    kind="password"
                                    autocomplete="current-password"
                                    error=Signal::derive_local(password_message)
                                    on_enter=Callback::new(move |_: ()| send())
                                />
                                <button type="button" class="button button--primary" disabled=busy on:click=move |_| send()>
                                    {move || if sign_in.pending().get() { "Signing in…" } else { "Sign in and continue" }}
                                </button>
                            }
                        }
                    >
                        <CodeField
                            id=code_id.clone()
                            label="Code from your authenticator app, or a recovery code"
                            value=code
                            error=Signal::derive_local(code_message)
                            on_enter=Callback::new(move |_: ()| send_code())
                        />
                        <button type="button" class="button button--primary" disabled=busy on:click=move |_| send_code()>
                            {move || if second.pending().get() { "Checking…" } else { "Sign in and continue" }}
                        </button>
                    </Show>
                </div>
                }
            }
        >
            <p class="notice notice--success" role="status">"Signed in again."</p>
        </Show>
    }
}
