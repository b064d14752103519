-- The PostgreSQL twin of migrations/sqlite/0018_organizations.sql.
CREATE TABLE organizations (
    id         uuid PRIMARY KEY,
    slug       text NOT NULL UNIQUE,
    name       text NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE TABLE org_members (
    org_id     uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    roles      text NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX org_members_by_user ON org_members (user_id);

CREATE TABLE org_invitations (
    id          uuid PRIMARY KEY,
    org_id      uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email       text NOT NULL,
    email_key   text NOT NULL,
    roles       text NOT NULL,
    token_hash  bytea NOT NULL UNIQUE,
    invited_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    accepted_at timestamptz,
    accepted_by uuid REFERENCES users (id) ON DELETE SET NULL,
    revoked_at  timestamptz
);
CREATE INDEX org_invitations_by_org ON org_invitations (org_id, created_at);
CREATE INDEX org_invitations_by_email ON org_invitations (email_key);
CREATE INDEX org_invitations_by_expiry ON org_invitations (expires_at);

ALTER TABLE sessions ADD COLUMN org_id uuid REFERENCES organizations (id) ON DELETE SET NULL;
CREATE INDEX sessions_by_org ON sessions (org_id) WHERE org_id IS NOT NULL;

ALTER TABLE oauth_codes ADD COLUMN org_id uuid REFERENCES organizations (id) ON DELETE SET NULL;

-- A session's active org changed (chosen, left, removed, the org deleted): the live view of
-- every instance forgets the user, so a token naming the old org is refused at once.
CREATE TRIGGER sessions_org_notify_live AFTER UPDATE OF org_id ON sessions
    FOR EACH ROW WHEN (OLD.org_id IS DISTINCT FROM NEW.org_id) EXECUTE FUNCTION gatehouse_notify_live();
