-- The claim counts each organisation's runs under way and takes over lapsed ones: both look
-- for jobs by status and lease, which no index led with.
CREATE INDEX jobs_status_lease ON jobs (status, lease_until);
