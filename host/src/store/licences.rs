//! Licences (`licences`) and assignments (`plugin_assignments`): which
//! subjects of a tenant have a plugin enabled, within the licensed quantity,
//! and which plugins run for a subject.
//!
//! **Race safety.** Every operation that can change the number of enabled
//! assignments of (tenant, plugin) starts its transaction by writing the
//! licence row (`UPDATE licences SET quantity = quantity ...`, or the grant's
//! upsert). On PostgreSQL that takes the row lock, so concurrent enables of
//! the same plugin in the same tenant run one after the other and each counts
//! the rows the previous one committed (read committed: every statement sees
//! the latest commits). On SQLite the first write of a transaction takes the
//! database's write lock (waiting up to the busy timeout) before anything is
//! read, so the count is never stale either.

use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::plugins::{newer, validate_catalogue_id};
use super::{classify, Result, Store, StoreError};
use crate::tenancy::plugins::{merge_settings, ActivePlugin, Assignment, Licence};

/// Largest settings document accepted (bytes of JSON).
pub const MAX_SETTINGS_BYTES: usize = 64 * 1024;

/// Largest quantity of a licence.
const MAX_QUANTITY: i64 = 1_000_000;

/// Checks that `json` is a JSON object of bounded size; returns it compacted.
fn normalise_settings(json: &str) -> Result<String> {
    if json.len() > MAX_SETTINGS_BYTES {
        return Err(StoreError::Invalid(format!(
            "settings are larger than {MAX_SETTINGS_BYTES} bytes"
        )));
    }
    match serde_json::from_str::<Value>(json) {
        Ok(v @ Value::Object(_)) => Ok(v.to_string()),
        Ok(_) => Err(StoreError::Invalid(
            "settings must be a JSON object, e.g. {\"greeting\": \"closed\"}".into(),
        )),
        Err(e) => Err(StoreError::Invalid(format!(
            "settings are not valid JSON: {e}"
        ))),
    }
}

fn assignment_from_row(r: &AnyRow) -> Result<Assignment, sqlx::Error> {
    Ok(Assignment {
        tenant_id: r.try_get(0)?,
        plugin_id: r.try_get(1)?,
        subject_id: r.try_get(2)?,
        enabled: r.try_get::<i64, _>(3)? != 0,
        settings_json: r.try_get(4)?,
        updated_at: r.try_get(5)?,
    })
}

const ASSIGNMENT_COLS: &str = "tenant_id, plugin_id, subject_id, enabled, settings, updated_at";

fn subject_missing(tenant_id: i64, subject_id: Option<i64>) -> String {
    match subject_id {
        Some(s) => format!("user {s} not found in tenant {tenant_id}"),
        None => format!("tenant {tenant_id} not found"),
    }
}

/// "allows 1 subject" / "allows 3 subjects".
fn subjects(n: i64) -> String {
    if n == 1 {
        "1 subject".into()
    } else {
        format!("{n} subjects")
    }
}

