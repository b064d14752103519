-- Times are unix milliseconds (INTEGER): they compare and sort exactly.
-- Uniqueness lives here, so that races cannot break it.
CREATE TABLE users (
    id             BLOB PRIMARY KEY,
    username       TEXT NOT NULL,
    username_key   TEXT NOT NULL CONSTRAINT users_username_key UNIQUE,
    email          TEXT,
    email_key      TEXT CONSTRAINT users_email_key UNIQUE,
    email_verified INTEGER NOT NULL DEFAULT 0,
    password_hash  TEXT NOT NULL,
    disabled       INTEGER NOT NULL DEFAULT 0,
    mfa_enabled    INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);

CREATE TABLE user_roles (
    user_id BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role    TEXT NOT NULL,
    PRIMARY KEY (user_id, role)
);
CREATE INDEX user_roles_by_role ON user_roles (role, user_id);

CREATE TABLE sessions (
    id           BLOB PRIMARY KEY,
    user_id      BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER,
    user_agent   TEXT,
    ip           TEXT
);
CREATE INDEX sessions_by_user ON sessions (user_id);

CREATE TABLE refresh_tokens (
    token_hash BLOB PRIMARY KEY,
    session_id BLOB NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    rotated_at INTEGER
);
-- One live refresh token per session.
CREATE UNIQUE INDEX refresh_tokens_one_live ON refresh_tokens (session_id) WHERE rotated_at IS NULL;
CREATE INDEX refresh_tokens_by_session ON refresh_tokens (session_id);

CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY,
    algorithm   TEXT NOT NULL,
    private_key BLOB NOT NULL,
    public_key  BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    retired_at  INTEGER
);
-- One active signing key, even when several instances start at once.
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys ((retired_at IS NULL)) WHERE retired_at IS NULL;

CREATE TABLE server_secrets (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
