-- Hosted MCP servers at work: who connects (tracking links, sessions), what they ask (every MCP
-- request, recorded in batches) and the support tickets they open from their editor.

-- A personal URL (`/api/mcpserver/{tracking_id}/mcp`) that identifies one end user of a server.
CREATE TABLE tracking_links (
    tracking_id      TEXT PRIMARY KEY NOT NULL,
    organization_id  TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    mcp_server_id    TEXT NOT NULL REFERENCES mcp_servers (id) ON DELETE CASCADE,
    end_user_id      TEXT NOT NULL REFERENCES end_users (id) ON DELETE CASCADE,
    label            TEXT,
    created_at       BIGINT NOT NULL,
    last_used_at     BIGINT,
    revoked_at       BIGINT
);
CREATE INDEX tracking_links_server ON tracking_links (mcp_server_id, created_at);
CREATE INDEX tracking_links_user ON tracking_links (end_user_id);

-- A client's connection: a Streamable HTTP session (2025-06-18, 2025-11-25) or, for stateless
-- requests (2026-07-28), one derived from user + client + a 30-minute inactivity window.
-- `state` holds a stateful session's `initialize` parameters, so that any node can restore it.
CREATE TABLE mcp_sessions (
    id                TEXT PRIMARY KEY NOT NULL,
    organization_id   TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    mcp_server_id     TEXT NOT NULL REFERENCES mcp_servers (id) ON DELETE CASCADE,
    end_user_id       TEXT REFERENCES end_users (id) ON DELETE SET NULL,
    identity_source   TEXT NOT NULL CHECK (identity_source IN ('none', 'oauth', 'tracking', 'email')),
    kind              TEXT NOT NULL CHECK (kind IN ('stateful', 'derived')),
    protocol_version  TEXT NOT NULL,
    client_name       TEXT,
    client_version    TEXT,
    ip                TEXT,
    user_agent        TEXT,
    derivation_key    TEXT,
    state             TEXT,
    first_seen_at     BIGINT NOT NULL,
    last_seen_at      BIGINT NOT NULL,
    closed_at         BIGINT
);
CREATE INDEX mcp_sessions_server ON mcp_sessions (mcp_server_id, last_seen_at);
CREATE INDEX mcp_sessions_user ON mcp_sessions (end_user_id, last_seen_at);
CREATE INDEX mcp_sessions_derivation ON mcp_sessions (mcp_server_id, derivation_key, last_seen_at);

-- Every MCP request a hosted server answered. Session and end user are plain references (no
-- foreign key): a record written after its session or user changed is still kept.
CREATE TABLE mcp_requests (
    id                TEXT PRIMARY KEY NOT NULL,
    organization_id   TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    mcp_server_id     TEXT NOT NULL REFERENCES mcp_servers (id) ON DELETE CASCADE,
    session_id        TEXT,
    end_user_id       TEXT,
    method            TEXT NOT NULL,
    tool_name         TEXT,
    jsonrpc_id        TEXT,
    protocol_version  TEXT,
    arguments         TEXT,
    result            TEXT,
    outcome           TEXT NOT NULL CHECK (outcome IN ('ok', 'tool_error', 'protocol_error')),
    error_code        BIGINT,
    error_message     TEXT,
    duration_us       BIGINT NOT NULL,
    started_at        BIGINT NOT NULL
);
CREATE INDEX mcp_requests_server ON mcp_requests (mcp_server_id, started_at);
CREATE INDEX mcp_requests_session ON mcp_requests (session_id, started_at);
CREATE INDEX mcp_requests_user ON mcp_requests (end_user_id, started_at);

-- A request for help sent from the editor through the `get_support` tool.
CREATE TABLE support_tickets (
    id                TEXT PRIMARY KEY NOT NULL,
    organization_id   TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    mcp_server_id     TEXT NOT NULL REFERENCES mcp_servers (id) ON DELETE CASCADE,
    end_user_id       TEXT REFERENCES end_users (id) ON DELETE SET NULL,
    session_id        TEXT,
    title             TEXT NOT NULL,
    description       TEXT NOT NULL,
    problem_context   TEXT,
    email             TEXT NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('pending', 'in_progress', 'resolved', 'closed')),
    priority          TEXT NOT NULL CHECK (priority IN ('low', 'medium', 'high', 'critical')),
    session_context   TEXT NOT NULL,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);
CREATE INDEX support_tickets_org ON support_tickets (organization_id, created_at);
CREATE INDEX support_tickets_server ON support_tickets (mcp_server_id, created_at);
CREATE INDEX support_tickets_user ON support_tickets (end_user_id);
