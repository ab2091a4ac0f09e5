//! Named blobs of plugins (`plugin_blobs`): greetings, recordings, faxes.
//!
//! The bytes are in the [`BlobStore`](super::BlobStore); a row names a blob
//! inside a (tenant, plugin, subject) [`KvScope`], like the key-value state:
//! every query is keyed by the scope's tenant, so no tenant sees another's
//! names. The subject column is 0 for the plugin's tenant-wide scope.
//!
//! Blobs are shared by content: the same bytes stored under two names (or by
//! the outbox) are one file. Before removing a file, a caller asks
//! [`Store::blob_is_referenced`].

use sqlx::any::AnyRow;
use sqlx::Row;

use super::plugins::validate_catalogue_id;
use super::{classify, Result, Store, StoreError};
use crate::tenancy::plugins::KvScope;

/// Longest blob name, in bytes.
pub const MAX_BLOB_NAME_BYTES: usize = 256;

/// What a plugin blob name points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobRef {
    /// The blob's name in the blob store (SHA-256, lowercase hex).
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
    /// When the name was (last) set, unix ms.
    pub created_at: i64,
}

fn validate_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > MAX_BLOB_NAME_BYTES || name.contains('\0') {
        return Err(StoreError::Invalid(format!(
            "blob name {name:?} is not valid: use 1 to {MAX_BLOB_NAME_BYTES} bytes without NUL"
        )));
    }
    Ok(())
}

fn validate_sha(sha: &str) -> Result<()> {
    if sha.len() == 64
        && sha
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "blob {sha:?} is not a SHA-256: use 64 lowercase hex digits"
        )))
    }
}

fn size_of(r: &AnyRow, i: usize) -> Result<u64, sqlx::Error> {
    Ok(u64::try_from(r.try_get::<i64, _>(i)?).unwrap_or(0))
}

