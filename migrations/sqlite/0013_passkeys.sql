-- Passkeys (WebAuthn credentials). `credential` is the library's record of the key (public
-- key, counter, backup flags) as JSON; the counter and flags are also columns for reading.
-- A credential id is registered once, whoever tries again.
CREATE TABLE passkeys (
    id              BLOB PRIMARY KEY,
    user_id         BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id   TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    authenticator   TEXT NOT NULL,
    credential      TEXT NOT NULL,
    sign_count      INTEGER NOT NULL,
    backup_eligible BOOLEAN NOT NULL,
    backup_state    BOOLEAN NOT NULL,
    created_at      INTEGER NOT NULL,
    last_used_at    INTEGER
);
CREATE INDEX passkeys_by_user ON passkeys (user_id);

-- A ceremony begun and not yet finished: its challenge state, single use, short-lived, in
-- the database so that any instance can finish what another began.
CREATE TABLE webauthn_ceremonies (
    id         BLOB PRIMARY KEY,
    purpose    TEXT NOT NULL,
    user_id    BLOB REFERENCES users (id) ON DELETE CASCADE,
    state      TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX webauthn_ceremonies_by_expiry ON webauthn_ceremonies (expires_at);
