-- How the end user was known for each recorded MCP request (none, oauth, tracking, email): a
-- stateless caller who gives their address to a tool has no session to keep it, so the
-- request itself says so. Requests recorded before are taken as the caller's none.
ALTER TABLE mcp_requests ADD COLUMN identity_source TEXT NOT NULL DEFAULT 'none';
