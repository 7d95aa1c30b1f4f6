//! The second step of signing in, once the password was right: a passkey, the six digits of
//! the authenticator app, or a recovery code (whichever the account has). A wrong code is said where it was typed; too many
//! make the step wait (counted down, as the password's do); when the time to answer has run
//! out, the person goes back to the password step, told why.

use leptos::prelude::*;
use portal_api::{SecondFactorChallenge, SecondFactorCode, SecondFactorMethod};

use crate::api::{self, ApiError};
use crate::components::error_notice::ErrorNotice;
use crate::components::focus::focus_soon;
use crate::components::security::code_field::{check_code, CodeField};
use crate::components::security::passkey_flow::{self, PasskeyFailure, PasskeyNotice};
use crate::components::security::retry_wait::RetryWait;
use crate::time;

/// The code field's ID: the focus goes there when the step appears.
pub const CODE_ID: &str = "sign-in-code";
/// The passkey button's ID: the focus goes there when the account has no code to type.
pub const PASSKEY_ID: &str = "sign-in-passkey";
/// What a wait for too many wrong codes is for (there is one challenge at a time).
const STEP: &str = "second factor";

/// Whether a refused code means the challenge is over (its time ran out, or the server no
/// longer knows it): then only the password starts again. A wrong code is a 401 naming invalid
/// credentials too, so the server's words and the challenge's own deadline tell them apart.
fn challenge_over(error: &ApiError, deadline_ms: f64) -> bool {
    if error.status != Some(401) {
        return false;
    }
    let detail = error.problem.as_ref().and_then(|p| p.detail.as_deref()).unwrap_or_default().to_lowercase();
    !error.is_problem("invalid-credentials") || detail.contains("password again") || time::now_ms() >= deadline_ms
}

