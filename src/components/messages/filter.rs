//! The search's filter, which lives in the page's address (`?q=`, `?from=`, `?to=`,
//! `?mailbox_id=`, `?folder=`, `?after=`, `?before=`, `?has_attachment=`, `?deleted=`,
//! `?sort=`, `?page=`): read from it, the address of a filter, and the sort orders' names.

use leptos_router::params::ParamsMap;
use portal_api::{MessageSort, MessagesQuery};

use crate::{api, paths};

/// The filter in the address. A text the server does not take (an edited address: a date
/// written another way, a sort it does not know) is passed on as it is, so that its answer
/// names what is wrong, at the field it belongs to.
pub fn from_address(query: &ParamsMap) -> MessagesQuery {
    let text = |key: &str| query.get(key).filter(|value| !value.is_empty());
    let yes_no = |key: &str| match text(key).as_deref() {
        Some("true") => Some(true),
        Some("false") => Some(false),
        _ => None,
    };
    MessagesQuery {
        q: text("q"),
        from: text("from"),
        to: text("to"),
        mailbox_id: text("mailbox_id").and_then(|id| id.parse().ok()),
        folder: text("folder"),
        after: text("after"),
        before: text("before"),
        has_attachment: yes_no("has_attachment"),
        deleted: yes_no("deleted"),
        sort: text("sort"),
        page: text("page").and_then(|page| page.parse().ok()),
        per_page: None,
    }
}

/// The page's address for a filter (empty values and page 1 are left out).
pub fn href(query: &MessagesQuery) -> String {
    let query = MessagesQuery { page: query.page.filter(|p| *p != 1), per_page: None, ..query.clone() };
    format!("{}{}", paths::MESSAGES, api::query_string(&api::message_pairs(&query)))
}

/// The search of one mailbox (System Status › Backups: Search messages).
pub fn of_mailbox(mailbox_id: i64) -> String {
    href(&MessagesQuery { mailbox_id: Some(mailbox_id), ..MessagesQuery::default() })
}

/// What was deleted from one mailbox, most recently deleted first (Backups: Recently deleted).
pub fn recently_deleted(mailbox_id: i64) -> String {
    href(&MessagesQuery {
        mailbox_id: Some(mailbox_id),
        deleted: Some(true),
        sort: Some(MessageSort::RecentlyDeleted.as_str().to_owned()),
        ..MessagesQuery::default()
    })
}

/// Whether the filter leaves anything out (the order and the page do not).
pub fn is_filtered(query: &MessagesQuery) -> bool {
    MessagesQuery { sort: None, page: None, per_page: None, ..query.clone() } != MessagesQuery::default()
}

/// How a sort order reads in its list.
pub fn sort_label(sort: MessageSort) -> &'static str {
    match sort {
        MessageSort::Newest => "Newest first",
        MessageSort::Oldest => "Oldest first",
        MessageSort::Relevance => "Best match first",
        MessageSort::Largest => "Largest first",
        MessageSort::RecentlyDeleted => "Recently deleted first",
    }
}

thread_local! {
    /// The address of the search last shown, for the way back from a message's preview.
    static LAST_SEARCH: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Remembers the search a preview was opened from (the link's click does it).
pub fn remember_search(address: String) {
    LAST_SEARCH.with(|last| *last.borrow_mut() = Some(address));
}

/// The search a preview was opened from, else the search page itself.
pub fn back_to_search() -> String {
    LAST_SEARCH.with(|last| last.borrow().clone()).unwrap_or_else(|| paths::MESSAGES.to_owned())
}
