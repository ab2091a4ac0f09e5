//! The `users` table and its child table `numbers` (public numbers, DIDs).

use std::collections::HashMap;

use sqlx::any::AnyRow;
use sqlx::Row;

use super::tenants::{tenant_cols, tenant_from_row, TENANT_COLS};
use super::{classify, is_digits, validate_text, Result, Store, StoreError};
use crate::tenancy::{Tenant, User};

/// Columns of a user (without numbers), in the order [`user_from_row`] reads
/// them; `user_cols!("u")` qualifies them with the table alias `u`.
macro_rules! user_cols {
    () => {
        "id, tenant_id, extension, display_name, email"
    };
    ($u:literal) => {
        concat!(
            $u,
            ".id, ",
            $u,
            ".tenant_id, ",
            $u,
            ".extension, ",
            $u,
            ".display_name, ",
            $u,
            ".email"
        )
    };
}

/// Reads a user (numbers empty) from the columns of [`user_cols!`] starting
/// at index `at`.
fn user_from_row(r: &AnyRow, at: usize) -> Result<User, sqlx::Error> {
    Ok(User {
        id: r.try_get(at)?,
        tenant_id: r.try_get(at + 1)?,
        extension: r.try_get(at + 2)?,
        display_name: r.try_get(at + 3)?,
        email: r.try_get(at + 4)?,
        numbers: Vec::new(),
    })
}

/// Checks an extension: digits only, at most 10 of them.
fn validate_extension(extension: &str) -> Result<()> {
    if is_digits(extension) && extension.len() <= 10 {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "extension {extension:?} is not valid: use digits only (e.g. 201)"
        )))
    }
}

impl Store {
    /// Creates a user with its public numbers, in one transaction.
    ///
    /// The extension is digits only and unique in the tenant; each number is
    /// `+` optional then digits and unique across all tenants. A clash gives
    /// [`StoreError::Conflict`] and nothing is written; an unknown tenant gives
    /// [`StoreError::NotFound`].
    pub async fn create_user(
        &self,
        tenant_id: i64,
        extension: &str,
        display_name: &str,
        email: &str,
        numbers: &[String],
    ) -> Result<User> {
        validate_extension(extension)?;
        validate_text("display name", display_name, 200)?;
        validate_text("e-mail address", email, 254)?;
        // read before the transaction: its first statement is then a write,
        // which SQLite can wait for (busy timeout) instead of failing
        let tenant = self.require_tenant(tenant_id).await?;
        let numbers = self.tenant_numbers(&tenant, numbers).await?;

        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "INSERT INTO users (tenant_id, extension, display_name, email, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(tenant_id)
        .bind(extension)
        .bind(display_name)
        .bind(email)
        .bind(crate::now_ms())
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| {
            classify(
                e,
                || {
                    format!(
                        "extension {extension} already exists in tenant {}",
                        tenant.domain
                    )
                },
                || format!("tenant {tenant_id} not found"),
            )
        })?;
        let user_id: i64 = row.try_get(0)?;

        for (seq, number) in numbers.iter().enumerate() {
            // who has it, for a clear message (only named within the tenant)
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
                    format!(
                        "number {number} is already assigned to extension {owner_ext} in tenant {}",
                        tenant.domain
                    )
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
            .await
            .map_err(|e| {
                classify(
                    e,
                    || format!("number {number} is already assigned"),
                    || format!("user {user_id} not found"),
                )
            })?;
        }
        tx.commit().await?;

        Ok(User {
            id: user_id,
            tenant_id,
            extension: extension.to_string(),
            display_name: display_name.to_string(),
            email: email.to_string(),
            numbers,
        })
    }

    /// The user `user_id` of tenant `tenant_id` (`None` when it belongs to
    /// another tenant).
    pub async fn user(&self, tenant_id: i64, user_id: i64) -> Result<Option<User>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            user_cols!(),
            " FROM users WHERE tenant_id = $1 AND id = $2"
        ))
        .bind(tenant_id)
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?;
        self.with_numbers(row.map(|r| user_from_row(&r, 0)).transpose()?)
            .await
    }

    /// The user with this extension in the tenant.
    pub async fn user_by_extension(&self, tenant_id: i64, extension: &str) -> Result<Option<User>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            user_cols!(),
            " FROM users WHERE tenant_id = $1 AND extension = $2"
        ))
        .bind(tenant_id)
        .bind(extension)
        .fetch_optional(&self.pool)
        .await?;
        self.with_numbers(row.map(|r| user_from_row(&r, 0)).transpose()?)
            .await
    }

    /// The tenant and user a public number belongs to, searched across all
    /// tenants. `number` is canonical E.164 (see
    /// [`crate::tenancy::numbers::canonical`]); numbers are stored so.
    pub async fn user_by_number(&self, number: &str) -> Result<Option<(Tenant, User)>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            tenant_cols!("t"),
            ", ",
            user_cols!("u"),
            " FROM numbers n JOIN users u ON u.id = n.user_id JOIN tenants t ON t.id = u.tenant_id \
             WHERE n.number = $1"
        ))
        .bind(number)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let tenant = tenant_from_row(&row, 0)?;
        let user = user_from_row(&row, TENANT_COLS)?;
        Ok(self.with_numbers(Some(user)).await?.map(|u| (tenant, u)))
    }

    /// The users of a tenant with their numbers, by extension.
    pub async fn list_users(&self, tenant_id: i64) -> Result<Vec<User>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            user_cols!(),
            " FROM users WHERE tenant_id = $1 ORDER BY extension"
        ))
        .bind(tenant_id)
        .fetch_all(&self.pool)
        .await?;
        let mut users = rows
            .iter()
            .map(|r| user_from_row(r, 0))
            .collect::<Result<Vec<_>, _>>()?;

        let rows = sqlx::query("SELECT user_id, number FROM numbers WHERE tenant_id = $1 ORDER BY user_id, seq, number")
            .bind(tenant_id)
            .fetch_all(&self.pool)
            .await?;
        let mut numbers: HashMap<i64, Vec<String>> = HashMap::new();
        for r in &rows {
            numbers
                .entry(r.try_get(0)?)
                .or_default()
                .push(r.try_get(1)?);
        }
        for u in &mut users {
            u.numbers = numbers.remove(&u.id).unwrap_or_default();
        }
        Ok(users)
    }

    /// Deletes a user with its numbers, devices and registrations.
    /// [`StoreError::NotFound`] when the tenant has no such user.
    pub async fn delete_user(&self, tenant_id: i64, user_id: i64) -> Result<()> {
        let done = sqlx::query("DELETE FROM users WHERE tenant_id = $1 AND id = $2")
            .bind(tenant_id)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!(
                "user {user_id} not found in tenant {tenant_id}"
            )));
        }
        Ok(())
    }

    /// Fills in the numbers of `user`.
    async fn with_numbers(&self, user: Option<User>) -> Result<Option<User>> {
        let Some(mut user) = user else {
            return Ok(None);
        };
        let rows =
            sqlx::query("SELECT number FROM numbers WHERE user_id = $1 ORDER BY seq, number")
                .bind(user.id)
                .fetch_all(&self.pool)
                .await?;
        user.numbers = rows
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        Ok(Some(user))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions() {
        assert!(validate_extension("201").is_ok());
        assert!(validate_extension("").is_err());
        assert!(validate_extension("20a").is_err());
        assert!(validate_extension("+201").is_err());
    }
}
