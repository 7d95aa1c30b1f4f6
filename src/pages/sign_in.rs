//! Sign in, then go back to the page that asked for it (`?next=`). An account with a second
//! factor has a second step: a passkey, a code from its authenticator app, or a recovery code.
//! A passkey allowed to may also sign in on its own, without the password.

use leptos::prelude::*;
use leptos_router::components::Redirect;
use leptos_router::hooks::{use_navigate, use_query_map};
use portal_api::{SecondFactorChallenge, SecondFactorMethod, SignInRequest};

use crate::api::{self, ApiError, SignInAnswer};
use crate::components::error_notice::ErrorNotice;
use crate::components::focus::focus_soon;
use crate::components::security::passkey_flow::{self, PasskeyFailure, PasskeyNotice};
use crate::components::security::retry_wait::RetryWait;
use crate::components::security::second_factor_form::{SecondFactorForm, CODE_ID, PASSKEY_ID};
use crate::components::text_field::TextField;
use crate::paths;
use crate::session::Session;

/// Where to go after signing in: only a path on this site, never another site.
pub fn safe_next(next: Option<String>) -> String {
    match next {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.starts_with("/\\") => path,
        _ => paths::DASHBOARD.to_owned(),
    }
}

/// What the server's `?sso=` says, in words; `second_factor` goes on to the code instead.
fn sso_outcome(outcome: &str) -> Option<&'static str> {
    Some(match outcome {
        "cancelled" => "Sign-in with Microsoft was cancelled. Try again, or sign in with your password.",
        "expired" => "That sign-in with Microsoft took too long or was opened in another browser. Start it again here.",
        "no_account" => {
            "Microsoft signed you in, but that work account has no Backup Portal sign-in in its organisation. Ask your organisation's admin, or sign in with your password."
        }
        "failed" => "Microsoft's answer could not be trusted, so you are not signed in. Try again; if it keeps happening, tell your admin.",
        "unavailable" => "Microsoft could not be reached just now. Try again in a minute.",
        "busy" => "Too many sign-ins with Microsoft were started from your network lately. Wait a few minutes, then try again.",
        _ => return None,
    })
}

/// Where the focus goes in the second step: the app's code where there is an app, else the
/// passkey button where there is a passkey, else the recovery code.
fn first_field(asked: &SecondFactorChallenge) -> &'static str {
    if asked.methods.contains(&SecondFactorMethod::Totp) || !asked.methods.contains(&SecondFactorMethod::Passkey) {
        CODE_ID
    } else {
        PASSKEY_ID
    }
}

