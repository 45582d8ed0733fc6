-- Interactive walkthroughs: courses of ordered steps, their assignment to servers, and each end
-- user's way through them (progress now, events for analytics).

CREATE TABLE walkthroughs (
    id                 TEXT PRIMARY KEY NOT NULL,
    organization_id    TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    title              TEXT NOT NULL,
    description        TEXT NOT NULL,
    kind               TEXT NOT NULL
        CHECK (kind IN ('course', 'installer', 'troubleshooting', 'integration', 'quickstart')),
    status             TEXT NOT NULL CHECK (status IN ('draft', 'published', 'archived')),
    estimated_minutes  BIGINT,
    -- JSON: an array of strings, and an object kept from an imported file.
    tags               TEXT NOT NULL,
    metadata           TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);
CREATE INDEX walkthroughs_org ON walkthroughs (organization_id, updated_at);

-- Steps are numbered 0..n within their walkthrough; `content` is JSON tagged with its version.
CREATE TABLE walkthrough_steps (
    id                TEXT PRIMARY KEY NOT NULL,
    organization_id   TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    walkthrough_id    TEXT NOT NULL REFERENCES walkthroughs (id) ON DELETE CASCADE,
    title             TEXT NOT NULL,
    content           TEXT NOT NULL,
    display_order     BIGINT NOT NULL,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);
CREATE INDEX walkthrough_steps_order ON walkthrough_steps (walkthrough_id, display_order);

-- Which walkthroughs a server offers, in its order. `enabled` is 0 or 1 on both backends.
CREATE TABLE mcp_server_walkthroughs (
    mcp_server_id     TEXT NOT NULL REFERENCES mcp_servers (id) ON DELETE CASCADE,
    walkthrough_id    TEXT NOT NULL REFERENCES walkthroughs (id) ON DELETE CASCADE,
    organization_id   TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    display_order     BIGINT NOT NULL,
    enabled           BIGINT NOT NULL CHECK (enabled IN (0, 1)),
    created_at        BIGINT NOT NULL,
    PRIMARY KEY (mcp_server_id, walkthrough_id)
);
CREATE INDEX mcp_server_walkthroughs_walkthrough ON mcp_server_walkthroughs (walkthrough_id);

-- An end user's current attempt at a walkthrough. A restart clears its completions.
CREATE TABLE walkthrough_progress (
    end_user_id       TEXT NOT NULL REFERENCES end_users (id) ON DELETE CASCADE,
    walkthrough_id    TEXT NOT NULL REFERENCES walkthroughs (id) ON DELETE CASCADE,
    organization_id   TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    current_step_id   TEXT,
    last_server_id    TEXT NOT NULL,
    last_session_id   TEXT,
    started_at        BIGINT NOT NULL,
    last_activity_at  BIGINT NOT NULL,
    completed_at      BIGINT,
    PRIMARY KEY (end_user_id, walkthrough_id)
);
CREATE INDEX walkthrough_progress_walkthrough ON walkthrough_progress (walkthrough_id, last_activity_at);

CREATE TABLE walkthrough_step_completions (
    end_user_id       TEXT NOT NULL REFERENCES end_users (id) ON DELETE CASCADE,
    walkthrough_id    TEXT NOT NULL REFERENCES walkthroughs (id) ON DELETE CASCADE,
    step_id           TEXT NOT NULL REFERENCES walkthrough_steps (id) ON DELETE CASCADE,
    organization_id   TEXT NOT NULL,
    completed_at      BIGINT NOT NULL,
    PRIMARY KEY (end_user_id, walkthrough_id, step_id)
);

-- Everything that happened, kept through restarts and step deletions, for analytics. Server,
-- session and step are plain references: the history outlives them.
CREATE TABLE walkthrough_events (
    id                TEXT PRIMARY KEY NOT NULL,
    organization_id   TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    walkthrough_id    TEXT NOT NULL REFERENCES walkthroughs (id) ON DELETE CASCADE,
    end_user_id       TEXT NOT NULL REFERENCES end_users (id) ON DELETE CASCADE,
    mcp_server_id     TEXT NOT NULL,
    session_id        TEXT,
    kind              TEXT NOT NULL
        CHECK (kind IN ('started', 'restarted', 'step_completed', 'completed')),
    step_id           TEXT,
    at                BIGINT NOT NULL
);
CREATE INDEX walkthrough_events_walkthrough ON walkthrough_events (walkthrough_id, at);
CREATE INDEX walkthrough_events_user ON walkthrough_events (end_user_id, at);
