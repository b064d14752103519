-- Email verification and password reset tokens, and the outgoing mail queue.
-- Tokens are stored only as their SHA-256, bound to the address (email_key) they were
-- mailed to: after an email change, neither kind works any more.
CREATE TABLE email_tokens (
    token_hash BLOB PRIMARY KEY,
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL CHECK (purpose IN ('verify_email', 'reset_password')),
    email_key  TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);
CREATE INDEX email_tokens_by_user ON email_tokens (user_id, purpose);

-- One row per message until it is sent (then deleted) or given up. `message` is the whole
-- rendered message, secret link included: it never leaves the database but to the transport.
CREATE TABLE mail_queue (
    id              BLOB PRIMARY KEY,
    sender          TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    message         BLOB NOT NULL,
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    leased_until    INTEGER,
    last_error      TEXT
);
CREATE INDEX mail_queue_due ON mail_queue (next_attempt_at);
