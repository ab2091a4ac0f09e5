//! Plugin assignments of a tenant: which users (or the whole tenant) have a
//! plugin enabled, with which settings. Settings are validated against the
//! manifest's schema (422 naming the field); enabling past the licence's
//! quantity is 409. [`apply`] is shared with the self-service routes.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::admin::user_or_404;
use super::auth::TenantAdmin;
use super::error::{ApiError, ApiResult, ErrorBody, Json, Path};
use super::ApiState;
use crate::runtime::{LicenceScope, Manifest};
use crate::store::StoreError;
use crate::tenancy::plugins::{merge_settings, Assignment};

/// A plugin's assignment to a user or to the whole tenant.
#[derive(Debug, Serialize, ToSchema)]
pub struct AssignmentOut {
    /// Plugin id.
    pub plugin_id: String,
    /// Runs for the subject (uses one licence unit).
    pub enabled: bool,
    /// The settings stored for this subject (a JSON object).
    #[schema(value_type = Object)]
    pub settings: Value,
}

impl AssignmentOut {
    fn from_assignment(a: &Assignment) -> Self {
        Self {
            plugin_id: a.plugin_id.clone(),
            enabled: a.enabled,
            settings: serde_json::from_str(&a.settings_json)
                .unwrap_or_else(|_| Value::Object(Default::default())),
        }
    }

    fn empty(plugin_id: &str) -> Self {
        Self {
            plugin_id: plugin_id.to_string(),
            enabled: false,
            settings: Value::Object(Default::default()),
        }
    }
}

/// A change of an assignment; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignmentIn {
    /// Enable (within the licence) or disable.
    pub enabled: Option<bool>,
    /// Settings to store (a JSON object valid against the manifest's schema).
    #[schema(value_type = Option<Object>)]
    pub settings: Option<Value>,
}

/// The manifest of the newest version of `plugin` the tenant can see, or
/// 404.
pub async fn visible_manifest(s: &ApiState, tenant: i64, plugin: &str) -> ApiResult<Manifest> {
    let p = s
        .store
        .plugin(Some(tenant), plugin)
        .await
        .map_err(|e| match e {
            StoreError::Invalid(_) => ApiError::not_found(format!("plugin {plugin} not found")),
            other => other.into(),
        })?
        .ok_or_else(|| ApiError::not_found(format!("plugin {plugin} not found")))?;
    let mut m = Manifest::from_toml(&p.manifest).map_err(ApiError::internal)?;
    // A private plugin's catalogue id is in its tenant's namespace.
    m.id = p.id;
    Ok(m)
}

/// The field a schema error names: `$.a.b: must be ...` → `settings.a.b`;
/// `$.a: missing required property `b`` → `settings.a.b`.
fn settings_field(message: &str) -> String {
    let (path, rest) = message.split_once(": ").unwrap_or(("$", message));
    let mut field = match path.trim().strip_prefix('$') {
        Some(tail) => format!("settings{tail}"),
        None => "settings".to_string(),
    };
    if let Some(at) = rest.find("property `") {
        let name = &rest[at + "property `".len()..];
        if let Some(end) = name.find('`') {
            field.push('.');
            field.push_str(&name[..end]);
        }
    }
    field
}

/// The stored assignment of `plugin` to `subject` (tenant-wide: `None`), or
/// a disabled one without settings.
pub async fn current(
    s: &ApiState,
    tenant: i64,
    plugin: &str,
    subject: Option<i64>,
) -> ApiResult<AssignmentOut> {
    Ok(
        match s.store.plugin_assignment(tenant, plugin, subject).await? {
            Some(a) => AssignmentOut::from_assignment(&a),
            None => AssignmentOut::empty(plugin),
        },
    )
}

