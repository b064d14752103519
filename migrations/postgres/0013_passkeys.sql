-- The PostgreSQL twin of migrations/sqlite/0013_passkeys.sql.
CREATE TABLE passkeys (
    id              uuid PRIMARY KEY,
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id   text NOT NULL UNIQUE,
    name            text NOT NULL,
    authenticator   text NOT NULL,
    credential      text NOT NULL,
    sign_count      bigint NOT NULL,
    backup_eligible boolean NOT NULL,
    backup_state    boolean NOT NULL,
    created_at      timestamptz NOT NULL,
    last_used_at    timestamptz
);
CREATE INDEX passkeys_by_user ON passkeys (user_id);

CREATE TABLE webauthn_ceremonies (
    id         uuid PRIMARY KEY,
    purpose    text NOT NULL,
    user_id    uuid REFERENCES users (id) ON DELETE CASCADE,
    state      text NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX webauthn_ceremonies_by_expiry ON webauthn_ceremonies (expires_at);
