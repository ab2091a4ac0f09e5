//! The `schedules` table: named weekly schedules of a tenant (business hours,
//! holidays), stored as the JSON of a [`Schedule`].

use sqlx::Row;

use super::{classify, Result, Store, StoreError};
use crate::tenancy::plugins::Schedule;

/// Checks a schedule name: 1 to 64 letters, digits, `-`, `_` or `.`.
fn validate_schedule_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "schedule name {name:?} is not valid: use up to 64 letters, digits, '-', '_' or '.' \
             (e.g. business-hours)"
        )))
    }
}

fn parse_stored(name: &str, json: &str) -> Result<Schedule> {
    serde_json::from_str(json)
        .map_err(|e| StoreError::Invalid(format!("stored schedule {name} is not readable: {e}")))
}

impl Store {
    /// Creates or replaces the schedule `name` of a tenant from its JSON (see
    /// [`Schedule`]); [`StoreError::Invalid`] names what is wrong with it.
    pub async fn set_schedule(&self, tenant_id: i64, name: &str, json: &str) -> Result<Schedule> {
        validate_schedule_name(name)?;
        if json.len() > 256 * 1024 {
            return Err(StoreError::Invalid(
                "schedule is larger than 256 KiB".into(),
            ));
        }
        let schedule = Schedule::from_json(json).map_err(StoreError::Invalid)?;
        let canonical = serde_json::to_string(&schedule)
            .map_err(|e| StoreError::Invalid(format!("schedule cannot be stored: {e}")))?;
        sqlx::query(
            "INSERT INTO schedules (tenant_id, name, spec, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (tenant_id, name) DO UPDATE SET spec = excluded.spec, \
             updated_at = excluded.updated_at",
        )
        .bind(tenant_id)
        .bind(name)
        .bind(&canonical)
        .bind(crate::now_ms())
        .execute(&self.pool)
        .await
        .map_err(|e| classify(e, String::new, || format!("tenant {tenant_id} not found")))?;
        Ok(schedule)
    }

    /// The schedule `name` of a tenant.
    pub async fn schedule(&self, tenant_id: i64, name: &str) -> Result<Option<Schedule>> {
        let row = sqlx::query("SELECT spec FROM schedules WHERE tenant_id = $1 AND name = $2")
            .bind(tenant_id)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(r) => Ok(Some(parse_stored(name, &r.try_get::<String, _>(0)?)?)),
            None => Ok(None),
        }
    }

    /// The schedules of a tenant, by name.
    pub async fn list_schedules(&self, tenant_id: i64) -> Result<Vec<(String, Schedule)>> {
        let rows =
            sqlx::query("SELECT name, spec FROM schedules WHERE tenant_id = $1 ORDER BY name")
                .bind(tenant_id)
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| {
                let name: String = r.try_get(0)?;
                let spec: String = r.try_get(1)?;
                let s = parse_stored(&name, &spec)?;
                Ok((name, s))
            })
            .collect()
    }

    /// The schedules called `name` of every tenant, as (tenant id, schedule).
    pub async fn schedules_named(&self, name: &str) -> Result<Vec<(i64, Schedule)>> {
        let rows = sqlx::query("SELECT tenant_id, spec FROM schedules WHERE name = $1")
            .bind(name)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let spec: String = r.try_get(1)?;
                Ok((r.try_get(0)?, parse_stored(name, &spec)?))
            })
            .collect()
    }

    /// Removes a schedule; returns whether it existed.
    pub async fn delete_schedule(&self, tenant_id: i64, name: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM schedules WHERE tenant_id = $1 AND name = $2")
            .bind(tenant_id)
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Whether the tenant's schedule `name` is open at `now_ms` (unix ms);
    /// `None` when the tenant has no schedule of that name.
    pub async fn is_open(&self, tenant_id: i64, name: &str, now_ms: i64) -> Result<Option<bool>> {
        Ok(self
            .schedule(tenant_id, name)
            .await?
            .map(|s| s.is_open(now_ms)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(validate_schedule_name("business-hours").is_ok());
        assert!(validate_schedule_name("").is_err());
        assert!(validate_schedule_name("a b").is_err());
    }
}
