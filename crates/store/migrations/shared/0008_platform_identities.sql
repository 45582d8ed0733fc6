-- Dashboard login with outside providers, and MCP servers that sign their users in through an
-- organization's identity provider.

-- Round trips now also go to the platform's own login providers (named by configuration key),
-- which have no row of their own. The table only holds logins of the last ten minutes, so it
-- is rebuilt rather than copied.
DROP TABLE upstream_logins;
CREATE TABLE upstream_logins (
    id                    TEXT PRIMARY KEY NOT NULL,
    state_hash            TEXT NOT NULL UNIQUE,
    purpose               TEXT NOT NULL,
    organization_id       TEXT REFERENCES organizations (id) ON DELETE CASCADE,
    provider_id           TEXT REFERENCES identity_providers (id) ON DELETE CASCADE,
    platform_provider     TEXT,
    user_id               TEXT REFERENCES platform_users (id) ON DELETE CASCADE,
    pkce_verifier_sealed  TEXT NOT NULL,
    nonce                 TEXT,
    created_at            BIGINT NOT NULL,
    expires_at            BIGINT NOT NULL,
    consumed_at           BIGINT,
    CHECK ((organization_id IS NULL) = (provider_id IS NULL)),
    CHECK ((provider_id IS NULL) <> (platform_provider IS NULL))
);
CREATE INDEX upstream_logins_expiry ON upstream_logins (expires_at);

-- A dashboard account's sign-ins with outside providers: `provider` is `github`, `google` or
-- `oidc:{issuer}`, `subject` the provider's stable id for the person.
CREATE TABLE platform_user_identities (
    provider       TEXT NOT NULL,
    subject        TEXT NOT NULL,
    user_id        TEXT NOT NULL REFERENCES platform_users (id) ON DELETE CASCADE,
    email          TEXT,
    created_at     BIGINT NOT NULL,
    last_login_at  BIGINT NOT NULL,
    PRIMARY KEY (provider, subject)
);
CREATE INDEX platform_user_identities_user ON platform_user_identities (user_id);

-- `custom_oauth` servers name the provider their users sign in with; a provider in use cannot
-- be deleted.
ALTER TABLE mcp_servers ADD COLUMN identity_provider_id TEXT REFERENCES identity_providers (id);
CREATE INDEX mcp_servers_identity_provider ON mcp_servers (identity_provider_id);
