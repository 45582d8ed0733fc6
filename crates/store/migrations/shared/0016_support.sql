-- Support tickets get their whole lifecycle: new statuses (`pending` becomes `new`), category,
-- summary, assignee, resolved/closed stamps, the auto-resolve deadline and a version for
-- optimistic concurrency. The table is rebuilt (a CHECK cannot be altered on SQLite), under a
-- new name first so that PostgreSQL's constraint and index names do not collide.
CREATE TABLE support_tickets_v2 (
    id                TEXT PRIMARY KEY NOT NULL,
    organization_id   TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    mcp_server_id     TEXT NOT NULL REFERENCES mcp_servers (id) ON DELETE CASCADE,
    end_user_id       TEXT REFERENCES end_users (id) ON DELETE SET NULL,
    session_id        TEXT,
    title             TEXT NOT NULL,
    summary           TEXT,
    description       TEXT NOT NULL,
    problem_context   TEXT,
    category          TEXT,
    email             TEXT,
    status            TEXT NOT NULL CHECK (status IN ('needs_email', 'new', 'in_progress',
                          'awaiting_customer', 'resolved', 'closed')),
    priority          TEXT NOT NULL CHECK (priority IN ('low', 'medium', 'high', 'critical')),
    assignee_id       TEXT REFERENCES platform_users (id) ON DELETE SET NULL,
    session_context   TEXT NOT NULL,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    resolved_at       BIGINT,
    resolved_by       TEXT REFERENCES platform_users (id) ON DELETE SET NULL,
    closed_at         BIGINT,
    closed_by         TEXT REFERENCES platform_users (id) ON DELETE SET NULL,
    auto_resolve_at   BIGINT,
    version           BIGINT NOT NULL DEFAULT 0,
    CHECK (email IS NOT NULL OR status = 'needs_email')
);
INSERT INTO support_tickets_v2 (id, organization_id, mcp_server_id, end_user_id, session_id,
    title, description, problem_context, email, status, priority, session_context, created_at,
    updated_at)
SELECT id, organization_id, mcp_server_id, end_user_id, session_id, title, description,
    problem_context, email, CASE status WHEN 'pending' THEN 'new' ELSE status END, priority,
    session_context, created_at, updated_at
FROM support_tickets;
DROP TABLE support_tickets;
ALTER TABLE support_tickets_v2 RENAME TO support_tickets;
CREATE INDEX support_tickets_org ON support_tickets (organization_id, created_at);
CREATE INDEX support_tickets_org_status ON support_tickets (organization_id, status, created_at);
CREATE INDEX support_tickets_server ON support_tickets (mcp_server_id, created_at);
CREATE INDEX support_tickets_org_user ON support_tickets (organization_id, end_user_id);
CREATE INDEX support_tickets_user ON support_tickets (end_user_id);
CREATE INDEX support_tickets_assignee ON support_tickets (organization_id, assignee_id);
CREATE INDEX support_tickets_due ON support_tickets (auto_resolve_at)
    WHERE auto_resolve_at IS NOT NULL;

-- The activity stream. `actor_id` is a platform user (member) or an end user, per `actor_kind`;
-- it outlives the person (the stream is history).
CREATE TABLE ticket_activities (
    id                TEXT PRIMARY KEY NOT NULL,
    organization_id   TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    ticket_id         TEXT NOT NULL REFERENCES support_tickets (id) ON DELETE CASCADE,
    kind              TEXT NOT NULL CHECK (kind IN ('comment', 'internal_note', 'status_change',
                          'assignment', 'field_update', 'system')),
    actor_kind        TEXT NOT NULL CHECK (actor_kind IN ('member', 'end_user', 'system')),
    actor_id          TEXT,
    body              TEXT,
    data              TEXT NOT NULL,
    created_at        BIGINT NOT NULL,
    edited_at         BIGINT
);
CREATE INDEX ticket_activities_ticket ON ticket_activities (ticket_id, created_at);

-- Members who hear about a ticket's replies.
CREATE TABLE ticket_watchers (
    ticket_id         TEXT NOT NULL REFERENCES support_tickets (id) ON DELETE CASCADE,
    user_id           TEXT NOT NULL REFERENCES platform_users (id) ON DELETE CASCADE,
    organization_id   TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    PRIMARY KEY (ticket_id, user_id)
);
CREATE INDEX ticket_watchers_user ON ticket_watchers (organization_id, user_id);

-- Members who hear about every new ticket of a server.
CREATE TABLE support_server_watchers (
    mcp_server_id     TEXT NOT NULL REFERENCES mcp_servers (id) ON DELETE CASCADE,
    user_id           TEXT NOT NULL REFERENCES platform_users (id) ON DELETE CASCADE,
    organization_id   TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    PRIMARY KEY (mcp_server_id, user_id)
);
CREATE INDEX support_server_watchers_user ON support_server_watchers (organization_id, user_id);

-- A server's support settings; a server without a row has the defaults.
CREATE TABLE support_settings (
    mcp_server_id           TEXT PRIMARY KEY NOT NULL REFERENCES mcp_servers (id) ON DELETE CASCADE,
    organization_id         TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    categories              TEXT NOT NULL,
    auto_resolve_after_secs BIGINT,
    webhook_url             TEXT,
    -- Sealed with the master key (base64).
    webhook_secret          TEXT,
    updated_at              BIGINT NOT NULL
);

-- Outgoing webhook messages, kept until delivered or given up.
CREATE TABLE webhook_deliveries (
    id                TEXT PRIMARY KEY NOT NULL,
    organization_id   TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    mcp_server_id     TEXT NOT NULL REFERENCES mcp_servers (id) ON DELETE CASCADE,
    event_type        TEXT NOT NULL,
    payload           TEXT NOT NULL,
    created_at        BIGINT NOT NULL,
    -- NULL once delivered or given up.
    next_attempt_at   BIGINT,
    attempts          BIGINT NOT NULL DEFAULT 0,
    delivered_at      BIGINT,
    last_status       BIGINT,
    last_error        TEXT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE next_attempt_at IS NOT NULL;
CREATE INDEX webhook_deliveries_server ON webhook_deliveries (mcp_server_id, created_at);
