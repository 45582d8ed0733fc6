-- The platform's token signing keys (ES256). The private key is sealed with the master key;
-- the public point is what the JWKS publishes.

CREATE TABLE signing_keys (
    kid                  TEXT PRIMARY KEY NOT NULL,
    algorithm            TEXT NOT NULL CHECK (algorithm IN ('ES256')),
    private_key_sealed   TEXT NOT NULL,
    public_x             TEXT NOT NULL,
    public_y             TEXT NOT NULL,
    created_at           BIGINT NOT NULL,
    activates_at         BIGINT NOT NULL,
    published_until      BIGINT NOT NULL
);
CREATE INDEX signing_keys_published ON signing_keys (published_until);
