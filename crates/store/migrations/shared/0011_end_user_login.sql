-- The built-in end-user login of `platform_oauth` servers (separate from dashboard accounts).
-- An address is proven with an emailed one-time code; a password can then be set for it, per
-- server. The code's hash is salted with its request; passwords are argon2id PHC strings.

CREATE TABLE end_user_passwords (
    mcp_server_id  TEXT NOT NULL REFERENCES mcp_servers (id) ON DELETE CASCADE,
    email          TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    PRIMARY KEY (mcp_server_id, email)
);

-- At most one live code per authorization request: asking again replaces it.
CREATE TABLE end_user_login_codes (
    authorization_request_id  TEXT PRIMARY KEY NOT NULL
        REFERENCES authorization_requests (id) ON DELETE CASCADE,
    mcp_server_id             TEXT NOT NULL REFERENCES mcp_servers (id) ON DELETE CASCADE,
    email                     TEXT NOT NULL,
    code_hash                 TEXT NOT NULL,
    attempts_left             BIGINT NOT NULL,
    created_at                BIGINT NOT NULL,
    expires_at                BIGINT NOT NULL
);
CREATE INDEX end_user_login_codes_expiry ON end_user_login_codes (expires_at);
