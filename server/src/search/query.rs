//! A search of the messages inside backups as SQL, on either database: the full-text part in
//! each one's words (`index.rs`), the filters and orders the same on both. A search is two
//! steps: the IDs of one page, in order (filtered and sorted over narrow rows: on SQLite
//! `message_facts`, on PostgreSQL `message_search` itself), then those rows in full; and a
//! count. Reading the whole rows of every match to sort them cost several times more.

use portal_api::MessageSort;

use super::index::{full_text_query, PG_DOCUMENT};
use crate::db::Backend;

/// A checked search (`messages/input.rs` reads the request into this).
#[derive(Clone, Debug, Default)]
pub struct Search {
    pub words: Vec<String>,
    /// `LIKE` patterns (lower-cased, escaped: `listing::search`).
    pub from: Option<String>,
    pub to: Option<String>,
    pub mailbox_id: Option<i64>,
    pub folder: Option<String>,
    /// Unix ms, inclusive and exclusive.
    pub sent_from: Option<i64>,
    pub sent_before: Option<i64>,
    pub has_attachment: Option<bool>,
    pub deleted: Option<bool>,
    pub sort: Option<MessageSort>,
}

/// A value bound to a placeholder.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Text(String),
    Number(i64),
}

/// The statements of a search: its page's IDs in order, and its total, with the values they
/// bind after the scope's own (`$1`).
pub struct Statements {
    pub ids: String,
    pub count: String,
    pub values: Vec<Value>,
}

/// The columns every search row has (`messages::HitRow`).
pub const COLUMNS: &str = "s.id, s.mailbox_id, m.email AS mailbox, s.folder, s.sender, s.recipients, s.subject, s.sent_at, \
                           s.size, s.has_attachment, s.deleted_at";

/// Characters of a message's text a result's snippet is taken from.
pub const SNIPPET_SOURCE_CHARS: i64 = 10_000;

impl Search {
    /// The statements for this search within `scope` (a condition on `m` and `o` whose one
    /// parameter is `$1`), a page of `per_page` rows after `offset`.
    pub fn statements(&self, backend: Backend, scope: &str, per_page: u32, offset: u64) -> Statements {
        let mut values = Vec::new();
        let next = |value: Value, values: &mut Vec<Value>| {
            values.push(value);
            format!("${}", values.len() + 1)
        };
        // The narrow rows filtered and sorted: SQLite's `message_facts` (`index.rs`), else the index rows.
        let n = match backend {
            Backend::Sqlite => "n",
            Backend::Postgres => "s",
        };
        let mut conditions = vec![format!(
            "{n}.mailbox_id IN (SELECT m.id FROM mailboxes m JOIN organisations o ON o.id = m.organisation_id WHERE {scope})"
        )];
        let full_text = full_text_query(backend, &self.words);
        let (from, relevance) = match (&full_text, backend) {
            (Some(query), Backend::Sqlite) => {
                let at = next(Value::Text(query.clone()), &mut values);
                conditions.push(format!("message_fts MATCH {at}"));
                ("message_fts f JOIN message_facts n ON n.id = f.rowid".to_owned(), Some("bm25(message_fts)".to_owned()))
            }
            (None, Backend::Sqlite) => ("message_facts n".to_owned(), None),
            (Some(query), Backend::Postgres) => {
                let at = next(Value::Text(query.clone()), &mut values);
                let tsquery = format!("to_tsquery('simple'::regconfig, {at})");
                conditions.push(format!("{PG_DOCUMENT} @@ {tsquery}"));
                ("message_search s".to_owned(), Some(format!("ts_rank({PG_DOCUMENT}, {tsquery}) DESC")))
            }
            (None, Backend::Postgres) => ("message_search s".to_owned(), None),
        };
        if let Some(pattern) = &self.from {
            conditions.push(format!("LOWER({n}.sender) LIKE {} ESCAPE '\\'", next(Value::Text(pattern.clone()), &mut values)));
        }
        if let Some(pattern) = &self.to {
            conditions
                .push(format!("LOWER({n}.recipients) LIKE {} ESCAPE '\\'", next(Value::Text(pattern.clone()), &mut values)));
        }
        if let Some(id) = self.mailbox_id {
            conditions.push(format!("{n}.mailbox_id = {}", next(Value::Number(id), &mut values)));
        }
        if let Some(folder) = &self.folder {
            conditions.push(format!("{n}.folder = {}", next(Value::Text(folder.clone()), &mut values)));
        }
        if let Some(at) = self.sent_from {
            conditions.push(format!("{n}.sent_at >= {}", next(Value::Number(at), &mut values)));
        }
        if let Some(at) = self.sent_before {
            conditions.push(format!("{n}.sent_at < {}", next(Value::Number(at), &mut values)));
        }
        if let Some(has) = self.has_attachment {
            conditions.push(format!("{n}.has_attachment = {}", i32::from(has)));
        }
        match self.deleted {
            Some(true) => conditions.push(format!("{n}.deleted_at IS NOT NULL")),
            Some(false) => conditions.push(format!("{n}.deleted_at IS NULL")),
            None => {}
        }
        let newest = format!("{n}.sent_at DESC NULLS LAST, {n}.id DESC");
        let order = match (self.sort.unwrap_or(MessageSort::Newest), &relevance) {
            (MessageSort::Relevance, Some(rank)) => format!("{rank}, {newest}"),
            (MessageSort::Newest | MessageSort::Relevance, _) => newest,
            (MessageSort::Oldest, _) => format!("{n}.sent_at ASC NULLS LAST, {n}.id ASC"),
            (MessageSort::Largest, _) => format!("{n}.size DESC, {newest}"),
            (MessageSort::RecentlyDeleted, _) => format!("{n}.deleted_at DESC NULLS LAST, {newest}"),
        };
        let filter = conditions.join(" AND ");
        Statements {
            ids: format!("SELECT {n}.id FROM {from} WHERE {filter} ORDER BY {order} LIMIT {per_page} OFFSET {offset}"),
            count: format!("SELECT COUNT(*) FROM {from} WHERE {filter}"),
            values,
        }
    }

