//! A result's snippet, the words that matched in `<mark>`; and the badge of a message deleted
//! from its mailbox (the backup keeps it).

use leptos::prelude::*;
use portal_api::SnippetPart;

use crate::time;

#[component]
pub fn Snippet(parts: Vec<SnippetPart>) -> impl IntoView {
    let parts = parts
        .into_iter()
        .map(|part| if part.hit { view! { <mark>{part.text}</mark> }.into_any() } else { part.text.into_any() })
        .collect_view();
    view! { <p class="message-hit__snippet">{parts}</p> }
}

/// "Deleted from the mailbox on 2 Dec 2026, 09:14 (3 d ago)": local time, and how long ago.
#[component]
pub fn DeletedBadge(at: String) -> impl IntoView {
    let when = time::parse(&at).map(|ms| (time::local(ms), time::relative(ms - time::now_ms())));
    view! {
        <span class="status-badge status-badge--warning message-deleted">
            "Deleted from the mailbox on "
            {match when {
                Some((local, relative)) => view! {
                    <time datetime=at.clone()>{local}</time>
                    {format!(" ({relative})")}
                }
                .into_any(),
                None => at.clone().into_any(),
            }}
        </span>
    }
}
