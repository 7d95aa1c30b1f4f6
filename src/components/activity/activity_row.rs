//! One entry of the activity log: when, who (and through which token), what, to what, in which
//! organisation, from which address, and the request's ID to find it in the server's log.

use leptos::prelude::*;
use portal_api::ActivityEntry;

use crate::components::local_time::LocalTime;

/// A fact the entry does not have.
fn none() -> AnyView {
    view! { <span class="activity-table__none">"none"</span> }.into_any()
}

#[component]
pub fn ActivityRow(entry: ActivityEntry) -> impl IntoView {
    let object = match (entry.object, entry.object_id) {
        (None, None) => none(),
        (object, id) => view! {
            {object.map(|object| view! { <span class="activity-table__object">{object}</span> })}
            {id.map(|id| view! { <code class="activity-table__object-id">{id}</code> })}
        }
        .into_any(),
    };
    let organisation = entry.organisation.map_or_else(none, |o| view! { <span>{o}</span> }.into_any());
    let address = entry.address.map_or_else(none, |a| view! { <span class="activity-table__address">{a}</span> }.into_any());

    view! {
        <tr class="activity-table__row" data-action=entry.action.as_str()>
            <td data-label="When"><LocalTime at=Some(entry.at) /></td>
            <td data-label="Who">
                <span class="activity-table__actor">{entry.actor}</span>
                {entry.token.map(|token| view! { <span class="activity-table__token">{format!("via token “{token}”")}</span> })}
            </td>
            <td data-label="What" class="activity-table__action">{entry.action.label()}</td>
            <td data-label="Object">{object}</td>
            <td data-label="Organisation">{organisation}</td>
            <td data-label="Address">{address}</td>
            <td data-label="Request ID"><code class="activity-table__request-id">{entry.request_id}</code></td>
        </tr>
    }
}
