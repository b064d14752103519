-- Organizations, their members with org roles (comma-separated, sorted, always `member`),
-- and invitations by email. An invitation's token is stored as its SHA-256 only.
CREATE TABLE organizations (
    id         BLOB PRIMARY KEY,
    slug       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE org_members (
    org_id     BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    roles      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX org_members_by_user ON org_members (user_id);

CREATE TABLE org_invitations (
    id          BLOB PRIMARY KEY,
    org_id      BLOB NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email       TEXT NOT NULL,
    email_key   TEXT NOT NULL,
    roles       TEXT NOT NULL,
    token_hash  BLOB NOT NULL UNIQUE,
    invited_by  BLOB REFERENCES users (id) ON DELETE SET NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    accepted_at INTEGER,
    accepted_by BLOB REFERENCES users (id) ON DELETE SET NULL,
    revoked_at  INTEGER
);
CREATE INDEX org_invitations_by_org ON org_invitations (org_id, created_at);
CREATE INDEX org_invitations_by_email ON org_invitations (email_key);
CREATE INDEX org_invitations_by_expiry ON org_invitations (expires_at);

-- A session's active org, which its access tokens carry. Leaving the org, or its deletion,
-- clears it, and the session check then refuses tokens that still name it.
ALTER TABLE sessions ADD COLUMN org_id BLOB REFERENCES organizations (id) ON DELETE SET NULL;
CREATE INDEX sessions_by_org ON sessions (org_id) WHERE org_id IS NOT NULL;

-- The org an OpenID Connect authorization picked (`organization=SLUG`), for the session
-- its code starts.
ALTER TABLE oauth_codes ADD COLUMN org_id BLOB REFERENCES organizations (id) ON DELETE SET NULL;
