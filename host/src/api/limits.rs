//! The operator's limits of a tenant: concurrent calls, new calls per
//! minute, stored bytes (0 = no limit). The switch refuses calls over them
//! with 503; blob writes over the storage limit fail as over quota.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Operator;
use super::error::{ApiError, ApiResult, ErrorBody, Json, Path};
use super::ApiState;
use crate::store::TenantLimits;

/// A tenant's limits; 0 = no limit.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LimitsBody {
    /// Calls of the tenant in progress at once.
    #[serde(default)]
    pub max_concurrent_calls: i64,
    /// New calls of the tenant per minute.
    #[serde(default)]
    pub max_calls_per_minute: i64,
    /// Bytes of recordings and greetings the tenant may store.
    #[serde(default)]
    pub max_storage_bytes: i64,
}

impl From<TenantLimits> for LimitsBody {
    fn from(l: TenantLimits) -> Self {
        Self {
            max_concurrent_calls: l.max_concurrent_calls,
            max_calls_per_minute: l.max_calls_per_minute,
            max_storage_bytes: l.max_storage_bytes,
        }
    }
}

/// A tenant's limits.
#[utoipa::path(get, path = "/tenants/{tenant_id}/limits", tag = "operator",
    params(("tenant_id" = i64, Path, description = "Tenant id")),
    responses((status = 200, body = LimitsBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_limits(
    _: Operator,
    State(s): State<ApiState>,
    Path(id): Path<i64>,
) -> ApiResult<axum::Json<LimitsBody>> {
    super::tenant_or_404(&s.store, id).await?;
    Ok(axum::Json(s.store.tenant_limits(id).await?.into()))
}

/// Set a tenant's limits (applies to the next call).
#[utoipa::path(put, path = "/tenants/{tenant_id}/limits", tag = "operator",
    params(("tenant_id" = i64, Path, description = "Tenant id")),
    request_body = LimitsBody,
    responses((status = 200, body = LimitsBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn put_limits(
    _: Operator,
    State(s): State<ApiState>,
    Path(id): Path<i64>,
    Json(b): Json<LimitsBody>,
) -> ApiResult<axum::Json<LimitsBody>> {
    let limits = TenantLimits {
        max_concurrent_calls: b.max_concurrent_calls,
        max_calls_per_minute: b.max_calls_per_minute,
        max_storage_bytes: b.max_storage_bytes,
    };
    if let Err((field, message)) = limits.validate() {
        return Err(ApiError::invalid(message).field(field));
    }
    super::tenant_or_404(&s.store, id).await?;
    s.store.set_tenant_limits(id, &limits).await?;
    Ok(axum::Json(limits.into()))
}

/// What a tenant's plugins may mail.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MailPolicyBody {
    /// Sender of the tenant's mail; empty: the host's address under the
    /// tenant's name.
    #[serde(default)]
    pub from_address: String,
    /// Domains the tenant's plugins may mail besides its users' own
    /// addresses.
    #[serde(default)]
    pub allowed_domains: Vec<String>,
}

/// A tenant's mail policy.
#[utoipa::path(get, path = "/tenants/{tenant_id}/mail", tag = "operator",
    params(("tenant_id" = i64, Path, description = "Tenant id")),
    responses((status = 200, body = MailPolicyBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_mail(
    _: Operator,
    State(s): State<ApiState>,
    Path(id): Path<i64>,
) -> ApiResult<axum::Json<MailPolicyBody>> {
    super::tenant_or_404(&s.store, id).await?;
    let p = s.store.tenant_mail_policy(id).await?;
    Ok(axum::Json(MailPolicyBody {
        from_address: p.from_address,
        allowed_domains: p.allowed_domains,
    }))
}

/// Set what a tenant's plugins may mail: its sender, and the domains
/// besides its users' addresses.
#[utoipa::path(put, path = "/tenants/{tenant_id}/mail", tag = "operator",
    params(("tenant_id" = i64, Path, description = "Tenant id")),
    request_body = MailPolicyBody,
    responses((status = 200, body = MailPolicyBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn put_mail(
    _: Operator,
    State(s): State<ApiState>,
    Path(id): Path<i64>,
    Json(b): Json<MailPolicyBody>,
) -> ApiResult<axum::Json<MailPolicyBody>> {
    super::tenant_or_404(&s.store, id).await?;
    let p = crate::store::MailPolicy {
        from_address: b.from_address.trim().to_string(),
        allowed_domains: b.allowed_domains,
    };
    s.store
        .set_tenant_mail_policy(id, &p)
        .await
        .map_err(|e| match e {
            crate::store::StoreError::Invalid(m) => {
                let field = if m.contains("domain") {
                    "allowed_domains"
                } else {
                    "from_address"
                };
                ApiError::invalid(m).field(field)
            }
            other => other.into(),
        })?;
    let p = s.store.tenant_mail_policy(id).await?;
    Ok(axum::Json(MailPolicyBody {
        from_address: p.from_address,
        allowed_domains: p.allowed_domains,
    }))
}

/// The limits routes.
pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(get_limits, put_limits))
        .routes(routes!(get_mail, put_mail))
}
