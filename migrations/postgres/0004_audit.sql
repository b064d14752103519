-- The audit trail: who did what to which account, and when. No foreign keys, so that
-- events outlive the users they name. Mirrors migrations/sqlite/0004_audit.sql.
CREATE TABLE audit_events (
    id         uuid PRIMARY KEY,
    time       timestamptz NOT NULL,
    type       text NOT NULL,
    actor_id   uuid,
    user_id    uuid,
    ip         text,
    user_agent text,
    request_id text,
    -- A small JSON object; never a secret.
    detail     jsonb NOT NULL DEFAULT '{}'
);
-- Newest first over everything, and pruning by age.
CREATE INDEX audit_events_by_time ON audit_events (time, id);
-- One user's history (the user_id filter and GET /v1/auth/me/audit).
CREATE INDEX audit_events_by_user ON audit_events (user_id, time, id);
-- The type filter.
CREATE INDEX audit_events_by_type ON audit_events (type, time, id);
