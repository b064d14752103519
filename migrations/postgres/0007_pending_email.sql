-- The PostgreSQL twin of migrations/sqlite/0007_pending_email.sql.
ALTER TABLE users ADD COLUMN pending_email text;
ALTER TABLE users ADD COLUMN pending_email_key text;
ALTER TABLE users ADD COLUMN email_ever_verified boolean NOT NULL DEFAULT false;
UPDATE users SET email_ever_verified = email_verified;

CREATE TABLE verify_mail_windows (
    user_id      uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    window_start timestamptz NOT NULL,
    sent         integer NOT NULL
);
