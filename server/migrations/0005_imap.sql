-- Real mailboxes over IMAP: where each one is, what its backups hold, and what a run could not
-- read. Message contents live in the object store under the data folder, once per content hash (BLAKE3).

-- Which connector does a mailbox's work: 'demo' (scripted) or 'imap'.
ALTER TABLE mailboxes ADD COLUMN connector TEXT NOT NULL DEFAULT 'demo';

-- How to reach an IMAP mailbox. The password is sealed with the organisation's key.
CREATE TABLE imap_accounts (
    mailbox_id      BIGINT PRIMARY KEY REFERENCES mailboxes (id),
    host            TEXT NOT NULL,
    port            INTEGER NOT NULL,
    security        TEXT NOT NULL,
    username        TEXT NOT NULL,
    password_sealed TEXT NOT NULL,
    updated_at      BIGINT NOT NULL
);

-- Where the next incremental backup of a folder goes on from.
CREATE TABLE backup_folders (
    mailbox_id   BIGINT NOT NULL REFERENCES mailboxes (id),
    folder       TEXT NOT NULL,
    uid_validity BIGINT NOT NULL,
    last_uid     BIGINT NOT NULL,
    PRIMARY KEY (mailbox_id, folder)
);

-- Where each stored content is: a pack file under the data folder, and its place in it.
CREATE TABLE objects (
    content_hash      TEXT PRIMARY KEY,
    pack        TEXT NOT NULL,
    pack_offset BIGINT NOT NULL,
    size        BIGINT NOT NULL
);

-- Each message a mailbox's backups hold: where it was, its flags and date, and its content's hash.
CREATE TABLE backup_messages (
    mailbox_id    BIGINT NOT NULL REFERENCES mailboxes (id),
    folder        TEXT NOT NULL,
    uid_validity  BIGINT NOT NULL,
    uid           BIGINT NOT NULL,
    content_hash        TEXT NOT NULL,
    size          BIGINT NOT NULL,
    flags         TEXT NOT NULL,
    internal_date BIGINT,
    message_id    TEXT,
    saved_at      BIGINT NOT NULL,
    PRIMARY KEY (mailbox_id, folder, uid_validity, uid)
);

-- What a run skipped (a message that could not be fetched, parsed or written), shown with its
-- job when it ends Partially Complete.
CREATE TABLE job_skipped_items (
    job_id TEXT NOT NULL REFERENCES jobs (id),
    item   TEXT NOT NULL,
    reason TEXT NOT NULL
);
CREATE INDEX job_skipped_items_job ON job_skipped_items (job_id);

-- Messages of a mailbox that a backup could not take (no headers, unreadable at the server):
-- each later backup lists them again while they are there, so the gap never goes quiet.
CREATE TABLE backup_unreadable (
    mailbox_id   BIGINT NOT NULL REFERENCES mailboxes (id),
    folder       TEXT NOT NULL,
    uid_validity BIGINT NOT NULL,
    uid          BIGINT NOT NULL,
    reason       TEXT NOT NULL,
    PRIMARY KEY (mailbox_id, folder, uid_validity, uid)
);
