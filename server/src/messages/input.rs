//! What a search of messages accepts, checked into a `search::query::Search`: one answer names
//! every field that is wrong.

use portal_api::names::Named;
use portal_api::{FieldError, MessageSort, MessagesQuery};

use crate::error::{AppError, AppResult};
use crate::listing;
use crate::search::query::Search;
use crate::search::text::words;

/// Longest text of a text filter.
const MAX_TEXT: usize = 200;

/// The search asked for, its page and rows per page.
pub(super) fn read(query: MessagesQuery) -> AppResult<(Search, u32, u32)> {
    let mut errors = Vec::new();
    let text = |value: Option<String>, field: &str, errors: &mut Vec<FieldError>| {
        let value = value.filter(|v| !v.trim().is_empty());
        if value.as_deref().is_some_and(|v| v.chars().count() > MAX_TEXT) {
            errors.push(FieldError::new(field, format!("Search with at most {MAX_TEXT} characters.")));
        }
        value
    };
    let q = text(query.q, "q", &mut errors);
    let from = text(query.from, "from", &mut errors);
    let to = text(query.to, "to", &mut errors);
    let folder = query.folder.filter(|f| !f.is_empty());
    if folder.as_deref().is_some_and(|f| f.chars().count() > 500) {
        errors.push(FieldError::new("folder", "A folder's name has at most 500 characters."));
    }
    let sent_from = day(query.after.as_deref(), "after", &mut errors);
    let sent_before = day(query.before.as_deref(), "before", &mut errors).map(|start| start + DAY_MS);
    if let (Some(from), Some(before)) = (sent_from, sent_before) {
        if from >= before {
            errors.push(FieldError::new("before", "Choose a day on or after the first day."));
        }
    }
    // Empty is the default order; a name is taken exactly as the document lists it.
    let sort = match query.sort.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(name) => {
            let parsed = MessageSort::parse(name);
            if parsed.is_none() {
                errors.push(FieldError::new("sort", format!("Use one of: {}.", MessageSort::names().join(", "))));
            }
            parsed
        }
    };
    let (page, per_page) = listing::paging(query.page, query.per_page, &mut errors);
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    let pattern = |text: Option<String>| text.map(|t| listing::search(Some(&t)).0);
    let search = Search {
        words: q.as_deref().map(words).unwrap_or_default(),
        from: pattern(from),
        to: pattern(to),
        mailbox_id: query.mailbox_id,
        folder,
        sent_from,
        sent_before,
        has_attachment: query.has_attachment,
        deleted: query.deleted,
        sort,
    };
    Ok((search, page, per_page))
}

const DAY_MS: i64 = 86_400_000;

/// A day (YYYY-MM-DD) as the Unix ms of its start, UTC.
fn day(text: Option<&str>, field: &str, errors: &mut Vec<FieldError>) -> Option<i64> {
    let text = text.filter(|t| !t.is_empty())?;
    let format = time::macros::format_description!("[year]-[month]-[day]");
    match time::Date::parse(text, &format) {
        Ok(date) => Some(date.midnight().assume_utc().unix_timestamp() * 1000),
        Err(_) => {
            errors.push(FieldError::new(field, "Give a day as YYYY-MM-DD, like 2026-12-01."));
            None
        }
    }
}
