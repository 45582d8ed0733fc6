-- Upstream identity providers of an organization. The client secret is sealed with the
-- master key (XChaCha20-Poly1305, base64 here) and never stored in the clear. OpenID Connect
-- providers keep only their issuer (endpoints come from discovery); OAuth 2.0 ones their
-- three endpoints.

CREATE TABLE identity_providers (
    id                      TEXT PRIMARY KEY NOT NULL,
    organization_id         TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name                    TEXT NOT NULL,
    kind                    TEXT NOT NULL CHECK (kind IN ('github', 'google', 'oidc', 'oauth2')),
    client_id               TEXT NOT NULL,
    client_secret_sealed    TEXT NOT NULL,
    issuer                  TEXT,
    authorization_endpoint  TEXT,
    token_endpoint          TEXT,
    userinfo_endpoint       TEXT,
    scopes                  TEXT NOT NULL,
    subject_claim           TEXT NOT NULL,
    email_claim             TEXT NOT NULL,
    name_claim              TEXT NOT NULL,
    created_at              BIGINT NOT NULL,
    updated_at              BIGINT NOT NULL,
    UNIQUE (organization_id, name),
    CHECK ((issuer IS NULL) = (authorization_endpoint IS NOT NULL
        AND token_endpoint IS NOT NULL AND userinfo_endpoint IS NOT NULL))
);
