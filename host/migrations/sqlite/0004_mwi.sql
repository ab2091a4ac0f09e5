-- Message-waiting state per user (RFC 3842); sqlite flavour (keep in step with
-- ../postgres/0004_mwi.sql). Set by the voicemail plugin through the
-- host (Switch::notify_mwi) or by `centrale mwi set`; the host tells the
-- user's devices with NOTIFY message-summary. updated_at (unix ms) grows with
-- every write, so a running host can notice writes made by other processes.
CREATE TABLE mwi_state (
    tenant_id    BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id      BIGINT NOT NULL,
    new_messages BIGINT NOT NULL DEFAULT 0,
    old_messages BIGINT NOT NULL DEFAULT 0,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, user_id),
    FOREIGN KEY (user_id, tenant_id) REFERENCES users (id, tenant_id) ON DELETE CASCADE
);
CREATE INDEX mwi_state_updated ON mwi_state (updated_at);
