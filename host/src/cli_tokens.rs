//! `centrale token create|list|revoke`: tokens of the admin REST API
//! (`docs/api.md`). A token is printed once, when created; only its hash
//! is stored.

use std::fmt::Write as _;

use anyhow::{anyhow, bail};
use clap::Subcommand;

use crate::store::{Store, TokenRole};

/// `centrale token ...`
#[derive(Subcommand, Debug)]
pub enum TokenCmd {
    /// Create a token and print it (once).
    Create {
        /// operator, admin or user.
        #[arg(long)]
        role: String,
        /// Tenant domain (admin and user tokens).
        #[arg(long)]
        tenant: Option<String>,
        /// Extension of the user (user tokens; optional for admin tokens).
        #[arg(long)]
        user: Option<String>,
        /// Days until the token stops working (default: it does not expire).
        #[arg(long)]
        expires_in_days: Option<u32>,
    },
    /// Replace a token: a new one with the same role is created and
    /// printed; the old one keeps working for --grace-secs, then expires.
    Rotate {
        /// Tenant domain (the operator's tokens without it).
        #[arg(long)]
        tenant: Option<String>,
        /// Token id (see `token list`).
        id: i64,
        /// Seconds the old token keeps working.
        #[arg(long, default_value_t = 3600)]
        grace_secs: u64,
        /// Days until the new token expires (default: it does not).
        #[arg(long)]
        expires_in_days: Option<u32>,
    },
    /// List the tokens of a tenant (the operator's without --tenant).
    List {
        /// Tenant domain.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Revoke a token by its id (see `token list`).
    Revoke {
        /// Tenant domain (the operator's tokens without it).
        #[arg(long)]
        tenant: Option<String>,
        /// Token id.
        id: i64,
    },
}

async fn tenant_id(store: &Store, domain: Option<&str>) -> anyhow::Result<Option<i64>> {
    match domain {
        None => Ok(None),
        Some(d) => Ok(Some(
            store
                .tenant_by_domain(d)
                .await?
                .ok_or_else(|| anyhow!("no tenant with domain {d:?} (see `centrale tenant list`)"))?
                .id,
        )),
    }
}

/// Creates a token; the last line of the text is the token.
pub async fn token_create(
    store: &Store,
    role: &str,
    tenant: Option<&str>,
    user: Option<&str>,
    expires_in_days: Option<u32>,
) -> anyhow::Result<String> {
    let role = TokenRole::parse(role)
        .ok_or_else(|| anyhow!("--role must be operator, admin or user, not {role:?}"))?;
    match role {
        TokenRole::Operator if tenant.is_some() || user.is_some() => {
            bail!("an operator token has no --tenant or --user")
        }
        TokenRole::Admin | TokenRole::User if tenant.is_none() => {
            bail!("a {} token needs --tenant", role.name())
        }
        TokenRole::User if user.is_none() => bail!("a user token needs --user EXTENSION"),
        _ => {}
    }
    let t = tenant_id(store, tenant).await?;
    let u = match (t, user) {
        (Some(t), Some(ext)) => Some(
            store
                .user_by_extension(t, ext)
                .await?
                .ok_or_else(|| anyhow!("no user with extension {ext}"))?
                .id,
        ),
        _ => None,
    };
    let expires_at = expires_in_days.map(|d| crate::now_ms() + i64::from(d) * 86_400_000);
    let new = crate::api::create_expiring_token(store, role, t, u, expires_at).await?;
    let whom = match (tenant, user) {
        (Some(d), Some(ext)) => format!(" for {ext}@{d}"),
        (Some(d), None) => format!(" for {d}"),
        _ => String::new(),
    };
    Ok(format!(
        "{} token{whom} created (id {}); it is shown only this once:\n{}\n",
        role.name(),
        new.token.id,
        new.secret
    ))
}

/// Runs a `token` subcommand; returns what to print.
pub async fn token(store: &Store, cmd: TokenCmd) -> anyhow::Result<String> {
    match cmd {
        TokenCmd::Create {
            role,
            tenant,
            user,
            expires_in_days,
        } => {
            token_create(
                store,
                &role,
                tenant.as_deref(),
                user.as_deref(),
                expires_in_days,
            )
            .await
        }
        TokenCmd::Rotate {
            tenant,
            id,
            grace_secs,
            expires_in_days,
        } => {
            let t = tenant_id(store, tenant.as_deref()).await?;
            let old = store
                .list_api_tokens(t)
                .await?
                .into_iter()
                .find(|k| k.id == id)
                .ok_or_else(|| anyhow!("no token {id} there"))?;
            let expires_at = expires_in_days.map(|d| crate::now_ms() + i64::from(d) * 86_400_000);
            let new = crate::api::create_expiring_token(
                store,
                old.role,
                old.tenant_id,
                old.user_id,
                expires_at,
            )
            .await?;
            let grace = i64::try_from(grace_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
            store
                .expire_api_token(t, id, crate::now_ms().saturating_add(grace))
                .await?;
            Ok(format!(
                "token {id} replaced by token {} (the old one works {grace_secs} s more); \
                 the new one is shown only this once:\n{}\n",
                new.token.id, new.secret
            ))
        }
        TokenCmd::List { tenant } => {
            let t = tenant_id(store, tenant.as_deref()).await?;
            let mut out = String::new();
            for tok in store.list_api_tokens(t).await? {
                let _ = writeln!(
                    out,
                    "{}\t{}\tuser {}\tcreated {}\tlast used {}\texpires {}",
                    tok.id,
                    tok.role.name(),
                    tok.user_id.map(|u| u.to_string()).unwrap_or("-".into()),
                    tok.created_at,
                    tok.last_used
                        .map(|u| u.to_string())
                        .unwrap_or("never".into()),
                    tok.expires_at
                        .map(|u| u.to_string())
                        .unwrap_or("never".into())
                );
            }
            Ok(out)
        }
        TokenCmd::Revoke { tenant, id } => {
            let t = tenant_id(store, tenant.as_deref()).await?;
            if store.delete_api_token(t, id).await? {
                Ok(format!("token {id} revoked\n"))
            } else {
                bail!("no token {id} there")
            }
        }
    }
}
