-- A claim and a run's end keep the job's Backups row in step (`WHERE current_job_id = …`):
-- found by an index, not by reading every mailbox's row.
CREATE INDEX backups_current_job ON backups (current_job_id);
