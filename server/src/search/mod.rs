//! The search index of the messages inside backups (storage layer): what a reader looks for in
//! a message, read once when it is backed up (`text.rs`), kept in `message_search` and indexed
//! by the database's own full-text search (`index.rs`: SQLite FTS5, PostgreSQL tsvector + GIN),
//! so it works on both databases and on every instance.

pub mod index;
pub mod indexer;
pub mod query;
pub mod text;
