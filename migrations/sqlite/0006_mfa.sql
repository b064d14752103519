-- TOTP second factor (RFC 6238). `users.mfa_enabled` says whether it is on; while it is
-- off, a row here is a secret waiting for its first code (setup, then confirm).
CREATE TABLE totp_secrets (
    user_id    BLOB PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    -- The raw shared secret (20 bytes): HMAC needs it as is, so it cannot be hashed.
    secret     BLOB NOT NULL,
    -- The last time step (unix seconds / 30) whose code was accepted: a code is taken once.
    last_step  INTEGER,
    created_at INTEGER NOT NULL
);

-- Single-use recovery codes, kept only as SHA-256 hashes of their normalised form.
CREATE TABLE recovery_codes (
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash  BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, code_hash)
);

-- The second step of a login: an opaque mfa_token (stored as its SHA-256) that a correct
-- password earned. Transient, so `gatehouse copy` leaves it behind.
CREATE TABLE mfa_challenges (
    token_hash BLOB PRIMARY KEY,
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The lockout key of the login name typed at the first step, cleared on success.
    login_key  TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX mfa_challenges_by_user ON mfa_challenges (user_id);
CREATE INDEX mfa_challenges_by_expiry ON mfa_challenges (expires_at);
