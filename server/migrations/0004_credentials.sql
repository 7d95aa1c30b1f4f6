-- Account Settings › Credentials: each organisation's three credentials, their breaks and
-- fixes, and the OAuth flows under way (server/src/credentials/).

-- The organisation's Microsoft 365 domain and its tenant at the identity provider.
ALTER TABLE organisations ADD COLUMN domain TEXT;
ALTER TABLE organisations ADD COLUMN tenant_id TEXT;

CREATE TABLE credentials (
    organisation_id  BIGINT NOT NULL REFERENCES organisations (id),
    kind             TEXT NOT NULL,   -- main_app | backup_admin | device
    state            TEXT NOT NULL,   -- working | broken
    broken_since     BIGINT,
    reason           TEXT,            -- why it is broken, in plain words
    username         TEXT,            -- backup_admin: shown; its password is in sealed_secret
    sealed_secret    TEXT,            -- secrets.rs: the password or the refresh token
    expires_at       BIGINT,          -- device: when the delegated token expires
    last_verified_at BIGINT,
    updated_at       BIGINT NOT NULL,
    PRIMARY KEY (organisation_id, kind)
);

CREATE TABLE credential_events (
    id              TEXT PRIMARY KEY,
    organisation_id BIGINT NOT NULL REFERENCES organisations (id),
    kind            TEXT NOT NULL,
    resolved        INTEGER NOT NULL, -- 0: a break was detected, 1: it is resolved
    detail          TEXT,
    at              BIGINT NOT NULL
);
CREATE INDEX credential_events_organisation ON credential_events (organisation_id, at);

-- Admin consent (authorization code + PKCE) and Device Authorization flows under way.
CREATE TABLE oauth_flows (
    id               TEXT PRIMARY KEY, -- consent: the `state` sent to the provider
    organisation_id  BIGINT NOT NULL REFERENCES organisations (id),
    kind             TEXT NOT NULL,    -- consent | device
    started_by       BIGINT REFERENCES users (id),
    sealed_secret    TEXT NOT NULL,    -- consent: the PKCE verifier; device: the device code
    status           TEXT NOT NULL,    -- pending | authorized | denied | expired | completed | failed
    user_code        TEXT,
    verification_uri TEXT,
    interval_seconds INTEGER,
    slow_downs       INTEGER NOT NULL DEFAULT 0,
    sealed_token     TEXT,             -- device: the tokens once authorised, until Verify & Continue
    detail           TEXT,
    expires_at       BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX oauth_flows_organisation ON oauth_flows (organisation_id, kind, created_at);
