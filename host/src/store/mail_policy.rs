//! `tenant_mail`: what a tenant's plugins may mail (the operator sets it),
//! and the queries the mail policy needs.

use sqlx::Row;

use super::{validate_text, Result, Store, StoreError};

/// A tenant's mail policy; the default lets it mail its own users only,
/// from the host's address under the tenant's name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailPolicy {
    /// The sender of the tenant's mail (e.g. `voicemail@acme.example`);
    /// empty: the host's `[mail] from`, with the tenant's name.
    pub from_address: String,
    /// Domains (lowercase) the tenant's plugins may mail besides its
    /// users' own addresses and its own domain.
    pub allowed_domains: Vec<String>,
}

fn valid_domain(d: &str) -> bool {
    !d.is_empty()
        && d.len() <= 253
        && d.contains('.')
        && d.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

impl Store {
    /// The tenant's mail policy.
    pub async fn tenant_mail_policy(&self, tenant_id: i64) -> Result<MailPolicy> {
        let row = sqlx::query(
            "SELECT from_address, allowed_domains FROM tenant_mail WHERE tenant_id = $1",
        )
        .bind(tenant_id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else {
            return Ok(MailPolicy::default());
        };
        let domains: String = r.try_get(1)?;
        Ok(MailPolicy {
            from_address: r.try_get(0)?,
            allowed_domains: domains
                .split(',')
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .map(str::to_string)
                .collect(),
        })
    }

    /// Sets the tenant's mail policy (operator).
    pub async fn set_tenant_mail_policy(&self, tenant_id: i64, p: &MailPolicy) -> Result<()> {
        validate_text("sender address", &p.from_address, 254)?;
        if !p.from_address.is_empty() && !p.from_address.contains('@') {
            return Err(StoreError::Invalid(format!(
                "sender address {:?} is not a mail address",
                p.from_address
            )));
        }
        let mut domains = Vec::new();
        for d in &p.allowed_domains {
            let d = d.trim().to_ascii_lowercase();
            if !valid_domain(&d) {
                return Err(StoreError::Invalid(format!(
                    "allowed domain {d:?} is not a domain name"
                )));
            }
            domains.push(d);
        }
        if domains.len() > 50 {
            return Err(StoreError::Invalid("at most 50 allowed domains".into()));
        }
        self.require_tenant(tenant_id).await?;
        sqlx::query(
            "INSERT INTO tenant_mail (tenant_id, from_address, allowed_domains, updated_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id) DO UPDATE SET \
             from_address = excluded.from_address, allowed_domains = excluded.allowed_domains, \
             updated_at = excluded.updated_at",
        )
        .bind(tenant_id)
        .bind(&p.from_address)
        .bind(domains.join(","))
        .bind(crate::now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Whether `email` (any case) is the address of a user of the tenant.
    pub async fn tenant_has_user_email(&self, tenant_id: i64, email: &str) -> Result<bool> {
        let row = sqlx::query(
            "SELECT 1 FROM users WHERE tenant_id = $1 AND LOWER(email) = LOWER($2) LIMIT 1",
        )
        .bind(tenant_id)
        .bind(email.trim())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }

    /// Mails the tenant queued since `since_ms` (unix ms).
    pub async fn outbox_count_since(&self, tenant_id: i64, since_ms: i64) -> Result<i64> {
        let row =
            sqlx::query("SELECT COUNT(*) FROM outbox WHERE tenant_id = $1 AND created_at >= $2")
                .bind(tenant_id)
                .bind(since_ms)
                .fetch_one(&self.pool)
                .await?;
        Ok(row.try_get(0)?)
    }
}
