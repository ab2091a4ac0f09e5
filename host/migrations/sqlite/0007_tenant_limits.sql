-- Limits the operator sets per tenant; 0 = no limit. A tenant without a
-- row has no limits.
CREATE TABLE tenant_limits (
    tenant_id            BIGINT NOT NULL PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    max_concurrent_calls BIGINT NOT NULL DEFAULT 0,
    max_calls_per_minute BIGINT NOT NULL DEFAULT 0,
    max_storage_bytes    BIGINT NOT NULL DEFAULT 0,
    updated_at           BIGINT NOT NULL
);
