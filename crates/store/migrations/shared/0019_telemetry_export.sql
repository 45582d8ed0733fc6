-- OTLP/HTTP destinations telemetry is forwarded to, per server or (server NULL) for every
-- server of the organization. Header values (API keys) are sealed with the master key; their
-- names are kept apart to be shown. Delivery counters and the last outcome are kept here;
-- after a failure nothing is sent to the destination before retry_at (a backoff growing
-- with consecutive_failures).
CREATE TABLE telemetry_destinations (
    id               TEXT PRIMARY KEY NOT NULL,
    organization_id  TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    mcp_server_id    TEXT REFERENCES mcp_servers (id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    kind             TEXT NOT NULL,
    endpoint         TEXT NOT NULL,
    header_names     TEXT NOT NULL,
    headers_sealed   TEXT NOT NULL,
    encoding         TEXT NOT NULL,
    send_traces      INTEGER NOT NULL,
    send_metrics     INTEGER NOT NULL,
    send_logs        INTEGER NOT NULL,
    enabled          INTEGER NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    last_success_at  BIGINT,
    last_error       TEXT,
    last_error_at    BIGINT,
    delivered_requests BIGINT NOT NULL DEFAULT 0,
    dropped_requests BIGINT NOT NULL DEFAULT 0,
    consecutive_failures BIGINT NOT NULL DEFAULT 0,
    retry_at         BIGINT
);
CREATE INDEX telemetry_destinations_org ON telemetry_destinations (organization_id, created_at);

-- The forwarding queue: each accepted OTLP request once per destination that wants it,
-- written in the same transaction as the telemetry itself, so a 2xx means queued too. The
-- body is the request as protobuf (BYTEA: a BLOB for SQLite, whose NUMERIC affinity keeps
-- blobs as they are). A row is deleted once delivered or given up; next_attempt_at holds a
-- claimed row back from other senders for a lease.
CREATE TABLE telemetry_exports (
    id               TEXT NOT NULL,
    destination_id   TEXT NOT NULL REFERENCES telemetry_destinations (id) ON DELETE CASCADE,
    signal           TEXT NOT NULL,
    body             BYTEA NOT NULL,
    items            BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    next_attempt_at  BIGINT NOT NULL,
    PRIMARY KEY (destination_id, id)
);
CREATE INDEX telemetry_exports_due ON telemetry_exports (next_attempt_at);
