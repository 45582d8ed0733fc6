-- Telemetry customers' MCP servers send over OTLP (`/v1/traces`, `/v1/metrics`, `/v1/logs`).
-- Times are integer nanoseconds since the Unix epoch, as OTLP sends them. The MCP fields the
-- analytics read are columns; every other attribute stays in the JSON columns. Rows have no
-- key of their own: they are read by time and trace, and a primary key would only slow
-- the inserts down.

CREATE TABLE telemetry_spans (
    organization_id   TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    mcp_server_id     TEXT NOT NULL REFERENCES mcp_servers (id) ON DELETE CASCADE,
    trace_id          TEXT NOT NULL,
    span_id           TEXT NOT NULL,
    parent_span_id    TEXT,
    name              TEXT NOT NULL,
    kind              TEXT NOT NULL,
    service_name      TEXT,
    start_ns          BIGINT NOT NULL,
    end_ns            BIGINT NOT NULL,
    status            TEXT NOT NULL,
    status_message    TEXT,
    -- The OTel MCP conventions: `mcp.method.name`, `gen_ai.tool.name` (or prompt name)…
    mcp_method        TEXT,
    mcp_target        TEXT,
    session_id        TEXT,
    end_user          TEXT,
    client_name       TEXT,
    client_version    TEXT,
    protocol_version  TEXT,
    outcome           TEXT CHECK (outcome IN ('ok', 'tool_error', 'protocol_error')),
    error_type        TEXT,
    rpc_code          BIGINT,
    attributes        TEXT NOT NULL,
    resource          TEXT NOT NULL,
    events            TEXT,
    received_at       BIGINT NOT NULL
);
CREATE INDEX telemetry_spans_org ON telemetry_spans (organization_id, start_ns);
CREATE INDEX telemetry_spans_server ON telemetry_spans (mcp_server_id, start_ns);
CREATE INDEX telemetry_spans_trace ON telemetry_spans (trace_id);

CREATE TABLE telemetry_metric_points (
    organization_id   TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    mcp_server_id     TEXT NOT NULL REFERENCES mcp_servers (id) ON DELETE CASCADE,
    name              TEXT NOT NULL,
    unit              TEXT NOT NULL,
    kind              TEXT NOT NULL,
    service_name      TEXT,
    start_ns          BIGINT,
    time_ns           BIGINT NOT NULL,
    value             DOUBLE PRECISION,
    count             BIGINT,
    sum               DOUBLE PRECISION,
    min               DOUBLE PRECISION,
    max               DOUBLE PRECISION,
    details           TEXT,
    mcp_method        TEXT,
    mcp_target        TEXT,
    error_type        TEXT,
    attributes        TEXT NOT NULL,
    resource          TEXT NOT NULL,
    received_at       BIGINT NOT NULL
);
CREATE INDEX telemetry_metric_points_server ON telemetry_metric_points (mcp_server_id, name, time_ns);
CREATE INDEX telemetry_metric_points_org ON telemetry_metric_points (organization_id, time_ns);

CREATE TABLE telemetry_logs (
    organization_id   TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    mcp_server_id     TEXT NOT NULL REFERENCES mcp_servers (id) ON DELETE CASCADE,
    time_ns           BIGINT NOT NULL,
    observed_ns       BIGINT NOT NULL,
    severity_number   INTEGER NOT NULL,
    severity_text     TEXT,
    body              TEXT NOT NULL,
    trace_id          TEXT,
    span_id           TEXT,
    service_name      TEXT,
    session_id        TEXT,
    attributes        TEXT NOT NULL,
    resource          TEXT NOT NULL,
    received_at       BIGINT NOT NULL
);
CREATE INDEX telemetry_logs_org ON telemetry_logs (organization_id, time_ns);
CREATE INDEX telemetry_logs_server ON telemetry_logs (mcp_server_id, time_ns);
CREATE INDEX telemetry_logs_trace ON telemetry_logs (trace_id);

-- The analytics read the hosted servers' requests of an organization by time, as the spans.
DROP INDEX mcp_requests_org;
CREATE INDEX mcp_requests_org_time ON mcp_requests (organization_id, started_at);
