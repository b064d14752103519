-- OpenID Connect: an active signing key per algorithm (EdDSA for access tokens and ID
-- tokens of clients that ask for it, RS256 for the other ID tokens).
DROP INDEX signing_keys_one_active;
CREATE UNIQUE INDEX signing_keys_one_active_per_algorithm ON signing_keys (algorithm) WHERE retired_at IS NULL;

-- How a session was signed in (RFC 8176 `amr` values, space-separated) and when, and, for
-- a session a client holds, which client and what scope. Deleting the client ends them.
ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';
ALTER TABLE sessions ADD COLUMN auth_time INTEGER;
ALTER TABLE sessions ADD COLUMN client_id BLOB REFERENCES oauth_clients (id) ON DELETE CASCADE;
ALTER TABLE sessions ADD COLUMN scope TEXT;
CREATE INDEX sessions_by_client ON sessions (client_id) WHERE client_id IS NOT NULL;

-- Authorization codes: single use, short-lived, bound to their client, redirect URI and
-- PKCE challenge. Stored as SHA-256; `session_id` is what the exchange issued, revoked
-- when the code is presented again.
CREATE TABLE oauth_codes (
    code_hash      BLOB PRIMARY KEY,
    client_id      BLOB NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    user_id        BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    redirect_uri   TEXT NOT NULL,
    scope          TEXT NOT NULL,
    nonce          TEXT,
    code_challenge TEXT,
    auth_time      INTEGER NOT NULL,
    amr            TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    used_at        INTEGER,
    session_id     BLOB
);
CREATE INDEX oauth_codes_by_expiry ON oauth_codes (expires_at);

-- What a user allowed a client, remembered so that the consent page is shown once.
CREATE TABLE oauth_consents (
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  BLOB NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    scope      TEXT NOT NULL,
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, client_id)
);
