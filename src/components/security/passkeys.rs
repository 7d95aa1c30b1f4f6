//! Account › Security's passkeys: the person's passkeys and security keys (each named, when
//! added and last used, whether it signs in without the password), adding one, and each one's
//! rename, sign-in rule and removal (`passkey_row.rs`). The first second factor brings recovery
//! codes, shown here once.

use leptos::prelude::*;
use portal_api::{PasskeyRegistered, RecoveryCodes};

use crate::api;
use crate::components::error_notice::ErrorList;
use crate::components::focus::focus_soon;
use crate::components::security::passkey_flow::{self, PasskeyFailure, PasskeyNotice};
use crate::components::security::passkey_row::{PasskeyItem, PasskeyRows};
use crate::components::security::recovery_codes::{self, RecoveryCodesPanel};
use crate::components::text_field::TextField;
use crate::paths;
use crate::session::Session;

pub const TITLE_ID: &str = "passkeys-title";
const NAME_ID: &str = "passkey-name";

/// A full load of the portal, which opens to the person now that they have a second factor.
fn into_the_portal() {
    if let Some(window) = web_sys::window() {
        let _ = window.location().assign(paths::DASHBOARD);
    }
}

#[component]
pub fn PasskeysSection(
    /// The person must set up a second factor before anything else: once a passkey is added,
    /// the portal opens to them.
    enrolling: bool,
) -> impl IntoView {
    let session = expect_context::<Session>();
    let email = session.0.get_untracked().and_then(Result::ok).map(|s| s.email).unwrap_or_default();
    let list = LocalResource::new(api::passkeys);
    let name = RwSignal::new(String::new());
    let passwordless = RwSignal::new(false);
    let named_wrong = RwSignal::new(None::<String>);
    let done = RwSignal::new(None::<String>);
    let codes = RwSignal::new(None::<RecoveryCodes>);
    let add = Action::new_local(move |(typed, alone): &(String, bool)| {
        let (typed, alone) = (typed.clone(), *alone);
        async move {
            let PasskeyRegistered { passkey, recovery_codes } = passkey_flow::register(typed, alone).await?;
            name.set(String::new());
            passwordless.set(false);
            list.refetch();
            done.set(Some(if passkey.passwordless {
                format!("“{}” is added: it signs you in on its own, or after your password.", passkey.name)
            } else {
                format!("“{}” is added: signing in can now ask for it after your password.", passkey.name)
            }));
            match recovery_codes {
                Some(new) => {
                    codes.set(Some(RecoveryCodes { codes: new }));
                    focus_soon(recovery_codes::TITLE_ID);
                }
                None if enrolling => into_the_portal(),
                None => focus_soon(TITLE_ID),
            }
            Ok::<(), PasskeyFailure>(())
        }
    });
    let failure = move || add.value().get().and_then(Result::err);
    let name_error = Signal::derive_local(move || {
        named_wrong.get().or_else(|| failure().and_then(|f| f.api().and_then(|e| e.field_error("name"))))
    });
    let busy = move || add.pending().get();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if untrack(busy) {
            return;
        }
        let typed = name.get_untracked().trim().to_owned();
        if typed.is_empty() || typed.chars().count() > portal_api::passkey::MAX_PASSKEY_NAME_CHARS {
            named_wrong.set(Some("Give the passkey a name of 1 to 60 characters, so you can tell it from others.".into()));
            focus_soon(NAME_ID);
            return;
        }
        named_wrong.set(None);
        done.set(None);
        add.dispatch((typed, passwordless.get_untracked()));
    };
    let rows = PasskeyRows::new(list, done, TITLE_ID);
    let on_codes_saved = Callback::new(move |_: ()| {
        if enrolling {
            into_the_portal();
        } else {
            codes.set(None);
            focus_soon(TITLE_ID);
        }
    });
    let done_label = if enrolling { "I have saved them: continue to the portal" } else { "I have saved them" };

    view! {
        <section class="passkeys" aria-labelledby=TITLE_ID>
            <h2 id=TITLE_ID tabindex="-1">"Passkeys and security keys"</h2>
            <p class="passkeys__lead">
                "A passkey signs you in with your fingerprint, face or the PIN of your device or security key: nothing to type, and it only works on this portal's own address, so a look-alike site cannot use it."
            </p>
            {move || done.get().map(|text| view! { <p class="notice notice--success" role="status">{text}</p> })}
            {move || codes.get().map(|codes| view! { <RecoveryCodesPanel codes email=email.clone() done_label on_done=on_codes_saved /> })}
            <Transition fallback=|| view! { <p class="loading" role="status">"Loading your passkeys…"</p> }>
                <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>
                    {move || Suspend::new(async move {
                        list.await.map(|keys| {
                            if keys.is_empty() {
                                view! { <p class="passkeys__none">"No passkey yet."</p> }.into_any()
                            } else {
                                view! {
                                    <ul class="passkeys__list">
                                        <For each=move || keys.clone() key=|key| key.id.clone() let:key>
                                            <PasskeyItem key rows />
                                        </For>
                                    </ul>
                                }
                                .into_any()
                            }
                        })
                    })}
                </ErrorBoundary>
            </Transition>
            <form class="passkeys__add" on:submit=submit novalidate>
                <h3>"Add a passkey"</h3>
                <TextField
                    id=NAME_ID
                    label="Name"
                    value=name
                    hint=Signal::derive(|| "So you can tell it from others later, e.g. “YubiKey on my keyring” or “Work laptop”.".to_owned())
                    error=name_error
                />
                <label class="passkeys__alone">
                    <input type="checkbox" prop:checked=move || passwordless.get() on:change=move |ev| passwordless.set(event_target_checked(&ev)) />
                    " Let it sign me in on its own, without my password"
                </label>
                {move || failure().filter(|f| f.api().is_none_or(|e| e.field_error("name").is_none())).map(|failure| view! { <PasskeyNotice failure /> })}
                <button type="submit" class="button button--primary" aria-disabled=move || busy().then_some("true")>
                    {move || if busy() { "Waiting for your passkey…" } else { "Add a passkey" }}
                </button>
            </form>
        </section>
    }
}