/// Applies `change` to the assignment of `plugin` to `subject` (tenant-wide
/// with `None`) of `tenant`; returns the assignment as stored.
pub async fn apply(
    s: &ApiState,
    tenant: i64,
    plugin: &str,
    subject: Option<i64>,
    change: AssignmentIn,
) -> ApiResult<AssignmentOut> {
    let m = visible_manifest(s, tenant, plugin).await?;
    match (m.licence_scope, subject) {
        (LicenceScope::User, Some(_)) | (LicenceScope::Tenant, None) => {}
        (LicenceScope::User, None) => {
            return Err(ApiError::invalid(format!(
                "{plugin} is licensed per user: assign it to users"
            ))
            .field("plugin_id"))
        }
        (LicenceScope::Tenant, Some(_)) => {
            return Err(ApiError::invalid(format!(
                "{plugin} is licensed per tenant: assign it tenant-wide"
            ))
            .field("plugin_id"))
        }
        (LicenceScope::Service, _) => {
            return Err(ApiError::invalid(format!(
                "{plugin} is licensed per service subject; services are not supported yet"
            ))
            .field("plugin_id"))
        }
    }
    let settings_json = match &change.settings {
        None => None,
        Some(doc) => {
            if !doc.is_object() {
                return Err(ApiError::invalid("settings must be a JSON object").field("settings"));
            }
            let effective = match subject {
                None => doc.clone(),
                Some(_) => {
                    let base = s
                        .store
                        .effective_plugin_settings(tenant, plugin, None)
                        .await?;
                    let base: Value = serde_json::from_str(&base).map_err(ApiError::internal)?;
                    merge_settings(&base, doc)
                }
            };
            if let Err(why) = m.validate_settings(&effective) {
                return Err(ApiError::invalid(format!(
                    "settings for {plugin} are not valid: {why}"
                ))
                .field(settings_field(&why)));
            }
            Some(doc.to_string())
        }
    };
    let licensed = s
        .store
        .licence(tenant, plugin)
        .await?
        .is_some_and(|l| l.quantity > 0);
    let no_licence = || ApiError::conflict(format!("the tenant has no licence for {plugin}"));
    let conflict = |e: StoreError| match e {
        StoreError::NotFound(_) if !licensed => no_licence(),
        StoreError::Invalid(m) => ApiError::invalid(m).field("settings"),
        other => other.into(),
    };
    match change.enabled {
        Some(true) => {
            if !licensed {
                return Err(no_licence().field("enabled"));
            }
            s.store
                .enable_plugin(tenant, plugin, subject, settings_json.as_deref())
                .await
                .map_err(|e| conflict(e).field("enabled"))?;
        }
        Some(false) => {
            s.store
                .disable_plugin(tenant, plugin, subject)
                .await
                .map_err(conflict)?;
            if let Some(json) = &settings_json {
                s.store
                    .set_plugin_settings(tenant, plugin, subject, json)
                    .await
                    .map_err(conflict)?;
            }
        }
        None => {
            if let Some(json) = &settings_json {
                s.store
                    .set_plugin_settings(tenant, plugin, subject, json)
                    .await
                    .map_err(conflict)?;
            }
        }
    }
    current(s, tenant, plugin, subject).await
}

/// The assignments of a subject (or tenant-wide) for every licensed plugin
/// that has one.
async fn assignments_of(
    s: &ApiState,
    tenant: i64,
    subject: Option<i64>,
) -> ApiResult<Vec<AssignmentOut>> {
    let mut out = Vec::new();
    for l in s.store.list_licences(tenant).await? {
        if let Some(a) = s
            .store
            .plugin_assignment(tenant, &l.plugin_id, subject)
            .await?
        {
            out.push(AssignmentOut::from_assignment(&a));
        }
    }
    Ok(out)
}

/// A user's plugin assignments.
#[utoipa::path(get, path = "/users/{user_id}/plugins", tag = "tenant admin",
    params(("user_id" = i64, Path, description = "User id")),
    responses((status = 200, body = [AssignmentOut]), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_user_plugins(
    a: TenantAdmin,
    State(s): State<ApiState>,
    Path(user): Path<i64>,
) -> ApiResult<axum::Json<Vec<AssignmentOut>>> {
    user_or_404(&s, a.tenant, user).await?;
    Ok(axum::Json(assignments_of(&s, a.tenant, Some(user)).await?))
}

/// A user's assignment of one plugin.
#[utoipa::path(get, path = "/users/{user_id}/plugins/{plugin_id}", tag = "tenant admin",
    params(("user_id" = i64, Path, description = "User id"),
        ("plugin_id" = String, Path, description = "Plugin id")),
    responses((status = 200, body = AssignmentOut), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_user_plugin(
    a: TenantAdmin,
    State(s): State<ApiState>,
    Path((user, plugin)): Path<(i64, String)>,
) -> ApiResult<axum::Json<AssignmentOut>> {
    user_or_404(&s, a.tenant, user).await?;
    visible_manifest(&s, a.tenant, &plugin).await?;
    Ok(axum::Json(
        current(&s, a.tenant, &plugin, Some(user)).await?,
    ))
}

/// Enable, disable or configure a plugin for a user.
#[utoipa::path(put, path = "/users/{user_id}/plugins/{plugin_id}", tag = "tenant admin",
    params(("user_id" = i64, Path, description = "User id"),
        ("plugin_id" = String, Path, description = "Plugin id")),
    request_body = AssignmentIn,
    responses((status = 200, body = AssignmentOut), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "no licence, or all units in use"),
        (status = 422, body = ErrorBody, description = "settings do not match the schema")),
    security(("bearer" = [])))]
