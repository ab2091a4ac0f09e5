//! The operator's resources: tenants, the plugin catalogue and licences.
//! Operator tokens belong to no tenant, so tenant ids in these paths are
//! the operator's to choose.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{Operator, Principal};
use super::error::{ApiError, ApiResult, ErrorBody, Json, Path};
use super::ApiState;
use crate::runtime::{LicenceScope, Manifest};
use crate::store::TokenRole;
use crate::tenancy::plugins::{InstalledPlugin, Licence};
use crate::tenancy::Tenant;

/// A tenant.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantOut {
    /// Id.
    pub id: i64,
    /// SIP domain (also the digest realm).
    pub domain: String,
    /// Company name.
    pub name: String,
    /// Digits of an internal extension.
    pub extension_length: i64,
    /// Digits dialled before an outside number.
    pub outside_prefix: String,
    /// Country calling code national numbers are read in (e.g. `31`).
    pub country_code: String,
}

impl From<Tenant> for TenantOut {
    fn from(t: Tenant) -> Self {
        Self {
            id: t.id,
            domain: t.domain,
            name: t.name,
            extension_length: t.extension_length,
            outside_prefix: t.outside_prefix,
            country_code: t.country_code,
        }
    }
}

/// A new tenant.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantIn {
    /// SIP domain, e.g. `acme.example.com`.
    pub domain: String,
    /// Company name.
    #[serde(default)]
    pub name: String,
    /// Digits of an internal extension (2 to 6; default 3).
    #[serde(default = "default_ext_len")]
    pub extension_length: i64,
    /// Digits dialled before an outside number (default `0`).
    #[serde(default = "default_prefix")]
    pub outside_prefix: String,
    /// Country calling code national numbers are read in (default `31`).
    #[serde(default = "default_country")]
    pub country_code: String,
}

fn default_country() -> String {
    "31".into()
}

fn default_ext_len() -> i64 {
    3
}
fn default_prefix() -> String {
    "0".into()
}

/// A plugin of the catalogue (newest version).
#[derive(Debug, Serialize, ToSchema)]
pub struct PluginOut {
    /// Manifest id.
    pub id: String,
    /// Newest version.
    pub version: String,
    /// Display name.
    pub name: String,
    /// What it does.
    pub description: String,
    /// `tenant`, `user` or `service`.
    pub licence_scope: String,
    /// Host interfaces it uses.
    pub capabilities: Vec<String>,
    /// JSON Schema of its settings, when it has settings.
    #[schema(value_type = Option<Object>)]
    pub settings_schema: Option<serde_json::Value>,
    /// Installed for one tenant only.
    pub private: bool,
    /// Whether this version may run (a private version asking for more
    /// than the last approved one waits for the operator).
    pub approved: bool,
}

/// The name of a licence scope.
pub fn scope_name(s: LicenceScope) -> &'static str {
    match s {
        LicenceScope::Tenant => "tenant",
        LicenceScope::User => "user",
        LicenceScope::Service => "service",
    }
}

/// A catalogue entry from an installed plugin; `None` when its stored
/// manifest no longer parses.
pub fn plugin_out(p: &InstalledPlugin) -> Option<PluginOut> {
    let m = Manifest::from_toml(&p.manifest).ok()?;
    Some(PluginOut {
        id: p.id.clone(),
        version: p.version.clone(),
        name: m.name.clone(),
        description: m.description.clone(),
        licence_scope: scope_name(m.licence_scope).to_string(),
        capabilities: m.granted().iter().map(|c| c.name().to_string()).collect(),
        settings_schema: m.settings_schema().ok().flatten(),
        private: p.tenant_id.is_some(),
        approved: p.approved,
    })
}

/// A licence with its use.
#[derive(Debug, Serialize, ToSchema)]
pub struct LicenceOut {
    /// Plugin id.
    pub plugin_id: String,
    /// Subjects allowed.
    pub quantity: i64,
    /// Enabled assignments.
    pub used: i64,
    /// Why the plugin is suspended for the tenant, if it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suspended: Option<String>,
}

