-- The PostgreSQL twin of migrations/sqlite/0001_core.sql: same tables, same constraint
-- names (the store maps unique violations by name), native types.
CREATE TABLE users (
    id             uuid PRIMARY KEY,
    username       text NOT NULL,
    username_key   text NOT NULL CONSTRAINT users_username_key UNIQUE,
    email          text,
    email_key      text CONSTRAINT users_email_key UNIQUE,
    email_verified boolean NOT NULL DEFAULT false,
    password_hash  text NOT NULL,
    disabled       boolean NOT NULL DEFAULT false,
    mfa_enabled    boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);

CREATE TABLE user_roles (
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role    text NOT NULL,
    PRIMARY KEY (user_id, role)
);
CREATE INDEX user_roles_by_role ON user_roles (role, user_id);

CREATE TABLE sessions (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL,
    last_used_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    user_agent   text,
    ip           text
);
CREATE INDEX sessions_by_user ON sessions (user_id);

CREATE TABLE refresh_tokens (
    token_hash bytea PRIMARY KEY,
    session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL,
    rotated_at timestamptz
);
-- One live refresh token per session.
CREATE UNIQUE INDEX refresh_tokens_one_live ON refresh_tokens (session_id) WHERE rotated_at IS NULL;
CREATE INDEX refresh_tokens_by_session ON refresh_tokens (session_id);

CREATE TABLE signing_keys (
    kid         text PRIMARY KEY,
    algorithm   text NOT NULL,
    private_key bytea NOT NULL,
    public_key  bytea NOT NULL,
    created_at  timestamptz NOT NULL,
    retired_at  timestamptz
);
-- One active signing key, even when several instances start at once.
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys ((retired_at IS NULL)) WHERE retired_at IS NULL;

CREATE TABLE server_secrets (
    name  text PRIMARY KEY,
    value bytea NOT NULL
);
