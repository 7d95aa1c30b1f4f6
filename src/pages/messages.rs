//! Search messages: every message in the backups the user may see (an end user: their own
//! mailbox's), found by words, sender, recipient, mailbox, folder, dates, attachments and
//! whether it was deleted from the mailbox. The search and its page live in the address, so a
//! search can be shared. Ticked messages are restored or downloaded together, one job per
//! mailbox; a message's subject opens its preview.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::access;
use crate::api;
use crate::components::error_notice::ErrorList;
use crate::components::messages::filter;
use crate::components::messages::message_filters::MessageFilters;
use crate::components::messages::message_jobs::MessageJobs;
use crate::components::messages::message_results::MessageResults;
use crate::components::messages::selection::Selection;
use crate::session::Session;

#[component]
pub fn MessagesPage() -> impl IntoView {
    let session = expect_context::<Session>();
    let query = use_query_map();
    let filter = Memo::new(move |_| filter::from_address(&query.read()));
    // Each answer carries the filter it was read for (the pager's links and the empty state).
    let read = LocalResource::new(move || {
        let filter = filter.get();
        async move { api::messages(&filter).await.map(|page| (page, filter)) }
    });
    let errors = Signal::derive_local(move || read.get().and_then(Result::err));
    // Kept by the signed-in shell: ticks survive a look at a preview and the way back.
    let selection = use_context::<Selection>().unwrap_or_else(Selection::new);
    let show_mailbox = Signal::derive(move || session.role().is_some_and(access::sees_other_mailboxes));
    let lead = move || {
        if show_mailbox.get() {
            "Every message in the backups of the mailboxes you look after, including those deleted from the mailbox since. Tick messages to restore or download them."
        } else {
            "Every message in your mailbox's backups, including those you deleted since. Tick messages to restore or download them."
        }
    };

    view! {
        <section class="messages" aria-labelledby="messages-title">
            <header class="page-header">
                <p class="page-header__trail">"System Status › Backups"</p>
                <h1 id="messages-title">"Search messages"</h1>
                <p class="page-header__lead">{lead}</p>
            </header>
            <MessageFilters filter errors />
            <MessageJobs
                prefix="messages"
                chosen=Signal::derive(move || selection.0.get())
                on_made=Callback::new(move |ids: Vec<i64>| selection.remove(&ids))
                on_clear=Callback::new(move |_: ()| selection.clear())
            />
            <Transition fallback=|| view! { <p class="loading" role="status">"Searching…"</p> }>
                <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>
                    {move || Suspend::new(async move {
                        read.await.map(|(page, filter)| view! { <MessageResults page filter selection show_mailbox /> })
                    })}
                </ErrorBoundary>
            </Transition>
        </section>
    }
}
