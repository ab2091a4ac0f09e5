//! The key-value state of plugins (`plugin_kv`), scoped to (tenant, plugin,
//! subject) by a [`KvScope`]: no method can reach outside its scope.
//!
//! Quotas (the WIT `kv` interface documents the same): a key is 1 to
//! [`MAX_KEY_BYTES`] bytes of UTF-8 without NUL, a value at most
//! [`MAX_VALUE_BYTES`], a scope at most [`MAX_KEYS_PER_SCOPE`] keys. The key
//! count is exact under concurrency: a write inserts, then counts, in one
//! transaction that holds a per-scope lock (a transaction-level advisory lock
//! on PostgreSQL; the database write lock, taken by the insert, on SQLite).

use sha2::{Digest, Sha256};
use sqlx::Row;

use super::plugins::validate_catalogue_id;
use super::{classify, Backend, Store, StoreError};
use crate::tenancy::plugins::KvScope;

/// Longest key, in bytes.
pub const MAX_KEY_BYTES: usize = 256;
/// Largest value, in bytes.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;
/// Most keys in one scope.
pub const MAX_KEYS_PER_SCOPE: i64 = 1000;

/// Why a key-value operation failed.
#[derive(Debug, thiserror::Error)]
pub enum KvError {
    /// The key is empty, too long or holds NUL.
    #[error("{0}")]
    InvalidKey(String),
    /// The value is too large or the scope is full.
    #[error("{0}")]
    QuotaExceeded(String),
    /// The database failed, or the scope names an unknown tenant or subject.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for KvError {
    fn from(e: sqlx::Error) -> Self {
        KvError::Store(StoreError::Database(e))
    }
}

fn validate_key(key: &str) -> Result<(), KvError> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES || key.contains('\0') {
        return Err(KvError::InvalidKey(format!(
            "key {key:?} is not valid: use 1 to {MAX_KEY_BYTES} bytes without NUL"
        )));
    }
    Ok(())
}

/// A 64-bit lock id for a scope (PostgreSQL advisory locks).
fn scope_lock_id(scope: &KvScope) -> i64 {
    let digest = Sha256::digest(format!(
        "centrale-kv\0{}\0{}\0{}",
        scope.tenant_id,
        scope.plugin_id,
        scope.subject_id.unwrap_or(0)
    ));
    let mut b = [0u8; 8];
    b.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(b)
}