impl Store {
    /// Grants (or changes) the licence of a tenant for a plugin the tenant can
    /// see. `quantity` 0 revokes it without forgetting the assignments. A
    /// quantity below the number of enabled assignments is refused
    /// ([`StoreError::Conflict`]): disable some first, or revoke.
    pub async fn grant_licence(
        &self,
        tenant_id: i64,
        plugin_id: &str,
        quantity: i64,
    ) -> Result<Licence> {
        validate_catalogue_id(plugin_id)?;
        if !(0..=MAX_QUANTITY).contains(&quantity) {
            return Err(StoreError::Invalid(format!(
                "licence quantity {quantity} is not valid: use 0 to {MAX_QUANTITY}"
            )));
        }
        self.require_tenant(tenant_id).await?;
        if self.plugin(Some(tenant_id), plugin_id).await?.is_none() {
            return Err(StoreError::NotFound(format!(
                "plugin {plugin_id} is not installed for tenant {tenant_id}"
            )));
        }
        let now = crate::now_ms();
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO licences (tenant_id, plugin_id, quantity, granted_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (tenant_id, plugin_id) DO UPDATE SET quantity = excluded.quantity, \
             granted_at = excluded.granted_at",
        )
        .bind(tenant_id)
        .bind(plugin_id)
        .bind(quantity)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| classify(e, String::new, || format!("tenant {tenant_id} not found")))?;
        let used = count_enabled(&mut tx, tenant_id, plugin_id).await?;
        if quantity > 0 && used > quantity {
            return Err(StoreError::Conflict(format!(
                "{} have {plugin_id} enabled, more than the {quantity} asked for: \
                 disable some first, or revoke the licence with quantity 0",
                subjects(used)
            )));
        }
        tx.commit().await?;
        Ok(Licence {
            tenant_id,
            plugin_id: plugin_id.to_string(),
            quantity,
            used,
            granted_at: now,
        })
    }

    /// Removes a licence; the plugin stops running for the tenant with the
    /// next call. Assignments and settings are kept. Returns whether there
    /// was one.
    pub async fn revoke_licence(&self, tenant_id: i64, plugin_id: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM licences WHERE tenant_id = $1 AND plugin_id = $2")
            .bind(tenant_id)
            .bind(plugin_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The licence of a tenant for a plugin, with its `used` count.
    pub async fn licence(&self, tenant_id: i64, plugin_id: &str) -> Result<Option<Licence>> {
        Ok(self
            .list_licences(tenant_id)
            .await?
            .into_iter()
            .find(|l| l.plugin_id == plugin_id))
    }

    /// The licences of a tenant with their `used` counts, by plugin id.
    pub async fn list_licences(&self, tenant_id: i64) -> Result<Vec<Licence>> {
        let rows = sqlx::query(
            "SELECT l.tenant_id, l.plugin_id, l.quantity, \
             (SELECT COUNT(*) FROM plugin_assignments a WHERE a.tenant_id = l.tenant_id \
              AND a.plugin_id = l.plugin_id AND a.enabled = 1), l.granted_at \
             FROM licences l WHERE l.tenant_id = $1 ORDER BY l.plugin_id",
        )
        .bind(tenant_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Licence {
                    tenant_id: r.try_get(0)?,
                    plugin_id: r.try_get(1)?,
                    quantity: r.try_get(2)?,
                    used: r.try_get(3)?,
                    granted_at: r.try_get(4)?,
                })
            })
            .collect()
    }

    /// Enables a plugin for a subject (a user id), or tenant-wide with
    /// `subject_id` `None` (then it runs for every subject of the tenant).
    /// `settings` (a JSON object) replaces the stored settings when given.
    ///
    /// Each enabled assignment uses one unit of the licence. Enabling one more
    /// than the quantity gives [`StoreError::Conflict`] (`licence for voicemail
    /// allows 2 subjects; all are in use`); no licence gives
    /// [`StoreError::NotFound`]. Enabling an enabled assignment only updates
    /// its settings.
    pub async fn enable_plugin(
        &self,
        tenant_id: i64,
        plugin_id: &str,
        subject_id: Option<i64>,
        settings: Option<&str>,
    ) -> Result<Assignment> {
        let settings = settings.map(normalise_settings).transpose()?;
        let mut tx = self.pool.begin().await?;
        let quantity = lock_licence(&mut tx, tenant_id, plugin_id).await?;
        let current = sqlx::query(
            "SELECT enabled FROM plugin_assignments \
             WHERE tenant_id = $1 AND plugin_id = $2 AND subject_key = $3",
        )
        .bind(tenant_id)
        .bind(plugin_id)
        .bind(subject_id.unwrap_or(0))
        .fetch_optional(&mut *tx)
        .await?;
        let already = match current {
            Some(r) => r.try_get::<i64, _>(0)? != 0,
            None => false,
        };
        if !already {
            if quantity == 0 {
                return Err(StoreError::Conflict(format!(
                    "the licence for {plugin_id} is revoked (quantity 0)"
                )));
            }
            let used = count_enabled(&mut tx, tenant_id, plugin_id).await?;
            if used >= quantity {
                return Err(StoreError::Conflict(format!(
                    "licence for {plugin_id} allows {}; all are in use",
                    subjects(quantity)
                )));
            }
        }
        let a = upsert_assignment(
            &mut tx,
            tenant_id,
            plugin_id,
            subject_id,
            Some(true),
            settings,
        )
        .await?;
        tx.commit().await?;
        Ok(a)
    }

    /// Disables a plugin for a subject (or tenant-wide with `None`); its
    /// settings are kept. Returns whether it was enabled.
    pub async fn disable_plugin(
        &self,
        tenant_id: i64,
        plugin_id: &str,
        subject_id: Option<i64>,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE plugin_assignments SET enabled = 0, updated_at = $4 \
             WHERE tenant_id = $1 AND plugin_id = $2 AND subject_key = $3 AND enabled = 1",
        )
        .bind(tenant_id)
        .bind(plugin_id)
        .bind(subject_id.unwrap_or(0))
        .bind(crate::now_ms())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Stores the settings (a JSON object) of a subject, or the tenant-wide
    /// settings with `None`, without enabling anything. The tenant needs a
    /// licence for the plugin ([`StoreError::NotFound`] otherwise). The
    /// caller validates them against the manifest's schema.
    pub async fn set_plugin_settings(
        &self,
        tenant_id: i64,
        plugin_id: &str,
        subject_id: Option<i64>,
        settings: &str,
    ) -> Result<Assignment> {
        let settings = normalise_settings(settings)?;
        let mut tx = self.pool.begin().await?;
        lock_licence(&mut tx, tenant_id, plugin_id).await?;
        let a = upsert_assignment(
            &mut tx,
            tenant_id,
            plugin_id,
            subject_id,
            None,
            Some(settings),
        )
        .await?;
        tx.commit().await?;
        Ok(a)
    }

    /// The assignment of a plugin to a subject (tenant-wide with `None`).
    pub async fn plugin_assignment(
        &self,
        tenant_id: i64,
        plugin_id: &str,
        subject_id: Option<i64>,
    ) -> Result<Option<Assignment>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ASSIGNMENT_COLS} FROM plugin_assignments \
             WHERE tenant_id = $1 AND plugin_id = $2 AND subject_key = $3"
        )))
        .bind(tenant_id)
        .bind(plugin_id)
        .bind(subject_id.unwrap_or(0))
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| assignment_from_row(&r)).transpose()?)
    }

    /// The assignments of a plugin in a tenant, tenant-wide first, then by
    /// subject id.
    pub async fn list_plugin_assignments(
        &self,
        tenant_id: i64,
        plugin_id: &str,
    ) -> Result<Vec<Assignment>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ASSIGNMENT_COLS} FROM plugin_assignments \
             WHERE tenant_id = $1 AND plugin_id = $2 ORDER BY subject_key"
        )))
        .bind(tenant_id)
        .bind(plugin_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(assignment_from_row)
            .collect::<Result<_, _>>()?)
    }

    /// The settings in effect for a subject (`None`: tenant-wide only): its
    /// own merged over the tenant-wide ones, a JSON object (`{}` when none).
    pub async fn effective_plugin_settings(
        &self,
        tenant_id: i64,
        plugin_id: &str,
        subject_id: Option<i64>,
    ) -> Result<String> {
        let tenant = self.plugin_assignment(tenant_id, plugin_id, None).await?;
        let subject = match subject_id {
            Some(_) => {
                self.plugin_assignment(tenant_id, plugin_id, subject_id)
                    .await?
            }
            None => None,
        };
        Ok(merged(
            tenant.map(|a| a.settings_json).as_deref(),
            subject.map(|a| a.settings_json).as_deref(),
        ))
    }

    /// The plugins that run for `subject_id` of `tenant_id` now: enabled for
    /// the subject or tenant-wide, licensed (quantity > 0), not suspended, and
    /// installed in a version the tenant can see (the newest is used). By
    /// plugin id; the runtime orders hooks by the manifests' priorities.
    pub async fn active_plugins_for_subject(
        &self,
        tenant_id: i64,
        subject_id: i64,
    ) -> Result<Vec<ActivePlugin>> {
        let rows = sqlx::query(
            "SELECT p.id, p.version, p.manifest, p.wasm_sha256, s.settings, w.settings \
             FROM licences l \
             JOIN plugins p ON p.id = l.plugin_id AND p.scope IN (0, l.tenant_id) \
               AND p.approved = 1 \
             LEFT JOIN plugin_assignments s ON s.tenant_id = l.tenant_id \
               AND s.plugin_id = l.plugin_id AND s.subject_key = $2 \
             LEFT JOIN plugin_assignments w ON w.tenant_id = l.tenant_id \
               AND w.plugin_id = l.plugin_id AND w.subject_key = 0 \
             WHERE l.tenant_id = $1 AND l.quantity > 0 \
               AND (s.enabled = 1 OR w.enabled = 1) \
               AND NOT EXISTS (SELECT 1 FROM plugin_suspensions x \
                 WHERE x.tenant_id = l.tenant_id AND x.plugin_id = l.plugin_id)",
        )
        .bind(tenant_id)
        .bind(subject_id)
        .fetch_all(&self.pool)
        .await?;
        let mut out: Vec<ActivePlugin> = Vec::new();
        for r in &rows {
            // the settings come from the assignments: the same for every version
            let subject: Option<String> = r.try_get(4)?;
            let tenant: Option<String> = r.try_get(5)?;
            let p = ActivePlugin {
                plugin_id: r.try_get(0)?,
                version: r.try_get(1)?,
                manifest: r.try_get(2)?,
                wasm_sha256: r.try_get(3)?,
                settings_json: merged(tenant.as_deref(), subject.as_deref()),
            };
            match out.iter_mut().find(|q| q.plugin_id == p.plugin_id) {
                Some(q) => {
                    if newer(&p.version, &q.version) {
                        *q = p;
                    }
                }
                None => out.push(p),
            }
        }
        out.sort_by(|a, b| a.plugin_id.cmp(&b.plugin_id));
        Ok(out)
    }
}

