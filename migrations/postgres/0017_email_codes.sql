-- The PostgreSQL twin of migrations/sqlite/0017_email_codes.sql.
CREATE TABLE email_codes (
    id         uuid PRIMARY KEY,
    purpose    text NOT NULL CHECK (purpose IN ('sign_in', 'sign_up', 'reauth')),
    user_id    uuid REFERENCES users (id) ON DELETE CASCADE,
    email      text NOT NULL,
    email_key  text NOT NULL,
    code_hash  bytea NOT NULL,
    failures   integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX email_codes_by_address ON email_codes (email_key, created_at);
CREATE INDEX email_codes_by_user ON email_codes (user_id, created_at);
CREATE INDEX email_codes_by_expiry ON email_codes (expires_at);

ALTER TABLE mfa_challenges ADD COLUMN first_factor text NOT NULL DEFAULT 'pwd';

ALTER TABLE users ADD COLUMN password_breached boolean NOT NULL DEFAULT false;
