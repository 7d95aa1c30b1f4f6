//! Account › Security's two-factor section: whether an authenticator app is set up (since
//! when, how many recovery codes are left), setting one up, new recovery codes, removing it.
//! Recovery codes, whenever new ones are made, are shown here once.

use leptos::prelude::*;
use portal_api::{RecoveryCodes, SecondFactorCode, TwoFactorStatus};

use crate::api::{self, ApiError};
use crate::components::error_notice::ErrorList;
use crate::components::focus::focus_soon;
use crate::components::local_time::LocalTime;
use crate::components::security::code_request::CodeRequest;
use crate::components::security::recovery_codes::{self, RecoveryCodesPanel};
use crate::components::security::totp_enrol::TotpEnrol;
use crate::paths;
use crate::session::Session;

const TITLE_ID: &str = "two-factor-title";
const REMOVE_ID: &str = "two-factor-remove";
const RENEW_ID: &str = "two-factor-renew";
/// Fewer recovery codes left than this, and the page suggests new ones.
const FEW_CODES: u32 = 4;

/// Which question asking for a code is open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Asking {
    Remove,
    Renew,
}

/// What the section's parts share, kept by the section so that it outlives any one drawing of
/// the status (which is read again after each change).
#[derive(Clone, Copy)]
struct Controls {
    asking: RwSignal<Option<Asking>>,
    remove: Action<String, Result<(), ApiError>>,
    renew: Action<String, Result<(), ApiError>>,
    on_confirmed: Callback<RecoveryCodes>,
    /// The page says already, at its top, that it is required.
    enrolling: bool,
}

