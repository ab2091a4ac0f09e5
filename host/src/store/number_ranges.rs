//! `number_ranges`: the blocks of public numbers the operator allocated to
//! each tenant. Ranges of different tenants never overlap; a tenant assigns
//! numbers to its users from its own ranges only.

use sqlx::Row;

use super::{Result, Store, StoreError};
use crate::tenancy::numbers::{canonical, in_range};
use crate::tenancy::Tenant;

/// A block of numbers of a tenant, both ends included, canonical E.164.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberRange {
    /// Row id.
    pub id: i64,
    /// The tenant it is allocated to.
    pub tenant_id: i64,
    /// First number.
    pub first: String,
    /// Last number (same length as `first`).
    pub last: String,
}

/// Most numbers one range holds.
pub const MAX_RANGE_SIZE: u64 = 100_000;

impl Store {
    /// Allocates `first..=last` (any spelling, read in the tenant's
    /// country) to `tenant`. The ends must have the same length, and the
    /// range must not overlap any tenant's ([`StoreError::Conflict`], the
    /// other tenant not named).
    pub async fn add_number_range(
        &self,
        tenant: &Tenant,
        first: &str,
        last: &str,
    ) -> Result<NumberRange> {
        let first = canonical(first, &tenant.country_code).map_err(StoreError::Invalid)?;
        let last = canonical(last, &tenant.country_code).map_err(StoreError::Invalid)?;
        if first.len() != last.len() || first > last {
            return Err(StoreError::Invalid(format!(
                "range {first}..{last}: both ends need the same number of digits, the first not after the last"
            )));
        }
        let (a, b): (u64, u64) = (
            first[1..].parse().unwrap_or(0),
            last[1..].parse().unwrap_or(0),
        );
        if b - a + 1 > MAX_RANGE_SIZE {
            return Err(StoreError::Invalid(format!(
                "range {first}..{last} holds more than {MAX_RANGE_SIZE} numbers"
            )));
        }
        let mut tx = self.pool.begin().await?;
        // A write first: SQLite takes its write lock here, so two
        // allocations cannot both pass the overlap check.
        sqlx::query("UPDATE tenants SET name = name WHERE id = $1")
            .bind(tenant.id)
            .execute(&mut *tx)
            .await?;
        let clash = sqlx::query(
            "SELECT tenant_id FROM number_ranges WHERE LENGTH(first_number) = LENGTH($1) \
             AND first_number <= $2 AND last_number >= $1 LIMIT 1",
        )
        .bind(&first)
        .bind(&last)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = clash {
            let owner: i64 = row.try_get(0)?;
            return Err(StoreError::Conflict(if owner == tenant.id {
                format!("range {first}..{last} overlaps a range of this tenant")
            } else {
                format!("range {first}..{last} overlaps numbers allocated to another tenant")
            }));
        }
        let row = sqlx::query(
            "INSERT INTO number_ranges (tenant_id, first_number, last_number, created_at) \
             VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(tenant.id)
        .bind(&first)
        .bind(&last)
        .bind(crate::now_ms())
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(NumberRange {
            id: row.try_get(0)?,
            tenant_id: tenant.id,
            first,
            last,
        })
    }

    /// The tenant's ranges, by first number.
    pub async fn list_number_ranges(&self, tenant_id: i64) -> Result<Vec<NumberRange>> {
        let rows = sqlx::query(
            "SELECT id, tenant_id, first_number, last_number FROM number_ranges \
             WHERE tenant_id = $1 ORDER BY first_number",
        )
        .bind(tenant_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(NumberRange {
                    id: r.try_get(0)?,
                    tenant_id: r.try_get(1)?,
                    first: r.try_get(2)?,
                    last: r.try_get(3)?,
                })
            })
            .collect()
    }

    /// Takes a range back; refused while one of its numbers is assigned.
    pub async fn remove_number_range(&self, tenant_id: i64, range_id: i64) -> Result<()> {
        let ranges = self.list_number_ranges(tenant_id).await?;
        let Some(r) = ranges.iter().find(|r| r.id == range_id) else {
            return Err(StoreError::NotFound(format!(
                "tenant {tenant_id} has no number range {range_id}"
            )));
        };
        let used = sqlx::query(
            "SELECT number FROM numbers WHERE tenant_id = $1 AND LENGTH(number) = LENGTH($2) \
             AND number >= $2 AND number <= $3 LIMIT 1",
        )
        .bind(tenant_id)
        .bind(&r.first)
        .bind(&r.last)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(row) = used {
            let n: String = row.try_get(0)?;
            return Err(StoreError::Conflict(format!(
                "number {n} of the range is still assigned: take it from its user first"
            )));
        }
        sqlx::query("DELETE FROM number_ranges WHERE id = $1 AND tenant_id = $2")
            .bind(range_id)
            .bind(tenant_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// `numbers` as the tenant's users may hold them: canonical, each once,
    /// each in one of the tenant's ranges.
    pub(super) async fn tenant_numbers(
        &self,
        tenant: &Tenant,
        numbers: &[String],
    ) -> Result<Vec<String>> {
        let ranges = if numbers.is_empty() {
            Vec::new()
        } else {
            self.list_number_ranges(tenant.id).await?
        };
        let mut out: Vec<String> = Vec::with_capacity(numbers.len());
        for n in numbers {
            let c = canonical(n, &tenant.country_code).map_err(StoreError::Invalid)?;
            if out.contains(&c) {
                return Err(StoreError::Invalid(format!("number {c} is listed twice")));
            }
            if !ranges.iter().any(|r| in_range(&c, &r.first, &r.last)) {
                return Err(StoreError::Invalid(format!(
                    "number {c} is not in a number range of tenant {}: the operator allocates \
                     ranges (`centrale number-range add`)",
                    tenant.domain
                )));
            }
            out.push(c);
        }
        Ok(out)
    }
}
