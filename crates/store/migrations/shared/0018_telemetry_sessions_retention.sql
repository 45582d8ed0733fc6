-- A session's timeline reads its spans by session id (the organization is checked on the
-- rows found).
CREATE INDEX telemetry_spans_session ON telemetry_spans (session_id, start_ns);

-- Every index slows ingest down: the organization's spans are read through its servers'
-- (mcp_server_id, start_ns) index instead of one of their own.
DROP INDEX telemetry_spans_org;

-- How long an organization's telemetry and recorded MCP requests are kept, in days; a
-- background job deletes what is older.
ALTER TABLE organizations ADD COLUMN telemetry_retention_days INTEGER NOT NULL DEFAULT 30;