/// `subject` settings merged over `tenant` settings (both JSON objects as
/// stored), as JSON text.
fn merged(tenant: Option<&str>, subject: Option<&str>) -> String {
    let parse = |s: Option<&str>| {
        s.and_then(|s| serde_json::from_str::<Value>(s).ok())
            .unwrap_or_else(|| Value::Object(Default::default()))
    };
    merge_settings(&parse(tenant), &parse(subject)).to_string()
}

/// Takes the licence row's lock (see the module documentation) and returns
/// its quantity; [`StoreError::NotFound`] when there is no licence.
async fn lock_licence(
    tx: &mut Transaction<'static, Any>,
    tenant_id: i64,
    plugin_id: &str,
) -> Result<i64> {
    let done = sqlx::query(
        "UPDATE licences SET quantity = quantity WHERE tenant_id = $1 AND plugin_id = $2",
    )
    .bind(tenant_id)
    .bind(plugin_id)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound(format!(
            "tenant {tenant_id} has no licence for plugin {plugin_id}: \
             the operator grants one with `centrale licence grant`"
        )));
    }
    let row = sqlx::query("SELECT quantity FROM licences WHERE tenant_id = $1 AND plugin_id = $2")
        .bind(tenant_id)
        .bind(plugin_id)
        .fetch_one(&mut **tx)
        .await?;
    Ok(row.try_get(0)?)
}

