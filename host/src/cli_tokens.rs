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
    let new = crate::api::create_token(store, role, t, u).await?;
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
        TokenCmd::Create { role, tenant, user } => {
            token_create(store, &role, tenant.as_deref(), user.as_deref()).await
        }
        TokenCmd::List { tenant } => {
            let t = tenant_id(store, tenant.as_deref()).await?;
            let mut out = String::new();
            for tok in store.list_api_tokens(t).await? {
                let _ = writeln!(
                    out,
                    "{}\t{}\tuser {}\tcreated {}\tlast used {}",
                    tok.id,
                    tok.role.name(),
                    tok.user_id.map(|u| u.to_string()).unwrap_or("-".into()),
                    tok.created_at,
                    tok.last_used
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
