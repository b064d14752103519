-- The audit trail: who did what to which account, and when. No foreign keys, so that
-- events outlive the users they name. `time` is unix milliseconds like every other time.
CREATE TABLE audit_events (
    id         BLOB PRIMARY KEY,
    time       INTEGER NOT NULL,
    type       TEXT NOT NULL,
    actor_id   BLOB,
    user_id    BLOB,
    ip         TEXT,
    user_agent TEXT,
    request_id TEXT,
    -- A small JSON object; never a secret.
    detail     TEXT NOT NULL DEFAULT '{}'
);
-- Newest first over everything, and pruning by age.
CREATE INDEX audit_events_by_time ON audit_events (time, id);
-- One user's history (the user_id filter and GET /v1/auth/me/audit).
CREATE INDEX audit_events_by_user ON audit_events (user_id, time, id);
-- The type filter.
CREATE INDEX audit_events_by_type ON audit_events (type, time, id);
