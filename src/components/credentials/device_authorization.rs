//! Device Authorization (step 2): a code to enter at the identity provider, with its address
//! and a countdown to its expiry. The page follows the authorisation as it happens (the server
//! asks the provider at the interval the provider sets); Verify & Continue becomes active once
//! the provider has authorised the device. A denied or expired code says so and offers a new one.

use std::time::Duration;

use leptos::prelude::*;
use portal_api::{CredentialKind, DeviceFlow, DeviceFlowStatus};

use crate::api::{self, ApiError};
use crate::components::copy_button::CopyButton;
use crate::components::credentials::just_fixed::JustFixed;
use crate::components::error_notice::ErrorNotice;
use crate::time;

/// How often the page looks for news while the code waits at the provider.
const FOLLOW_EVERY: Duration = Duration::from_secs(2);

#[component]
pub fn DeviceAuthorization(
    organisation_id: i64,
    flow: Option<DeviceFlow>,
    primary: bool,
    refresh: Callback<()>,
) -> impl IntoView {
    let start = Action::new_local(move |_: &()| async move {
        api::start_device(organisation_id).await?;
        refresh.run(());
        Ok::<(), ApiError>(())
    });
    let start_error = move || start.value().get().and_then(Result::err);
    let start_again = Callback::new(move |_: ()| {
        start.dispatch(());
    });
    let new_code_button = move |label: &'static str, primary: bool| {
        view! {
            <button
                type="button"
                class=if primary { "button button--primary" } else { "button" }
                disabled=move || start.pending().get()
                on:click=move |_| {
                    JustFixed::set(None);
                    start.dispatch(());
                }
            >
                {move || if start.pending().get() { "Asking Microsoft for a code…" } else { label }}
            </button>
        }
    };

    let Some(flow) = flow else {
        return view! {
            <p class="credential__hint">"Get a code, then enter it at Microsoft as an administrator of this organisation."</p>
            {new_code_button("Device Authorization", primary)}
            {move || start_error().map(|error| view! { <ErrorNotice error retry=start_again /> })}
        }
        .into_any();
    };

    let ended = match flow.status {
        DeviceFlowStatus::Denied => Some("The request was denied at Microsoft, so nothing changed. Get a new code to try again."),
        DeviceFlowStatus::Expired => Some("The code expired before anyone entered it. Get a new code to try again."),
        DeviceFlowStatus::Failed => Some("Microsoft's answer could not be used. Get a new code to try again."),
        _ => None,
    };
    if let Some(message) = ended {
        return view! {
            <p class="notice notice--danger" role="alert">{message}</p>
            {flow.detail.clone().map(|detail| view! { <p class="credential__hint">{detail}</p> })}
            {new_code_button("Get a new code", true)}
            {move || start_error().map(|error| view! { <ErrorNotice error retry=start_again /> })}
        }
        .into_any();
    }

    // Pending or authorised: follow it, and count down to the code's expiry.
    let now = RwSignal::new(time::now_ms());
    if let Ok(handle) = set_interval_with_handle(move || now.set(time::now_ms()), Duration::from_secs(1)) {
        on_cleanup(move || handle.clear());
    }
    if flow.status == DeviceFlowStatus::Pending {
        if let Ok(handle) = set_interval_with_handle(move || refresh.run(()), FOLLOW_EVERY) {
            on_cleanup(move || handle.clear());
        }
    }
    let expires_at = time::parse(&flow.expires_at).unwrap_or_default();
    let countdown = move || {
        let left = ((expires_at - now.get()) / 1000.0).max(0.0) as u64;
        format!("The code expires in {}:{:02} (at {}).", left / 60, left % 60, time::local_time(expires_at))
    };
    let authorised = flow.status == DeviceFlowStatus::Authorized;
    let progress = if authorised {
        "Authorised at Microsoft. Choose Verify & Continue to finish.".to_owned()
    } else if flow.slow_downs > 0 {
        format!(
            "Waiting for the code to be entered. Microsoft asked us to slow down, so we now check every {} s.",
            flow.interval_seconds
        )
    } else {
        format!("Waiting for the code to be entered (we check with Microsoft every {} s).", flow.interval_seconds)
    };
    let flow_id = flow.id.clone();
    let verify = Action::new_local(move |_: &()| {
        let flow_id = flow_id.clone();
        async move {
            api::complete_device(organisation_id, &flow_id).await?;
            JustFixed::set(Some(CredentialKind::Device));
            refresh.run(());
            Ok::<(), ApiError>(())
        }
    });

    view! {
        <div class="device-flow" role="group" aria-labelledby="device-flow-title">
            <h3 id="device-flow-title">"Step 2 · Device Authorization"</h3>
            <p>
                "Open "
                <a href=flow.verification_uri.clone() target="_blank" rel="noopener">{flow.verification_uri.clone()}</a>
                " and enter this code:"
            </p>
            <p class="device-flow__code">
                <code aria-label="User code">{flow.user_code.clone()}</code>
                <CopyButton value=flow.user_code.clone() what="user code" />
            </p>
            <p class="device-flow__countdown">{countdown}</p>
            <p class=if authorised { "notice notice--success" } else { "device-flow__status" } role="status" aria-live="polite">
                {progress}
            </p>
            <div class="credential__actions">
                <button
                    type="button"
                    class="button button--primary"
                    disabled=move || !authorised || verify.pending().get()
                    on:click=move |_| {
                        verify.dispatch(());
                    }
                >
                    {move || if verify.pending().get() { "Verifying…" } else { "Verify & Continue" }}
                </button>
                {new_code_button("Get a new code", false)}
            </div>
            {move || verify.value().get().and_then(Result::err).map(|error| view! { <ErrorNotice error /> })}
            {move || start_error().map(|error| view! { <ErrorNotice error retry=start_again /> })}
        </div>
    }
    .into_any()
}
