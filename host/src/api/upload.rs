//! Integrator plugins: a tenant admin uploads a private plugin (manifest and
//! component). The component is checked against the WIT line and the
//! manifest's capabilities by compiling it in a throwaway runtime, then
//! stored as a new version visible to that tenant only. New calls use the
//! newest version; sessions already running finish on the one they loaded.

use axum::extract::State;
use axum::http::StatusCode;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::TenantAdmin;
use super::error::{ApiError, ApiResult, ErrorBody, Json};
use super::ApiState;
use crate::runtime::{Manifest, PluginError};

/// Largest component accepted by upload, bytes.
pub const MAX_UPLOAD_COMPONENT: usize = 32 << 20;
/// Body limit of the upload route (base64 of the largest component).
pub const MAX_UPLOAD_BODY: usize = MAX_UPLOAD_COMPONENT / 3 * 4 + (1 << 20);

/// A plugin to install privately.
#[derive(Debug, Deserialize, ToSchema)]
pub struct UploadIn {
    /// The manifest, `plugin.toml` text.
    pub manifest: String,
    /// The component (`.wasm`), base64.
    pub component_base64: String,
}

/// What was installed, and what it asks for.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadOut {
    /// Plugin id.
    pub id: String,
    /// Version installed.
    pub version: String,
    /// The WIT line it was built against (`0.1`, `0.2`).
    pub wit: String,
    /// Host interfaces it may use (shown to the admin before enabling).
    pub capabilities: Vec<String>,
    /// Hooks with their priorities.
    pub hooks: Vec<String>,
    /// Imports outside `centrale:plugin`, stubbed (they trap when called).
    pub foreign_imports: Vec<String>,
    /// Content hash of the component.
    pub sha256: String,
    /// Whether this version runs: it does when it asks for no capability
    /// beyond the tenant's last approved version of the plugin; otherwise
    /// it waits for the operator to approve it (the previous approved
    /// version keeps running meanwhile).
    pub approved: bool,
}

/// Whether `manifest`'s capabilities are within those of the newest
/// approved version of private plugin `id` of `tenant` (a first version
/// never is: the operator approves what a plugin may do).
async fn within_approved(
    store: &crate::store::Store,
    tenant: i64,
    id: &str,
    manifest: &Manifest,
) -> ApiResult<bool> {
    let versions = store.plugin_versions(Some(tenant), id).await?;
    let Some(last) = versions.iter().find(|v| v.approved) else {
        return Ok(false);
    };
    let Ok(before) = Manifest::from_toml(&last.manifest) else {
        return Ok(false);
    };
    let allowed = before.granted();
    Ok(manifest.granted().iter().all(|c| allowed.contains(c)))
}

/// Uploads a private plugin version for the admin's tenant.
#[utoipa::path(post, path = "/plugins", tag = "tenant admin", request_body = UploadIn,
    responses((status = 201, body = UploadOut),
        (status = 400, body = ErrorBody, description = "component_base64 is not base64"),
        (status = 409, body = ErrorBody, description = "this version is already installed"),
        (status = 422, body = ErrorBody, description = "the manifest or component is refused")),
    security(("bearer" = [])))]
async fn upload(
    a: TenantAdmin,
    State(s): State<ApiState>,
    Json(body): Json<UploadIn>,
) -> ApiResult<(StatusCode, axum::Json<UploadOut>)> {
    let manifest = Manifest::from_toml(&body.manifest).map_err(|e| {
        let field = if e.field.is_empty() {
            "manifest".to_string()
        } else {
            format!("manifest.{}", e.field)
        };
        ApiError::invalid(format!("the manifest is refused: {e}")).field(field)
    })?;
    let wasm = base64::engine::general_purpose::STANDARD
        .decode(body.component_base64.trim())
        .map_err(|e| ApiError::bad_request(format!("not base64: {e}")).field("component_base64"))?;
    if wasm.len() > MAX_UPLOAD_COMPONENT {
        return Err(ApiError::invalid(format!(
            "the component has {} bytes; at most {MAX_UPLOAD_COMPONENT} are accepted",
            wasm.len()
        ))
        .field("component_base64"));
    }
    if !s
        .store
        .tenant_storage_allows(a.tenant, wasm.len() as u64)
        .await?
    {
        return Err(ApiError::invalid(
            "the component would take the tenant over its storage limit",
        )
        .field("component_base64"));
    }
    let (m, w) = (manifest.clone(), wasm.clone());
    let loaded = tokio::task::spawn_blocking(move || crate::runtime::validate_component(&m, &w))
        .await
        .map_err(ApiError::internal)?
        .map_err(|e: PluginError| {
            ApiError::invalid(format!("the component is refused: {e}")).field("component_base64")
        })?;
    let tenant = s
        .store
        .tenant(a.tenant)
        .await?
        .ok_or_else(|| ApiError::not_found("tenant"))?;
    let id = crate::tenancy::plugins::private_plugin_id(&manifest.id, &tenant.domain);
    let approved = within_approved(&s.store, a.tenant, &id, &manifest).await?;
    let installed = s
        .store
        .install_plugin(
            Some(a.tenant),
            &id,
            &manifest.version,
            &body.manifest,
            &wasm,
            approved,
        )
        .await?;
    if !approved {
        tracing::warn!(
            tenant = %tenant.domain, plugin = %installed.id, version = %installed.version,
            "private plugin version asks for capabilities no approved version had: waits for the operator"
        );
    }
    tracing::info!(
        tenant = a.tenant, plugin = %installed.id, version = %installed.version,
        "private plugin uploaded"
    );
    Ok((
        StatusCode::CREATED,
        axum::Json(UploadOut {
            id: installed.id,
            version: installed.version,
            wit: manifest.wit_line().name().to_string(),
            capabilities: manifest
                .granted()
                .iter()
                .map(|c| c.name().to_string())
                .collect(),
            hooks: manifest
                .hooks
                .iter()
                .map(|(h, p)| format!("{} ({p})", h.name()))
                .collect(),
            foreign_imports: loaded.foreign_imports().to_vec(),
            sha256: installed.wasm_sha256,
            approved: installed.approved,
        }),
    ))
}

/// The upload route (its own body limit).
pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new().routes(routes!(upload))
}
