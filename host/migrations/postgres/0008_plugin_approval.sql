-- Private plugins: capabilities approved per version by the operator, and
-- ids namespaced per tenant (`<id>@<tenant domain>`), so that a tenant can
-- neither widen what an approved plugin may do by uploading a new version,
-- nor squat an id the operator installs later.
ALTER TABLE plugins ADD COLUMN approved BIGINT NOT NULL DEFAULT 1;

-- Existing private plugins move into their tenant's namespace, with
-- everything that names them.
UPDATE licences SET plugin_id = plugin_id || '@' ||
    (SELECT t.domain FROM tenants t WHERE t.id = licences.tenant_id)
  WHERE plugin_id NOT LIKE '%@%'
    AND plugin_id IN (SELECT p.id FROM plugins p WHERE p.scope = licences.tenant_id);
UPDATE plugin_assignments SET plugin_id = plugin_id || '@' ||
    (SELECT t.domain FROM tenants t WHERE t.id = plugin_assignments.tenant_id)
  WHERE plugin_id NOT LIKE '%@%'
    AND plugin_id IN (SELECT p.id FROM plugins p WHERE p.scope = plugin_assignments.tenant_id);
UPDATE plugin_suspensions SET plugin_id = plugin_id || '@' ||
    (SELECT t.domain FROM tenants t WHERE t.id = plugin_suspensions.tenant_id)
  WHERE plugin_id NOT LIKE '%@%'
    AND plugin_id IN (SELECT p.id FROM plugins p WHERE p.scope = plugin_suspensions.tenant_id);
UPDATE plugin_kv SET plugin_id = plugin_id || '@' ||
    (SELECT t.domain FROM tenants t WHERE t.id = plugin_kv.tenant_id)
  WHERE plugin_id NOT LIKE '%@%'
    AND plugin_id IN (SELECT p.id FROM plugins p WHERE p.scope = plugin_kv.tenant_id);
UPDATE plugin_blobs SET plugin_id = plugin_id || '@' ||
    (SELECT t.domain FROM tenants t WHERE t.id = plugin_blobs.tenant_id)
  WHERE plugin_id NOT LIKE '%@%'
    AND plugin_id IN (SELECT p.id FROM plugins p WHERE p.scope = plugin_blobs.tenant_id);
UPDATE plugin_prompts SET plugin_id = plugin_id || '@' ||
    (SELECT t.domain FROM tenants t WHERE t.id = plugin_prompts.scope)
  WHERE scope <> 0 AND plugin_id NOT LIKE '%@%';
UPDATE plugins SET id = id || '@' ||
    (SELECT t.domain FROM tenants t WHERE t.id = plugins.tenant_id)
  WHERE scope <> 0 AND id NOT LIKE '%@%';
