//! The `devices` table: SIP credentials (digest HA1 values) of users.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::tenants::{tenant_cols, tenant_from_row, TENANT_COLS};
use super::{classify, Result, Store, StoreError};
use crate::tenancy::{Device, Tenant};

/// Columns of a device, in the order [`device_from_row`] reads them;
/// `device_cols!("d")` qualifies them with the table alias `d`.
macro_rules! device_cols {
    () => {
        "id, tenant_id, user_id, username, ha1_md5, ha1_sha256"
    };
    ($d:literal) => {
        concat!(
            $d,
            ".id, ",
            $d,
            ".tenant_id, ",
            $d,
            ".user_id, ",
            $d,
            ".username, ",
            $d,
            ".ha1_md5, ",
            $d,
            ".ha1_sha256"
        )
    };
}

/// Reads a device from the columns of [`device_cols!`] starting at index `at`.
fn device_from_row(r: &AnyRow, at: usize) -> Result<Device, sqlx::Error> {
    Ok(Device {
        id: r.try_get(at)?,
        tenant_id: r.try_get(at + 1)?,
        user_id: r.try_get(at + 2)?,
        username: r.try_get(at + 3)?,
        ha1_md5: r.try_get(at + 4)?,
        ha1_sha256: r.try_get(at + 5)?,
    })
}

/// Checks a digest username: 1 to 64 printable characters without spaces,
/// quotes, colons or backslashes (they break the digest header or the HA1).
fn validate_username(username: &str) -> Result<()> {
    let ok = !username.is_empty()
        && username.len() <= 64
        && username
            .chars()
            .all(|c| c.is_ascii_graphic() && !matches!(c, '"' | ':' | '\\'));
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "device username {username:?} is not valid: use up to 64 letters, digits and punctuation, \
             without spaces, quotes, colons or backslashes"
        )))
    }
}

/// Checks an HA1 value: lowercase or uppercase hex of the given length.
fn validate_ha1(what: &str, value: &str, len: usize) -> Result<()> {
    if value.len() == len && value.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "{what} must be {len} hex digits"
        )))
    }
}

impl Store {
    /// Creates a device of user `user_id` in tenant `tenant_id`.
    ///
    /// The username is unique in the tenant ([`StoreError::Conflict`]);
    /// `ha1_md5` is 32 and `ha1_sha256` 64 hex digits. An unknown tenant, or a
    /// user that is not in the tenant, gives [`StoreError::NotFound`].
    pub async fn create_device(
        &self,
        tenant_id: i64,
        user_id: i64,
        username: &str,
        ha1_md5: &str,
        ha1_sha256: &str,
    ) -> Result<Device> {
        validate_username(username)?;
        validate_ha1("the MD5 HA1", ha1_md5, 32)?;
        validate_ha1("the SHA-256 HA1", ha1_sha256, 64)?;
        let tenant = self.require_tenant(tenant_id).await?;
        let row = sqlx::query(
            "INSERT INTO devices (tenant_id, user_id, username, ha1_md5, ha1_sha256) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(tenant_id)
        .bind(user_id)
        .bind(username)
        .bind(ha1_md5)
        .bind(ha1_sha256)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| {
            classify(
                e,
                || {
                    format!(
                        "device username {username} already exists in tenant {}",
                        tenant.domain
                    )
                },
                || format!("user {user_id} not found in tenant {}", tenant.domain),
            )
        })?;
        Ok(Device {
            id: row.try_get(0)?,
            tenant_id,
            user_id,
            username: username.to_string(),
            ha1_md5: ha1_md5.to_string(),
            ha1_sha256: ha1_sha256.to_string(),
        })
    }

    /// The device with this digest username in the tenant (exact match).
    pub async fn device_by_username(
        &self,
        tenant_id: i64,
        username: &str,
    ) -> Result<Option<Device>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            device_cols!(),
            " FROM devices WHERE tenant_id = $1 AND username = $2"
        ))
        .bind(tenant_id)
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| device_from_row(&r, 0)).transpose()?)
    }

    /// The devices with this digest username in every tenant, with their
    /// tenant, by tenant id (for requests whose realm names no tenant).
    pub async fn devices_by_username_any_tenant(
        &self,
        username: &str,
    ) -> Result<Vec<(Tenant, Device)>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            tenant_cols!("t"),
            ", ",
            device_cols!("d"),
            " FROM devices d JOIN tenants t ON t.id = d.tenant_id WHERE d.username = $1 ORDER BY t.id"
        ))
        .bind(username)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| Ok((tenant_from_row(r, 0)?, device_from_row(r, TENANT_COLS)?)))
            .collect::<Result<_, sqlx::Error>>()?)
    }

    /// The devices of a user, by username.
    pub async fn list_devices(&self, tenant_id: i64, user_id: i64) -> Result<Vec<Device>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            device_cols!(),
            " FROM devices WHERE tenant_id = $1 AND user_id = $2 ORDER BY username"
        ))
        .bind(tenant_id)
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| device_from_row(r, 0))
            .collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert!(validate_username("201").is_ok());
        assert!(validate_username("anna.desk-1").is_ok());
        assert!(validate_username("").is_err());
        assert!(validate_username("a b").is_err());
        assert!(validate_username("a:b").is_err());
        assert!(validate_username("a\"b").is_err());
    }

    #[test]
    fn ha1() {
        assert!(validate_ha1("x", &"a".repeat(32), 32).is_ok());
        assert!(validate_ha1("x", &"g".repeat(32), 32).is_err());
        assert!(validate_ha1("x", "abc", 32).is_err());
    }
}
