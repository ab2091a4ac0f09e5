-- Plugins, licences, enablement, suspensions, plugin key-value state and
-- schedules; PostgreSQL flavour (keep in step with ../sqlite/0002_plugins.sql).
-- Same portable types as 0001: BIGINT for integers, booleans (0/1) and times
-- (unix ms); TEXT for strings and JSON; BLOB (BYTEA) for bytes.
--
-- Nullable columns that belong to a key get a NOT NULL twin (`scope`,
-- `subject_key`: the id, or 0 for none) so that the primary key and
-- ON CONFLICT work the same on both databases, while the nullable column keeps
-- its foreign key (a NULL never references anything).

-- Component bytes, content-addressed by SHA-256 (hex). Kept in the database so
-- that every node of a shared PostgreSQL sees the same components; a blob
-- store can replace this table without changing `plugins`.
CREATE TABLE plugin_components (
    sha256     TEXT   NOT NULL PRIMARY KEY,
    wasm       BYTEA  NOT NULL,
    size       BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

-- The catalogue: one row per installed version. tenant_id NULL = installed by
-- the operator for every tenant; set = a private plugin of that tenant.
CREATE TABLE plugins (
    id          TEXT   NOT NULL,
    version     TEXT   NOT NULL,
    tenant_id   BIGINT REFERENCES tenants (id) ON DELETE CASCADE,
    -- COALESCE(tenant_id, 0)
    scope       BIGINT NOT NULL,
    manifest    TEXT   NOT NULL,
    wasm_sha256 TEXT   NOT NULL REFERENCES plugin_components (sha256),
    installed_at BIGINT NOT NULL,
    PRIMARY KEY (id, version, scope),
    CHECK (scope = COALESCE(tenant_id, 0))
);
CREATE INDEX plugins_tenant ON plugins (tenant_id);
CREATE INDEX plugins_component ON plugins (wasm_sha256);

-- Licences granted by the operator: how many subjects of the tenant may have
-- the plugin enabled (a tenant-wide enablement counts as one).
CREATE TABLE licences (
    tenant_id  BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    plugin_id  TEXT   NOT NULL,
    quantity   BIGINT NOT NULL CHECK (quantity >= 0),
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, plugin_id)
);

-- Assignments of a plugin to subjects (subject_id NULL = tenant-wide): whether
-- it is enabled and its settings (a JSON object). A row may exist only for its
-- settings (enabled = 0). Subjects are users for now.
CREATE TABLE plugin_assignments (
    tenant_id   BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    plugin_id   TEXT   NOT NULL,
    subject_id  BIGINT,
    -- COALESCE(subject_id, 0)
    subject_key BIGINT NOT NULL,
    enabled     BIGINT NOT NULL DEFAULT 0,
    settings    TEXT   NOT NULL DEFAULT '{}',
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, plugin_id, subject_key),
    CHECK (subject_key = COALESCE(subject_id, 0)),
    FOREIGN KEY (subject_id, tenant_id) REFERENCES users (id, tenant_id) ON DELETE CASCADE
);
CREATE INDEX plugin_assignments_subject ON plugin_assignments (tenant_id, subject_key);
CREATE INDEX plugin_assignments_user ON plugin_assignments (subject_id, tenant_id);

-- A plugin suspended for one tenant (e.g. it kept failing): it runs for no
-- subject of the tenant until unsuspended.
CREATE TABLE plugin_suspensions (
    tenant_id    BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    plugin_id    TEXT   NOT NULL,
    reason       TEXT   NOT NULL,
    suspended_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, plugin_id)
);

-- The key-value state of plugins, scoped to (tenant, plugin, subject);
-- subject_id NULL = the plugin's tenant-wide scope.
CREATE TABLE plugin_kv (
    tenant_id   BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    plugin_id   TEXT   NOT NULL,
    subject_id  BIGINT,
    -- COALESCE(subject_id, 0)
    subject_key BIGINT NOT NULL,
    name        TEXT   NOT NULL,
    value       BYTEA  NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, plugin_id, subject_key, name),
    CHECK (subject_key = COALESCE(subject_id, 0)),
    FOREIGN KEY (subject_id, tenant_id) REFERENCES users (id, tenant_id) ON DELETE CASCADE
);
CREATE INDEX plugin_kv_user ON plugin_kv (subject_id, tenant_id);

-- Named weekly schedules of a tenant (business hours, holidays), as JSON.
CREATE TABLE schedules (
    tenant_id  BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name       TEXT   NOT NULL,
    spec       TEXT   NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);