impl Store {
    /// Points `name` of `scope` at blob `sha256` of `size` bytes (already in
    /// the blob store). Returns the blob the name pointed at before, if any
    /// and different, so the caller can remove it when unreferenced.
    pub async fn plugin_blob_put(
        &self,
        scope: &KvScope,
        name: &str,
        sha256: &str,
        size: u64,
    ) -> Result<Option<String>> {
        validate_name(name)?;
        validate_sha(sha256)?;
        validate_catalogue_id(&scope.plugin_id)?;
        let size = i64::try_from(size)
            .map_err(|_| StoreError::Invalid(format!("blob size {size} is too large")))?;
        let mut tx = self.pool.begin().await?;
        let old: Option<String> = sqlx::query(
            "SELECT sha256 FROM plugin_blobs \
             WHERE tenant_id = $1 AND plugin_id = $2 AND subject_id = $3 AND name = $4",
        )
        .bind(scope.tenant_id)
        .bind(&scope.plugin_id)
        .bind(scope.subject_id.unwrap_or(0))
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| r.try_get(0))
        .transpose()?;
        sqlx::query(
            "INSERT INTO plugin_blobs (tenant_id, plugin_id, subject_id, name, sha256, size, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (tenant_id, plugin_id, subject_id, name) DO UPDATE SET \
             sha256 = excluded.sha256, size = excluded.size, created_at = excluded.created_at",
        )
        .bind(scope.tenant_id)
        .bind(&scope.plugin_id)
        .bind(scope.subject_id.unwrap_or(0))
        .bind(name)
        .bind(sha256)
        .bind(size)
        .bind(crate::now_ms())
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            classify(e, String::new, || {
                format!("tenant {} not found", scope.tenant_id)
            })
        })?;
        tx.commit().await?;
        Ok(old.filter(|o| o != sha256))
    }

    /// The blob `name` of `scope` points at.
    pub async fn plugin_blob_get(&self, scope: &KvScope, name: &str) -> Result<Option<BlobRef>> {
        validate_name(name)?;
        let row = sqlx::query(
            "SELECT sha256, size, created_at FROM plugin_blobs \
             WHERE tenant_id = $1 AND plugin_id = $2 AND subject_id = $3 AND name = $4",
        )
        .bind(scope.tenant_id)
        .bind(&scope.plugin_id)
        .bind(scope.subject_id.unwrap_or(0))
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        Ok(Some(BlobRef {
            sha256: r.try_get(0)?,
            size: size_of(&r, 1)?,
            created_at: r.try_get(2)?,
        }))
    }

    /// Removes `name` from `scope`; returns the blob it pointed at (the
    /// caller removes the file when [`Store::blob_is_referenced`] says no).
    pub async fn plugin_blob_delete(&self, scope: &KvScope, name: &str) -> Result<Option<String>> {
        validate_name(name)?;
        let row = sqlx::query(
            "DELETE FROM plugin_blobs \
             WHERE tenant_id = $1 AND plugin_id = $2 AND subject_id = $3 AND name = $4 \
             RETURNING sha256",
        )
        .bind(scope.tenant_id)
        .bind(&scope.plugin_id)
        .bind(scope.subject_id.unwrap_or(0))
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    /// The names of `scope` that start with `prefix` (all with `""`) and
    /// what they point at, sorted by name bytes.
    pub async fn plugin_blob_list(
        &self,
        scope: &KvScope,
        prefix: &str,
    ) -> Result<Vec<(String, BlobRef)>> {
        if prefix.len() > MAX_BLOB_NAME_BYTES || prefix.contains('\0') {
            return Ok(Vec::new());
        }
        // substr counts characters on both databases; LIKE would need
        // escaping and is case-insensitive on SQLite
        let rows = sqlx::query(
            "SELECT name, sha256, size, created_at FROM plugin_blobs \
             WHERE tenant_id = $1 AND plugin_id = $2 AND subject_id = $3 \
             AND substr(name, 1, CAST($4 AS INTEGER)) = $5",
        )
        .bind(scope.tenant_id)
        .bind(&scope.plugin_id)
        .bind(scope.subject_id.unwrap_or(0))
        .bind(prefix.chars().count() as i64)
        .bind(prefix)
        .fetch_all(&self.pool)
        .await?;
        let mut list = rows
            .iter()
            .map(|r| {
                Ok((
                    r.try_get::<String, _>(0)?,
                    BlobRef {
                        sha256: r.try_get(1)?,
                        size: size_of(r, 2)?,
                        created_at: r.try_get(3)?,
                    },
                ))
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        list.retain(|(n, _)| n.starts_with(prefix));
        list.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(list)
    }

    /// Total bytes of the blobs named in `scope` (a blob named twice counts
    /// twice), for quotas.
    pub async fn plugin_blob_usage(&self, scope: &KvScope) -> Result<u64> {
        let total: Option<i64> = sqlx::query(
            "SELECT CAST(SUM(size) AS BIGINT) FROM plugin_blobs \
             WHERE tenant_id = $1 AND plugin_id = $2 AND subject_id = $3",
        )
        .bind(scope.tenant_id)
        .bind(&scope.plugin_id)
        .bind(scope.subject_id.unwrap_or(0))
        .fetch_one(&self.pool)
        .await?
        .try_get(0)?;
        Ok(u64::try_from(total.unwrap_or(0)).unwrap_or(0))
    }

    /// Whether any row (a plugin blob name of any tenant, or a mail of the
    /// outbox in any state) refers to blob `sha256`. Blobs are shared by
    /// content across tenants, so this looks at all of them; only a blob no
    /// one refers to may be removed from the blob store.
    pub async fn blob_is_referenced(&self, sha256: &str) -> Result<bool> {
        let row = sqlx::query(
            "SELECT 1 FROM plugin_blobs WHERE sha256 = $1 \
             UNION ALL SELECT 1 FROM outbox WHERE sha256 = $2 LIMIT 1",
        )
        .bind(sha256)
        .bind(sha256)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_shas() {
        assert!(validate_name("greeting.wav").is_ok());
        assert!(validate_name("").is_err());
        assert!(validate_name("a\0b").is_err());
        assert!(validate_name(&"n".repeat(MAX_BLOB_NAME_BYTES + 1)).is_err());
        assert!(validate_sha(&"0a".repeat(32)).is_ok());
        assert!(validate_sha(&"0A".repeat(32)).is_err());
        assert!(validate_sha("../x").is_err());
    }
}
