-- Single sign-on with Microsoft Entra ID (server/src/sso/).
--
-- A sign-in under way: found by the SHA-256 of its `state` (which the browser also holds in
-- an HttpOnly cookie), with its nonce and its PKCE verifier sealed under the master key.
CREATE TABLE sso_requests (
    state_hash     TEXT PRIMARY KEY,
    nonce          TEXT NOT NULL,
    sealed_verifier TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL
);
CREATE INDEX sso_requests_expiry ON sso_requests (expires_at);

-- Enforce SSO: the organisation's users sign in with Microsoft only, except the one admin it
-- names (break glass, for when the provider cannot be reached).
ALTER TABLE organisations ADD COLUMN enforce_sso INTEGER NOT NULL DEFAULT 0;
ALTER TABLE organisations ADD COLUMN break_glass_user_id BIGINT REFERENCES users (id);
