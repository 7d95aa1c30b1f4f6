//! An organisation's deliveries, newest first, read again every 10 s while shown. The table is
//! drawn outside the loading boundary and keyed by delivery: a refresh changes only what
//! changed, so an open list of attempts stays open and the focus stays where it was.

use std::collections::HashSet;
use std::time::Duration;

use leptos::prelude::*;
use portal_api::Delivery;

use crate::api::{self, ApiError};
use crate::components::error_notice::{meaning, ErrorList};
use crate::components::focus::rescue_focus;
use crate::components::integrations::delivery_row::{DeliveryRow, Rows};
use crate::time;

/// How often the list is read again: deliveries are retried over minutes, not seconds.
const REFRESH: Duration = Duration::from_secs(10);

#[component]
pub fn DeliveriesList(organisation_id: i64) -> impl IntoView {
    let read =
        LocalResource::new(move || async move { api::deliveries(organisation_id).await.map(|list| (list, time::now_ms())) });
    if let Ok(handle) = set_interval_with_handle(move || read.refetch(), REFRESH) {
        on_cleanup(move || handle.clear());
    }
    let list = Memo::new(move |last: Option<&Option<Vec<Delivery>>>| match read.get() {
        Some(Ok((list, _))) => Some(list),
        _ => last.cloned().flatten(),
    });
    let read_at = Memo::new(move |last: Option<&Option<f64>>| match read.get() {
        Some(Ok((_, at))) => Some(at),
        _ => last.copied().flatten(),
    });
    let send_again = Action::new_local(move |id: &String| {
        let id = id.clone();
        async move {
            let result = api::send_delivery_again(&id).await;
            if result.is_ok() {
                read.refetch();
            }
            (id, result)
        }
    });
    let rows = Rows { list, read_at, expanded: RwSignal::new(HashSet::new()), send_again, focused: StoredValue::new_local(None) };
    // After each read: if it took away the element that had the focus (a Send again no longer
    // offered), the focus goes to its row's status, or to the page's heading if the row went too.
    let after_read = move || {
        if let Some((id, element)) = rows.focused.get_value() {
            if !element.is_connected() {
                let status = format!("delivery-{id}-status");
                let present = document().get_element_by_id(&status).is_some();
                rescue_focus(if present { status } else { "deliveries-title".to_owned() });
            }
        }
    };

    view! {
        <p class="deliveries__updated">
            {move || read_at.get().map(|at| format!("Read again every 10 s · last read at {}", time::local_time_seconds(at)))}
        </p>
        <Transition fallback=|| view! { <p class="loading" role="status">"Loading deliveries…"</p> }>
            <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>
                {move || Suspend::new(async move {
                    let result = read.await;
                    after_read();
                    match result {
                        Ok(_) => Ok(None),
                        // The list stays as last read, under a line that says it is not current.
                        Err(error) if list.with_untracked(Option::is_some) => Ok(Some(view! { <NotRefreshed error /> })),
                        Err(error) => Err(error),
                    }
                })}
            </ErrorBoundary>
        </Transition>
        <Show when=move || list.with(|l| l.as_ref().is_some_and(Vec::is_empty))>
            <p class="empty-state">"Nothing has been sent yet. Events show here once HaloPSA or a webhook is set up on Integrations."</p>
        </Show>
        <Show when=move || list.with(|l| l.as_ref().is_some_and(|l| !l.is_empty()))>
            <table class="backups-table deliveries-table">
                <caption class="visually-hidden">
                    {move || format!("{} deliveries, newest first", list.with(|l| l.as_ref().map_or(0, Vec::len)))}
                </caption>
                <thead>
                    <tr>
                        <th scope="col">"When"</th>
                        <th scope="col">"Event"</th>
                        <th scope="col">"Sent to"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Attempts"</th>
                    </tr>
                </thead>
                <tbody>
                    <For each=move || list.get().unwrap_or_default() key=|delivery| delivery.id.clone() let:delivery>
                        <DeliveryRow delivery rows />
                    </For>
                </tbody>
            </table>
        </Show>
    }
}

/// A refresh failed: the list shown is as last read. A status, not an alert: it would
/// otherwise be announced again every 10 s while the server is away.
#[component]
fn NotRefreshed(error: ApiError) -> impl IntoView {
    let status = error.status.map(|s| format!("{s} · ")).unwrap_or_default();
    let request_id = error.request_id().map(str::to_owned);
    view! {
        <div class="refresh-failed" role="status">
            <p class="refresh-failed__heading">{format!("Not refreshed: {status}{}", meaning(error.status))}</p>
            <p>"The list below is as last read. It is read again in 10 s."</p>
            {request_id.map(|id| view! { <p class="refresh-failed__id">"Request ID " <code>{id}</code></p> })}
        </div>
    }
}