    /// The rows of these IDs (`$1`…), with the start of each one's text for its snippet.
    pub fn rows(ids: usize) -> String {
        let list: Vec<String> = (1..=ids).map(|i| format!("${i}")).collect();
        format!(
            "SELECT {COLUMNS}, substr(s.body, 1, {SNIPPET_SOURCE_CHARS}) AS snippet FROM message_search s \
             JOIN mailboxes m ON m.id = s.mailbox_id WHERE s.id IN ({})",
            list.join(", ")
        )
    }

    /// One message by its ID within `scope` (`$1`), as a search row (`$2` is the ID).
    pub fn one(scope: &str) -> String {
        format!(
            "SELECT {COLUMNS}, substr(s.body, 1, {SNIPPET_SOURCE_CHARS}) AS snippet FROM message_search s \
             JOIN mailboxes m ON m.id = s.mailbox_id JOIN organisations o ON o.id = m.organisation_id WHERE ({scope}) AND s.id = $2"
        )
    }
}

/// Words around the first word found in a message's text (whole words, the found ones marked),
/// or its first words when none is: `(text, hit)` parts.
pub fn snippet(text: &str, words: &[String]) -> Vec<(String, bool)> {
    const BEFORE: usize = 8;
    const LENGTH: usize = 30;
    let is_hit = |token: &str| {
        let token = token.to_lowercase();
        words
            .iter()
            .any(|w| if w.chars().count() >= super::index::PREFIX_FROM { token.starts_with(w.as_str()) } else { token == *w })
    };
    // Tokens with the text between them: words are letters and digits, as the index reads them.
    let mut tokens: Vec<(usize, usize)> = Vec::new();
    let mut start = None;
    for (at, c) in text.char_indices().chain(std::iter::once((text.len(), ' '))) {
        match (c.is_alphanumeric(), start) {
            (true, None) => start = Some(at),
            (false, Some(from)) => {
                tokens.push((from, at));
                start = None;
            }
            _ => {}
        }
    }
    if tokens.is_empty() {
        return Vec::new();
    }
    let first = tokens.iter().position(|(a, b)| is_hit(&text[*a..*b]));
    let from = first.map_or(0, |i| i.saturating_sub(BEFORE));
    let to = (from + LENGTH).min(tokens.len());
    let mut parts: Vec<(String, bool)> = Vec::new();
    if from > 0 {
        parts.push(("… ".to_owned(), false));
    }
    let mut cursor = tokens[from].0;
    for &(a, b) in &tokens[from..to] {
        let hit = first.is_some() && is_hit(&text[a..b]);
        let between = &text[cursor..a];
        match (hit, parts.last_mut()) {
            (false, Some((last, false))) => {
                last.push_str(between);
                last.push_str(&text[a..b]);
            }
            (false, _) => parts.push((format!("{between}{}", &text[a..b]), false)),
            (true, Some((last, false))) => {
                last.push_str(between);
                parts.push((text[a..b].to_owned(), true));
            }
            (true, _) => {
                if !between.is_empty() {
                    parts.push((between.to_owned(), false));
                }
                parts.push((text[a..b].to_owned(), true));
            }
        }
        cursor = b;
    }
    if to < tokens.len() {
        parts.push((" …".to_owned(), false));
    }
    parts.retain(|(t, _)| !t.is_empty());
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_follow_the_scope_and_the_words_come_first() {
        let search = Search {
            words: vec!["invoice".into()],
            from: Some("%ann%".into()),
            mailbox_id: Some(7),
            deleted: Some(true),
            sort: Some(MessageSort::Relevance),
            ..Search::default()
        };
        let sqlite = search.statements(Backend::Sqlite, "m.id = $1", 50, 0);
        assert!(sqlite.ids.contains("message_fts MATCH $2"), "{}", sqlite.ids);
        assert!(sqlite.ids.contains("LOWER(n.sender) LIKE $3"));
        assert!(sqlite.ids.contains("n.mailbox_id = $4"));
        assert!(sqlite.ids.contains("ORDER BY bm25(message_fts), n.sent_at DESC"));
        assert_eq!(sqlite.values, [Value::Text("\"invoice\"*".into()), Value::Text("%ann%".into()), Value::Number(7)]);
        let postgres = search.statements(Backend::Postgres, "m.id = $1", 50, 0);
        assert!(postgres.ids.contains("@@ to_tsquery('simple'::regconfig, $2)"));
        assert_eq!(postgres.values[0], Value::Text("invoice:*".into()));
    }

    #[test]
    fn a_snippet_marks_whole_words_around_the_first_one_found() {
        let words = vec!["invoic".to_owned(), "may".to_owned()];
        let text = "one two three four five six seven eight nine ten: the Invoice for May, paid.";
        let parts = snippet(text, &words);
        let shown: Vec<(&str, bool)> = parts.iter().map(|(t, h)| (t.as_str(), *h)).collect();
        assert_eq!(
            shown,
            [
                ("… four five six seven eight nine ten: the ", false),
                ("Invoice", true),
                (" for ", false),
                ("May", true),
                (", paid", false)
            ]
        );
        let none = snippet("Hello there", &words);
        assert_eq!(none, [("Hello there".to_owned(), false)]);
        assert!(snippet("", &words).is_empty());
    }
}
