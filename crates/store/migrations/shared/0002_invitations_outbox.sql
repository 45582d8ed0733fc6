-- Invitations to join an organization, and the outbox of email the platform sends.

CREATE TABLE invitations (
    id               TEXT PRIMARY KEY NOT NULL,
    organization_id  TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email            TEXT NOT NULL,
    role             TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    token_hash       TEXT NOT NULL UNIQUE,
    invited_by       TEXT REFERENCES platform_users (id) ON DELETE SET NULL,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    accepted_at      BIGINT,
    revoked_at       BIGINT
);
CREATE INDEX invitations_org ON invitations (organization_id, created_at);
-- At most one open invitation per person and organization.
CREATE UNIQUE INDEX invitations_open ON invitations (organization_id, email)
    WHERE accepted_at IS NULL AND revoked_at IS NULL;

CREATE TABLE outbox_emails (
    id               TEXT PRIMARY KEY NOT NULL,
    organization_id  TEXT REFERENCES organizations (id) ON DELETE CASCADE,
    to_address       TEXT NOT NULL,
    subject          TEXT NOT NULL,
    body_text        TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    sent_at          BIGINT,
    attempts         BIGINT NOT NULL DEFAULT 0,
    last_error       TEXT,
    next_attempt_at  BIGINT NOT NULL
);
CREATE INDEX outbox_emails_org ON outbox_emails (organization_id, created_at);
CREATE INDEX outbox_emails_due ON outbox_emails (next_attempt_at) WHERE sent_at IS NULL;
