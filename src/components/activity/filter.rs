//! The Activity page's filter, which lives in its address (`?action=`, `?q=`, `?page=`): read
//! from it, and the address of a filter.

use leptos_router::params::ParamsMap;
use portal_api::ActivityQuery;

use crate::{api, paths};

/// The filter in the address. A value the server does not take (an edited address) is passed
/// on as it is, so that its answer names what is wrong, at the field it belongs to.
pub fn from_address(query: &ParamsMap) -> ActivityQuery {
    let text = |key: &str| query.get(key).filter(|value| !value.is_empty());
    ActivityQuery {
        action: text("action"),
        q: text("q"),
        organisation_id: None,
        page: text("page").and_then(|page| page.parse().ok()),
        per_page: None,
    }
}

/// The page's address for a filter (empty values and page 1 are left out).
pub fn href(query: &ActivityQuery) -> String {
    let mut pairs = Vec::new();
    for (key, value) in [("action", &query.action), ("q", &query.q)] {
        if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
            pairs.push((key, value.to_owned()));
        }
    }
    if let Some(page) = query.page.filter(|p| *p != 1) {
        pairs.push(("page", page.to_string()));
    }
    format!("{}{}", paths::ACTIVITY, api::query_string(&pairs))
}

/// Whether the filter leaves anything out.
pub fn is_filtered(query: &ActivityQuery) -> bool {
    query.action.is_some() || query.q.is_some()
}
