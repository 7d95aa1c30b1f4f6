-- Retention, the pruning's own records: who set an organisation's retention (the daily
-- pruning's entries in the activity log are made in that person's name), and the pack files
-- that compaction took out of use. Such a pack is deleted a while later (`retired_at`), once
-- no reader can still be on its way to it; a pack being written by a compaction is listed too,
-- so that one cut short by a crash is deleted the same way.
ALTER TABLE retention ADD COLUMN changed_by BIGINT REFERENCES users (id);

CREATE TABLE retired_packs (
    pack       TEXT PRIMARY KEY,
    retired_at BIGINT NOT NULL
);
