-- What a restore or migration has copied into its destination, message by message (by its
-- place in the backup), so that a run cut short goes on where it was and never copies a
-- message twice. `confirmed` is 0 while its APPEND is under way: a retry looks for such a
-- message at the destination before sending it again.
CREATE TABLE job_copies (
    job_id       TEXT NOT NULL REFERENCES jobs (id),
    folder       TEXT NOT NULL,
    uid_validity BIGINT NOT NULL,
    uid          BIGINT NOT NULL,
    confirmed    INTEGER NOT NULL,
    PRIMARY KEY (job_id, folder, uid_validity, uid)
);
