-- Round trips to upstream identity providers between redirect and callback. Found by the
-- SHA-256 of their `state`; consumed once; the PKCE verifier is sealed with the master key.

CREATE TABLE upstream_logins (
    id                    TEXT PRIMARY KEY NOT NULL,
    state_hash            TEXT NOT NULL UNIQUE,
    purpose               TEXT NOT NULL,
    organization_id       TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    provider_id           TEXT NOT NULL REFERENCES identity_providers (id) ON DELETE CASCADE,
    user_id               TEXT REFERENCES platform_users (id) ON DELETE CASCADE,
    pkce_verifier_sealed  TEXT NOT NULL,
    nonce                 TEXT,
    created_at            BIGINT NOT NULL,
    expires_at            BIGINT NOT NULL,
    consumed_at           BIGINT
);
CREATE INDEX upstream_logins_expiry ON upstream_logins (expires_at);
