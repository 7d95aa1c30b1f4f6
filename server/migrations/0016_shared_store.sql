-- A claim and a run's end keep the job's Backups row in step (`WHERE current_job_id = …`):
-- found by an index, not by reading every mailbox's row.
CREATE INDEX backups_current_job ON backups (current_job_id);

-- Who holds the shared object store (S3-compatible), as `packs/.lock` does on one machine:
-- backup runs hold it together, a repair or a compaction alone. A hold ends when its holder
-- drops it or, if the instance died, when `until_ms` passes without renewal.
CREATE TABLE store_holds (
    id TEXT PRIMARY KEY,
    exclusive INTEGER NOT NULL,
    until_ms BIGINT NOT NULL
);
