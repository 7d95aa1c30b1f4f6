-- The job engine: every backup, migration, restore and download, and each attempt at it.
-- Portable SQL (SQLite and PostgreSQL); timestamps are Unix milliseconds.

CREATE TABLE jobs (
    id           TEXT PRIMARY KEY,          -- the ID support asks for (B-/M-/R-/D- and 8 characters)
    kind         TEXT NOT NULL,             -- backup | migrate | restore | download
    mailbox_id   BIGINT NOT NULL REFERENCES mailboxes (id),
    status       TEXT NOT NULL,
    params       TEXT NOT NULL DEFAULT '{}', -- JSON: what to restore, where, in which format
    created_by   BIGINT REFERENCES users (id),
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    started_at   BIGINT,
    finished_at  BIGINT,
    items_done   BIGINT NOT NULL DEFAULT 0,
    items_total  BIGINT,
    bytes_done   BIGINT NOT NULL DEFAULT 0,
    bytes_total  BIGINT,
    attempts     INTEGER NOT NULL DEFAULT 0, -- runs started
    retries      INTEGER NOT NULL DEFAULT 0, -- retries after unknown errors in this run
    next_run_at  BIGINT,                    -- due for the engine from then; NULL: nothing scheduled
    lease_owner  TEXT,                      -- the engine instance working on it
    lease_until  BIGINT,                    -- past this, another instance may take it over
    detail       TEXT,                      -- what the connector reported, in plain words
    expires_at   BIGINT                     -- downloads: when the link stops working
);
CREATE INDEX jobs_kind_status ON jobs (kind, status);
CREATE INDEX jobs_mailbox_kind ON jobs (mailbox_id, kind);
CREATE INDEX jobs_kind_created ON jobs (kind, created_at, id); -- the lists' order, read in place
CREATE INDEX jobs_due ON jobs (next_run_at);
CREATE INDEX jobs_updated ON jobs (updated_at); -- live updates: what changed since

CREATE TABLE job_attempts (
    job_id      TEXT NOT NULL REFERENCES jobs (id),
    number      INTEGER NOT NULL,
    started_at  BIGINT NOT NULL,
    finished_at BIGINT,
    outcome     TEXT,
    detail      TEXT,
    PRIMARY KEY (job_id, number)
);

-- What the demo connector does with each mailbox, so the embedded default shows every status.
ALTER TABLE mailboxes ADD COLUMN demo_script TEXT NOT NULL DEFAULT 'ok';
-- The backup job that the Backups list shows for the mailbox.
ALTER TABLE backups ADD COLUMN current_job_id TEXT REFERENCES jobs (id);

-- Storage: each organisation's subscription quota, and what each mailbox's backups take.
ALTER TABLE organisations ADD COLUMN storage_quota_bytes BIGINT NOT NULL DEFAULT 0;
ALTER TABLE mailboxes ADD COLUMN storage_used_bytes BIGINT NOT NULL DEFAULT 0;
