-- The PostgreSQL twin of migrations/sqlite/0011_oauth_clients.sql.
CREATE TABLE oauth_clients (
    id                        uuid PRIMARY KEY,
    client_id                 text NOT NULL UNIQUE,
    name                      text NOT NULL,
    secret_hash               bytea,
    public                    boolean NOT NULL,
    first_party               boolean NOT NULL,
    redirect_uris             text NOT NULL,
    post_logout_redirect_uris text NOT NULL,
    scopes                    text NOT NULL,
    id_token_alg              text NOT NULL,
    created_at                timestamptz NOT NULL,
    updated_at                timestamptz NOT NULL,
    CHECK (public = (secret_hash IS NULL))
);
CREATE INDEX oauth_clients_by_created ON oauth_clients (created_at, id);
