//! One delivery in the table: when, what, where to, where it stands (Pending with its next
//! try, Delivered, Failed, Cancelled) and its attempts, each with the receiver's answer; Send again on
//! the ones not delivered.

use std::collections::HashSet;

use leptos::prelude::*;
use portal_api::{Delivery, DeliveryAttempt, DeliveryStatus};
use wasm_bindgen::JsCast;

use crate::api::ApiError;
use crate::components::error_notice::ErrorNotice;
use crate::components::local_time::LocalTime;

/// What the rows share, kept by the list so that it outlives any one row's drawing.
#[derive(Clone, Copy)]
pub struct Rows {
    /// The list as last read.
    pub list: Memo<Option<Vec<Delivery>>>,
    /// When it was last read (ms since the epoch): relative times are drawn anew then.
    pub read_at: Memo<Option<f64>>,
    /// The deliveries whose attempts are open.
    pub expanded: RwSignal<HashSet<String>>,
    pub send_again: Action<String, (String, Result<Delivery, ApiError>)>,
    /// The element in a row that last had the focus, with its delivery: should a refresh take
    /// it away, the focus goes to that row's status.
    pub focused: StoredValue<Option<(String, web_sys::Element)>, LocalStorage>,
}

impl Rows {
    /// Remembers where the focus went in a row (`focusin`).
    pub fn focus_in(&self, delivery_id: &str, ev: &leptos::ev::FocusEvent) {
        if let Some(element) = ev.target().and_then(|t| t.dyn_into::<web_sys::Element>().ok()) {
            self.focused.set_value(Some((delivery_id.to_owned(), element)));
        }
    }
}

/// "830 ms", "1.2 s": whole numbers only (formatting floats adds kilobytes to the wasm).
fn duration_words(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{}.{} s", ms / 1000, ms % 1000 / 100)
    }
}

/// The tone of a delivery's status on the one status scale: a pending one that has failed
/// before is retrying (warning), not merely waiting.
fn tone(delivery: &Delivery) -> &'static str {
    match delivery.status {
        DeliveryStatus::Pending if delivery.attempts.is_empty() => "active",
        DeliveryStatus::Pending => "warning",
        DeliveryStatus::Delivered => "success",
        DeliveryStatus::Failed => "danger",
        DeliveryStatus::Cancelled => "neutral",
    }
}

fn status_label(status: DeliveryStatus) -> &'static str {
    match status {
        DeliveryStatus::Pending => "Pending",
        DeliveryStatus::Delivered => "Delivered",
        DeliveryStatus::Failed => "Failed",
        DeliveryStatus::Cancelled => "Cancelled",
    }
}

