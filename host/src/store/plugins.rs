//! The plugin catalogue (`plugins`, `plugin_components`) and suspensions
//! (`plugin_suspensions`).
//!
//! A plugin version is immutable once installed. The component bytes are
//! stored once per content hash in `plugin_components`, in the database, so
//! that every node sharing a PostgreSQL database sees the same components
//! without a shared blob directory; the compiled form is cached by the runtime.
//!
//! A plugin id is unambiguous for every tenant: the operator's (public) ids
//! have no `@`; a tenant's private plugin is `<id>@<tenant domain>`, in its
//! own namespace. The newest approved version (semver precedence) is the
//! one new calls use.

use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::{classify, validate_text, Result, Store, StoreError};
use crate::tenancy::plugins::{compare_versions, is_version, InstalledPlugin, Suspension};

/// Largest component accepted (bytes).
pub const MAX_COMPONENT_BYTES: usize = 64 * 1024 * 1024;

/// Largest manifest accepted (bytes).
const MAX_MANIFEST_BYTES: usize = 256 * 1024;

/// Columns of an installed plugin, in the order [`plugin_from_row`] reads them.
pub(super) const PLUGIN_COLS: &str =
    "id, version, tenant_id, manifest, wasm_sha256, installed_at, approved";

pub(super) fn plugin_from_row(r: &AnyRow) -> Result<InstalledPlugin, sqlx::Error> {
    Ok(InstalledPlugin {
        id: r.try_get(0)?,
        version: r.try_get(1)?,
        tenant_id: r.try_get(2)?,
        manifest: r.try_get(3)?,
        wasm_sha256: r.try_get(4)?,
        installed_at: r.try_get(5)?,
        approved: r.try_get::<i64, _>(6)? != 0,
    })
}

/// Checks a catalogue id: a public one (see [`validate_plugin_id`]), or a
/// private one, `<id>@<domain>`.
pub(super) fn validate_catalogue_id(id: &str) -> Result<()> {
    match id.split_once('@') {
        Some((name, domain)) if !domain.is_empty() && domain.len() <= 253 => {
            validate_plugin_id(name)?;
            validate_text("plugin id", id, 320)
        }
        Some(_) => Err(StoreError::Invalid(format!(
            "plugin id {id:?} is not valid: a private id is <id>@<tenant domain>"
        ))),
        None => validate_plugin_id(id),
    }
}

/// Checks a plugin id: 1 to 64 lowercase ASCII letters, digits, `-`, `_`,
/// `.`, starting with a letter.
pub(super) fn validate_plugin_id(id: &str) -> Result<()> {
    let ok = id.len() <= 64
        && id.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "plugin id {id:?} is not valid: use up to 64 lowercase letters, digits, '-', '_' or '.', \
             starting with a letter"
        )))
    }
}