#[component]
pub fn TwoFactorSection(
    /// The person's organisation requires a second factor and they have none yet: once set up,
    /// the portal opens to them.
    enrolling: bool,
) -> impl IntoView {
    let session = expect_context::<Session>();
    let email = session.0.get_untracked().and_then(Result::ok).map(|s| s.email).unwrap_or_default();
    let status = LocalResource::new(api::two_factor);
    // New recovery codes, shown until the person is done with them.
    let codes = RwSignal::new(None::<RecoveryCodes>);
    let done = RwSignal::new(None::<&'static str>);
    let asking = RwSignal::new(None::<Asking>);
    let show_codes = move |new: RecoveryCodes| {
        codes.set(Some(new));
        status.refetch();
        focus_soon(recovery_codes::TITLE_ID);
    };
    let on_confirmed = Callback::new(move |new: RecoveryCodes| {
        done.set(Some("Your authenticator app is set up: signing in now asks for its code after your password."));
        show_codes(new);
    });
    let remove = Action::new_local(move |code: &String| {
        let request = SecondFactorCode { code: code.clone() };
        async move {
            api::remove_totp(&request).await?;
            if status.get_untracked().and_then(Result::ok).is_some_and(|status| status.required) {
                // Required of this person: the portal closes until a new app is set up. A full
                // load, so that the whole portal (its navigation too) follows the session.
                if let Some(window) = web_sys::window() {
                    let _ = window.location().assign(paths::SECURITY);
                }
                return Ok(());
            }
            asking.set(None);
            codes.set(None);
            done.set(Some("The authenticator app is removed, with its recovery codes: signing in asks for your password only."));
            status.refetch();
            focus_soon(TITLE_ID);
            Ok::<(), ApiError>(())
        }
    });
    let renew = Action::new_local(move |code: &String| {
        let request = SecondFactorCode { code: code.clone() };
        async move {
            let new = api::new_recovery_codes(&request).await?;
            asking.set(None);
            done.set(Some("New recovery codes are made: the old ones no longer work."));
            show_codes(new);
            Ok::<(), ApiError>(())
        }
    });
    let controls = Controls { asking, remove, renew, on_confirmed, enrolling };
    let on_done = Callback::new(move |_: ()| {
        if enrolling {
            // A full load, as after signing out: the portal starts again with the session as
            // it now is (its navigation, its live updates), on the dashboard.
            if let Some(window) = web_sys::window() {
                let _ = window.location().assign(paths::DASHBOARD);
            }
        } else {
            codes.set(None);
            focus_soon(TITLE_ID);
        }
    });
    let done_label = if enrolling { "I have saved them: continue to the portal" } else { "I have saved them" };

    view! {
        <section class="two-factor" aria-labelledby=TITLE_ID>
            <h2 id=TITLE_ID tabindex="-1">"Two-factor sign-in"</h2>
            {move || done.get().map(|text| view! { <p class="notice notice--success" role="status">{text}</p> })}
            {move || codes.get().map(|codes| view! { <RecoveryCodesPanel codes email=email.clone() done_label on_done /> })}
            <Transition fallback=|| view! { <p class="loading" role="status">"Loading your two-factor sign-in…"</p> }>
                <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>
                    {move || Suspend::new(async move { status.await.map(|status| view! { <TwoFactorState status controls /> }) })}
                </ErrorBoundary>
            </Transition>
        </section>
    }
}

#[component]
fn TwoFactorState(status: TwoFactorStatus, controls: Controls) -> impl IntoView {
    if !status.totp {
        let required = (status.required && !controls.enrolling).then(|| {
            view! { <p class="two-factor__required">"Your organisation requires it: set it up to go on using the portal."</p> }
        });
        let state = if status.passkeys > 0 {
            "No authenticator app: signing in asks for a passkey after your password."
        } else {
            "Not set up: signing in asks for your password only."
        };
        let left = (status.passkeys > 0).then(|| {
            view! { <p class="two-factor__left-alone">{format!("Recovery codes left: {}", status.recovery_codes_left)}</p> }
        });
        return view! {
            <p class="two-factor__state">{state}</p>
            {left}
            {required}
            <TotpEnrol on_confirmed=controls.on_confirmed />
        }
        .into_any();
    }
    let Controls { asking, remove, renew, .. } = controls;
    let left = status.recovery_codes_left;
    let few = (left < FEW_CODES).then(|| {
        view! { <p class="two-factor__few">"Few recovery codes are left: make new ones, and keep them safe."</p> }
    });
    let remove_question = if status.required {
        "Your organisation requires two-factor sign-in: once the app is removed, you must set one up again before you can use the rest of the portal (for a new phone: remove the old one here, then set up the new one). The recovery codes stop working, and you are signed out everywhere else.".to_owned()
    } else {
        "Signing in will ask for your password only, the recovery codes stop working, and you are signed out everywhere else. You can set up an app again at any time.".to_owned()
    };
    let open = move |which: Asking, id: &'static str| {
        move |_| {
            asking.set(Some(which));
            focus_soon(id);
        }
    };

    view! {
        <dl class="two-factor__facts">
            <div>
                <dt>"Authenticator app"</dt>
                <dd class="two-factor__on">"Set up " <LocalTime at=status.totp_enrolled_at.clone() missing="(date not known)" /></dd>
            </div>
            <div>
                <dt>"Recovery codes left"</dt>
                <dd class="two-factor__left">{left.to_string()}</dd>
            </div>
        </dl>
        {few}
        <div class="two-factor__actions">
            <Show when=move || asking.get() != Some(Asking::Renew)>
                <button type="button" class="button button--small" id=RENEW_ID on:click=open(Asking::Renew, "two-factor-renew-ask")>
                    "New recovery codes"
                </button>
            </Show>
            <Show when=move || asking.get() != Some(Asking::Remove)>
                <button type="button" class="button button--small" id=REMOVE_ID on:click=open(Asking::Remove, "two-factor-remove-ask")>
                    "Remove authenticator app"
                </button>
            </Show>
        </div>
        <Show when=move || asking.get() == Some(Asking::Renew)>
            <CodeRequest
                id="two-factor-renew-ask"
                label="Make new recovery codes?"
                question="New codes replace the ones you have: those stop working at once. Enter a code to confirm it is you."
                yes="Make new codes"
                busy_text="Making…"
                busy=Signal::derive(move || renew.pending().get())
                error=Signal::derive_local(move || renew.value().get().and_then(Result::err))
                on_code=Callback::new(move |code: String| {
                    renew.dispatch(code);
                })
                on_keep=Callback::new(move |_: ()| {
                    renew.value().set(None);
                    asking.set(None);
                })
                back_to=RENEW_ID
            />
        </Show>
        <Show when=move || asking.get() == Some(Asking::Remove)>
            <CodeRequest
                id="two-factor-remove-ask"
                label="Remove the authenticator app?"
                question=remove_question.clone()
                yes="Remove authenticator app"
                busy_text="Removing…"
                danger=true
                busy=Signal::derive(move || remove.pending().get())
                error=Signal::derive_local(move || remove.value().get().and_then(Result::err))
                on_code=Callback::new(move |code: String| {
                    remove.dispatch(code);
                })
                on_keep=Callback::new(move |_: ()| {
                    remove.value().set(None);
                    asking.set(None);
                })
                back_to=REMOVE_ID
            />
        </Show>
    }
    .into_any()
}
