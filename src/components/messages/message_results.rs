//! A page of the messages found, with the pages before and after it; or what to say when the
//! search finds nothing.

use leptos::either::Either;
use leptos::prelude::*;
use leptos_router::components::A;
use portal_api::{MessageHit, MessagesQuery, Page};

use crate::components::messages::filter;
use crate::components::messages::message_row::MessageRow;
use crate::components::messages::selection::{Chosen, Selection};
use crate::components::pager::Pager;
use crate::paths;

/// `filter`: what `page` was read for.
#[component]
pub fn MessageResults(
    page: Page<MessageHit>,
    filter: MessagesQuery,
    selection: Selection,
    show_mailbox: Signal<bool>,
) -> impl IntoView {
    if page.items.is_empty() {
        let (text, link) = if page.total > 0 {
            (
                "This page is past the end of the results.",
                Some((filter::href(&MessagesQuery { page: None, ..filter }), "Go to the first page")),
            )
        } else if filter::is_filtered(&filter) {
            ("No message in the backups matches this search.", Some((paths::MESSAGES.to_owned(), "Clear the search")))
        } else {
            (
                "There are no messages in the backups yet. A mailbox's messages can be searched once its first backup has run.",
                None,
            )
        };
        return Either::Left(view! {
            <div class="empty-state">
                <p>{text}</p>
                {link.map(|(href, label)| view! { <A href=href>{label}</A> })}
            </div>
        });
    }
    let (first, last) = page.range();
    let summary = format!("Messages {first}–{last} of {}", page.total);
    let on_page: Vec<Chosen> = page.items.iter().map(Chosen::of).collect();
    let all_chosen = {
        let on_page = on_page.clone();
        move || on_page.iter().all(|m| selection.has(m.id))
    };
    let choose_all = move |ev: leptos::ev::Event| selection.set_all(&on_page, leptos::prelude::event_target_checked(&ev));
    let search = filter::href(&filter);
    let pager_page = page.clone();
    let href = Callback::new(move |to: u32| filter::href(&MessagesQuery { page: Some(to), ..filter.clone() }));

    Either::Right(view! {
        <table class="backups-table messages-table">
            <caption class="visually-hidden">{summary}</caption>
            <thead>
                <tr>
                    <th scope="col" class="message-hit__choose">
                        <input type="checkbox" aria-label="Choose every message on this page" prop:checked=all_chosen on:change=choose_all />
                    </th>
                    <th scope="col">"From"</th>
                    <th scope="col">"Subject"</th>
                    <th scope="col">"Date"</th>
                    <th scope="col">"Folder"</th>
                    <th scope="col">"Size"</th>
                    <Show when=move || show_mailbox.get()>
                        <th scope="col">"Mailbox"</th>
                    </Show>
                </tr>
            </thead>
            <tbody>
                // Keyed by the message and what a backup may change of it (its deletion): a row
                // that stays keeps its tick box, and the focus in it.
                <For each=move || page.items.clone() key=|hit| (hit.id, hit.deleted_at.clone()) let:hit>
                    <MessageRow hit selection show_mailbox search=search.clone() />
                </For>
            </tbody>
        </table>
        <Pager page=pager_page noun="messages".to_owned() href />
    })
}
