//! The `tenants` table.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::{classify, is_digits, validate_text, Result, Store, StoreError};
use crate::tenancy::Tenant;

/// Columns of a tenant, in the order [`tenant_from_row`] reads them;
/// `tenant_cols!("t")` qualifies them with the table alias `t`.
macro_rules! tenant_cols {
    () => {
        "id, domain, name, extension_length, outside_prefix, country_code"
    };
    ($t:literal) => {
        concat!(
            $t,
            ".id, ",
            $t,
            ".domain, ",
            $t,
            ".name, ",
            $t,
            ".extension_length, ",
            $t,
            ".outside_prefix, ",
            $t,
            ".country_code"
        )
    };
}
pub(super) use tenant_cols;

/// Reads a tenant from the columns [`tenant_cols!`] starting at index `at`.
pub(super) fn tenant_from_row(r: &AnyRow, at: usize) -> Result<Tenant, sqlx::Error> {
    Ok(Tenant {
        id: r.try_get(at)?,
        domain: r.try_get(at + 1)?,
        name: r.try_get(at + 2)?,
        extension_length: r.try_get(at + 3)?,
        outside_prefix: r.try_get(at + 4)?,
        country_code: r.try_get(at + 5)?,
    })
}

/// Number of columns in [`tenant_cols!`].
pub(super) const TENANT_COLS: usize = 6;

/// The stored form of a domain: trimmed, lowercase, checked.
fn normalise_domain(domain: &str) -> Result<String> {
    let d = domain.trim().to_ascii_lowercase();
    let ok = !d.is_empty()
        && d.len() <= 253
        && d.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._:[]".contains(&b));
    if ok {
        Ok(d)
    } else {
        Err(StoreError::Invalid(format!(
            "tenant domain {domain:?} is not valid: use a host name such as demo.centrale.test"
        )))
    }
}

impl Store {
    /// Creates a tenant. The domain is stored in lowercase and must be unique
    /// ([`StoreError::Conflict`] otherwise); `extension_length` is 1 to 10;
    /// `outside_prefix` is empty or digits.
    pub async fn create_tenant(
        &self,
        domain: &str,
        name: &str,
        extension_length: i64,
        outside_prefix: &str,
    ) -> Result<Tenant> {
        let domain = normalise_domain(domain)?;
        validate_text("tenant name", name, 200)?;
        if !(1..=10).contains(&extension_length) {
            return Err(StoreError::Invalid(format!(
                "extension length {extension_length} is not valid: use 1 to 10 digits"
            )));
        }
        let prefix_ok =
            outside_prefix.is_empty() || (is_digits(outside_prefix) && outside_prefix.len() <= 4);
        if !prefix_ok {
            return Err(StoreError::Invalid(format!(
                "outside-line prefix {outside_prefix:?} is not valid: use up to 4 digits or nothing"
            )));
        }
        let row = sqlx::query(
            "INSERT INTO tenants (domain, name, extension_length, outside_prefix, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(&domain)
        .bind(name)
        .bind(extension_length)
        .bind(outside_prefix)
        .bind(crate::now_ms())
        .fetch_one(&self.pool)
        .await
        .map_err(|e| {
            classify(
                e,
                || format!("tenant domain {domain} already exists"),
                String::new,
            )
        })?;
        Ok(Tenant {
            id: row.try_get("id")?,
            domain,
            name: name.to_string(),
            extension_length,
            outside_prefix: outside_prefix.to_string(),
            country_code: "31".to_string(),
        })
    }

    /// Sets the tenant's country calling code (1 to 3 digits, no leading
    /// 0), the country its national numbers are in.
    pub async fn set_tenant_country_code(&self, tenant_id: i64, code: &str) -> Result<()> {
        if code.is_empty() || code.len() > 3 || !is_digits(code) || code.starts_with('0') {
            return Err(StoreError::Invalid(format!(
                "country code {code:?} is not valid: 1 to 3 digits, e.g. 31"
            )));
        }
        let done = sqlx::query("UPDATE tenants SET country_code = $1 WHERE id = $2")
            .bind(code)
            .bind(tenant_id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!(
                "tenant {tenant_id} not found"
            )));
        }
        Ok(())
    }

    /// The tenant of a SIP domain, compared case-insensitively.
    pub async fn tenant_by_domain(&self, domain: &str) -> Result<Option<Tenant>> {
        let domain = domain.trim().to_ascii_lowercase();
        let row = sqlx::query(concat!(
            "SELECT ",
            tenant_cols!(),
            " FROM tenants WHERE domain = $1"
        ))
        .bind(domain)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| tenant_from_row(&r, 0)).transpose()?)
    }

    /// The tenant with this id.
    pub async fn tenant(&self, id: i64) -> Result<Option<Tenant>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            tenant_cols!(),
            " FROM tenants WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| tenant_from_row(&r, 0)).transpose()?)
    }

    /// The tenant with this id, or [`StoreError::NotFound`].
    pub(super) async fn require_tenant(&self, id: i64) -> Result<Tenant> {
        self.tenant(id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("tenant {id} not found")))
    }

    /// All tenants, by domain.
    pub async fn list_tenants(&self) -> Result<Vec<Tenant>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            tenant_cols!(),
            " FROM tenants ORDER BY domain"
        ))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| tenant_from_row(r, 0))
            .collect::<Result<_, _>>()?)
    }

    /// Deletes a tenant with its users, numbers, devices, registrations and
    /// CDRs, in one transaction. [`StoreError::NotFound`] when there is no such
    /// tenant.
    pub async fn delete_tenant(&self, id: i64) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        // users, numbers, devices and registrations go by ON DELETE CASCADE
        let done = sqlx::query("DELETE FROM tenants WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("tenant {id} not found")));
        }
        sqlx::query("DELETE FROM cdrs WHERE tenant_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains() {
        assert_eq!(
            normalise_domain(" Demo.Centrale.TEST ").ok().as_deref(),
            Some("demo.centrale.test")
        );
        assert_eq!(
            normalise_domain("192.0.2.10").ok().as_deref(),
            Some("192.0.2.10")
        );
        assert!(normalise_domain("").is_err());
        assert!(normalise_domain("a b").is_err());
        assert!(normalise_domain("user@example.com").is_err());
    }
}
