//! The `registrations` table: the contacts where devices can be reached.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::{classify, validate_text, Result, Store, StoreError};
use crate::tenancy::Registration;

/// Columns of a registration, in the order [`registration_from_row`] reads them.
macro_rules! registration_cols {
    () => {
        "tenant_id, user_id, device_id, contact, source, call_id, cseq, expires_at, updated_at"
    };
}

fn registration_from_row(r: &AnyRow) -> Result<Registration, sqlx::Error> {
    Ok(Registration {
        tenant_id: r.try_get(0)?,
        user_id: r.try_get(1)?,
        device_id: r.try_get(2)?,
        contact: r.try_get(3)?,
        source: r.try_get(4)?,
        call_id: r.try_get(5)?,
        cseq: r.try_get(6)?,
        expires_at: r.try_get(7)?,
        updated_at: r.try_get(8)?,
    })
}

impl Store {
    /// Adds the binding `(r.device_id, r.contact)`, or refreshes it (source,
    /// Call-ID, CSeq, expiry, update time) when it exists.
    ///
    /// The device must belong to `r.user_id` in `r.tenant_id`, otherwise
    /// [`StoreError::NotFound`]; an empty contact is [`StoreError::Invalid`].
    pub async fn upsert_registration(&self, r: &Registration) -> Result<()> {
        if r.contact.is_empty() {
            return Err(StoreError::Invalid("a registration needs a contact".into()));
        }
        validate_text("contact", &r.contact, 2048)?;
        validate_text("source", &r.source, 256)?;
        validate_text("Call-ID", &r.call_id, 512)?;
        sqlx::query(concat!(
            "INSERT INTO registrations (",
            registration_cols!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (device_id, contact) DO UPDATE SET \
             tenant_id = excluded.tenant_id, user_id = excluded.user_id, source = excluded.source, \
             call_id = excluded.call_id, cseq = excluded.cseq, expires_at = excluded.expires_at, \
             updated_at = excluded.updated_at"
        ))
        .bind(r.tenant_id)
        .bind(r.user_id)
        .bind(r.device_id)
        .bind(&r.contact)
        .bind(&r.source)
        .bind(&r.call_id)
        .bind(r.cseq)
        .bind(r.expires_at)
        .bind(r.updated_at)
        .execute(&self.pool)
        .await
        .map_err(|e| {
            classify(
                e,
                || {
                    format!(
                        "contact {} of device {} is already registered",
                        r.contact, r.device_id
                    )
                },
                || {
                    format!(
                        "device {} of user {} in tenant {} not found",
                        r.device_id, r.user_id, r.tenant_id
                    )
                },
            )
        })?;
        Ok(())
    }

    /// Removes one binding of a device. Removing a binding that does not exist
    /// is not an error.
    pub async fn delete_registration(&self, device_id: i64, contact: &str) -> Result<()> {
        sqlx::query("DELETE FROM registrations WHERE device_id = $1 AND contact = $2")
            .bind(device_id)
            .bind(contact)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Removes all bindings of a device (`Contact: *` with `Expires: 0`).
    pub async fn delete_registrations_of_device(&self, device_id: i64) -> Result<()> {
        sqlx::query("DELETE FROM registrations WHERE device_id = $1")
            .bind(device_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The bindings of a device that expire after `now_ms`, oldest first.
    pub async fn registrations_of_device(
        &self,
        device_id: i64,
        now_ms: i64,
    ) -> Result<Vec<Registration>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            registration_cols!(),
            " FROM registrations WHERE device_id = $1 AND expires_at > $2 ORDER BY id"
        ))
        .bind(device_id)
        .bind(now_ms)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(registration_from_row)
            .collect::<Result<_, _>>()?)
    }

    /// The bindings of all devices of a user that expire after `now_ms`, by
    /// device then age.
    pub async fn registrations_of_user(
        &self,
        tenant_id: i64,
        user_id: i64,
        now_ms: i64,
    ) -> Result<Vec<Registration>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            registration_cols!(),
            " FROM registrations WHERE tenant_id = $1 AND user_id = $2 AND expires_at > $3 \
             ORDER BY device_id, id"
        ))
        .bind(tenant_id)
        .bind(user_id)
        .bind(now_ms)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(registration_from_row)
            .collect::<Result<_, _>>()?)
    }

    /// Deletes the bindings that expired at or before `now_ms`; returns how many.
    pub async fn purge_expired_registrations(&self, now_ms: i64) -> Result<u64> {
        let done = sqlx::query("DELETE FROM registrations WHERE expires_at <= $1")
            .bind(now_ms)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Number of bindings, in all tenants, that expire after `now_ms`.
    pub async fn count_registrations(&self, now_ms: i64) -> Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) FROM registrations WHERE expires_at > $1")
            .bind(now_ms)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get(0)?)
    }
}
