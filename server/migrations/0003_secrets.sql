-- Secrets at rest (server/src/secrets.rs). Each organisation's data key is stored only
-- wrapped by the master key, which is never in the database.
CREATE TABLE organisation_keys (
    organisation_id BIGINT PRIMARY KEY REFERENCES organisations (id),
    wrapped_key TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- A job's own secrets: the destination mailbox's password of a restore or migration
-- (purpose 'destination_password'), sealed; never returned by the API.
CREATE TABLE job_secrets (
    job_id TEXT NOT NULL REFERENCES jobs (id),
    purpose TEXT NOT NULL,
    sealed TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (job_id, purpose)
);
