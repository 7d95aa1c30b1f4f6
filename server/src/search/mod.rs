//! The search index of the messages inside backups (storage layer).