/// `delivery`: as first read; what changes later (status, attempts) is read from `rows.list`.
#[component]
pub fn DeliveryRow(delivery: Delivery, rows: Rows) -> impl IntoView {
    let id = StoredValue::new(delivery.id.clone());
    let current = Memo::new(move |_| {
        rows.list.with(|list| list.as_ref().and_then(|list| list.iter().find(|d| d.id == id.get_value()).cloned()))
    });
    let status = move || current.with(|d| d.as_ref().map(|d| d.status));
    let attempts = move || current.with(|d| d.as_ref().map(|d| d.attempts.clone()).unwrap_or_default());
    let attempt_count = move || current.with(|d| d.as_ref().map_or(0, |d| d.attempts.len()));
    let has_attempts = move || attempt_count() != 0;
    let open = move || rows.expanded.with(|e| e.contains(&id.get_value()));
    let toggle = move |_| {
        rows.expanded.update(|e| {
            let id = id.get_value();
            if !e.remove(&id) {
                e.insert(id);
            }
        })
    };
    let sending = move || {
        rows.send_again.pending().get() && rows.send_again.input().with(|i| i.as_deref() == Some(id.get_value().as_str()))
    };
    let send = move || {
        if !untrack(sending) {
            rows.send_again.dispatch(id.get_value());
        }
    };
    let answer = move || {
        rows.send_again.value().get().filter(|(sent, _)| *sent == id.get_value()).map(|(_, result)| match result {
            Ok(sent) => {
                let text = match sent.status {
                    DeliveryStatus::Delivered => "Sent again: delivered.",
                    DeliveryStatus::Pending => "Sent again: it is on its way.",
                    DeliveryStatus::Failed => "Sent again, and it failed again: see its attempts.",
                    DeliveryStatus::Cancelled => "Not sent: its receiver was removed.",
                };
                view! { <p class="deliveries-table__sent" role="status">{text}</p> }.into_any()
            }
            Err(error) => view! { <ErrorNotice error retry=Callback::new(move |_: ()| send()) /> }.into_any(),
        })
    };

    // Stored: the buttons that name them are drawn again by their `Show`.
    let event_id = StoredValue::new(format!("delivery-{}-event", delivery.id));
    let attempts_id = StoredValue::new(format!("delivery-{}-attempts", delivery.id));
    let created_at = delivery.created_at.clone();
    view! {
        <tr
            class="deliveries-table__row"
            data-status=move || status().map(DeliveryStatus::as_str)
            on:focusin=move |ev| rows.focus_in(&id.get_value(), &ev)
        >
            <td data-label="When">
                // Drawn again at each read: "2 min ago" moves on.
                {move || {
                    rows.read_at.track();
                    view! { <LocalTime at=Some(created_at.clone()) /> }
                }}
            </td>
            <td data-label="Event" id=event_id.get_value()>
                <span class="deliveries-table__event">{delivery.event_type.label()}</span>
                " "
                <code class="deliveries-table__type">{delivery.event_type.as_str()}</code>
                <span class="deliveries-table__summary">{delivery.summary.clone()}</span>
            </td>
            <td data-label="Sent to" class="deliveries-table__target">{delivery.target.clone()}</td>
            // Where the focus goes when a refresh takes away the button that had it.
            <td data-label="Status" id=format!("delivery-{}-status", delivery.id) tabindex="-1">
                {move || {
                    rows.read_at.track();
                    current.get().map(|d| {
                        let next = (d.status == DeliveryStatus::Pending).then(|| d.next_attempt_at.clone()).flatten();
                        view! {
                            <span class=format!("status-badge status-badge--{}", tone(&d))>{status_label(d.status)}</span>
                            {next.map(|at| view! {
                                <span class="deliveries-table__next">"next try " <LocalTime at=Some(at) /></span>
                            })}
                        }
                    })
                }}
            </td>
            <td data-label="Attempts">
                <div class="deliveries-table__actions">
                    <Show when=move || !has_attempts()>
                        <span class="deliveries-table__none">"None yet"</span>
                    </Show>
                    // Shown once there is an attempt, and never taken away again: it may have the focus.
                    <Show when=has_attempts>
                        <button
                            type="button"
                            class="link-button"
                            aria-expanded=move || open().to_string()
                            aria-controls=attempts_id.get_value()
                            aria-describedby=event_id.get_value()
                            on:click=toggle
                        >
                            {move || match (open(), attempt_count()) {
                                (true, _) => "Hide attempts".to_owned(),
                                (false, 1) => "Show 1 attempt".to_owned(),
                                (false, n) => format!("Show {n} attempts"),
                            }}
                        </button>
                    </Show>
                    <Show when=move || status().is_some_and(|s| matches!(s, DeliveryStatus::Pending | DeliveryStatus::Failed))>
                        <button
                            type="button"
                            class="button button--small"
                            aria-describedby=event_id.get_value()
                            aria-disabled=move || sending().then_some("true")
                            on:click=move |_| send()
                        >
                            {move || if sending() { "Sending…" } else { "Send again" }}
                        </button>
                    </Show>
                    {answer}
                </div>
            </td>
        </tr>
        <tr class="deliveries-table__attempts" id=attempts_id.get_value() hidden=move || !open()>
            <td colspan="5" data-label="Attempts">
                <ol class="delivery-attempts">
                    <For each=attempts key=|attempt| attempt.number let:attempt>
                        <AttemptItem attempt />
                    </For>
                </ol>
            </td>
        </tr>
    }
}

#[component]
fn AttemptItem(attempt: DeliveryAttempt) -> impl IntoView {
    let (tone, answered) = match attempt.http_status {
        Some(status @ 200..=299) => ("success", format!("HTTP {status}")),
        Some(status) => ("danger", format!("HTTP {status}")),
        None => ("danger", "no answer".to_owned()),
    };
    view! {
        <li class="delivery-attempt">
            <p class="delivery-attempt__facts">
                <strong>{format!("Attempt {}", attempt.number)}</strong>
                <LocalTime at=Some(attempt.at.clone()) />
                <span class=format!("status-badge status-badge--{tone}")>{answered}</span>
                <span class="delivery-attempt__duration">{duration_words(attempt.duration_ms)}</span>
            </p>
            {(!attempt.answer.is_empty()).then(|| view! { <pre class="delivery-attempt__answer">{attempt.answer.clone()}</pre> })}
        </li>
    }
}
