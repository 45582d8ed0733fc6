-- A session's timeline reads its spans by session id (the organization is checked on the
-- rows found).
CREATE INDEX telemetry_spans_session ON telemetry_spans (session_id, start_ns);

-- How long an organization's telemetry and recorded MCP requests are kept, in days; a
-- background job deletes what is older.
ALTER TABLE organizations ADD COLUMN telemetry_retention_days INTEGER NOT NULL DEFAULT 30;
