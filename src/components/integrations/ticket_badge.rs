use leptos::prelude::*;
use portal_api::TicketRef;

/// The PSA ticket open about a failing backup, on its Backups row: someone is on it.
#[component]
pub fn TicketBadge(ticket: TicketRef) -> impl IntoView {
    view! { <span class="ticket-badge">{format!("Ticket #{} in {}", ticket.id, ticket.system)}</span> }
}
