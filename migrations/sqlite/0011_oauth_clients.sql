-- The applications that sign their users in with Gatehouse (OpenID Connect clients).
-- List columns hold JSON arrays of strings; a public client has no secret.
CREATE TABLE oauth_clients (
    id                        BLOB PRIMARY KEY,
    client_id                 TEXT NOT NULL UNIQUE,
    name                      TEXT NOT NULL,
    secret_hash               BLOB,
    public                    INTEGER NOT NULL,
    first_party               INTEGER NOT NULL,
    redirect_uris             TEXT NOT NULL,
    post_logout_redirect_uris TEXT NOT NULL,
    scopes                    TEXT NOT NULL,
    id_token_alg              TEXT NOT NULL,
    created_at                INTEGER NOT NULL,
    updated_at                INTEGER NOT NULL,
    CHECK (public = (secret_hash IS NULL))
);
CREATE INDEX oauth_clients_by_created ON oauth_clients (created_at, id);
