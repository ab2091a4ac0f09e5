//! Queries the admin REST API needs beyond the CLI's: changing a user's
//! name, e-mail and numbers, removing one device, paging through CDRs.
//! Every query is keyed by the tenant: an id of another tenant is not found.

use sqlx::Row;

use super::{validate_text, Result, Store, StoreError};
use crate::tenancy::{Cdr, Device, User};

impl Store {
    /// Changes the display name and/or e-mail address of a user of the
    /// tenant; returns the user as stored. [`StoreError::NotFound`] when the
    /// tenant has no such user.
    pub async fn update_user(
        &self,
        tenant_id: i64,
        user_id: i64,
        display_name: Option<&str>,
        email: Option<&str>,
    ) -> Result<User> {
        let mut user = self.user(tenant_id, user_id).await?.ok_or_else(|| {
            StoreError::NotFound(format!("user {user_id} not found in tenant {tenant_id}"))
        })?;
        if let Some(name) = display_name {
            validate_text("display name", name, 200)?;
            user.display_name = name.to_string();
        }
        if let Some(email) = email {
            validate_text("e-mail address", email, 254)?;
            user.email = email.to_string();
        }
        sqlx::query(
            "UPDATE users SET display_name = $1, email = $2 WHERE tenant_id = $3 AND id = $4",
        )
        .bind(&user.display_name)
        .bind(&user.email)
        .bind(tenant_id)
        .bind(user_id)
        .execute(&self.pool)
        .await?;
        Ok(user)
    }

    /// Replaces the public numbers of a user of the tenant, in one
    /// transaction. A number held by another user is
    /// [`StoreError::Conflict`] (another tenant's is not named).
    pub async fn set_user_numbers(
        &self,
        tenant_id: i64,
        user_id: i64,
        numbers: &[String],
    ) -> Result<User> {
        let tenant = self.require_tenant(tenant_id).await?;
        let numbers = self.tenant_numbers(&tenant, numbers).await?;
        let numbers = numbers.as_slice();
        let mut user = self.user(tenant_id, user_id).await?.ok_or_else(|| {
            StoreError::NotFound(format!("user {user_id} not found in tenant {tenant_id}"))
        })?;
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM numbers WHERE tenant_id = $1 AND user_id = $2")
            .bind(tenant_id)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        for (seq, number) in numbers.iter().enumerate() {
            let owner = sqlx::query(
                "SELECT n.tenant_id, u.extension FROM numbers n \
                 JOIN users u ON u.id = n.user_id WHERE n.number = $1",
            )
            .bind(number)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(owner) = owner {
                let owner_tenant: i64 = owner.try_get(0)?;
                let owner_ext: String = owner.try_get(1)?;
                return Err(StoreError::Conflict(if owner_tenant == tenant_id {
                    format!("number {number} is already assigned to extension {owner_ext}")
                } else {
                    format!("number {number} is already assigned in another tenant")
                }));
            }
            sqlx::query(
                "INSERT INTO numbers (number, tenant_id, user_id, seq) VALUES ($1, $2, $3, $4)",
            )
            .bind(number)
            .bind(tenant_id)
            .bind(user_id)
            .bind(seq as i64)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        user.numbers = numbers.to_vec();
        Ok(user)
    }

    /// Device `device_id` of user `user_id` in the tenant.
    pub async fn user_device(
        &self,
        tenant_id: i64,
        user_id: i64,
        device_id: i64,
    ) -> Result<Option<Device>> {
        Ok(self
            .list_devices(tenant_id, user_id)
            .await?
            .into_iter()
            .find(|d| d.id == device_id))
    }

    /// Removes device `device_id` of user `user_id` in the tenant with its
    /// registrations. [`StoreError::NotFound`] when there is no such device.
    pub async fn delete_device(&self, tenant_id: i64, user_id: i64, device_id: i64) -> Result<()> {
        let done =
            sqlx::query("DELETE FROM devices WHERE tenant_id = $1 AND user_id = $2 AND id = $3")
                .bind(tenant_id)
                .bind(user_id)
                .bind(device_id)
                .execute(&self.pool)
                .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!(
                "device {device_id} not found"
            )));
        }
        Ok(())
    }

    /// One page of a tenant's CDRs, newest (by start) first: `limit` rows
    /// after skipping `offset`.
    pub async fn list_cdrs_page(
        &self,
        tenant_id: i64,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<Cdr>> {
        if limit <= 0 {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(
            "SELECT id, tenant_id, call_id, caller, callee, started_at, answered_at, ended_at, \
             result, sip_code FROM cdrs WHERE tenant_id = $1 \
             ORDER BY started_at DESC, id DESC LIMIT $2 OFFSET $3",
        )
        .bind(tenant_id)
        .bind(limit)
        .bind(offset.max(0))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| -> Result<Cdr> {
                Ok(Cdr {
                    id: r.try_get(0)?,
                    tenant_id: r.try_get(1)?,
                    call_id: r.try_get(2)?,
                    caller: r.try_get(3)?,
                    callee: r.try_get(4)?,
                    started_at: r.try_get(5)?,
                    answered_at: r.try_get(6)?,
                    ended_at: r.try_get(7)?,
                    result: r.try_get(8)?,
                    sip_code: r.try_get(9)?,
                })
            })
            .collect()
    }

    /// How many tenants have each plugin suspended, by plugin id.
    pub async fn count_suspensions_by_plugin(&self) -> Result<Vec<(String, i64)>> {
        let rows = sqlx::query(
            "SELECT plugin_id, COUNT(*) FROM plugin_suspensions GROUP BY plugin_id ORDER BY plugin_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| -> Result<(String, i64)> { Ok((r.try_get(0)?, r.try_get(1)?)) })
            .collect()
    }
}
