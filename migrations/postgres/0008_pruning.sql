-- The PostgreSQL twin of migrations/sqlite/0008_pruning.sql.
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
CREATE INDEX sessions_by_revocation ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX email_tokens_by_expiry ON email_tokens (expires_at);
