-- The PostgreSQL twin of migrations/sqlite/0010_browser_sessions.sql.
ALTER TABLE sessions ADD COLUMN cookie_hash BYTEA;
CREATE UNIQUE INDEX sessions_by_cookie ON sessions (cookie_hash) WHERE cookie_hash IS NOT NULL;
