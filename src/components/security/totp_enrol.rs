//! Setting up an authenticator app: a new secret from the server, shown as a QR code (drawn by
//! our server, so no other service sees it) and as text to type in, then one code from the app
//! to confirm it works. Only once confirmed does it count; the recovery codes come with that.

use leptos::prelude::*;
use portal_api::{RecoveryCodes, SecondFactorCode, TotpEnrolment};

use crate::api::{self, ApiError};
use crate::components::copy_button::CopyButton;
use crate::components::error_notice::ErrorNotice;
use crate::components::focus::focus_soon;
use crate::components::security::code_field::{check_code, CodeField};

/// The button that starts it: the focus comes back here on Cancel.
pub const START_ID: &str = "totp-start";
const TITLE_ID: &str = "totp-enrol-title";
const CODE_ID: &str = "totp-confirm-code";

/// The secret as apps show it and people type it: in groups of four.
pub fn grouped(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().filter(|c| !c.is_whitespace()).collect();
    chars.chunks(4).map(|group| group.iter().collect::<String>()).collect::<Vec<_>>().join(" ")
}

#[component]
pub fn TotpEnrol(on_confirmed: Callback<RecoveryCodes>) -> impl IntoView {
    let start = Action::new_local(|_: &()| async move {
        let enrolment = api::start_totp().await?;
        focus_soon(TITLE_ID);
        Ok::<TotpEnrolment, ApiError>(enrolment)
    });
    let started = move || start.value().with(|v| matches!(v, Some(Ok(_))));
    let start_error = move || start.value().get().and_then(Result::err);
    let busy = move || start.pending().get();
    let again = Callback::new(move |_: ()| {
        start.dispatch(());
    });
    let on_cancel = Callback::new(move |_: ()| {
        start.value().set(None);
        focus_soon(START_ID);
    });
    let steps = move || {
        start
            .value()
            .get_untracked()
            .and_then(Result::ok)
            .map(|enrolment| view! { <EnrolSteps enrolment on_confirmed on_cancel /> })
    };

    view! {
        <Show when=move || !started() fallback=steps>
            <p>
                "An authenticator app on your phone (such as Google Authenticator, Microsoft Authenticator or 1Password) shows a new six-digit code every 30 seconds. Once it is set up, signing in asks for that code after your password."
            </p>
            <button
                type="button"
                class="button button--primary"
                id=START_ID
                aria-disabled=move || busy().then_some("true")
                on:click=move |_| {
                    if !busy() {
                        start.dispatch(());
                    }
                }
            >
                {move || if busy() { "Starting…" } else { "Set up an authenticator app" }}
            </button>
            {move || start_error().map(|error| view! { <ErrorNotice error retry=again /> })}
        </Show>
    }
}

#[component]
fn EnrolSteps(enrolment: TotpEnrolment, on_confirmed: Callback<RecoveryCodes>, on_cancel: Callback<()>) -> impl IntoView {
    let code = RwSignal::new(String::new());
    let typed_wrong = RwSignal::new(None::<&'static str>);
    let confirm = Action::new_local(move |typed: &String| {
        let request = SecondFactorCode { code: typed.trim().to_owned() };
        async move {
            match api::confirm_totp(&request).await {
                Ok(codes) => {
                    on_confirmed.run(codes);
                    Ok(())
                }
                Err(error) => {
                    if error.field_error("code").is_some() {
                        code.set(String::new());
                        focus_soon(CODE_ID);
                    }
                    Err::<(), ApiError>(error)
                }
            }
        }
    });
    let error = move || confirm.value().get().and_then(Result::err);
    let field_error = Signal::derive_local(move || {
        typed_wrong.get().map(str::to_owned).or_else(|| error().and_then(|e| e.field_error("code")))
    });
    let busy = move || confirm.pending().get();
    let send = move || {
        let typed = code.get_untracked();
        typed_wrong.set(check_code(&typed, false));
        if typed_wrong.get_untracked().is_some() {
            focus_soon(CODE_ID);
        } else {
            confirm.dispatch(typed);
        }
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if !untrack(busy) {
            send();
        }
    };
    let again = Callback::new(move |_: ()| send());
    let secret = enrolment.secret.clone();

    view! {
        <section class="totp-enrol" aria-labelledby=TITLE_ID>
            <h3 id=TITLE_ID tabindex="-1">"Set up your authenticator app"</h3>
            <ol class="totp-enrol__steps">
                <li>
                    <p>"In your authenticator app, add an account and scan this QR code."</p>
                    <figure class="totp-enrol__qr" aria-labelledby="totp-qr-caption">
                        <div class="totp-enrol__qr-image" role="img" aria-label="QR code of your authenticator key" inner_html=enrolment.qr_svg.clone()></div>
                        <figcaption id="totp-qr-caption">"Scan with your authenticator app"</figcaption>
                    </figure>
                    <p>"Cannot scan it? Choose to enter a key in the app, as a time-based key, and type this one:"</p>
                    <p class="totp-enrol__secret-line">
                        <code class="totp-enrol__secret" data-testid="totp-secret">{grouped(&enrolment.secret)}</code>
                        <CopyButton value=secret what="authenticator key" />
                    </p>
                    <p class="totp-enrol__link">
                        <a href=enrolment.otpauth_uri.clone()>"Open it in an authenticator app on this device"</a>
                    </p>
                </li>
                <li>
                    <form class="totp-enrol__confirm" on:submit=submit novalidate>
                        <CodeField
                            id=CODE_ID
                            label="The six-digit code your app shows now"
                            hint="It changes every 30 seconds: type the one showing, before it changes."
                            value=code
                            error=field_error
                        />
                        {move || error().map(|error| view! { <ErrorNotice error retry=again /> })}
                        <div class="totp-enrol__actions">
                            <button type="submit" class="button button--primary" aria-disabled=move || busy().then_some("true")>
                                {move || if busy() { "Confirming…" } else { "Confirm" }}
                            </button>
                            <button type="button" class="button" on:click=move |_| on_cancel.run(())>"Cancel"</button>
                        </div>
                    </form>
                </li>
            </ol>
        </section>
    }
}

#[cfg(all(test, target_arch = "wasm32"))]
mod tests {
    use wasm_bindgen_test::wasm_bindgen_test;

    use super::grouped;

    #[wasm_bindgen_test]
    fn a_secret_reads_in_groups_of_four() {
        assert_eq!(grouped("JBSWY3DPEHPK3PXP"), "JBSW Y3DP EHPK 3PXP");
        assert_eq!(grouped("ABCDEF"), "ABCD EF");
        assert_eq!(grouped(""), "");
    }
}
