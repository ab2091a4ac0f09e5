-- Plugin blob metadata and the mail outbox; SQLite flavour (keep in step with
-- ../postgres/0003_mail_blobs.sql). Same portable types as 0001: BIGINT for
-- integers and times (unix ms), TEXT for strings and JSON. The bytes live in
-- the content-addressed blob store (`<data_dir>/blobs`), named by their
-- SHA-256 (hex); these tables hold the names.

-- Named blobs of a plugin (greetings, recordings, faxes), scoped to (tenant,
-- plugin, subject); subject_id 0 = the plugin's tenant-wide scope.
CREATE TABLE plugin_blobs (
    tenant_id  BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    plugin_id  TEXT   NOT NULL,
    subject_id BIGINT NOT NULL DEFAULT 0,
    name       TEXT   NOT NULL,
    sha256     TEXT   NOT NULL,
    size       BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, plugin_id, subject_id, name)
);
CREATE INDEX plugin_blobs_sha256 ON plugin_blobs (sha256);

-- Outgoing mail: the raw RFC 5322 message is the blob `sha256`; recipients
-- is a JSON list of addresses (the SMTP envelope). tenant_id is not a foreign
-- key: queued mail outlives its tenant, and 0 is the operator. status is
-- 'queued', 'sent' or 'failed' (gave up after the configured attempts).
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id       BIGINT NOT NULL,
    mail_from       TEXT   NOT NULL,
    recipients      TEXT   NOT NULL,
    sha256          TEXT   NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    status          TEXT   NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'sent', 'failed')),
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    sent_at         BIGINT
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_tenant ON outbox (tenant_id, created_at);
CREATE INDEX outbox_sha256 ON outbox (sha256);