#[component]
pub fn SecondFactorForm(
    challenge: SecondFactorChallenge,
    /// Signed in: the session is the server's answer's.
    on_signed_in: Callback<()>,
    /// Back to the password step: by the person's choice (`None`), or because the challenge is
    /// over (the error that said so, to show there).
    on_back: Callback<Option<ApiError>>,
) -> impl IntoView {
    let deadline_ms = time::now_ms() + f64::from(challenge.expires_in_secs) * 1000.0;
    let offers_recovery = challenge.methods.contains(&SecondFactorMethod::RecoveryCode);
    let offers_app = challenge.methods.contains(&SecondFactorMethod::Totp);
    let offers_passkey = challenge.methods.contains(&SecondFactorMethod::Passkey);
    let offers_code = offers_app || offers_recovery;
    let code = RwSignal::new(String::new());
    // Without an app, a code can only be a recovery code.
    let recovery = RwSignal::new(!offers_app);
    let passkey = Action::new_local(move |_: &()| async move {
        match passkey_flow::second_factor().await {
            Ok(_) => {
                on_signed_in.run(());
                Ok(())
            }
            Err(PasskeyFailure::Api(error)) if challenge_over(&error, deadline_ms) && error.field_error("ceremony").is_none() => {
                on_back.run(Some(error));
                Ok(())
            }
            Err(failure) => Err(failure),
        }
    });
    let passkey_failure = move || passkey.value().get().and_then(Result::err);
    let use_passkey = move |_| {
        if !passkey.pending().get_untracked() {
            passkey.dispatch(());
        }
    };
    let typed_wrong = RwSignal::new(None::<&'static str>);
    let wait = RetryWait::new();
    let send = Action::new_local(move |typed: &String| {
        let request = SecondFactorCode { code: typed.trim().to_owned() };
        async move {
            match api::sign_in_second_factor(&request).await {
                Ok(_) => {
                    on_signed_in.run(());
                    Ok(())
                }
                Err(error) if challenge_over(&error, deadline_ms) => {
                    on_back.run(Some(error));
                    Ok(())
                }
                Err(error) => {
                    wait.start(STEP, &error);
                    if error.status == Some(401) || error.field_error("code").is_some() {
                        // A code is typed anew (the app shows a new one every 30 seconds).
                        code.set(String::new());
                        focus_soon(CODE_ID);
                    }
                    Err::<(), ApiError>(error)
                }
            }
        }
    });
    let wait_left = move || wait.left(|_| true);
    let waits = Memo::new(move |_| wait_left().is_some());
    let error = move || send.value().get().and_then(Result::err);
    let notice = move || error().and_then(|error| RetryWait::notice(error, waits.get(), wait_left));
    let field_error = Signal::derive_local(move || {
        typed_wrong.get().map(str::to_owned).or_else(|| {
            error().and_then(|e| {
                e.field_error("code").or_else(|| (e.status == Some(401)).then(|| "That code was not accepted.".to_owned()))
            })
        })
    });
    let busy = move || send.pending().get() || waits.get();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if untrack(busy) {
            return;
        }
        let typed = code.get_untracked();
        match check_code(&typed, offers_recovery) {
            Some(message) => {
                typed_wrong.set(Some(message));
                focus_soon(CODE_ID);
            }
            None => {
                typed_wrong.set(None);
                send.dispatch(typed);
            }
        }
    };
    let switch = move |_| {
        recovery.update(|r| *r = !*r);
        code.set(String::new());
        typed_wrong.set(None);
        focus_soon(CODE_ID);
    };
    let label =
        Signal::derive(move || if recovery.get() { "Recovery code" } else { "Code from your authenticator app" }.to_owned());
    let hint = Signal::derive(move || {
        if recovery.get() {
            "One of the codes you saved when you set up the app, such as a1b2c-3d4e5. Each one works once.".to_owned()
        } else {
            "Open the authenticator app on your phone and type the six digits it shows for Backup Portal.".to_owned()
        }
    });

    view! {
        <form class="sign-in__form second-factor" on:submit=submit novalidate>
            <h1 class="sign-in__title">"Sign in to Backup Portal"</h1>
            <p class="second-factor__lead">
                {format!(
                    "Your password is right. One more step: you have {} to {}.",
                    time::wait_words(challenge.expires_in_secs),
                    if offers_passkey && offers_code { "use your passkey or enter a code" } else if offers_passkey { "use your passkey" } else { "enter a code" }
                )}
            </p>
            {offers_passkey.then(|| view! {
                <button
                    type="button"
                    class=if offers_app { "button second-factor__passkey" } else { "button button--primary second-factor__passkey" }
                    id=PASSKEY_ID
                    aria-disabled=move || passkey.pending().get().then_some("true")
                    on:click=use_passkey
                >
                    {move || if passkey.pending().get() { "Waiting for your passkey…" } else { "Use a passkey" }}
                </button>
                {move || passkey_failure().map(|failure| view! { <PasskeyNotice failure signing_in=true /> })}
            })}
            {offers_code.then(|| view! { <CodeField id=CODE_ID label value=code recovery hint error=field_error /> })}
            {(offers_recovery && offers_app).then(|| view! {
                <p class="second-factor__switch">
                    {move || (!recovery.get()).then_some("No phone at hand? ")}
                    <button type="button" class="link-button" on:click=switch>
                        {move || if recovery.get() { "Use the authenticator app" } else { "Use a recovery code" }}
                    </button>
                </p>
            })}
            {move || notice().map(|error| view! { <ErrorNotice error signing_in=true /> })}
            {offers_code.then(|| view! {
                <button type="submit" class="button button--primary" aria-disabled=move || busy().then_some("true")>
                    {move || match (send.pending().get(), waits.get()) {
                        (true, _) => "Checking…",
                        (false, true) => "Wait to sign in",
                        (false, false) => "Sign in",
                    }}
                </button>
            })}
            <button type="button" class="link-button second-factor__back" on:click=move |_| on_back.run(None)>
                "Back to email and password"
            </button>
        </form>
    }
}
