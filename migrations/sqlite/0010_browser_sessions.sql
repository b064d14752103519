-- A browser session is a session whose cookie names it: the SHA-256 of the cookie's secret.
-- Revoking, listing and expiry work as for API sessions.
ALTER TABLE sessions ADD COLUMN cookie_hash BLOB;
CREATE UNIQUE INDEX sessions_by_cookie ON sessions (cookie_hash) WHERE cookie_hash IS NOT NULL;
