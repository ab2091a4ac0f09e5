//! Self-service of a user, keyed by the token's tenant and user: the
//! token's identity, their own do-not-disturb and call forwarding, and
//! their voicemail (the voicemail plugin's messages: JSON under `msg/<id>`
//! in its key-value store, audio in blob `msg-<id>.wav`, greeting in blob
//! `greeting.wav`, all in the user's own scope).

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{Principal, SelfUser};
use super::error::{ApiError, ApiResult, Body, ErrorBody, Json, Path};
use super::plugins::{apply, current, visible_manifest, AssignmentIn, AssignmentOut};
use super::ApiState;
use crate::runtime::host::{BlobError, Scope};
use crate::tenancy::plugins::KvScope;

/// The plugins a user may switch and configure themselves.
pub const SELF_SERVICE_PLUGINS: &[&str] = &["do-not-disturb", "call-forwarding"];

/// The voicemail plugin's id.
const VOICEMAIL: &str = "voicemail";

/// Largest greeting accepted (bytes).
pub const MAX_GREETING_BYTES: usize = 10 << 20;

/// Who the token belongs to.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeOut {
    /// `operator`, `admin` or `user`.
    pub role: String,
    /// The token's tenant.
    pub tenant_id: Option<i64>,
    /// Its SIP domain.
    pub tenant_domain: Option<String>,
    /// The token's user.
    pub user_id: Option<i64>,
    /// Their extension.
    pub extension: Option<String>,
}

/// A voice message.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MessageOut {
    /// Id (for the audio and delete routes).
    pub id: String,
    /// Caller number ("" when anonymous).
    #[serde(default)]
    pub caller: String,
    /// Caller name, when known.
    #[serde(default)]
    pub caller_name: String,
    /// When it was left, unix ms.
    #[serde(default)]
    pub at: u64,
    /// Length, ms.
    #[serde(default)]
    pub duration_ms: u32,
    /// Not listened to yet.
    #[serde(default)]
    pub new: bool,
}

fn scope(me: &SelfUser) -> KvScope {
    KvScope {
        tenant_id: me.tenant,
        plugin_id: VOICEMAIL.to_string(),
        subject_id: Some(me.user),
    }
}

/// Message ids are what the plugin makes: digits, letters, `-`, `_`, `.`.
fn check_id(id: &str) -> ApiResult<()> {
    if !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        Ok(())
    } else {
        Err(ApiError::not_found(format!("message {id:?} not found")))
    }
}

/// Every message of the user's box, new ones first, oldest first.
async fn messages(s: &ApiState, me: &SelfUser) -> ApiResult<Vec<MessageOut>> {
    let scope = scope(me);
    let kv = |e: crate::store::KvError| ApiError::internal(e);
    let mut list = Vec::new();
    for key in s.store.kv_list(&scope, "msg/").await.map_err(kv)? {
        if let Some(bytes) = s.store.kv_get(&scope, &key).await.map_err(kv)? {
            if let Ok(m) = serde_json::from_slice::<MessageOut>(&bytes) {
                list.push(m);
            }
        }
    }
    list.sort_by(|a, b| (!a.new, a.at, &a.id).cmp(&(!b.new, b.at, &b.id)));
    Ok(list)
}

/// The runtime scope of the user's voicemail blobs.
async fn blob_scope(s: &ApiState, me: &SelfUser) -> ApiResult<Scope> {
    let t = super::tenant_or_404(&s.store, me.tenant).await?;
    Ok(Scope {
        tenant_id: me.tenant,
        tenant_domain: t.domain,
        plugin_id: VOICEMAIL.to_string(),
        subject_id: Some(me.user),
    })
}

fn blob_error(e: BlobError) -> ApiError {
    match e {
        BlobError::NotFound => ApiError::not_found("no such recording"),
        BlobError::QuotaExceeded => ApiError::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "the voicemail box is full",
        ),
        other => ApiError::internal(format!("{other:?}")),
    }
}

