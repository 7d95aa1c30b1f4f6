//! The full-text index over `message_search`, in each database's own words: SQLite FTS5 (an
//! external-content table kept by triggers) and PostgreSQL (a GIN index over a tsvector of
//! the same columns). Both tokenize the same way for our purposes (letters and digits, case
//! folded, no stemming, accents kept), so a search finds the same messages on either. The
//! DDL is run at every start (`IF NOT EXISTS`): a numbered migration cannot speak both.

use crate::db::{Backend, Db};

use super::text::Indexed;

/// The PostgreSQL document of a row, as the GIN index holds it: a query must name the same
/// expression for the index to serve it.
pub const PG_DOCUMENT: &str =
    "to_tsvector('simple'::regconfig, s.subject || ' ' || s.sender || ' ' || s.recipients || ' ' || s.body)";

/// Creates the full-text index if it is not there (and fills it from `message_search`).
pub async fn setup(db: &Db) -> Result<(), sqlx::Error> {
    let statements: &[&str] = match Backend::of(db) {
        Backend::Sqlite => &[
            // What a search filters and sorts on, keyed by the message's ID as the rowid the
            // full-text index gives: sorting the matches of a common word reads these narrow
            // rows, not the whole index rows (`query.rs`).
            "CREATE TABLE IF NOT EXISTS message_facts (id INTEGER PRIMARY KEY, mailbox_id INTEGER NOT NULL, folder TEXT NOT NULL, \
             sender TEXT NOT NULL, recipients TEXT NOT NULL, sent_at INTEGER, has_attachment INTEGER NOT NULL, size INTEGER NOT NULL, \
             deleted_at INTEGER)",
            "CREATE INDEX IF NOT EXISTS message_facts_date ON message_facts (mailbox_id, sent_at)",
            "CREATE TRIGGER IF NOT EXISTS message_facts_added AFTER INSERT ON message_search BEGIN \
             INSERT INTO message_facts VALUES (new.id, new.mailbox_id, new.folder, new.sender, new.recipients, new.sent_at, \
             new.has_attachment, new.size, new.deleted_at); END",
            "CREATE TRIGGER IF NOT EXISTS message_facts_removed AFTER DELETE ON message_search BEGIN \
             DELETE FROM message_facts WHERE id = old.id; END",
            "CREATE TRIGGER IF NOT EXISTS message_facts_deleted AFTER UPDATE OF deleted_at ON message_search BEGIN \
             UPDATE message_facts SET deleted_at = new.deleted_at WHERE id = new.id; END",
            "CREATE VIRTUAL TABLE IF NOT EXISTS message_fts USING fts5(subject, sender, recipients, body, \
             content='message_search', content_rowid='id', tokenize='unicode61 remove_diacritics 0')",
            "CREATE TRIGGER IF NOT EXISTS message_search_indexed AFTER INSERT ON message_search BEGIN \
             INSERT INTO message_fts (rowid, subject, sender, recipients, body) VALUES (new.id, new.subject, new.sender, new.recipients, new.body); END",
            "CREATE TRIGGER IF NOT EXISTS message_search_removed AFTER DELETE ON message_search BEGIN \
             INSERT INTO message_fts (message_fts, rowid, subject, sender, recipients, body) \
             VALUES ('delete', old.id, old.subject, old.sender, old.recipients, old.body); END",
        ],
        Backend::Postgres => &[
            "CREATE INDEX IF NOT EXISTS message_search_words ON message_search USING GIN \
             ((to_tsvector('simple'::regconfig, subject || ' ' || sender || ' ' || recipients || ' ' || body)))",
        ],
    };
    for statement in statements {
        match sqlx::query(statement).execute(db).await {
            Ok(_) => {}
            // Two instances starting at once: the other one created it a moment ago.
            Err(sqlx::Error::Database(error)) if error.code().as_deref() == Some("23505") => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// A message of a backup, by its place.
#[derive(Clone, Debug)]
pub struct Place<'a> {
    pub mailbox_id: i64,
    pub folder: &'a str,
    pub uid_validity: i64,
    pub uid: i64,
}

/// A message's ID in the API: random (not its place, which says how many messages a mailbox
/// has), below 2^53 so every JSON reader keeps it exact.
fn new_id() -> i64 {
    (rand::random::<u64>() >> 11).max(1) as i64
}

/// Rows a statement writes.
const BATCH: usize = 300;

/// A message to index: its place, what is kept of it, its arrival at the mail server (used
/// when it names no date of its own), its size, and when a backup found it deleted.
pub struct Row<'a> {
    pub place: Place<'a>,
    pub indexed: &'a Indexed,
    pub arrived: Option<i64>,
    pub size: i64,
    pub deleted_at: Option<i64>,
}

/// Records messages in the index (a message indexed already keeps its row).
pub async fn insert(connection: &mut sqlx::AnyConnection, backend: Backend, rows: &[Row<'_>]) -> Result<(), sqlx::Error> {
    for batch in rows.chunks(BATCH) {
        let sql = format!(
            "INSERT INTO message_search (id, mailbox_id, folder, uid_validity, uid, sender, recipients, subject, body, sent_at, has_attachment, size, deleted_at) \
             VALUES {} ON CONFLICT (mailbox_id, folder, uid_validity, uid) DO NOTHING",
            backend.rows(batch.len(), 13)
        );
        let mut query = sqlx::query(&sql);
        for row in batch {
            let (place, indexed) = (&row.place, row.indexed);
            query = query
                .bind(new_id())
                .bind(place.mailbox_id)
                .bind(place.folder)
                .bind(place.uid_validity)
                .bind(place.uid)
                .bind(&indexed.sender)
                .bind(&indexed.recipients)
                .bind(&indexed.subject)
                .bind(&indexed.body)
                .bind(indexed.sent_at.or(row.arrived))
                .bind(i32::from(indexed.has_attachment))
                .bind(row.size)
                .bind(row.deleted_at);
        }
        query.execute(&mut *connection).await?;
    }
    Ok(())
}

/// The shortest word searched as the start of words too.
pub const PREFIX_FROM: usize = 3;

/// The words of a search as the database's full-text query: every word, each as a word or the
/// start of one. `None` without words.
pub fn full_text_query(backend: Backend, words: &[String]) -> Option<String> {
    if words.is_empty() {
        return None;
    }
    // Words are letters and digits only (`text::words`): nothing in them is query syntax. A
    // word of one or two characters is taken whole: as the start of words it would match
    // nearly every message, at a cost to match.
    let prefix = |w: &str| w.chars().count() >= PREFIX_FROM;
    Some(match backend {
        Backend::Sqlite => {
            words.iter().map(|w| if prefix(w) { format!("\"{w}\"*") } else { format!("\"{w}\"") }).collect::<Vec<_>>().join(" ")
        }
        Backend::Postgres => {
            words.iter().map(|w| if prefix(w) { format!("{w}:*") } else { w.clone() }).collect::<Vec<_>>().join(" & ")
        }
    })
}
