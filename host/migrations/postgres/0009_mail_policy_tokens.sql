-- What a tenant's plugins may mail: from which address, to which domains
-- besides the tenant's own users' addresses. Set by the operator; a tenant
-- without a row mails its users only, from the host's address under the
-- tenant's name.
CREATE TABLE tenant_mail (
    tenant_id       BIGINT NOT NULL PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    from_address    TEXT   NOT NULL DEFAULT '',
    -- comma-separated, lowercase
    allowed_domains TEXT   NOT NULL DEFAULT '',
    updated_at      BIGINT NOT NULL
);

-- Bytes of the raw message, so that queued mail counts toward the tenant's
-- storage limit.
ALTER TABLE outbox ADD COLUMN size BIGINT NOT NULL DEFAULT 0;

-- Tokens may expire (unix ms; NULL = never).
ALTER TABLE api_tokens ADD COLUMN expires_at BIGINT;
