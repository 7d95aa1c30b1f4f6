-- Messages inside backups: what a backup found deleted from the mailbox, the search index,
-- retention and legal hold.

-- When a backup found the message gone from its folder at the mail server (Unix ms); the
-- backup keeps it. NULL: still there at the last backup.
ALTER TABLE backup_messages ADD COLUMN deleted_at BIGINT;
-- Partial: a backup's inserts (never deleted yet) do not touch it.
CREATE INDEX backup_messages_deleted ON backup_messages (mailbox_id, deleted_at) WHERE deleted_at IS NOT NULL;
-- Whether the message is in the search index yet: the indexer reads the messages a backup
-- saved right after it, off the backup's path (`search/indexer.rs`); those backed up before
-- the index existed start at 0 too.
ALTER TABLE backup_messages ADD COLUMN indexed INTEGER NOT NULL DEFAULT 0;
CREATE INDEX backup_messages_to_index ON backup_messages (indexed) WHERE indexed = 0;

-- One row per message of a backup, for search and preview: what a reader looks for, read once
-- just after the message is backed up. The words are indexed by the database's own full-text search
-- (SQLite FTS5, PostgreSQL tsvector + GIN), set up by the server at its start
-- (`search/index.rs`) since the two speak different DDL. `id` is the message's ID in the API.
CREATE TABLE message_search (
    id             BIGINT PRIMARY KEY,
    mailbox_id     BIGINT NOT NULL REFERENCES mailboxes (id),
    folder         TEXT NOT NULL,
    uid_validity   BIGINT NOT NULL,
    uid            BIGINT NOT NULL,
    sender         TEXT NOT NULL,
    recipients     TEXT NOT NULL,
    subject        TEXT NOT NULL,
    -- The text body (HTML turned into text), cut at a bound.
    body           TEXT NOT NULL,
    sent_at        BIGINT,
    has_attachment INTEGER NOT NULL,
    -- The message's size and when it was found deleted, as in backup_messages: kept here too so
    -- that a search reads one table (both are written in the statement that writes the other).
    size           BIGINT NOT NULL,
    deleted_at     BIGINT,
    UNIQUE (mailbox_id, folder, uid_validity, uid)
);
CREATE INDEX message_search_date ON message_search (mailbox_id, sent_at);

-- Retention per organisation: days a message deleted from its mailbox is kept (NULL: for
-- ever), and what the last pruning removed.
CREATE TABLE retention (
    organisation_id      BIGINT PRIMARY KEY REFERENCES organisations (id),
    keep_deleted_days    BIGINT,
    last_pruned_at       BIGINT,
    last_pruned_messages BIGINT NOT NULL DEFAULT 0,
    last_pruned_bytes    BIGINT NOT NULL DEFAULT 0
);

-- A mailbox on legal hold loses nothing to retention.
ALTER TABLE mailboxes ADD COLUMN legal_hold INTEGER NOT NULL DEFAULT 0;
