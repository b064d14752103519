-- The resource servers (RFC 8707) a client's access tokens may name as their audience, a
-- JSON array of URIs; without one, a client's tokens are for the client itself.
ALTER TABLE oauth_clients ADD COLUMN resources TEXT NOT NULL DEFAULT '[]';

-- A user's codes and sessions of one client are counted to cap them.
CREATE INDEX oauth_codes_by_user_client ON oauth_codes (user_id, client_id, created_at);
CREATE INDEX sessions_by_user_client ON sessions (user_id, client_id, created_at) WHERE client_id IS NOT NULL;
