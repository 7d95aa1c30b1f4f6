//! One message of a backup (`/messages/812`): its headers, its body (the HTML as sent in a
//! sandboxed frame, and its text), its attachments with their sizes and downloads, and Restore
//! and Download for it alone. The way back leads to the search it was opened from.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;
use portal_api::MessagePreview;

use crate::api;
use crate::bytes::human_bytes;
use crate::components::error_notice::ErrorList;
use crate::components::local_time::LocalTime;
use crate::components::messages::attachments::Attachments;
use crate::components::messages::filter;
use crate::components::messages::message_body::MessageBody;
use crate::components::messages::message_jobs::MessageJobs;
use crate::components::messages::selection::{subject_or_none, Chosen};
use crate::components::messages::snippet::DeletedBadge;

#[component]
pub fn MessagePage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").unwrap_or_default());
    let message = LocalResource::new(move || {
        let id = id.get();
        async move {
            match id.parse::<i64>() {
                Ok(id) => api::message(id).await.map(Some),
                Err(_) => Ok(None),
            }
        }
    });
    let back = filter::back_to_search();

    view! {
        <section class="message-preview" aria-labelledby="message-title">
            <Transition fallback=|| view! {
                <header class="page-header">
                    <p class="page-header__trail">"Search messages"</p>
                    <h1 id="message-title">"Message"</h1>
                </header>
                <p class="loading" role="status">"Loading the message…"</p>
            }>
                <ErrorBoundary fallback=move |errors| view! {
                    <header class="page-header">
                        <p class="page-header__trail">"Search messages"</p>
                        <h1 id="message-title">"Message"</h1>
                    </header>
                    <ErrorList errors />
                }>
                    {move || {
                        let back = back.clone();
                        Suspend::new(async move {
                            message.await.map(|found| match found {
                                Some(preview) => view! { <Preview preview back /> }.into_any(),
                                None => view! {
                                    <header class="page-header">
                                        <h1 id="message-title">"Message"</h1>
                                    </header>
                                    <p class="empty-state">"This address names no message. " <A href=back>"Back to the search"</A></p>
                                }
                                .into_any(),
                            })
                        })
                    }}
                </ErrorBoundary>
            </Transition>
        </section>
    }
}

#[component]
fn Preview(preview: MessagePreview, back: String) -> impl IntoView {
    let hit = preview.hit.clone();
    let subject = subject_or_none(&hit.subject);
    let chosen = Chosen::of(&hit);
    let headers = preview
        .headers
        .iter()
        .map(|header| view! { <dt>{header.name.clone()}</dt> <dd>{header.value.clone()}</dd> })
        .collect_view();

    view! {
        <header class="page-header">
            <p class="page-header__trail"><A href=back>"Search messages"</A></p>
            <h1 id="message-title">{subject.clone()}</h1>
            {hit.deleted_at.clone().map(|at| view! { <p class="message-preview__deleted"><DeletedBadge at /></p> })}
        </header>
        <dl class="message-preview__facts">
            <div>
                <dt>"Mailbox"</dt>
                <dd>{hit.mailbox.clone()}</dd>
            </div>
            <div>
                <dt>"Folder"</dt>
                <dd>{hit.folder.clone()}</dd>
            </div>
            <div>
                <dt>"Date"</dt>
                <dd><LocalTime at=hit.date.clone() missing="No date" /></dd>
            </div>
            <div>
                <dt>"Size"</dt>
                <dd>{human_bytes(hit.size)}</dd>
            </div>
        </dl>
        <MessageJobs prefix="message" chosen=Signal::derive(move || vec![chosen.clone()]) />
        <section class="message-headers" aria-labelledby="message-headers-title">
            <h2 id="message-headers-title">"Headers"</h2>
            <dl class="message-headers__list">{headers}</dl>
        </section>
        <MessageBody id=hit.id subject text=preview.text has_html=preview.has_html remote_images=preview.remote_images />
        <Attachments id=hit.id attachments=preview.attachments />
    }
}
