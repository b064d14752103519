-- Webhooks: the endpoints admins register, and their delivery queue. An event is queued
-- as one `pending` row per subscribed endpoint, in the transaction of the change it
-- reports; each attempt then becomes a finished row (`succeeded` or `failed`) and a failed
-- one queues the next attempt as a new `pending` row with the same event id and body.
-- `secret` is the signing key (`whsec_...`): it must be readable to sign, like any shared
-- HMAC key; `previous_secret` signs too until `previous_secret_until` (a rotation's overlap).
CREATE TABLE webhook_endpoints (
    id                    BLOB PRIMARY KEY,
    url                   TEXT NOT NULL,
    events                TEXT NOT NULL,
    description           TEXT NOT NULL,
    enabled               BOOLEAN NOT NULL,
    secret                TEXT NOT NULL,
    previous_secret       TEXT,
    previous_secret_until INTEGER,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL
);

CREATE TABLE webhook_deliveries (
    id              BLOB PRIMARY KEY,
    endpoint_id     BLOB NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id        TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    payload         TEXT NOT NULL,
    attempt         INTEGER NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    response_status INTEGER,
    error           TEXT,
    duration_ms     INTEGER,
    created_at      INTEGER NOT NULL,
    next_attempt_at INTEGER,
    leased_until    INTEGER
);
-- What the worker claims: pending rows by due time.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
-- At most one attempt of an event waits for an endpoint: a retry asked for meanwhile joins it.
CREATE UNIQUE INDEX webhook_deliveries_one_pending ON webhook_deliveries (endpoint_id, event_id) WHERE status = 'pending';
-- An endpoint's deliveries, newest first; pruning by age.
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, created_at);
CREATE INDEX webhook_deliveries_by_age ON webhook_deliveries (created_at);