/// Who this token belongs to.
#[utoipa::path(get, path = "/me/token", tag = "self-service",
    responses((status = 200, body = MeOut), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
async fn me_token(p: Principal, State(s): State<ApiState>) -> ApiResult<axum::Json<MeOut>> {
    let domain = match p.tenant_id {
        Some(t) => s.store.tenant(t).await?.map(|t| t.domain),
        None => None,
    };
    let extension = match (p.tenant_id, p.user_id) {
        (Some(t), Some(u)) => s.store.user(t, u).await?.map(|u| u.extension),
        _ => None,
    };
    Ok(axum::Json(MeOut {
        role: p.role.name().to_string(),
        tenant_id: p.tenant_id,
        tenant_domain: domain,
        user_id: p.user_id,
        extension,
    }))
}

fn self_service(plugin: &str) -> ApiResult<()> {
    if SELF_SERVICE_PLUGINS.contains(&plugin) {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "{plugin} is not a self-service plugin; ask your administrator"
        )))
    }
}

/// Your assignment of a self-service plugin (do-not-disturb, call-forwarding).
#[utoipa::path(get, path = "/me/plugins/{plugin_id}", tag = "self-service",
    params(("plugin_id" = String, Path, description = "do-not-disturb or call-forwarding")),
    responses((status = 200, body = AssignmentOut), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_my_plugin(
    me: SelfUser,
    State(s): State<ApiState>,
    Path(plugin): Path<String>,
) -> ApiResult<axum::Json<AssignmentOut>> {
    self_service(&plugin)?;
    visible_manifest(&s, me.tenant, &plugin).await?;
    Ok(axum::Json(
        current(&s, me.tenant, &plugin, Some(me.user)).await?,
    ))
}

/// Switch a self-service plugin on or off, or change its settings.
#[utoipa::path(put, path = "/me/plugins/{plugin_id}", tag = "self-service",
    params(("plugin_id" = String, Path, description = "do-not-disturb or call-forwarding")),
    request_body = AssignmentIn,
    responses((status = 200, body = AssignmentOut), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn put_my_plugin(
    me: SelfUser,
    State(s): State<ApiState>,
    Path(plugin): Path<String>,
    Json(change): Json<AssignmentIn>,
) -> ApiResult<axum::Json<AssignmentOut>> {
    self_service(&plugin)?;
    Ok(axum::Json(
        apply(&s, me.tenant, &plugin, Some(me.user), change).await?,
    ))
}

/// Switch a self-service plugin off (settings are kept).
#[utoipa::path(delete, path = "/me/plugins/{plugin_id}", tag = "self-service",
    params(("plugin_id" = String, Path, description = "do-not-disturb or call-forwarding")),
    responses((status = 204), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn delete_my_plugin(
    me: SelfUser,
    State(s): State<ApiState>,
    Path(plugin): Path<String>,
) -> ApiResult<StatusCode> {
    self_service(&plugin)?;
    s.store
        .disable_plugin(me.tenant, &plugin, Some(me.user))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Your voice messages, new ones first.
#[utoipa::path(get, path = "/me/voicemail", tag = "self-service",
    responses((status = 200, body = [MessageOut]), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_voicemail(
    me: SelfUser,
    State(s): State<ApiState>,
) -> ApiResult<axum::Json<Vec<MessageOut>>> {
    Ok(axum::Json(messages(&s, &me).await?))
}

/// The audio of a message (WAV, 8 kHz mono 16-bit).
#[utoipa::path(get, path = "/me/voicemail/{message_id}/audio", tag = "self-service",
    params(("message_id" = String, Path, description = "Message id")),
    responses((status = 200, content_type = "audio/wav", body = Vec<u8>),
        (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn message_audio(
    me: SelfUser,
    State(s): State<ApiState>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    check_id(&id)?;
    let scope = blob_scope(&s, &me).await?;
    let wav = s
        .storage
        .get(&s.store, &scope, &format!("msg-{id}.wav"))
        .await
        .map_err(blob_error)?;
    Ok((
        [
            (header::CONTENT_TYPE, "audio/wav".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"voicemail-{id}.wav\""),
            ),
        ],
        wav,
    )
        .into_response())
}

/// Delete a message (its audio too); the phones' message-waiting lamps
/// follow.
#[utoipa::path(delete, path = "/me/voicemail/{message_id}", tag = "self-service",
    params(("message_id" = String, Path, description = "Message id")),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn delete_message(
    me: SelfUser,
    State(s): State<ApiState>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    check_id(&id)?;
    let existed = s
        .store
        .kv_delete(&scope(&me), &format!("msg/{id}"))
        .await
        .map_err(ApiError::internal)?;
    if !existed {
        return Err(ApiError::not_found(format!("message {id} not found")));
    }
    let blobs = blob_scope(&s, &me).await?;
    match s
        .storage
        .delete(&s.store, &blobs, &format!("msg-{id}.wav"))
        .await
    {
        Ok(()) | Err(BlobError::NotFound) => {}
        Err(e) => return Err(blob_error(e)),
    }
    let left = messages(&s, &me).await?;
    let new = left.iter().filter(|m| m.new).count();
    let old = left.len() - new;
    s.store
        .mwi_set(
            me.tenant,
            me.user,
            u32::try_from(new).unwrap_or(u32::MAX),
            u32::try_from(old).unwrap_or(u32::MAX),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Upload your greeting: a WAV file, 8 kHz mono 16-bit PCM, up to 10 MiB.
#[utoipa::path(put, path = "/me/voicemail/greeting", tag = "self-service",
    request_body(content = Vec<u8>, content_type = "audio/wav"),
    responses((status = 204), (status = 413, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "not an 8 kHz mono 16-bit WAV")),
    security(("bearer" = [])))]
async fn put_greeting(
    me: SelfUser,
    State(s): State<ApiState>,
    Body(wav): Body,
) -> ApiResult<StatusCode> {
    crate::media::wav::load_wav_bytes(&wav)
        .map_err(|e| ApiError::invalid(format!("the greeting is not usable: {e}")).field("body"))?;
    let scope = blob_scope(&s, &me).await?;
    s.storage
        .put(&s.store, &scope, "greeting.wav", wav.to_vec())
        .await
        .map_err(blob_error)?;
    Ok(StatusCode::NO_CONTENT)
}

/// The self-service routes but the greeting upload.
pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(me_token))
        .routes(routes!(get_my_plugin, put_my_plugin, delete_my_plugin))
        .routes(routes!(list_voicemail))
        .routes(routes!(message_audio))
        .routes(routes!(delete_message))
}

/// The greeting upload (its own, larger body limit).
pub fn upload_routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(put_greeting))
        .routes(routes!(admin_put_greeting))
}

/// Upload the voicemail greeting of one of the tenant's users (e.g. a
/// company or department box): an 8 kHz mono 16-bit WAV.
#[utoipa::path(put, path = "/users/{user_id}/voicemail/greeting", tag = "tenant admin",
    params(("user_id" = i64, Path, description = "User id")),
    request_body(content = Vec<u8>, content_type = "audio/wav"),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "not an 8 kHz mono 16-bit WAV")),
    security(("bearer" = [])))]
async fn admin_put_greeting(
    a: super::auth::TenantAdmin,
    State(s): State<ApiState>,
    super::error::Path(user_id): super::error::Path<i64>,
    Body(wav): Body,
) -> ApiResult<StatusCode> {
    super::admin::user_or_404(&s, a.tenant, user_id).await?;
    crate::media::wav::load_wav_bytes(&wav)
        .map_err(|e| ApiError::invalid(format!("the greeting is not usable: {e}")).field("body"))?;
    let me = SelfUser {
        tenant: a.tenant,
        user: user_id,
    };
    let scope = blob_scope(&s, &me).await?;
    s.storage
        .put(&s.store, &scope, "greeting.wav", wav.to_vec())
        .await
        .map_err(blob_error)?;
    Ok(StatusCode::NO_CONTENT)
}
