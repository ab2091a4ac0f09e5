-- Tokens of the admin REST API; sqlite flavour (keep in step with
-- ../postgres/0005_api_tokens.sql). Only the SHA-256 of a token is kept
-- (lowercase hex): the token itself is shown once, when it is created.
-- role: operator (no tenant, no user), admin (a tenant), user (a tenant
-- and one of its users). A token goes with its tenant or user.
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    token_sha256 TEXT   NOT NULL UNIQUE,
    role         TEXT   NOT NULL,
    tenant_id    BIGINT REFERENCES tenants (id) ON DELETE CASCADE,
    user_id      BIGINT,
    created_at   BIGINT NOT NULL,
    last_used    BIGINT,
    CHECK ((role = 'operator' AND tenant_id IS NULL AND user_id IS NULL)
        OR (role = 'admin' AND tenant_id IS NOT NULL)
        OR (role = 'user' AND tenant_id IS NOT NULL AND user_id IS NOT NULL)),
    FOREIGN KEY (user_id, tenant_id) REFERENCES users (id, tenant_id) ON DELETE CASCADE
);
