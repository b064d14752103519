-- Invitations to sign up (GATEHOUSE_REGISTRATION=invite, or any mode): an admin names an
-- address and the roles the account gets; the mailed link (token stored as its SHA-256)
-- makes the account once, with that address verified.
CREATE TABLE user_invitations (
    id          BLOB PRIMARY KEY,
    email       TEXT NOT NULL,
    email_key   TEXT NOT NULL,
    -- Space-separated, normalised (always `user`).
    roles       TEXT NOT NULL,
    token_hash  BLOB NOT NULL UNIQUE,
    invited_by  BLOB REFERENCES users (id) ON DELETE SET NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    accepted_at INTEGER,
    revoked_at  INTEGER
);
CREATE INDEX user_invitations_by_created ON user_invitations (created_at);
