-- A server can be switched off without deleting it: its MCP endpoint then answers 404.
ALTER TABLE mcp_servers ADD COLUMN enabled BOOLEAN NOT NULL DEFAULT TRUE;
