-- Indexes the hosting tables' queries and cascades need: deleting an end user (a merge, an
-- organization going) must not scan the OAuth tables, nor deleting an organization the record
-- of requests; an end user's tool calls are counted per method.
CREATE INDEX oauth_grants_user ON oauth_grants (end_user_id);
CREATE INDEX token_families_end_user ON token_families (end_user_id);
CREATE INDEX authorization_requests_user ON authorization_requests (end_user_id);
CREATE INDEX authorization_codes_user ON authorization_codes (end_user_id);
CREATE INDEX mcp_requests_org ON mcp_requests (organization_id);
CREATE INDEX mcp_requests_user_method ON mcp_requests (end_user_id, method, mcp_server_id);
CREATE INDEX mcp_sessions_org ON mcp_sessions (organization_id);
CREATE INDEX tracking_links_org ON tracking_links (organization_id);
CREATE INDEX support_tickets_org_user ON support_tickets (organization_id, end_user_id);
