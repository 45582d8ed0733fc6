-- Foundation: organizations, platform users, memberships, dashboard sessions, MCP servers.
-- Ids are UUIDv7 text; timestamps are unix milliseconds; booleans are 0/1 integers.

CREATE TABLE organizations (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE platform_users (
    id                 TEXT PRIMARY KEY NOT NULL,
    email              TEXT NOT NULL UNIQUE,
    display_name       TEXT NOT NULL,
    password_hash      TEXT,
    email_verified_at  BIGINT,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);

CREATE TABLE memberships (
    organization_id  TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id          TEXT NOT NULL REFERENCES platform_users (id) ON DELETE CASCADE,
    role             TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    created_at       BIGINT NOT NULL,
    PRIMARY KEY (organization_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE platform_sessions (
    id                      TEXT PRIMARY KEY NOT NULL,
    user_id                 TEXT NOT NULL REFERENCES platform_users (id) ON DELETE CASCADE,
    token_hash              TEXT NOT NULL UNIQUE,
    active_organization_id  TEXT REFERENCES organizations (id) ON DELETE SET NULL,
    user_agent              TEXT,
    ip_address              TEXT,
    created_at              BIGINT NOT NULL,
    last_seen_at            BIGINT NOT NULL,
    expires_at              BIGINT NOT NULL
);
CREATE INDEX platform_sessions_user ON platform_sessions (user_id);
CREATE INDEX platform_sessions_expiry ON platform_sessions (expires_at);

CREATE TABLE mcp_servers (
    id                        TEXT PRIMARY KEY NOT NULL,
    organization_id           TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    slug                      TEXT NOT NULL UNIQUE,
    name                      TEXT NOT NULL,
    description               TEXT NOT NULL,
    product_name              TEXT NOT NULL,
    auth_mode                 TEXT NOT NULL CHECK (auth_mode IN
                                  ('none', 'tracking_id', 'collect_email', 'platform_oauth', 'custom_oauth')),
    support_tool_enabled      INTEGER NOT NULL,
    walkthrough_tool_enabled  INTEGER NOT NULL,
    access_token_ttl_secs     BIGINT NOT NULL,
    refresh_token_ttl_secs    BIGINT NOT NULL,
    telemetry_enabled         INTEGER NOT NULL,
    created_at                BIGINT NOT NULL,
    updated_at                BIGINT NOT NULL
);
CREATE INDEX mcp_servers_org ON mcp_servers (organization_id, id);
