-- Every hosted server as an OAuth 2.1 authorization server: its clients, its end users, the
-- requests, consents, codes and tokens between them. Secrets and codes are stored only as
-- SHA-256 hex; upstream tokens are sealed with the master key.

-- RFC 7591 clients of one server (dynamic) or created by the organization (preregistered).
CREATE TABLE oauth_clients (
    client_id        TEXT PRIMARY KEY NOT NULL,
    organization_id  TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    mcp_server_id    TEXT NOT NULL REFERENCES mcp_servers (id) ON DELETE CASCADE,
    secret_hash      TEXT,
    metadata         TEXT NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('dynamic', 'preregistered')),
    created_at       BIGINT NOT NULL,
    revoked_at       BIGINT
);
CREATE INDEX oauth_clients_server ON oauth_clients (mcp_server_id, created_at);

-- People who signed in to an organization's servers. One person on two organizations is two
-- end users; within one, an identity (provider + subject) or a verified email finds them.
CREATE TABLE end_users (
    id                 TEXT PRIMARY KEY NOT NULL,
    organization_id    TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email              TEXT,
    email_verified_at  BIGINT,
    name               TEXT,
    profile            TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    last_login_at      BIGINT NOT NULL
);
CREATE INDEX end_users_org_email ON end_users (organization_id, email);
CREATE INDEX end_users_org_login ON end_users (organization_id, last_login_at);

-- `provider` is the organization identity provider's id, or `platform` for the built-in login.
CREATE TABLE end_user_identities (
    organization_id  TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    provider         TEXT NOT NULL,
    subject          TEXT NOT NULL,
    end_user_id      TEXT NOT NULL REFERENCES end_users (id) ON DELETE CASCADE,
    created_at       BIGINT NOT NULL,
    last_login_at    BIGINT NOT NULL,
    PRIMARY KEY (organization_id, provider, subject)
);
CREATE INDEX end_user_identities_user ON end_user_identities (end_user_id);

-- The customer IdP's tokens for an end user: kept here, never sent to clients.
CREATE TABLE upstream_tokens (
    end_user_id           TEXT NOT NULL REFERENCES end_users (id) ON DELETE CASCADE,
    identity_provider_id  TEXT NOT NULL REFERENCES identity_providers (id) ON DELETE CASCADE,
    access_token_sealed   TEXT NOT NULL,
    refresh_token_sealed  TEXT,
    expires_at            BIGINT,
    updated_at            BIGINT NOT NULL,
    PRIMARY KEY (end_user_id, identity_provider_id)
);

-- An end user's sign-in at one server's authorization pages (a cookie in their browser), so
-- that a client they already allowed gets its code without another login.
CREATE TABLE end_user_sessions (
    token_hash       TEXT PRIMARY KEY NOT NULL,
    organization_id  TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    mcp_server_id    TEXT NOT NULL REFERENCES mcp_servers (id) ON DELETE CASCADE,
    end_user_id      TEXT NOT NULL REFERENCES end_users (id) ON DELETE CASCADE,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL
);
CREATE INDEX end_user_sessions_user ON end_user_sessions (end_user_id);
CREATE INDEX end_user_sessions_expiry ON end_user_sessions (expires_at);

-- `/oauth/authorize` requests waiting for consent and login, bound to the browser's cookie.
CREATE TABLE authorization_requests (
    id                  TEXT PRIMARY KEY NOT NULL,
    organization_id     TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    mcp_server_id       TEXT NOT NULL REFERENCES mcp_servers (id) ON DELETE CASCADE,
    issuer              TEXT NOT NULL,
    client_id           TEXT NOT NULL,
    redirect_uri        TEXT NOT NULL,
    redirect_uri_given  BIGINT NOT NULL,
    scope               TEXT NOT NULL,
    resource            TEXT NOT NULL,
    state               TEXT,
    code_challenge      TEXT NOT NULL,
    browser_hash        TEXT NOT NULL,
    end_user_id         TEXT REFERENCES end_users (id) ON DELETE CASCADE,
    -- SHA-256 of the one-time secret that hands a finished sign-in back to the server's host.
    handoff_hash        TEXT,
    created_at          BIGINT NOT NULL,
    expires_at          BIGINT NOT NULL,
    completed_at        BIGINT
);
CREATE INDEX authorization_requests_expiry ON authorization_requests (expires_at);

-- Consent: an end user allowed a client these scopes on a server.
CREATE TABLE oauth_grants (
    mcp_server_id    TEXT NOT NULL REFERENCES mcp_servers (id) ON DELETE CASCADE,
    end_user_id      TEXT NOT NULL REFERENCES end_users (id) ON DELETE CASCADE,
    client_id        TEXT NOT NULL,
    organization_id  TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    scope            TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    PRIMARY KEY (mcp_server_id, end_user_id, client_id)
);

-- Everything issued from one code: revoked together (on code replay, refresh-token reuse,
-- RFC 7009 revocation, a revoked grant or client).
CREATE TABLE token_families (
    id               TEXT PRIMARY KEY NOT NULL,
    organization_id  TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    mcp_server_id    TEXT NOT NULL REFERENCES mcp_servers (id) ON DELETE CASCADE,
    issuer           TEXT NOT NULL,
    client_id        TEXT NOT NULL,
    end_user_id      TEXT NOT NULL REFERENCES end_users (id) ON DELETE CASCADE,
    scope            TEXT NOT NULL,
    resource         TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    last_used_at     BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    revoked_at       BIGINT,
    revoked_reason   TEXT
);
CREATE INDEX token_families_user ON token_families (mcp_server_id, end_user_id, client_id);

CREATE TABLE authorization_codes (
    code_hash           TEXT PRIMARY KEY NOT NULL,
    organization_id     TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    mcp_server_id       TEXT NOT NULL REFERENCES mcp_servers (id) ON DELETE CASCADE,
    issuer              TEXT NOT NULL,
    client_id           TEXT NOT NULL,
    end_user_id         TEXT NOT NULL REFERENCES end_users (id) ON DELETE CASCADE,
    redirect_uri        TEXT NOT NULL,
    redirect_uri_given  BIGINT NOT NULL,
    scope               TEXT NOT NULL,
    resource            TEXT NOT NULL,
    code_challenge      TEXT NOT NULL,
    family_id           TEXT NOT NULL,
    created_at          BIGINT NOT NULL,
    expires_at          BIGINT NOT NULL,
    used_at             BIGINT
);
CREATE INDEX authorization_codes_expiry ON authorization_codes (expires_at);

-- A family's refresh tokens: the newest is live, a rotated one presented again is reuse.
CREATE TABLE refresh_tokens (
    token_hash   TEXT PRIMARY KEY NOT NULL,
    family_id    TEXT NOT NULL REFERENCES token_families (id) ON DELETE CASCADE,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    rotated_at   BIGINT
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

-- End-user logins carry the authorization request they sign in for.
ALTER TABLE upstream_logins ADD COLUMN authorization_request_id TEXT
    REFERENCES authorization_requests (id) ON DELETE CASCADE;
