-- API keys: per MCP server (telemetry, introspection) or per organization (management API).
-- Only the SHA-256 of a key is stored.

CREATE TABLE api_keys (
    id               TEXT PRIMARY KEY NOT NULL,
    organization_id  TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    mcp_server_id    TEXT REFERENCES mcp_servers (id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    visible_prefix   TEXT NOT NULL,
    token_hash       TEXT NOT NULL UNIQUE,
    scopes           TEXT NOT NULL,
    created_by       TEXT REFERENCES platform_users (id) ON DELETE SET NULL,
    created_at       BIGINT NOT NULL,
    last_used_at     BIGINT,
    revoked_at       BIGINT
);
CREATE INDEX api_keys_org ON api_keys (organization_id, created_at);
