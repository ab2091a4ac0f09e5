//! The `api_tokens` table: bearer tokens of the admin REST API, kept as
//! SHA-256 hashes (the token itself is shown once, when created; see
//! `crate::api::auth`).

use sqlx::any::AnyRow;
use sqlx::Row;

use super::{classify, Result, Store, StoreError};

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenRole {
    /// The operator of the host: tenants, catalogue, licences.
    Operator,
    /// The administrator of one tenant.
    Admin,
    /// One user of one tenant (self-service).
    User,
}

impl TokenRole {
    /// `operator`, `admin` or `user`: the stored and displayed name.
    pub fn name(self) -> &'static str {
        match self {
            TokenRole::Operator => "operator",
            TokenRole::Admin => "admin",
            TokenRole::User => "user",
        }
    }

    /// The role called `name` (see [`TokenRole::name`]).
    pub fn parse(name: &str) -> Option<TokenRole> {
        match name {
            "operator" => Some(TokenRole::Operator),
            "admin" => Some(TokenRole::Admin),
            "user" => Some(TokenRole::User),
            _ => None,
        }
    }
}

/// A stored token (without the secret, which is never stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    /// Row id.
    pub id: i64,
    /// What the token may do.
    pub role: TokenRole,
    /// The tenant of an admin or user token; `None` for the operator.
    pub tenant_id: Option<i64>,
    /// The user of a user token (an admin token may name one too).
    pub user_id: Option<i64>,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms of the last request made with it.
    pub last_used: Option<i64>,
    /// Unix ms from which it no longer works; `None`: it does not expire.
    pub expires_at: Option<i64>,
}

/// How stale `last_used` may get before a request updates it.
const LAST_USED_GRANULARITY_MS: i64 = 60_000;

const TOKEN_COLS: &str = "id, role, tenant_id, user_id, created_at, last_used, expires_at";

fn token_from_row(r: &AnyRow) -> Result<ApiToken> {
    let role: String = r.try_get(1)?;
    Ok(ApiToken {
        id: r.try_get(0)?,
        role: TokenRole::parse(&role)
            .ok_or_else(|| StoreError::Invalid(format!("unknown token role {role:?}")))?,
        tenant_id: r.try_get(2)?,
        user_id: r.try_get(3)?,
        created_at: r.try_get(4)?,
        last_used: r.try_get(5)?,
        expires_at: r.try_get(6)?,
    })
}

