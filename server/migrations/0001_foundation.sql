-- The foundation: who may sign in, what they may see, and the state of each mailbox's backup.
-- Portable SQL only (SQLite and PostgreSQL); timestamps are Unix milliseconds (BIGINT).

CREATE TABLE resellers (
    id   BIGINT PRIMARY KEY,
    name TEXT NOT NULL
);

CREATE TABLE organisations (
    id          BIGINT PRIMARY KEY,
    reseller_id BIGINT NOT NULL REFERENCES resellers (id),
    name        TEXT NOT NULL
);
CREATE INDEX organisations_reseller ON organisations (reseller_id);

CREATE TABLE mailboxes (
    id              BIGINT PRIMARY KEY,
    organisation_id BIGINT NOT NULL REFERENCES organisations (id),
    email           TEXT NOT NULL UNIQUE,
    display_name    TEXT NOT NULL
);
CREATE INDEX mailboxes_organisation ON mailboxes (organisation_id);

-- Each user's scope is exactly one of: a reseller, an organisation, a mailbox.
CREATE TABLE users (
    id              BIGINT PRIMARY KEY,
    email           TEXT NOT NULL UNIQUE,
    display_name    TEXT NOT NULL,
    password_hash   TEXT NOT NULL,
    role            TEXT NOT NULL,
    reseller_id     BIGINT REFERENCES resellers (id),
    organisation_id BIGINT REFERENCES organisations (id),
    mailbox_id      BIGINT REFERENCES mailboxes (id),
    CHECK (
        (role = 'reseller' AND reseller_id IS NOT NULL AND organisation_id IS NULL AND mailbox_id IS NULL)
        OR (role = 'org_admin' AND organisation_id IS NOT NULL AND reseller_id IS NULL AND mailbox_id IS NULL)
        OR (role = 'end_user' AND mailbox_id IS NOT NULL AND reseller_id IS NULL AND organisation_id IS NULL)
    )
);

-- Only a hash of the session ID is stored: a copy of the database signs nobody in.
CREATE TABLE sessions (
    id_hash    TEXT PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_at);

-- The current state of each mailbox's backup (one row per mailbox).
CREATE TABLE backups (
    mailbox_id      BIGINT PRIMARY KEY REFERENCES mailboxes (id),
    status          TEXT NOT NULL,
    last_backup_at  BIGINT,
    last_success_at BIGINT,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX backups_status ON backups (status);
