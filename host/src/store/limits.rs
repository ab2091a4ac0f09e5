//! Tenant limits (`tenant_limits`): what the operator allows a tenant —
//! concurrent calls, new calls per minute, stored bytes. 0 means no limit;
//! a tenant without a row has none.

use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::{Result, Store, StoreError};

/// A tenant's limits; 0 = no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantLimits {
    /// Calls of the tenant (from or to it) in progress at once.
    pub max_concurrent_calls: i64,
    /// New calls of the tenant per minute.
    pub max_calls_per_minute: i64,
    /// Bytes the tenant stores: plugin blobs (recordings, greetings),
    /// plugin key-value state, queued mail and its private plugins'
    /// components (see [`StorageUsage`]).
    pub max_storage_bytes: i64,
}

/// What a tenant stores, bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StorageUsage {
    /// Plugin blobs (recordings, greetings, faxes).
    pub blobs: u64,
    /// Plugin key-value values.
    pub kv: u64,
    /// Mail not yet delivered (queued or given up).
    pub outbox: u64,
    /// Components of the tenant's private plugins.
    pub components: u64,
}

impl StorageUsage {
    /// Everything.
    pub fn total(&self) -> u64 {
        self.blobs
            .saturating_add(self.kv)
            .saturating_add(self.outbox)
            .saturating_add(self.components)
    }
}

impl TenantLimits {
    /// Refuses negative values, naming the field.
    pub fn validate(&self) -> std::result::Result<(), (&'static str, String)> {
        for (field, v) in [
            ("max_concurrent_calls", self.max_concurrent_calls),
            ("max_calls_per_minute", self.max_calls_per_minute),
            ("max_storage_bytes", self.max_storage_bytes),
        ] {
            if v < 0 {
                return Err((field, format!("{field} must be 0 (no limit) or more")));
            }
        }
        Ok(())
    }
}

impl Store {
    /// The tenant's limits (all 0 when none were set).
    pub async fn tenant_limits(&self, tenant_id: i64) -> Result<TenantLimits> {
        let row = sqlx::query(
            "SELECT max_concurrent_calls, max_calls_per_minute, max_storage_bytes \
             FROM tenant_limits WHERE tenant_id = $1",
        )
        .bind(tenant_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            None => TenantLimits::default(),
            Some(r) => TenantLimits {
                max_concurrent_calls: r.try_get(0)?,
                max_calls_per_minute: r.try_get(1)?,
                max_storage_bytes: r.try_get(2)?,
            },
        })
    }

    /// Sets the tenant's limits.
    pub async fn set_tenant_limits(&self, tenant_id: i64, limits: &TenantLimits) -> Result<()> {
        limits.validate().map_err(|(_, m)| StoreError::Invalid(m))?;
        if self.tenant(tenant_id).await?.is_none() {
            return Err(StoreError::NotFound(format!(
                "tenant {tenant_id} not found"
            )));
        }
        sqlx::query(
            "INSERT INTO tenant_limits \
             (tenant_id, max_concurrent_calls, max_calls_per_minute, max_storage_bytes, updated_at) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (tenant_id) DO UPDATE SET \
             max_concurrent_calls = excluded.max_concurrent_calls, \
             max_calls_per_minute = excluded.max_calls_per_minute, \
             max_storage_bytes = excluded.max_storage_bytes, updated_at = excluded.updated_at",
        )
        .bind(tenant_id)
        .bind(limits.max_concurrent_calls)
        .bind(limits.max_calls_per_minute)
        .bind(limits.max_storage_bytes)
        .bind(crate::now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Everything the tenant stores (see [`StorageUsage`]).
    pub async fn tenant_storage_usage(&self, tenant_id: i64) -> Result<StorageUsage> {
        let one = |sql: &'static str| async move {
            let row = sqlx::query(sql)
                .bind(tenant_id)
                .fetch_one(&self.pool)
                .await?;
            Ok::<u64, StoreError>(u64::try_from(row.try_get::<i64, _>(0)?).unwrap_or(0))
        };
        Ok(StorageUsage {
            blobs: self.tenant_blob_usage(tenant_id).await?,
            kv: one(
                "SELECT CAST(COALESCE(SUM(LENGTH(value)), 0) AS BIGINT) FROM plugin_kv \
                 WHERE tenant_id = $1",
            )
            .await?,
            outbox: one("SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM outbox \
                 WHERE tenant_id = $1 AND status <> 'sent'")
            .await?,
            components: one(
                "SELECT CAST(COALESCE(SUM(c.size), 0) AS BIGINT) FROM plugin_components c \
                 WHERE c.sha256 IN (SELECT p.wasm_sha256 FROM plugins p WHERE p.scope = $1 \
                 AND p.scope <> 0)",
            )
            .await?,
        })
    }

    /// Whether storing `more` bytes keeps the tenant within its storage
    /// limit (always, when it has none).
    pub async fn tenant_storage_allows(&self, tenant_id: i64, more: u64) -> Result<bool> {
        let limit = self.tenant_limits(tenant_id).await?.max_storage_bytes;
        if limit <= 0 {
            return Ok(true);
        }
        let used = self.tenant_storage_usage(tenant_id).await?.total();
        Ok(used.saturating_add(more) <= u64::try_from(limit).unwrap_or(u64::MAX))
    }

    /// Bytes of all plugin blobs of the tenant.
    pub async fn tenant_blob_usage(&self, tenant_id: i64) -> Result<u64> {
        let row = sqlx::query(
            "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM plugin_blobs WHERE tenant_id = $1",
        )
        .bind(tenant_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(u64::try_from(row.try_get::<i64, _>(0)?).unwrap_or(0))
    }
}
