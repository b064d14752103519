-- An address change waits in pending_email until the link mailed to it is followed; only
-- then does it become `email`. The pending address reserves nothing: uniqueness is checked
-- (by users_email_key) when it is confirmed.
ALTER TABLE users ADD COLUMN pending_email TEXT;
ALTER TABLE users ADD COLUMN pending_email_key TEXT;
-- Whether the account ever verified an address: reset links go to an unverified address
-- only when it never did.
ALTER TABLE users ADD COLUMN email_ever_verified INTEGER NOT NULL DEFAULT 0;
UPDATE users SET email_ever_verified = email_verified;

-- Verification mails each account caused in its current hour-long window
-- (GATEHOUSE_VERIFY_MAILS_PER_HOUR). Transient: `gatehouse copy` leaves it behind.
CREATE TABLE verify_mail_windows (
    user_id      BLOB PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    window_start INTEGER NOT NULL,
    sent         INTEGER NOT NULL
);
