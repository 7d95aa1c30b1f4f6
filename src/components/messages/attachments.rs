//! A message's attachments in its preview: each with its type and size, and a link that
//! downloads it from the backup.

use leptos::prelude::*;
use portal_api::MessageAttachment;

use crate::api;
use crate::bytes::human_bytes;

#[component]
pub fn Attachments(id: i64, attachments: Vec<MessageAttachment>) -> impl IntoView {
    if attachments.is_empty() {
        return None;
    }
    let count = attachments.len();
    let items = attachments
        .into_iter()
        .map(|attachment| {
            let name =
                if attachment.name.trim().is_empty() { format!("Attachment {}", attachment.index + 1) } else { attachment.name };
            let size = human_bytes(attachment.size);
            view! {
                <li class="attachments__item">
                    <a
                        class="attachments__link"
                        href=api::attachment_href(id, attachment.index)
                        download=name.clone()
                        rel="external"
                        aria-label=format!("Download {name}, {size}")
                    >
                        {name.clone()}
                    </a>
                    <span class="attachments__facts">{format!("{} · {size}", attachment.content_type)}</span>
                </li>
            }
        })
        .collect_view();
    Some(view! {
        <section class="attachments" aria-labelledby="attachments-title">
            <h2 id="attachments-title">{if count == 1 { "1 attachment".to_owned() } else { format!("{count} attachments") }}</h2>
            <ul class="attachments__list">{items}</ul>
        </section>
    })
}
