-- Who did what, and when: organization changes (organization_id set) and account events such
-- as logins (organization_id NULL, actor_user_id set).

CREATE TABLE audit_events (
    id               TEXT PRIMARY KEY NOT NULL,
    organization_id  TEXT REFERENCES organizations (id) ON DELETE CASCADE,
    actor_user_id    TEXT REFERENCES platform_users (id) ON DELETE SET NULL,
    actor_label      TEXT NOT NULL,
    action           TEXT NOT NULL,
    target           TEXT NOT NULL,
    detail           TEXT NOT NULL,
    ip_address       TEXT,
    created_at       BIGINT NOT NULL
);
CREATE INDEX audit_events_org ON audit_events (organization_id, created_at);
CREATE INDEX audit_events_actor ON audit_events (actor_user_id, created_at);