async fn count_enabled(
    tx: &mut Transaction<'static, Any>,
    tenant_id: i64,
    plugin_id: &str,
) -> Result<i64> {
    let row = sqlx::query(
        "SELECT COUNT(*) FROM plugin_assignments \
         WHERE tenant_id = $1 AND plugin_id = $2 AND enabled = 1",
    )
    .bind(tenant_id)
    .bind(plugin_id)
    .fetch_one(&mut **tx)
    .await?;
    Ok(row.try_get(0)?)
}

/// Inserts or updates an assignment: `enabled` and `settings` are set when
/// given, kept (or defaulted to disabled / `{}`) otherwise.
async fn upsert_assignment(
    tx: &mut Transaction<'static, Any>,
    tenant_id: i64,
    plugin_id: &str,
    subject_id: Option<i64>,
    enabled: Option<bool>,
    settings: Option<String>,
) -> Result<Assignment> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO plugin_assignments \
         (tenant_id, plugin_id, subject_id, subject_key, enabled, settings, updated_at) \
         VALUES ($1, $2, $3, $4, COALESCE($5, 0), COALESCE($6, '{{}}'), $7) \
         ON CONFLICT (tenant_id, plugin_id, subject_key) DO UPDATE SET \
         enabled = COALESCE($5, plugin_assignments.enabled), \
         settings = COALESCE($6, plugin_assignments.settings), updated_at = $7 \
         RETURNING {ASSIGNMENT_COLS}"
    )))
    .bind(tenant_id)
    .bind(plugin_id)
    .bind(subject_id)
    .bind(subject_id.unwrap_or(0))
    .bind(enabled.map(i64::from))
    .bind(settings)
    .bind(crate::now_ms())
    .fetch_one(&mut **tx)
    .await
    .map_err(|e| classify(e, String::new, || subject_missing(tenant_id, subject_id)))?;
    Ok(assignment_from_row(&row)?)
}
