-- The PostgreSQL twin of migrations/sqlite/0006_mfa.sql.
CREATE TABLE totp_secrets (
    user_id    uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    -- The raw shared secret (20 bytes): HMAC needs it as is, so it cannot be hashed.
    secret     bytea NOT NULL,
    -- The last time step (unix seconds / 30) whose code was accepted: a code is taken once.
    last_step  bigint,
    created_at timestamptz NOT NULL
);

CREATE TABLE recovery_codes (
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash  bytea NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE mfa_challenges (
    token_hash bytea PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    login_key  text NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX mfa_challenges_by_user ON mfa_challenges (user_id);
CREATE INDEX mfa_challenges_by_expiry ON mfa_challenges (expires_at);
