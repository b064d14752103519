-- The PostgreSQL twin of migrations/sqlite/0015_upstream_identities.sql.
CREATE TABLE upstream_providers (
    id                     uuid PRIMARY KEY,
    slug                   text NOT NULL CONSTRAINT upstream_providers_slug_key UNIQUE,
    name                   text NOT NULL,
    kind                   text NOT NULL,
    issuer                 text,
    client_id              text NOT NULL,
    client_secret_sealed   bytea NOT NULL,
    scopes                 text NOT NULL,
    allow_signup           boolean NOT NULL,
    link_by_email          boolean NOT NULL,
    trust_upstream_mfa     boolean NOT NULL,
    authorization_endpoint text,
    token_endpoint         text,
    api_base               text,
    created_at             timestamptz NOT NULL,
    updated_at             timestamptz NOT NULL
);

CREATE TABLE user_identities (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider_id  uuid NOT NULL REFERENCES upstream_providers (id) ON DELETE CASCADE,
    subject      text NOT NULL,
    email        text,
    created_at   timestamptz NOT NULL,
    last_used_at timestamptz,
    CONSTRAINT user_identities_provider_subject_key UNIQUE (provider_id, subject)
);
CREATE INDEX user_identities_by_user ON user_identities (user_id);

CREATE TABLE upstream_flows (
    token_hash   bytea PRIMARY KEY,
    purpose      text NOT NULL,
    browser_hash bytea NOT NULL,
    state        text NOT NULL,
    expires_at   timestamptz NOT NULL
);
CREATE INDEX upstream_flows_by_expiry ON upstream_flows (expires_at);