#[component]
pub fn SignInPage() -> impl IntoView {
    let session = expect_context::<Session>();
    let query = use_query_map();
    let next = move || safe_next(query.read_untracked().get("next"));
    let navigate = use_navigate();
    let signed_in = Callback::new(move |_: ()| {
        session.refetch();
        navigate(&next(), Default::default());
    });
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    // Back from Sign in with Microsoft (`?sso=`): why it did not sign in, or that our own
    // second factor comes next (its challenge cookie is set already).
    let sso = query.read_untracked().get("sso");
    let sso_notice = sso.as_deref().and_then(sso_outcome);
    // The second step, once the password (or Microsoft) was right and the account has a second factor.
    let challenge = RwSignal::new(None::<SecondFactorChallenge>);
    // Why the second step ended without signing in (its time ran out): said at the password.
    let step_ended = RwSignal::new(None::<ApiError>);
    if sso.as_deref() == Some("second_factor") {
        // Microsoft's part is done: the server says how our own second factor can be given.
        leptos::task::spawn_local(async move {
            match api::second_factor_challenge().await {
                Ok(asked) => {
                    focus_soon(first_field(&asked));
                    challenge.set(Some(asked));
                }
                Err(error) => step_ended.set(Some(error)),
            }
        });
    }
    // "Sign in with Microsoft", with the address typed as a hint to the provider.
    let microsoft_href = move || {
        let typed = email.get();
        let typed = typed.trim();
        if typed.contains('@') {
            format!("/api/sso/microsoft?login_hint={}", String::from(js_sys::encode_uri_component(typed)))
        } else {
            "/api/sso/microsoft".to_owned()
        }
    };

    // Too many attempts (429): the address and until when the server asked us to wait.
    let wait = RetryWait::new();
    let sign_in = Action::new_local(move |request: &SignInRequest| {
        let request = request.clone();
        async move {
            match api::sign_in(&request).await {
                Ok(SignInAnswer::SignedIn(_)) => {
                    signed_in.run(());
                    Ok(())
                }
                Ok(SignInAnswer::SecondFactor(asked)) => {
                    password.set(String::new());
                    focus_soon(first_field(&asked));
                    challenge.set(Some(asked));
                    Ok(())
                }
                Err(error) => {
                    wait.start(&request.email, &error);
                    Err::<(), ApiError>(error)
                }
            }
        }
    });
    // Seconds left before this address may be tried again; another address need not wait.
    let wait_left = move || wait.left(|address| email.with(|typed| typed.trim().eq_ignore_ascii_case(address.trim())));
    // Changes only when the wait starts or ends, not with every tick of the clock.
    let waits = Memo::new(move |_| wait_left().is_some());
    let error = move || sign_in.value().get().and_then(Result::err);
    // A 429 is about the address it was sent for, and only until its wait is over: typing
    // another address (or the wait ending) takes it away. Shown again for that address, it
    // counts down what is left, not the whole wait again.
    let notice = move || error().and_then(|error| RetryWait::notice(error, waits.get(), wait_left));
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
        step_ended.set(None);
        sign_in.dispatch(SignInRequest { email: email.get_untracked(), password: password.get_untracked() });
    };
    // Back to the password step, the address still typed: the password takes the focus.
    let on_back = Callback::new(move |ended: Option<ApiError>| {
        sign_in.value().set(None);
        step_ended.set(ended);
        challenge.set(None);
        focus_soon("sign-in-password");
    });
    // A passkey alone (one its owner allowed to sign in without the password).
    let passkey = Action::new_local(move |_: &()| async move {
        passkey_flow::sign_in().await?;
        signed_in.run(());
        Ok::<(), PasskeyFailure>(())
    });
    let passkey_failure = move || passkey.value().get().and_then(Result::err);
    let second_step =
        move || challenge.get().map(|challenge| view! { <SecondFactorForm challenge on_signed_in=signed_in on_back /> });

    view! {
        <Show when=already_signed_in>
            <Redirect path=next() />
        </Show>
        <main class="sign-in" id="main">
            <Show when=move || challenge.with(Option::is_none) fallback=second_step>
                <form class="sign-in__form" on:submit=on_submit novalidate>
                    <h1 class="sign-in__title">"Sign in to Backup Portal"</h1>
                    {sso_notice.map(|text| view! { <p class="sign-in__sso-notice" role="alert">{text}</p> })}
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
                    {move || step_ended.get().map(|error| view! { <ErrorNotice error signing_in=true /> })}
                    // A 422 shows here too: its fields are marked one by one, and this sums it up with the request ID.
                    {move || notice().map(|error| view! { <ErrorNotice error /> })}
                    <button type="submit" class="button button--primary" aria-disabled=move || busy().then_some("true")>
                        {move || match (sign_in.pending().get(), waits.get()) {
                            (true, _) => "Signing in…",
                            (false, true) => "Wait to sign in",
                            (false, false) => "Sign in",
                        }}
                    </button>
                    <p class="sign-in__or">"or"</p>
                    // A page of its own (the provider's), not a route of the portal.
                    <a class="button sign-in__microsoft" href=microsoft_href rel="external">
                        "Sign in with Microsoft"
                    </a>
                    <button
                        type="button"
                        class="button sign-in__passkey"
                        aria-disabled=move || passkey.pending().get().then_some("true")
                        on:click=move |_| {
                            if !passkey.pending().get_untracked() {
                                passkey.dispatch(());
                            }
                        }
                    >
                        {move || if passkey.pending().get() { "Waiting for your passkey…" } else { "Use a passkey" }}
                    </button>
                    {move || passkey_failure().map(|failure| view! { <PasskeyNotice failure signing_in=true /> })}
                </form>
            </Show>
        </main>
    }
}
