-- Upstream identity providers ("Sign in with ..."): an OpenID provider found by its
-- issuer's discovery document, or GitHub's OAuth 2 and API. The client secret is sealed
-- (AES-256-GCM) with a key the server keeps outside the database.
CREATE TABLE upstream_providers (
    id                     BLOB PRIMARY KEY,
    slug                   TEXT NOT NULL CONSTRAINT upstream_providers_slug_key UNIQUE,
    name                   TEXT NOT NULL,
    kind                   TEXT NOT NULL,
    issuer                 TEXT,
    client_id              TEXT NOT NULL,
    client_secret_sealed   BLOB NOT NULL,
    scopes                 TEXT NOT NULL,
    allow_signup           BOOLEAN NOT NULL,
    link_by_email          BOOLEAN NOT NULL,
    trust_upstream_mfa     BOOLEAN NOT NULL,
    authorization_endpoint TEXT,
    token_endpoint         TEXT,
    api_base               TEXT,
    created_at             INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL
);

-- A person's identity at a provider, found by (provider, subject) only, never by email.
CREATE TABLE user_identities (
    id           BLOB PRIMARY KEY,
    user_id      BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider_id  BLOB NOT NULL REFERENCES upstream_providers (id) ON DELETE CASCADE,
    subject      TEXT NOT NULL,
    email        TEXT,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    CONSTRAINT user_identities_provider_subject_key UNIQUE (provider_id, subject)
);
CREATE INDEX user_identities_by_user ON user_identities (user_id);

-- A sign-in begun upstream (state, nonce, PKCE verifier, where to return) or an identity
-- waiting for its person to prove the local account: taken once, bound to the browser
-- that began it, short-lived.
CREATE TABLE upstream_flows (
    token_hash   BLOB PRIMARY KEY,
    purpose      TEXT NOT NULL,
    browser_hash BLOB NOT NULL,
    state        TEXT NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX upstream_flows_by_expiry ON upstream_flows (expires_at);
