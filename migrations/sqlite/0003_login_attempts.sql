-- Failed-login counting, shared by every instance on this database.
-- login_key is the SHA-256 (hex) of the normalised login string, so that unknown names
-- are counted alike and no typed-in string is kept.
CREATE TABLE login_attempts (
    login_key    TEXT PRIMARY KEY,
    -- Password checks reserved since the window began (a completed login deletes the row).
    failures     INTEGER NOT NULL,
    -- Unix ms when the counting window began; an old window starts over.
    window_start INTEGER NOT NULL,
    -- Unix ms until which every attempt is refused; NULL while under the limit.
    locked_until INTEGER
);
