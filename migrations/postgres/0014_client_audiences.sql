-- The PostgreSQL twin of migrations/sqlite/0014_client_audiences.sql.
ALTER TABLE oauth_clients ADD COLUMN resources text NOT NULL DEFAULT '[]';

CREATE INDEX oauth_codes_by_user_client ON oauth_codes (user_id, client_id, created_at);
CREATE INDEX sessions_by_user_client ON sessions (user_id, client_id, created_at) WHERE client_id IS NOT NULL;
