-- Two-factor sign-in and the sessions people can see (server/src/security/).
--
-- An authenticator's secret is kept sealed by the master key (secrets.rs, "user:<id>:totp"),
-- first as pending (shown, not yet confirmed with a code), then as the user's. The last step
-- whose code was accepted is kept so that each code is accepted once.
ALTER TABLE users ADD COLUMN totp_secret TEXT;
ALTER TABLE users ADD COLUMN totp_pending TEXT;
ALTER TABLE users ADD COLUMN totp_enrolled_at BIGINT;
ALTER TABLE users ADD COLUMN totp_last_step BIGINT;

-- Ten single-use codes per user, kept as SHA-256 of the user's ID and the code.
CREATE TABLE recovery_codes (
    user_id   BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL,
    used_at   BIGINT,
    PRIMARY KEY (user_id, code_hash)
);

-- A password accepted, a second factor awaited: the cookie holds the ID, this its SHA-256.
CREATE TABLE sign_in_challenges (
    id_hash    TEXT PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sign_in_challenges_expiry ON sign_in_challenges (expires_at);

-- What Account › Security lists of each session. Sessions from before have none of it yet.
ALTER TABLE sessions ADD COLUMN last_seen_at BIGINT;
ALTER TABLE sessions ADD COLUMN address TEXT;
ALTER TABLE sessions ADD COLUMN user_agent TEXT;
CREATE INDEX sessions_user ON sessions (user_id);

-- Who must sign in with a second factor: an organisation's users, or a reseller's own users
-- and those of every organisation it serves.
ALTER TABLE organisations ADD COLUMN require_two_factor INTEGER NOT NULL DEFAULT 0;
ALTER TABLE resellers ADD COLUMN require_two_factor INTEGER NOT NULL DEFAULT 0;