async fn put_user_plugin(
    a: TenantAdmin,
    State(s): State<ApiState>,
    Path((user, plugin)): Path<(i64, String)>,
    Json(change): Json<AssignmentIn>,
) -> ApiResult<axum::Json<AssignmentOut>> {
    user_or_404(&s, a.tenant, user).await?;
    Ok(axum::Json(
        apply(&s, a.tenant, &plugin, Some(user), change).await?,
    ))
}

/// Disable a plugin for a user (settings are kept).
#[utoipa::path(delete, path = "/users/{user_id}/plugins/{plugin_id}", tag = "tenant admin",
    params(("user_id" = i64, Path, description = "User id"),
        ("plugin_id" = String, Path, description = "Plugin id")),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn delete_user_plugin(
    a: TenantAdmin,
    State(s): State<ApiState>,
    Path((user, plugin)): Path<(i64, String)>,
) -> ApiResult<StatusCode> {
    user_or_404(&s, a.tenant, user).await?;
    visible_manifest(&s, a.tenant, &plugin).await?;
    s.store
        .disable_plugin(a.tenant, &plugin, Some(user))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The tenant-wide assignments.
#[utoipa::path(get, path = "/tenant/plugins", tag = "tenant admin",
    responses((status = 200, body = [AssignmentOut])), security(("bearer" = [])))]
async fn list_tenant_plugins(
    a: TenantAdmin,
    State(s): State<ApiState>,
) -> ApiResult<axum::Json<Vec<AssignmentOut>>> {
    Ok(axum::Json(assignments_of(&s, a.tenant, None).await?))
}

/// The tenant-wide assignment of one plugin.
#[utoipa::path(get, path = "/tenant/plugins/{plugin_id}", tag = "tenant admin",
    params(("plugin_id" = String, Path, description = "Plugin id")),
    responses((status = 200, body = AssignmentOut), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_tenant_plugin(
    a: TenantAdmin,
    State(s): State<ApiState>,
    Path(plugin): Path<String>,
) -> ApiResult<axum::Json<AssignmentOut>> {
    visible_manifest(&s, a.tenant, &plugin).await?;
    Ok(axum::Json(current(&s, a.tenant, &plugin, None).await?))
}

/// Enable, disable or configure a plugin tenant-wide (tenant-licensed
/// plugins), or store the tenant's default settings.
#[utoipa::path(put, path = "/tenant/plugins/{plugin_id}", tag = "tenant admin",
    params(("plugin_id" = String, Path, description = "Plugin id")),
    request_body = AssignmentIn,
    responses((status = 200, body = AssignmentOut), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn put_tenant_plugin(
    a: TenantAdmin,
    State(s): State<ApiState>,
    Path(plugin): Path<String>,
    Json(change): Json<AssignmentIn>,
) -> ApiResult<axum::Json<AssignmentOut>> {
    // Default settings of a per-user plugin are stored tenant-wide without
    // enabling it there.
    if change.enabled.is_none() {
        if let Some(doc) = &change.settings {
            let m = visible_manifest(&s, a.tenant, &plugin).await?;
            if m.licence_scope == LicenceScope::User {
                m.validate_settings(doc).map_err(|why| {
                    ApiError::invalid(format!("settings for {plugin} are not valid: {why}"))
                        .field(settings_field(&why))
                })?;
                s.store
                    .set_plugin_settings(a.tenant, &plugin, None, &doc.to_string())
                    .await
                    .map_err(|e| match e {
                        StoreError::NotFound(_) => {
                            ApiError::conflict(format!("the tenant has no licence for {plugin}"))
                        }
                        other => other.into(),
                    })?;
                return Ok(axum::Json(current(&s, a.tenant, &plugin, None).await?));
            }
        }
    }
    Ok(axum::Json(
        apply(&s, a.tenant, &plugin, None, change).await?,
    ))
}

/// The routes of plugin assignments.
pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list_user_plugins))
        .routes(routes!(
            get_user_plugin,
            put_user_plugin,
            delete_user_plugin
        ))
        .routes(routes!(list_tenant_plugins))
        .routes(routes!(get_tenant_plugin, put_tenant_plugin))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_of_schema_errors() {
        assert_eq!(
            settings_field("$.always.destination: must be a string"),
            "settings.always.destination"
        );
        assert_eq!(settings_field("$: must be an object"), "settings");
        assert_eq!(
            settings_field("$.always: missing required property `destination`"),
            "settings.always.destination"
        );
    }
}
