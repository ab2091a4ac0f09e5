//! The `cdrs` table: call detail records.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::{Result, Store};
use crate::tenancy::Cdr;

fn cdr_from_row(r: &AnyRow) -> Result<Cdr, sqlx::Error> {
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
}

impl Store {
    /// Stores a CDR (its `id` is ignored) and returns the id it was given.
    /// The tenant is not checked: a CDR is written even if its tenant was
    /// deleted during the call.
    pub async fn insert_cdr(&self, c: &Cdr) -> Result<i64> {
        let row = sqlx::query(
            "INSERT INTO cdrs (tenant_id, call_id, caller, callee, started_at, answered_at, ended_at, \
             result, sip_code) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(c.tenant_id)
        .bind(&c.call_id)
        .bind(&c.caller)
        .bind(&c.callee)
        .bind(c.started_at)
        .bind(c.answered_at)
        .bind(c.ended_at)
        .bind(&c.result)
        .bind(c.sip_code)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get(0)?)
    }

    /// The `limit` most recent CDRs of a tenant, newest (by start) first.
    /// A `limit` of 0 or less gives an empty list.
    pub async fn list_cdrs(&self, tenant_id: i64, limit: i64) -> Result<Vec<Cdr>> {
        if limit <= 0 {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(
            "SELECT id, tenant_id, call_id, caller, callee, started_at, answered_at, ended_at, result, \
             sip_code FROM cdrs WHERE tenant_id = $1 ORDER BY started_at DESC, id DESC LIMIT $2",
        )
        .bind(tenant_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(cdr_from_row).collect::<Result<_, _>>()?)
    }
}
