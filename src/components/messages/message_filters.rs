//! The search's form: words, sender, recipient, mailbox, folder, dates, attachments, whether
//! deleted from the mailbox, and the order. Search puts them in the address; the results follow
//! it. Each field shows what the server said of it, should it refuse the value.

use leptos::html;
use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use portal_api::{BackupsQuery, MessageSort, MessagesQuery};

use crate::api::{self, ApiError};
use crate::components::messages::filter;

/// The choices of a yes-or-no filter: its value in the address, and how it reads.
type Choices = [(&'static str, &'static str); 3];
const ATTACHMENTS: Choices = [("", "With or without"), ("true", "With attachments"), ("false", "Without attachments")];
const DELETED: Choices =
    [("", "Still there or deleted"), ("true", "Deleted from the mailbox"), ("false", "Still in the mailbox")];

fn yes_no(value: Option<bool>) -> &'static str {
    match value {
        Some(true) => "true",
        Some(false) => "false",
        None => "",
    }
}

#[component]
pub fn MessageFilters(filter: Memo<MessagesQuery>, errors: Signal<Option<ApiError>, LocalStorage>) -> impl IntoView {
    let navigate = use_navigate();
    // The mailboxes the user may see (an end user: their own), for the mailbox list.
    let mailboxes =
        LocalResource::new(|| async { api::backups(&BackupsQuery { per_page: Some(200), ..Default::default() }).await });
    let chosen_mailbox = move || filter.with(|f| f.mailbox_id);
    // The folders of the chosen mailbox's backup, offered as the folder is typed.
    let folders = LocalResource::new(move || {
        let mailbox = chosen_mailbox();
        async move {
            match mailbox {
                Some(id) => api::backup_folders(id).await.unwrap_or_default(),
                None => Vec::new(),
            }
        }
    });
    let (q, from, to, folder, after, before) = (
        NodeRef::<html::Input>::new(),
        NodeRef::<html::Input>::new(),
        NodeRef::<html::Input>::new(),
        NodeRef::<html::Input>::new(),
        NodeRef::<html::Input>::new(),
        NodeRef::<html::Input>::new(),
    );
    let (mailbox, attachment, deleted, sort) = (
        NodeRef::<html::Select>::new(),
        NodeRef::<html::Select>::new(),
        NodeRef::<html::Select>::new(),
        NodeRef::<html::Select>::new(),
    );
    let text = |input: NodeRef<html::Input>| input.get_untracked().map(|i| i.value().trim().to_owned()).filter(|v| !v.is_empty());
    let chosen = |select: NodeRef<html::Select>| select.get_untracked().map(|s| s.value()).filter(|v| !v.is_empty());
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let next = MessagesQuery {
            q: text(q),
            from: text(from),
            to: text(to),
            mailbox_id: chosen(mailbox).and_then(|id| id.parse().ok()),
            folder: text(folder),
            after: text(after),
            before: text(before),
            has_attachment: chosen(attachment).map(|v| v == "true"),
            deleted: chosen(deleted).map(|v| v == "true"),
            // Newest first is the order when none is named: the address leaves it out.
            sort: chosen(sort).filter(|s| s != MessageSort::Newest.as_str()),
            page: None,
            per_page: None,
        };
        navigate(&filter::href(&next), Default::default());
    };
    let error = move |name: &'static str| move || errors.get().and_then(|e| e.field_error(name));
    let shown = move |value: fn(&MessagesQuery) -> Option<String>| move || filter.with(|f| value(f).unwrap_or_default());
    let text_field = move |name: &'static str,
                           label: &'static str,
                           kind: &'static str,
                           node: NodeRef<html::Input>,
                           value: fn(&MessagesQuery) -> Option<String>| {
        let id = format!("messages-{name}");
        let error_id = format!("{id}-error");
        let message = error(name);
        view! {
            <div class="filters__field">
                <label for=id.clone()>{label}</label>
                <input
                    id=id
                    type=kind
                    node_ref=node
                    aria-describedby=error_id.clone()
                    aria-invalid=move || message().is_some().to_string()
                    prop:value=shown(value)
                />
                <p class="field__error" id=error_id>{error(name)}</p>
            </div>
        }
    };
    let select_field = move |name: &'static str,
                             label: &'static str,
                             node: NodeRef<html::Select>,
                             choices: Choices,
                             value: fn(&MessagesQuery) -> Option<bool>| {
        let id = format!("messages-{name}");
        let error_id = format!("{id}-error");
        let current = move || filter.with(|f| yes_no(value(f)));
        let options = choices
            .into_iter()
            .map(|(value, text)| view! { <option value=value selected=move || current() == value>{text}</option> })
            .collect_view();
        view! {
            <div class="filters__field">
                <label for=id.clone()>{label}</label>
                <select id=id node_ref=node aria-describedby=error_id.clone() prop:value=current>
                    {options}
                </select>
                <p class="field__error" id=error_id>{error(name)}</p>
            </div>
        }
    };
    let mailbox_options = move || {
        let items = mailboxes.get().and_then(Result::ok).map(|page| page.items).unwrap_or_default();
        // The mailbox in the address is kept even when the list does not hold it (more
        // mailboxes than one page, or not loaded yet): a search never widens by itself.
        let missing = chosen_mailbox().filter(|id| !items.iter().any(|m| m.mailbox_id == *id));
        let extra = missing.map(|id| view! { <option value=id.to_string() selected=true>{format!("Mailbox {id}")}</option> });
        let listed = items
            .into_iter()
            .map(|m| {
                let id = m.mailbox_id;
                view! { <option value=id.to_string() selected=move || chosen_mailbox() == Some(id)>{m.mailbox_email}</option> }
            })
            .collect_view();
        view! { {extra} {listed} }
    };
    let current_sort = move || filter.with(|f| f.sort.clone().unwrap_or_else(|| MessageSort::Newest.as_str().to_owned()));
    let sorts = MessageSort::ALL
        .into_iter()
        .map(|sort| view! { <option value=sort.as_str() selected=move || current_sort() == sort.as_str()>{filter::sort_label(sort)}</option> })
        .collect_view();

    view! {
        <form class="filters message-filters" role="search" aria-label="Search messages" on:submit=on_submit>
            {text_field("q", "Words", "search", q, |f| f.q.clone())}
            {text_field("from", "From", "text", from, |f| f.from.clone())}
            {text_field("to", "To", "text", to, |f| f.to.clone())}
            <div class="filters__field">
                <label for="messages-mailbox">"Mailbox"</label>
                <select
                    id="messages-mailbox"
                    node_ref=mailbox
                    aria-describedby="messages-mailbox-error"
                    prop:value=move || chosen_mailbox().map(|id| id.to_string()).unwrap_or_default()
                >
                    <option value="">"Every mailbox"</option>
                    {mailbox_options}
                </select>
                <p class="field__error" id="messages-mailbox-error">{error("mailbox_id")}</p>
            </div>
            <div class="filters__field">
                <label for="messages-folder">"Folder"</label>
                <input
                    id="messages-folder"
                    type="text"
                    list="messages-folders"
                    node_ref=folder
                    aria-describedby="messages-folder-error"
                    aria-invalid=move || error("folder")().is_some().to_string()
                    prop:value=shown(|f| f.folder.clone())
                />
                <datalist id="messages-folders">
                    <For each=move || folders.get().unwrap_or_default() key=|name| name.clone() let:name>
                        <option value=name></option>
                    </For>
                </datalist>
                <p class="field__error" id="messages-folder-error">{error("folder")}</p>
            </div>
            {text_field("after", "Sent on or after (UTC day)", "date", after, |f| f.after.clone())}
            {text_field("before", "Sent on or before (UTC day)", "date", before, |f| f.before.clone())}
            {select_field("has_attachment", "Attachments", attachment, ATTACHMENTS, |f| f.has_attachment)}
            {select_field("deleted", "Deleted from the mailbox", deleted, DELETED, |f| f.deleted)}
            <div class="filters__field">
                <label for="messages-sort">"Order"</label>
                <select id="messages-sort" node_ref=sort aria-describedby="messages-sort-error" prop:value=current_sort>
                    {sorts}
                </select>
                <p class="field__error" id="messages-sort-error">{error("sort")}</p>
            </div>
            <div class="message-filters__actions">
                <button type="submit" class="button button--primary">"Search"</button>
                <a href=crate::paths::MESSAGES class="button message-filters__clear">"Clear"</a>
            </div>
        </form>
    }
}
