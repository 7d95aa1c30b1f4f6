-- Passkeys and security keys (WebAuthn, server/src/auth/passkey.rs).
--
-- The WebAuthn user handle: random, given to authenticators so that a passkey can name its
-- account at a sign-in without a password (never the user's ID or address).
ALTER TABLE users ADD COLUMN passkey_handle TEXT;
CREATE UNIQUE INDEX users_passkey_handle ON users (passkey_handle);

-- A registered credential: its public key and signature counter as the webauthn-rs crate keeps
-- them (JSON). Public keys are not secrets; the credential ID is unique across all accounts.
CREATE TABLE passkeys (
    id            TEXT PRIMARY KEY,        -- pk_…
    user_id       BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id TEXT NOT NULL UNIQUE,    -- base64url
    name          TEXT NOT NULL,
    passwordless  INTEGER NOT NULL DEFAULT 0, -- may sign in alone, without the password
    discoverable  INTEGER,                 -- kept on the key (it can sign in alone); NULL: not said
    sign_count    BIGINT NOT NULL DEFAULT 0, -- the key's signature counter, last seen: only goes up
    credential    TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT
);
CREATE INDEX passkeys_user ON passkeys (user_id, created_at);

-- A ceremony under way (register, second factor, sign-in without password): found by the
-- SHA-256 of the ID the browser was given, used once, for two minutes.
CREATE TABLE passkey_ceremonies (
    id_hash    TEXT PRIMARY KEY,
    user_id    BIGINT REFERENCES users (id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL,              -- register | second_factor | sign_in
    state      TEXT NOT NULL,              -- webauthn-rs's state of it, JSON
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX passkey_ceremonies_expiry ON passkey_ceremonies (expires_at);
