-- API tokens (server/src/tokens/) and the activity log (server/src/activity/).

-- A token acts as its owner, within the owner's scope, limited to its access level. Only the
-- token's SHA-256 is kept (it is 32 random bytes: no salt or slow hash needed).
CREATE TABLE api_tokens (
    id              TEXT PRIMARY KEY,  -- tok_…
    token_hash      TEXT NOT NULL UNIQUE,
    prefix          TEXT NOT NULL,     -- the first characters, to tell tokens apart
    user_id         BIGINT NOT NULL REFERENCES users (id),
    name            TEXT NOT NULL,
    access          TEXT NOT NULL,     -- TokenAccess
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    last_used_at    BIGINT,
    last_used_from  TEXT,
    revoked_at      BIGINT
);
CREATE INDEX api_tokens_user ON api_tokens (user_id, created_at);

-- Who did what. Append-only for the application: nothing but the retention sweep deletes.
CREATE TABLE activity (
    id              TEXT PRIMARY KEY,  -- act_…
    at              BIGINT NOT NULL,
    user_id         BIGINT NOT NULL REFERENCES users (id),
    actor           TEXT NOT NULL,     -- the user's email then
    token_id        TEXT REFERENCES api_tokens (id),
    token_name      TEXT,
    action          TEXT NOT NULL,     -- ActivityAction
    object          TEXT,              -- what it was done to, in words
    object_id       TEXT,
    organisation_id BIGINT REFERENCES organisations (id),
    reseller_id     BIGINT REFERENCES resellers (id),
    address         TEXT,
    request_id      TEXT NOT NULL
);
CREATE INDEX activity_organisation ON activity (organisation_id, at);
CREATE INDEX activity_reseller ON activity (reseller_id, at);
CREATE INDEX activity_at ON activity (at);
