//! A search of the messages inside backups as SQL, on either database: the full-text part in
//! each one's words (`index.rs`), the filters and orders the same on both.

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

/// The statements of a search: its page and its total, with the values they bind after the
/// scope's own (`$1`).
pub struct Statements {
    pub page: String,
    pub count: String,
    pub values: Vec<Value>,
}

/// The columns every search row has (`messages::HitRow`); `{snippet}` is the last.
const COLUMNS: &str = "s.id, s.mailbox_id, m.email AS mailbox, s.folder, s.sender, s.recipients, s.subject, s.sent_at, \
                       s.size, s.has_attachment, s.deleted_at";

/// The join from an index row to its mailbox (its address, and the scope's owners).
const JOINS: &str = "JOIN mailboxes m ON m.id = s.mailbox_id JOIN organisations o ON o.id = m.organisation_id";

/// How much of a message's text starts a snippet when no words were searched for.
pub const SNIPPET_CHARS: i64 = 240;

impl Search {
    /// The statements for this search within `scope` (a condition on `m` and `o` whose one
    /// parameter is `$1`), a page of `per_page` rows after `offset`.
    pub fn statements(&self, backend: Backend, scope: &str, per_page: u32, offset: u64) -> Statements {
        let mut values = Vec::new();
        let next = |value: Value, values: &mut Vec<Value>| {
            values.push(value);
            format!("${}", values.len() + 1)
        };
        let mut conditions = vec![format!("({scope})")];
        let full_text = full_text_query(backend, &self.words);
        let (from, snippet, relevance) = match (&full_text, backend) {
            (Some(query), Backend::Sqlite) => {
                let at = next(Value::Text(query.clone()), &mut values);
                conditions.push(format!("message_fts MATCH {at}"));
                (
                    "message_fts f JOIN message_search s ON s.id = f.rowid".to_owned(),
                    "snippet(message_fts, 3, char(2), char(3), '…', 24)".to_owned(),
                    Some("bm25(message_fts)".to_owned()),
                )
            }
            (Some(query), Backend::Postgres) => {
                let at = next(Value::Text(query.clone()), &mut values);
                let tsquery = format!("to_tsquery('simple'::regconfig, {at})");
                conditions.push(format!("{PG_DOCUMENT} @@ {tsquery}"));
                (
                    "message_search s".to_owned(),
                    format!(
                        "ts_headline('simple'::regconfig, s.body, {tsquery}, \
                         'StartSel=' || chr(2) || ', StopSel=' || chr(3) || ', MaxWords=30, MinWords=12, MaxFragments=1')"
                    ),
                    Some(format!("ts_rank({PG_DOCUMENT}, {tsquery}) DESC")),
                )
            }
            (None, _) => ("message_search s".to_owned(), format!("substr(s.body, 1, {SNIPPET_CHARS})"), None),
        };
        if let Some(pattern) = &self.from {
            conditions.push(format!("LOWER(s.sender) LIKE {} ESCAPE '\\'", next(Value::Text(pattern.clone()), &mut values)));
        }
        if let Some(pattern) = &self.to {
            conditions.push(format!("LOWER(s.recipients) LIKE {} ESCAPE '\\'", next(Value::Text(pattern.clone()), &mut values)));
        }
        if let Some(id) = self.mailbox_id {
            conditions.push(format!("s.mailbox_id = {}", next(Value::Number(id), &mut values)));
        }
        if let Some(folder) = &self.folder {
            conditions.push(format!("s.folder = {}", next(Value::Text(folder.clone()), &mut values)));
        }
        if let Some(at) = self.sent_from {
            conditions.push(format!("s.sent_at >= {}", next(Value::Number(at), &mut values)));
        }
        if let Some(at) = self.sent_before {
            conditions.push(format!("s.sent_at < {}", next(Value::Number(at), &mut values)));
        }
        if let Some(has) = self.has_attachment {
            conditions.push(format!("s.has_attachment = {}", i32::from(has)));
        }
        match self.deleted {
            Some(true) => conditions.push("s.deleted_at IS NOT NULL".to_owned()),
            Some(false) => conditions.push("s.deleted_at IS NULL".to_owned()),
            None => {}
        }
        let newest = "s.sent_at DESC NULLS LAST, s.id DESC";
        let order = match (self.sort.unwrap_or(MessageSort::Newest), &relevance) {
            (MessageSort::Relevance, Some(rank)) => format!("{rank}, {newest}"),
            (MessageSort::Newest | MessageSort::Relevance, _) => newest.to_owned(),
            (MessageSort::Oldest, _) => "s.sent_at ASC NULLS LAST, s.id ASC".to_owned(),
            (MessageSort::Largest, _) => format!("s.size DESC, {newest}"),
            (MessageSort::RecentlyDeleted, _) => format!("s.deleted_at DESC NULLS LAST, {newest}"),
        };
        let filter = conditions.join(" AND ");
        Statements {
            page: format!(
                "SELECT {COLUMNS}, {snippet} AS snippet FROM {from} {JOINS} WHERE {filter} ORDER BY {order} LIMIT {per_page} OFFSET {offset}"
            ),
            count: format!("SELECT COUNT(*) FROM {from} {JOINS} WHERE {filter}"),
            values,
        }
    }

    /// One message by its ID within `scope` (`$1`), as a search row (`$2` is the ID).
    pub fn one(scope: &str) -> String {
        format!("SELECT {COLUMNS}, substr(s.body, 1, {SNIPPET_CHARS}) AS snippet FROM message_search s {JOINS} WHERE ({scope}) AND s.id = $2")
    }
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
        assert!(sqlite.page.contains("message_fts MATCH $2"), "{}", sqlite.page);
        assert!(sqlite.page.contains("LOWER(s.sender) LIKE $3"));
        assert!(sqlite.page.contains("s.mailbox_id = $4"));
        assert!(sqlite.page.contains("ORDER BY bm25(message_fts), s.sent_at DESC"));
        assert_eq!(sqlite.values, [Value::Text("\"invoice\"*".into()), Value::Text("%ann%".into()), Value::Number(7)]);
        let postgres = search.statements(Backend::Postgres, "m.id = $1", 50, 0);
        assert!(postgres.page.contains("@@ to_tsquery('simple'::regconfig, $2)"));
        assert_eq!(postgres.values[0], Value::Text("invoice:*".into()));
    }
}
