-- Pruning (see src/retention.rs) finds spent rows by these instead of reading whole tables.
-- login_attempts has no such index on purpose: every login writes it.
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
CREATE INDEX sessions_by_revocation ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX email_tokens_by_expiry ON email_tokens (expires_at);