/// The newest version of each plugin id in `rows` (which may hold several
/// versions of several ids), sorted by id.
pub(super) fn newest_per_id(rows: Vec<InstalledPlugin>) -> Vec<InstalledPlugin> {
    let mut out: Vec<InstalledPlugin> = Vec::new();
    for p in rows {
        match out.iter_mut().find(|q| q.id == p.id) {
            Some(q) => {
                if newer(&p.version, &q.version) {
                    *q = p;
                }
            }
            None => out.push(p),
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// True when version `a` takes precedence over `b`.
pub(super) fn newer(a: &str, b: &str) -> bool {
    compare_versions(a, b) == Some(std::cmp::Ordering::Greater)
}

impl Store {
    /// Installs one version of a plugin: `tenant_id` `None` for every tenant
    /// (operator), `Some(t)` for a private plugin of tenant `t`, whose id
    /// must be in that tenant's namespace
    /// ([`private_plugin_id`](crate::tenancy::plugins::private_plugin_id)).
    /// `approved`: whether the version may run before the operator approves
    /// it (see [`InstalledPlugin::approved`]).
    ///
    /// The caller has validated the manifest and the component (the runtime's
    /// `Manifest` and `Runtime::load`); the store checks the id, the semantic
    /// version and the sizes, and refuses ([`StoreError::Conflict`]) a version
    /// already installed in that scope.
    pub async fn install_plugin(
        &self,
        tenant_id: Option<i64>,
        id: &str,
        version: &str,
        manifest: &str,
        wasm: &[u8],
        approved: bool,
    ) -> Result<InstalledPlugin> {
        validate_catalogue_id(id)?;
        match (tenant_id, id.split_once('@')) {
            (None, None) => {}
            (None, Some(_)) => {
                return Err(StoreError::Invalid(format!(
                    "plugin id {id:?}: '@' marks the private plugins of a tenant"
                )))
            }
            (Some(t), at) => {
                let tenant = self.require_tenant(t).await?;
                if at.map(|(_, d)| d) != Some(tenant.domain.as_str()) {
                    return Err(StoreError::Invalid(format!(
                        "plugin id {id:?}: a private plugin of {} is named <id>@{}",
                        tenant.domain, tenant.domain
                    )));
                }
            }
        }
        if !is_version(version) || version.len() > 64 {
            return Err(StoreError::Invalid(format!(
                "version {version:?} of plugin {id} is not a semantic version (e.g. 1.2.0)"
            )));
        }
        if manifest.len() > MAX_MANIFEST_BYTES || manifest.contains('\0') {
            return Err(StoreError::Invalid(format!(
                "the manifest of plugin {id} is larger than {MAX_MANIFEST_BYTES} bytes or holds NUL"
            )));
        }
        if wasm.is_empty() || wasm.len() > MAX_COMPONENT_BYTES {
            return Err(StoreError::Invalid(format!(
                "the component of plugin {id} has {} bytes: allowed are 1 to {MAX_COMPONENT_BYTES}",
                wasm.len()
            )));
        }
        if let Some(t) = tenant_id {
            self.require_tenant(t).await?;
        }
        let sha = hex::encode(Sha256::digest(wasm));
        let now = crate::now_ms();
        let mut tx = self.pool.begin().await?;
        // a write first: SQLite takes its write lock here (see licences.rs)
        sqlx::query(
            "INSERT INTO plugin_components (sha256, wasm, size, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (sha256) DO NOTHING",
        )
        .bind(&sha)
        .bind(wasm.to_vec())
        .bind(wasm.len() as i64)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO plugins (id, version, tenant_id, scope, manifest, wasm_sha256, installed_at, approved) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id)
        .bind(version)
        .bind(tenant_id)
        .bind(tenant_id.unwrap_or(0))
        .bind(manifest)
        .bind(&sha)
        .bind(now)
        .bind(i64::from(approved))
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            classify(
                e,
                || format!("plugin {id} {version} is already installed"),
                || format!("tenant {} not found", tenant_id.unwrap_or(0)),
            )
        })?;
        tx.commit().await?;
        Ok(InstalledPlugin {
            id: id.to_string(),
            version: version.to_string(),
            tenant_id,
            manifest: manifest.to_string(),
            wasm_sha256: sha,
            installed_at: now,
            approved,
        })
    }

    /// The operator approves a private plugin version of `tenant_id` (its
    /// capabilities): from the next call it may run.
    pub async fn approve_plugin_version(
        &self,
        tenant_id: i64,
        id: &str,
        version: &str,
    ) -> Result<()> {
        let done = sqlx::query(
            "UPDATE plugins SET approved = 1 WHERE id = $1 AND version = $2 AND scope = $3",
        )
        .bind(id)
        .bind(version)
        .bind(tenant_id)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!(
                "plugin {id} {version} is not a private plugin of tenant {tenant_id}"
            )));
        }
        Ok(())
    }

    /// Every installed version of plugin `id` that `tenant_id` can see
    /// (`None`: public plugins only), newest first.
    pub async fn plugin_versions(
        &self,
        tenant_id: Option<i64>,
        id: &str,
    ) -> Result<Vec<InstalledPlugin>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {PLUGIN_COLS} FROM plugins WHERE id = $1 AND scope IN (0, $2)"
        )))
        .bind(id)
        .bind(tenant_id.unwrap_or(0))
        .fetch_all(&self.pool)
        .await?;
        let mut list = rows
            .iter()
            .map(plugin_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        list.sort_by(|a, b| {
            compare_versions(&b.version, &a.version).unwrap_or(std::cmp::Ordering::Equal)
        });
        Ok(list)
    }

    /// The newest version of plugin `id` that `tenant_id` can see (`None`:
    /// public plugins only).
    pub async fn plugin(
        &self,
        tenant_id: Option<i64>,
        id: &str,
    ) -> Result<Option<InstalledPlugin>> {
        Ok(self
            .plugin_versions(tenant_id, id)
            .await?
            .into_iter()
            .next())
    }

    /// The newest version of every plugin `tenant_id` can see: the public
    /// ones and its private ones (`None`: public plugins only), by id.
    pub async fn list_plugins(&self, tenant_id: Option<i64>) -> Result<Vec<InstalledPlugin>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {PLUGIN_COLS} FROM plugins WHERE scope IN (0, $1)"
        )))
        .bind(tenant_id.unwrap_or(0))
        .fetch_all(&self.pool)
        .await?;
        let list = rows
            .iter()
            .map(plugin_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(newest_per_id(list))
    }

    /// Every version of every private plugin of `tenant_id`, by id then
    /// newest first (for the operator's approvals).
    pub async fn private_plugin_versions(&self, tenant_id: i64) -> Result<Vec<InstalledPlugin>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {PLUGIN_COLS} FROM plugins WHERE scope = $1 AND scope <> 0"
        )))
        .bind(tenant_id)
        .fetch_all(&self.pool)
        .await?;
        let mut list = rows
            .iter()
            .map(plugin_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        list.sort_by(|a, b| {
            a.id.cmp(&b.id)
                .then(compare_versions(&b.version, &a.version).unwrap_or(std::cmp::Ordering::Equal))
        });
        Ok(list)
    }

    /// The component bytes with this content hash (lowercase hex SHA-256).
    pub async fn plugin_component(&self, sha256: &str) -> Result<Option<Vec<u8>>> {
        let row = sqlx::query("SELECT wasm FROM plugin_components WHERE sha256 = $1")
            .bind(sha256)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    /// Removes one installed version (e.g. a faulty release, so that the
    /// previous one is used again) and its component when no other version
    /// uses it. Running sessions keep the version they loaded.
    pub async fn remove_plugin_version(
        &self,
        tenant_id: Option<i64>,
        id: &str,
        version: &str,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "DELETE FROM plugins WHERE id = $1 AND version = $2 AND scope = $3 RETURNING wasm_sha256",
        )
        .bind(id)
        .bind(version)
        .bind(tenant_id.unwrap_or(0))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Err(StoreError::NotFound(format!(
                "plugin {id} {version} is not installed"
            )));
        };
        let sha: String = row.try_get(0)?;
        sqlx::query(
            "DELETE FROM plugin_components WHERE sha256 = $1 \
             AND NOT EXISTS (SELECT 1 FROM plugins WHERE wasm_sha256 = $1)",
        )
        .bind(&sha)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Suspends a plugin for a tenant (it runs for none of its subjects until
    /// [`unsuspend_plugin`](Store::unsuspend_plugin)); a second call replaces
    /// the reason.
    pub async fn suspend_plugin(
        &self,
        tenant_id: i64,
        plugin_id: &str,
        reason: &str,
    ) -> Result<Suspension> {
        validate_catalogue_id(plugin_id)?;
        // keep the reason readable: bounded, one line
        let reason: String = reason
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(500)
            .collect();
        validate_text("suspension reason", &reason, 2000)?;
        let now = crate::now_ms();
        sqlx::query(
            "INSERT INTO plugin_suspensions (tenant_id, plugin_id, reason, suspended_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, plugin_id) DO UPDATE SET \
             reason = excluded.reason, suspended_at = excluded.suspended_at",
        )
        .bind(tenant_id)
        .bind(plugin_id)
        .bind(&reason)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(|e| classify(e, String::new, || format!("tenant {tenant_id} not found")))?;
        Ok(Suspension {
            tenant_id,
            plugin_id: plugin_id.to_string(),
            reason,
            suspended_at: now,
        })
    }

    /// Lifts a suspension; returns whether there was one.
    pub async fn unsuspend_plugin(&self, tenant_id: i64, plugin_id: &str) -> Result<bool> {
        let done =
            sqlx::query("DELETE FROM plugin_suspensions WHERE tenant_id = $1 AND plugin_id = $2")
                .bind(tenant_id)
                .bind(plugin_id)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The suspension of a plugin for a tenant, if any.
    pub async fn plugin_suspension(
        &self,
        tenant_id: i64,
        plugin_id: &str,
    ) -> Result<Option<Suspension>> {
        let row = sqlx::query(
            "SELECT tenant_id, plugin_id, reason, suspended_at FROM plugin_suspensions \
             WHERE tenant_id = $1 AND plugin_id = $2",
        )
        .bind(tenant_id)
        .bind(plugin_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| suspension_from_row(&r)).transpose()?)
    }

    /// The suspended plugins of a tenant, by plugin id.
    pub async fn list_suspensions(&self, tenant_id: i64) -> Result<Vec<Suspension>> {
        let rows = sqlx::query(
            "SELECT tenant_id, plugin_id, reason, suspended_at FROM plugin_suspensions \
             WHERE tenant_id = $1 ORDER BY plugin_id",
        )
        .bind(tenant_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(suspension_from_row)
            .collect::<Result<_, _>>()?)
    }
}

fn suspension_from_row(r: &AnyRow) -> Result<Suspension, sqlx::Error> {
    Ok(Suspension {
        tenant_id: r.try_get(0)?,
        plugin_id: r.try_get(1)?,
        reason: r.try_get(2)?,
        suspended_at: r.try_get(3)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_ids() {
        for ok in ["voicemail", "com.example.night-service", "a1_b"] {
            assert!(validate_plugin_id(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Voicemail", "1abc", "a b", "a/b", &"a".repeat(65)] {
            assert!(validate_plugin_id(bad).is_err(), "{bad}");
        }
    }
}
