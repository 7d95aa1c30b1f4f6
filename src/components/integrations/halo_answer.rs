//! What Test connection found in HaloPSA: the client tickets will be filed under, or what
//! failed (its message sits on the field to change; this says where, lists Halo's own field
//! errors, and counts down the wait Halo asked for).

use leptos::prelude::*;
use portal_api::HaloTest;

use crate::time;

/// The message shown on the failing field: ours, then Halo's own answer.
pub fn field_message(test: &HaloTest) -> String {
    match (test.halo_status, test.halo_message.as_deref()) {
        (Some(status), Some(message)) => format!("{} HaloPSA answered {status}: {message}", test.message),
        (Some(status), None) => format!("{} HaloPSA answered {status}.", test.message),
        (None, _) => test.message.clone(),
    }
}

/// The label of a field the server names, for "see the message under …".
fn field_label(field: &str) -> &'static str {
    match field {
        "url" => "Halo URL",
        "tenant" => "Tenant",
        "client_id" => "Client ID",
        "client_secret" => "Client secret",
        "halo_client_id" => "Halo client ID",
        "ticket_type_id" => "Ticket type ID",
        "priority_id" => "Priority ID",
        _ => "the form",
    }
}

/// `now`: the form's clock, which this keeps moving while a wait is shown.
#[component]
pub fn HaloTestAnswer(test: HaloTest, received_at_ms: f64, now: RwSignal<f64>) -> impl IntoView {
    if test.ok {
        let text = match test.client_name.as_deref() {
            Some(name) => format!("Connected: tickets will be filed under {name}"),
            None => format!("Connected. {}", test.message),
        };
        return view! { <p class="notice notice--success" role="status">{text}</p> }.into_any();
    }
    // On a field, the message is there (and read with it); here only where to look.
    let summary = match test.field.as_deref() {
        Some(field) => format!("The test failed: see the message under {}.", field_label(field)),
        None => format!("The test failed: {}", field_message(&test)),
    };
    let wait = test.retry_after_seconds.map(|secs| {
        let until_ms = received_at_ms + secs as f64 * 1000.0;
        view! { <HaloWait until_ms secs now /> }
    });
    let errors = (!test.halo_errors.is_empty()).then(|| {
        view! {
            <p class="halo-answer__errors-title">"HaloPSA named these fields:"</p>
            <ul class="halo-answer__errors">
                {test.halo_errors.iter().map(|e| view! { <li><code>{e.field.clone()}</code> ": " {e.message.clone()}</li> }).collect_view()}
            </ul>
        }
    });
    view! {
        <div class="notice notice--danger halo-answer" role="alert">
            <p class="halo-answer__summary">{summary}</p>
            {errors}
            {wait}
        </div>
    }
    .into_any()
}

/// "Halo asks us to wait 27 s", counting down to `until_ms`.
#[component]
fn HaloWait(until_ms: f64, secs: u64, now: RwSignal<f64>) -> impl IntoView {
    let handle = StoredValue::new_local(None::<IntervalHandle>);
    // Stops by itself once the wait is over: Test connection is then offered again.
    let tick = move || {
        let at = time::now_ms();
        now.set(at);
        if at >= until_ms {
            if let Some(handle) = handle.get_value() {
                handle.clear();
            }
        }
    };
    if let Ok(started) = set_interval_with_handle(tick, std::time::Duration::from_millis(250)) {
        handle.set_value(Some(started));
        on_cleanup(move || started.clear());
    }
    // `now` may be from before the answer came until the first tick: never more than Halo asked.
    let left = move || (((until_ms - now.get()) / 1000.0).ceil().max(0.0) as u64).min(secs) as u32;
    view! {
        <p class="halo-answer__wait">
            {move || match left() {
                0 => "Halo takes requests again: you can test now.".to_owned(),
                n => format!("Halo asks us to wait {} before the next test.", time::wait_words(n)),
            }}
        </p>
    }
}