impl Store {
    /// The value of `key` in `scope`, if set.
    pub async fn kv_get(&self, scope: &KvScope, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        validate_key(key)?;
        let row = sqlx::query(
            "SELECT value FROM plugin_kv \
             WHERE tenant_id = $1 AND plugin_id = $2 AND subject_key = $3 AND name = $4",
        )
        .bind(scope.tenant_id)
        .bind(&scope.plugin_id)
        .bind(scope.subject_id.unwrap_or(0))
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    /// Sets `key` to `value` in `scope`. [`KvError::QuotaExceeded`] when the
    /// value is too large or the key is new and the scope is full.
    pub async fn kv_set(&self, scope: &KvScope, key: &str, value: &[u8]) -> Result<(), KvError> {
        validate_key(key)?;
        validate_catalogue_id(&scope.plugin_id)?;
        if value.len() > MAX_VALUE_BYTES {
            return Err(KvError::QuotaExceeded(format!(
                "value of {} bytes exceeds the quota of {MAX_VALUE_BYTES} bytes",
                value.len()
            )));
        }
        let mut tx = self.pool.begin().await?;
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT 1 FROM (SELECT pg_advisory_xact_lock($1)) AS l")
                .bind(scope_lock_id(scope))
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "INSERT INTO plugin_kv (tenant_id, plugin_id, subject_id, subject_key, name, value, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (tenant_id, plugin_id, subject_key, name) DO UPDATE SET \
             value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(scope.tenant_id)
        .bind(&scope.plugin_id)
        .bind(scope.subject_id)
        .bind(scope.subject_id.unwrap_or(0))
        .bind(key)
        .bind(value.to_vec())
        .bind(crate::now_ms())
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            classify(e, String::new, || match scope.subject_id {
                Some(s) => format!("user {s} not found in tenant {}", scope.tenant_id),
                None => format!("tenant {} not found", scope.tenant_id),
            })
        })?;
        let count: i64 = sqlx::query(
            "SELECT COUNT(*) FROM plugin_kv WHERE tenant_id = $1 AND plugin_id = $2 AND subject_key = $3",
        )
        .bind(scope.tenant_id)
        .bind(&scope.plugin_id)
        .bind(scope.subject_id.unwrap_or(0))
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        if count > MAX_KEYS_PER_SCOPE {
            // dropping the transaction rolls the insert back
            return Err(KvError::QuotaExceeded(format!(
                "the scope already holds {MAX_KEYS_PER_SCOPE} keys, the quota"
            )));
        }
        tx.commit().await?;
        Ok(())
    }

    /// Removes `key` from `scope`; returns whether it was set.
    pub async fn kv_delete(&self, scope: &KvScope, key: &str) -> Result<bool, KvError> {
        validate_key(key)?;
        let done = sqlx::query(
            "DELETE FROM plugin_kv \
             WHERE tenant_id = $1 AND plugin_id = $2 AND subject_key = $3 AND name = $4",
        )
        .bind(scope.tenant_id)
        .bind(&scope.plugin_id)
        .bind(scope.subject_id.unwrap_or(0))
        .bind(key)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The keys of `scope` that start with `prefix` (all with `""`), sorted
    /// by their bytes (the same order on every database).
    pub async fn kv_list(&self, scope: &KvScope, prefix: &str) -> Result<Vec<String>, KvError> {
        if prefix.len() > MAX_KEY_BYTES || prefix.contains('\0') {
            return Ok(Vec::new());
        }
        // substr counts characters on both databases; LIKE would need
        // escaping and is case-insensitive on SQLite
        let rows = sqlx::query(
            "SELECT name FROM plugin_kv \
             WHERE tenant_id = $1 AND plugin_id = $2 AND subject_key = $3 \
             AND substr(name, 1, CAST($4 AS INTEGER)) = $5",
        )
        .bind(scope.tenant_id)
        .bind(&scope.plugin_id)
        .bind(scope.subject_id.unwrap_or(0))
        .bind(prefix.chars().count() as i64)
        .bind(prefix)
        .fetch_all(&self.pool)
        .await?;
        let mut keys = rows
            .iter()
            .map(|r| r.try_get::<String, _>(0))
            .collect::<Result<Vec<_>, _>>()?;
        keys.retain(|k| k.starts_with(prefix));
        keys.sort();
        Ok(keys)
    }

    /// Removes every key of `scope`; returns how many there were.
    pub async fn kv_clear(&self, scope: &KvScope) -> Result<u64, KvError> {
        let done = sqlx::query(
            "DELETE FROM plugin_kv WHERE tenant_id = $1 AND plugin_id = $2 AND subject_key = $3",
        )
        .bind(scope.tenant_id)
        .bind(&scope.plugin_id)
        .bind(scope.subject_id.unwrap_or(0))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_lock_ids() {
        assert!(validate_key("a").is_ok());
        assert!(validate_key(&"k".repeat(MAX_KEY_BYTES)).is_ok());
        assert!(validate_key("").is_err());
        assert!(validate_key(&"k".repeat(MAX_KEY_BYTES + 1)).is_err());
        assert!(validate_key("a\0b").is_err());
        let a = KvScope {
            tenant_id: 1,
            plugin_id: "x".into(),
            subject_id: Some(2),
        };
        let mut b = a.clone();
        b.subject_id = None;
        assert_ne!(scope_lock_id(&a), scope_lock_id(&b));
        assert_eq!(scope_lock_id(&a), scope_lock_id(&a.clone()));
    }
}