impl From<Licence> for LicenceOut {
    fn from(l: Licence) -> Self {
        Self {
            plugin_id: l.plugin_id,
            quantity: l.quantity,
            used: l.used,
            suspended: None,
        }
    }
}

/// A licence quantity.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuantityIn {
    /// Subjects allowed (at least the number enabled now).
    pub quantity: i64,
}

/// List tenants.
#[utoipa::path(get, path = "/tenants", tag = "operator",
    responses((status = 200, body = [TenantOut]), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_tenants(
    _: Operator,
    State(s): State<ApiState>,
) -> ApiResult<axum::Json<Vec<TenantOut>>> {
    let list = s.store.list_tenants().await?;
    Ok(axum::Json(list.into_iter().map(TenantOut::from).collect()))
}

/// Create a tenant.
#[utoipa::path(post, path = "/tenants", tag = "operator", request_body = TenantIn,
    responses((status = 201, body = TenantOut), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_tenant(
    _: Operator,
    State(s): State<ApiState>,
    Json(t): Json<TenantIn>,
) -> ApiResult<(StatusCode, axum::Json<TenantOut>)> {
    if !(2..=6).contains(&t.extension_length) {
        return Err(
            ApiError::invalid("extension_length must be between 2 and 6").field("extension_length"),
        );
    }
    let created = s
        .store
        .create_tenant(
            &t.domain.to_ascii_lowercase(),
            &t.name,
            t.extension_length,
            &t.outside_prefix,
        )
        .await
        .map_err(|e| ApiError::from(e).field("domain"))?;
    if t.country_code != created.country_code {
        if let Err(e) = s
            .store
            .set_tenant_country_code(created.id, &t.country_code)
            .await
        {
            let _ = s.store.delete_tenant(created.id).await;
            return Err(ApiError::from(e).field("country_code"));
        }
    }
    let created = s.store.tenant(created.id).await?.unwrap_or(created);
    Ok((StatusCode::CREATED, axum::Json(created.into())))
}

/// Get a tenant.
#[utoipa::path(get, path = "/tenants/{tenant_id}", tag = "operator",
    params(("tenant_id" = i64, Path, description = "Tenant id")),
    responses((status = 200, body = TenantOut), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_tenant(
    _: Operator,
    State(s): State<ApiState>,
    Path(id): Path<i64>,
) -> ApiResult<axum::Json<TenantOut>> {
    let t = s
        .store
        .tenant(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("tenant {id} not found")))?;
    Ok(axum::Json(t.into()))
}

/// Delete a tenant with all its users, devices, CDRs and tokens.
#[utoipa::path(delete, path = "/tenants/{tenant_id}", tag = "operator",
    params(("tenant_id" = i64, Path, description = "Tenant id")),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn delete_tenant(
    _: Operator,
    State(s): State<ApiState>,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    s.store.delete_tenant(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The plugin catalogue: for the operator the plugins installed for every
/// tenant, for a tenant's admin or user those the tenant can use (public and
/// its private ones).
#[utoipa::path(get, path = "/plugins", tag = "catalogue",
    responses((status = 200, body = [PluginOut])),
    security(("bearer" = [])))]
async fn list_plugins(
    p: Principal,
    State(s): State<ApiState>,
) -> ApiResult<axum::Json<Vec<PluginOut>>> {
    let tenant = match p.role {
        TokenRole::Operator => None,
        _ => p.tenant_id,
    };
    let list = s.store.list_plugins(tenant).await?;
    Ok(axum::Json(list.iter().filter_map(plugin_out).collect()))
}

/// A tenant's licences.
#[utoipa::path(get, path = "/tenants/{tenant_id}/licences", tag = "operator",
    params(("tenant_id" = i64, Path, description = "Tenant id")),
    responses((status = 200, body = [LicenceOut]), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn tenant_licences(
    _: Operator,
    State(s): State<ApiState>,
    Path(id): Path<i64>,
) -> ApiResult<axum::Json<Vec<LicenceOut>>> {
    super::tenant_or_404(&s.store, id).await?;
    Ok(axum::Json(super::admin::licences_of(&s, id).await?))
}

/// Grant a licence or change its quantity.
#[utoipa::path(put, path = "/tenants/{tenant_id}/licences/{plugin_id}", tag = "operator",
    params(("tenant_id" = i64, Path, description = "Tenant id"),
        ("plugin_id" = String, Path, description = "Plugin id")),
    request_body = QuantityIn,
    responses((status = 200, body = LicenceOut), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn grant_licence(
    _: Operator,
    State(s): State<ApiState>,
    Path((id, plugin)): Path<(i64, String)>,
    Json(q): Json<QuantityIn>,
) -> ApiResult<axum::Json<LicenceOut>> {
    if q.quantity < 1 {
        return Err(ApiError::invalid(
            "quantity must be at least 1 (DELETE the licence to revoke it)",
        )
        .field("quantity"));
    }
    super::tenant_or_404(&s.store, id).await?;
    let l = s
        .store
        .grant_licence(id, &plugin, q.quantity)
        .await
        .map_err(|e| match e {
            crate::store::StoreError::Invalid(m) => ApiError::invalid(m).field("quantity"),
            other => other.into(),
        })?;
    Ok(axum::Json(l.into()))
}

/// Revoke a licence (assignments and settings are kept).
#[utoipa::path(delete, path = "/tenants/{tenant_id}/licences/{plugin_id}", tag = "operator",
    params(("tenant_id" = i64, Path, description = "Tenant id"),
        ("plugin_id" = String, Path, description = "Plugin id")),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn revoke_licence(
    _: Operator,
    State(s): State<ApiState>,
    Path((id, plugin)): Path<(i64, String)>,
) -> ApiResult<StatusCode> {
    if s.store.revoke_licence(id, &plugin).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!(
            "tenant {id} has no licence for {plugin}"
        )))
    }
}

/// A tenant's private plugins: every version, what it asks for, and
/// whether it is approved.
#[utoipa::path(get, path = "/tenants/{tenant_id}/plugins", tag = "operator",
    params(("tenant_id" = i64, Path, description = "Tenant id")),
    responses((status = 200, body = [PluginOut]), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn tenant_plugins(
    _: Operator,
    State(s): State<ApiState>,
    Path(id): Path<i64>,
) -> ApiResult<axum::Json<Vec<PluginOut>>> {
    super::tenant_or_404(&s.store, id).await?;
    let list = s.store.private_plugin_versions(id).await?;
    Ok(axum::Json(list.iter().filter_map(plugin_out).collect()))
}

/// Approve a private plugin version (the capabilities it asks for): new
/// calls use it from now on.
#[utoipa::path(post, path = "/tenants/{tenant_id}/plugins/{plugin_id}/versions/{version}/approve",
    tag = "operator",
    params(("tenant_id" = i64, Path, description = "Tenant id"),
        ("plugin_id" = String, Path, description = "Private plugin id (`<id>@<domain>`)"),
        ("version" = String, Path, description = "Version")),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn approve_version(
    _: Operator,
    State(s): State<ApiState>,
    Path((id, plugin, version)): Path<(i64, String, String)>,
) -> ApiResult<StatusCode> {
    super::tenant_or_404(&s.store, id).await?;
    s.store
        .approve_plugin_version(id, &plugin, &version)
        .await?;
    tracing::info!(tenant = id, %plugin, %version, "private plugin version approved");
    Ok(StatusCode::NO_CONTENT)
}

/// The operator's routes.
pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list_tenants, create_tenant))
        .routes(routes!(get_tenant, delete_tenant))
        .routes(routes!(list_plugins))
        .routes(routes!(tenant_licences))
        .routes(routes!(grant_licence, revoke_licence))
        .routes(routes!(tenant_plugins))
        .routes(routes!(approve_version))
}