impl Store {
    /// Stores a token by its hash (lowercase hex SHA-256). The role decides
    /// what else is needed: the operator has neither tenant nor user, an
    /// admin a tenant, a user a tenant and one of its users
    /// ([`StoreError::Invalid`] otherwise; [`StoreError::NotFound`] when the
    /// tenant or user does not exist).
    pub async fn create_api_token(
        &self,
        sha256_hex: &str,
        role: TokenRole,
        tenant_id: Option<i64>,
        user_id: Option<i64>,
        expires_at: Option<i64>,
    ) -> Result<ApiToken> {
        let fits = match role {
            TokenRole::Operator => tenant_id.is_none() && user_id.is_none(),
            TokenRole::Admin => tenant_id.is_some(),
            TokenRole::User => tenant_id.is_some() && user_id.is_some(),
        };
        if !fits {
            return Err(StoreError::Invalid(format!(
                "a {} token needs {}",
                role.name(),
                match role {
                    TokenRole::Operator => "no tenant and no user",
                    TokenRole::Admin => "a tenant",
                    TokenRole::User => "a tenant and a user",
                }
            )));
        }
        if sha256_hex.len() != 64 || !sha256_hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StoreError::Invalid(
                "a token hash is 64 hex digits".to_string(),
            ));
        }
        if let Some(t) = tenant_id {
            self.require_tenant(t).await?;
        }
        let now = crate::now_ms();
        let row = sqlx::query(
            "INSERT INTO api_tokens (token_sha256, role, tenant_id, user_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(sha256_hex.to_ascii_lowercase())
        .bind(role.name())
        .bind(tenant_id)
        .bind(user_id)
        .bind(now)
        .bind(expires_at)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| {
            classify(
                e,
                || "this token exists already".to_string(),
                || match user_id {
                    Some(u) => format!("user {u} not found in the tenant"),
                    None => "tenant not found".to_string(),
                },
            )
        })?;
        Ok(ApiToken {
            id: row.try_get(0)?,
            role,
            tenant_id,
            user_id,
            created_at: now,
            last_used: None,
            expires_at,
        })
    }

    /// Makes token `id` (of `tenant_id`; `None`: the operator's) expire at
    /// `at` (unix ms); returns whether there was such a token.
    pub async fn expire_api_token(&self, tenant_id: Option<i64>, id: i64, at: i64) -> Result<bool> {
        let done = match tenant_id {
            Some(t) => {
                sqlx::query(
                    "UPDATE api_tokens SET expires_at = $1 WHERE id = $2 AND tenant_id = $3",
                )
                .bind(at)
                .bind(id)
                .bind(t)
                .execute(&self.pool)
                .await?
            }
            None => {
                sqlx::query(
                    "UPDATE api_tokens SET expires_at = $1 WHERE id = $2 AND tenant_id IS NULL",
                )
                .bind(at)
                .bind(id)
                .execute(&self.pool)
                .await?
            }
        };
        Ok(done.rows_affected() > 0)
    }

    /// The token with this hash; its `last_used` is set to now when older
    /// than a minute (so that a busy client does not write on every
    /// request).
    pub async fn use_api_token(&self, sha256_hex: &str) -> Result<Option<ApiToken>> {
        let hash = sha256_hex.to_ascii_lowercase();
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {TOKEN_COLS} FROM api_tokens WHERE token_sha256 = $1"
        )))
        .bind(&hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some(mut token) = row.map(|r| token_from_row(&r)).transpose()? else {
            return Ok(None);
        };
        let now = crate::now_ms();
        if token.expires_at.is_some_and(|t| now >= t) {
            return Ok(None);
        }
        if token
            .last_used
            .is_none_or(|t| now - t >= LAST_USED_GRANULARITY_MS)
        {
            sqlx::query("UPDATE api_tokens SET last_used = $1 WHERE id = $2")
                .bind(now)
                .bind(token.id)
                .execute(&self.pool)
                .await?;
            token.last_used = Some(now);
        }
        Ok(Some(token))
    }

    /// The tokens of a tenant (`None`: the operator's), by id.
    pub async fn list_api_tokens(&self, tenant_id: Option<i64>) -> Result<Vec<ApiToken>> {
        let rows = match tenant_id {
            Some(t) => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {TOKEN_COLS} FROM api_tokens WHERE tenant_id = $1 ORDER BY id"
                )))
                .bind(t)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {TOKEN_COLS} FROM api_tokens WHERE tenant_id IS NULL ORDER BY id"
                )))
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows.iter().map(token_from_row).collect()
    }

    /// Revokes token `id` of a tenant (`None`: an operator token); returns
    /// whether it existed.
    pub async fn delete_api_token(&self, tenant_id: Option<i64>, id: i64) -> Result<bool> {
        let done = match tenant_id {
            Some(t) => {
                sqlx::query("DELETE FROM api_tokens WHERE id = $1 AND tenant_id = $2")
                    .bind(id)
                    .bind(t)
                    .execute(&self.pool)
                    .await?
            }
            None => {
                sqlx::query("DELETE FROM api_tokens WHERE id = $1 AND tenant_id IS NULL")
                    .bind(id)
                    .execute(&self.pool)
                    .await?
            }
        };
        Ok(done.rows_affected() > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip() {
        for r in [TokenRole::Operator, TokenRole::Admin, TokenRole::User] {
            assert_eq!(TokenRole::parse(r.name()), Some(r));
        }
        assert_eq!(TokenRole::parse("root"), None);
    }
}
