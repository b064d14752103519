-- Sign-in by email code: one row per code mailed. `id` is the challenge_id the API
-- answers; the code itself is stored only as SHA-256(id || code). A row outlives its code
-- by an hour, so that the codes mailed to one address in the last hour can be counted
-- (GATEHOUSE_EMAIL_CODE_PER_HOUR); it is transient, and `gatehouse copy` leaves it behind.
CREATE TABLE email_codes (
    id         BLOB PRIMARY KEY,
    -- sign_in: an account's verified address; sign_up: an address no account held when
    -- the code was mailed; reauth: a signed-in passwordless account proving itself again.
    purpose    TEXT NOT NULL CHECK (purpose IN ('sign_in', 'sign_up', 'reauth')),
    user_id    BLOB REFERENCES users (id) ON DELETE CASCADE,
    email      TEXT NOT NULL,
    email_key  TEXT NOT NULL,
    code_hash  BLOB NOT NULL,
    -- Wrong codes tried; the fifth ends the challenge.
    failures   INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);
CREATE INDEX email_codes_by_address ON email_codes (email_key, created_at);
CREATE INDEX email_codes_by_user ON email_codes (user_id, created_at);
CREATE INDEX email_codes_by_expiry ON email_codes (expires_at);

-- What the first step of a login was, for the amr of its second step: `pwd`, or `mca` for
-- an email code.
ALTER TABLE mfa_challenges ADD COLUMN first_factor TEXT NOT NULL DEFAULT 'pwd';

-- A password found in a breach corpus at the last login: the account page asks for a
-- change until the password is changed or reset.
ALTER TABLE users ADD COLUMN password_breached INTEGER NOT NULL DEFAULT 0;
