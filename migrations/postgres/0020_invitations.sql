-- The PostgreSQL twin of migrations/sqlite/0020_invitations.sql.
CREATE TABLE user_invitations (
    id          uuid PRIMARY KEY,
    email       text NOT NULL,
    email_key   text NOT NULL,
    roles       text NOT NULL,
    token_hash  bytea NOT NULL UNIQUE,
    invited_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    accepted_at timestamptz,
    revoked_at  timestamptz
);
CREATE INDEX user_invitations_by_created ON user_invitations (created_at);
