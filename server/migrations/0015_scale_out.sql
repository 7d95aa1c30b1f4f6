-- Several server instances on one PostgreSQL database (README › Running several instances).
--
-- Which instance ran each attempt (the engine's lease owner), and when its run itself stopped
-- (finished, lost its claim, or was given back; NULL when its instance died): with the
-- attempt's start, they show that no job was ever run by two instances at once.
ALTER TABLE job_attempts ADD COLUMN instance TEXT;
ALTER TABLE job_attempts ADD COLUMN run_ended_at BIGINT;

-- Rate limits every instance counts together (server/src/rate_limit.rs): one row per attempt
-- still inside its window. Used on PostgreSQL; a single SQLite instance counts in memory.
CREATE TABLE rate_limit_hits (
    name TEXT NOT NULL,    -- which limit: sign_in_address, token_requests, …
    key  TEXT NOT NULL,    -- whose attempts: an address, a client, a token ID
    at   BIGINT NOT NULL   -- Unix ms
);
CREATE INDEX rate_limit_hits_key ON rate_limit_hits (name, key, at);

-- The claim takes the job due first (`ORDER BY COALESCE(next_run_at, lease_until)`): read in
-- that order from an index, it stops at the first it may take instead of sorting the whole
-- queue (51 ms a claim with 3,000 jobs waiting, 0.2 ms with the index: `cargo xtask bench scale`).
CREATE INDEX jobs_claim_order ON jobs ((COALESCE(next_run_at, lease_until)));
