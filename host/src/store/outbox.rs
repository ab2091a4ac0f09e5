//! The mail outbox (`outbox`): one row per outgoing message, whose raw
//! RFC 5322 bytes are a blob of the [`BlobStore`](super::BlobStore). The
//! delivery worker of [`crate::mail::Mailer`] claims due rows, sends them and
//! records the outcome; rows survive restarts.
//!
//! Claiming is optimistic, so several workers (several nodes on one
//! PostgreSQL, or an old and a new process) never send a row twice at once: a
//! worker moves `next_attempt_at` of a due row to the end of a lease and
//! counts the attempt, only if the row is still as it read it. A worker that
//! dies while sending leaves the row to be retried when the lease ends.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::{Result, Store, StoreError};

/// Where a mail is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutboxStatus {
    /// Waiting for (another) delivery attempt.
    Queued,
    /// Accepted by the SMTP server (or written to the outbox directory).
    Sent,
    /// Given up after the configured number of attempts.
    Failed,
}

impl OutboxStatus {
    /// The value of the `status` column.
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxStatus::Queued => "queued",
            OutboxStatus::Sent => "sent",
            OutboxStatus::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Result<OutboxStatus> {
        match s {
            "queued" => Ok(OutboxStatus::Queued),
            "sent" => Ok(OutboxStatus::Sent),
            "failed" => Ok(OutboxStatus::Failed),
            other => Err(StoreError::Invalid(format!(
                "outbox status {other:?} is unknown"
            ))),
        }
    }
}

/// A row of the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMail {
    /// Its id.
    pub id: i64,
    /// The tenant it was sent for (0 = the operator).
    pub tenant_id: i64,
    /// The envelope sender (a bare address).
    pub mail_from: String,
    /// The envelope recipients (bare addresses: To and Cc).
    pub recipients: Vec<String>,
    /// The blob holding the raw RFC 5322 message.
    pub sha256: String,
    /// Delivery attempts made (or under way).
    pub attempts: i64,
    /// When the next attempt is due, unix ms.
    pub next_attempt_at: i64,
    /// Queued, sent or failed.
    pub status: OutboxStatus,
    /// The error of the last failed attempt.
    pub last_error: Option<String>,
    /// When it was queued, unix ms.
    pub created_at: i64,
    /// When it was delivered, unix ms.
    pub sent_at: Option<i64>,
}

const COLS: &str = "id, tenant_id, mail_from, recipients, sha256, attempts, next_attempt_at, \
                    status, last_error, created_at, sent_at";

fn mail_from_row(r: &AnyRow) -> Result<OutboxMail> {
    let recipients: String = r.try_get(3)?;
    let status: String = r.try_get(7)?;
    Ok(OutboxMail {
        id: r.try_get(0)?,
        tenant_id: r.try_get(1)?,
        mail_from: r.try_get(2)?,
        recipients: serde_json::from_str(&recipients).map_err(|e| {
            StoreError::Invalid(format!(
                "outbox recipients {recipients:?} are not a JSON list: {e}"
            ))
        })?,
        sha256: r.try_get(4)?,
        attempts: r.try_get(5)?,
        next_attempt_at: r.try_get(6)?,
        status: OutboxStatus::parse(&status)?,
        last_error: r.try_get(8)?,
        created_at: r.try_get(9)?,
        sent_at: r.try_get(10)?,
    })
}

impl Store {
    /// Queues a mail whose raw bytes are blob `sha256`, due now. Returns
    /// its id once the row is committed.
    pub async fn outbox_insert(
        &self,
        tenant_id: i64,
        mail_from: &str,
        recipients: &[String],
        sha256: &str,
        size: u64,
    ) -> Result<i64> {
        let now = crate::now_ms();
        let recipients = serde_json::to_string(recipients)
            .map_err(|e| StoreError::Invalid(format!("cannot encode the recipients: {e}")))?;
        let row = sqlx::query(
            "INSERT INTO outbox (tenant_id, mail_from, recipients, sha256, attempts, \
             next_attempt_at, status, created_at, size) VALUES ($1, $2, $3, $4, 0, $5, 'queued', $6, $7) \
             RETURNING id",
        )
        .bind(tenant_id)
        .bind(mail_from)
        .bind(recipients)
        .bind(sha256)
        .bind(now)
        .bind(now)
        .bind(i64::try_from(size).unwrap_or(i64::MAX))
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get(0)?)
    }

    /// The mail with this id.
    pub async fn outbox_get(&self, id: i64) -> Result<Option<OutboxMail>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLS} FROM outbox WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(mail_from_row).transpose()
    }

    /// The mails of a tenant, newest first, at most `limit`.
    pub async fn outbox_list(&self, tenant_id: i64, limit: u32) -> Result<Vec<OutboxMail>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLS} FROM outbox WHERE tenant_id = $1 ORDER BY id DESC LIMIT $2"
        )))
        .bind(tenant_id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(mail_from_row).collect()
    }

    /// Queued mails due at `now`, oldest first, at most `limit`.
    pub async fn outbox_due(&self, now: i64, limit: u32) -> Result<Vec<OutboxMail>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLS} FROM outbox WHERE status = 'queued' AND next_attempt_at <= $1 \
             ORDER BY next_attempt_at, id LIMIT $2"
        )))
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(mail_from_row).collect()
    }

    /// When the earliest queued mail is due, if any is queued.
    pub async fn outbox_next_due(&self) -> Result<Option<i64>> {
        let row = sqlx::query("SELECT MIN(next_attempt_at) FROM outbox WHERE status = 'queued'")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get(0)?)
    }

    /// Claims `mail` (as read by [`Store::outbox_due`]) for an attempt:
    /// counts the attempt and moves its due time to `lease_until`, unless
    /// another worker changed the row since. Returns whether this caller
    /// owns the attempt.
    pub async fn outbox_claim(&self, mail: &OutboxMail, lease_until: i64) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $1 \
             WHERE id = $2 AND status = 'queued' AND attempts = $3 AND next_attempt_at = $4",
        )
        .bind(lease_until)
        .bind(mail.id)
        .bind(mail.attempts)
        .bind(mail.next_attempt_at)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records a delivered mail.
    pub async fn outbox_mark_sent(&self, id: i64) -> Result<()> {
        sqlx::query(
            "UPDATE outbox SET status = 'sent', sent_at = $1, last_error = NULL WHERE id = $2",
        )
        .bind(crate::now_ms())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records a failed attempt: the mail is retried at `retry_at`, or, when
    /// `retry_at` is `None`, given up (status failed).
    pub async fn outbox_mark_failed(
        &self,
        id: i64,
        error: &str,
        retry_at: Option<i64>,
    ) -> Result<()> {
        let (status, next) = match retry_at {
            Some(at) => (OutboxStatus::Queued, at),
            None => (OutboxStatus::Failed, crate::now_ms()),
        };
        sqlx::query(
            "UPDATE outbox SET status = $1, next_attempt_at = $2, last_error = $3 WHERE id = $4",
        )
        .bind(status.as_str())
        .bind(next)
        .bind(error)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// How many mails are queued (for `/metrics`).
    pub async fn outbox_depth(&self) -> Result<u64> {
        let n: i64 = sqlx::query("SELECT COUNT(*) FROM outbox WHERE status = 'queued'")
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}
