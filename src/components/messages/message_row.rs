//! One message found: its tick box, sender, subject (the link to its preview), when it was
//! sent, its folder, size and mailbox; whether it was deleted from the mailbox; the text around
//! the words searched for.

use leptos::prelude::*;
use portal_api::MessageHit;

use crate::bytes::human_bytes;
use crate::components::local_time::LocalTime;
use crate::components::messages::filter;
use crate::components::messages::selection::{subject_or_none, Chosen, Selection};
use crate::components::messages::snippet::{DeletedBadge, Snippet};
use crate::paths;

/// `search`: the address of the search the row is in (the preview leads back to it).
#[component]
pub fn MessageRow(hit: MessageHit, selection: Selection, show_mailbox: Signal<bool>, search: String) -> impl IntoView {
    let id = hit.id;
    let chosen = Chosen::of(&hit);
    let subject = subject_or_none(&hit.subject);
    let subject_id = format!("message-{id}-subject");
    let remember = move |_| filter::remember_search(search.clone());
    let mailbox = hit.mailbox.clone();

    view! {
        <tr class="backups-table__row message-hit" data-deleted=hit.deleted_at.is_some().to_string()>
            <td data-label="Choose" class="message-hit__choose">
                <input
                    type="checkbox"
                    class="message-hit__tick"
                    aria-labelledby=format!("message-{id}-choose {subject_id}")
                    prop:checked=move || selection.has(id)
                    on:change=move |ev| selection.set(chosen.clone(), event_target_checked(&ev))
                />
                <span class="visually-hidden" id=format!("message-{id}-choose")>"Choose"</span>
            </td>
            <td data-label="From" class="message-hit__from">{hit.from.clone()}</td>
            <td data-label="Subject" class="message-hit__subject">
                <a href=paths::message(id) id=subject_id on:click=remember>{subject}</a>
                {hit.has_attachments.then(|| view! { <span class="message-hit__attachments">"Has attachments"</span> })}
                {hit.deleted_at.clone().map(|at| view! { <DeletedBadge at /> })}
                <Snippet parts=hit.snippet.clone() />
            </td>
            <td data-label="Date"><LocalTime at=hit.date.clone() missing="No date" /></td>
            <td data-label="Folder" class="message-hit__folder">{hit.folder.clone()}</td>
            <td data-label="Size" class="message-hit__size">{human_bytes(hit.size)}</td>
            <Show when=move || show_mailbox.get()>
                <td data-label="Mailbox" class="message-hit__mailbox">{mailbox.clone()}</td>
            </Show>
        </tr>
    }
}
