//! A tenant admin's resources: licences, users (with numbers), devices,
//! schedules and the call log. Every query is keyed by the token's tenant;
//! an id of another tenant's row is 404.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::TenantAdmin;
use super::error::{ApiError, ApiResult, ErrorBody, Json, Path, Query};
use super::operator::LicenceOut;
use super::ApiState;
use crate::tenancy::{Cdr, Device, User};

/// A user with its public numbers.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserOut {
    /// Id.
    pub id: i64,
    /// Internal extension.
    pub extension: String,
    /// Name shown to callees.
    pub display_name: String,
    /// E-mail address.
    pub email: String,
    /// Public numbers (DIDs), the main one first.
    pub numbers: Vec<String>,
}

impl From<User> for UserOut {
    fn from(u: User) -> Self {
        Self {
            id: u.id,
            extension: u.extension,
            display_name: u.display_name,
            email: u.email,
            numbers: u.numbers,
        }
    }
}

/// A new user.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserIn {
    /// Internal extension, as many digits as the tenant's extension length.
    pub extension: String,
    /// Name shown to callees.
    #[serde(default)]
    pub display_name: String,
    /// E-mail address.
    #[serde(default)]
    pub email: String,
    /// Public numbers (`+` optional, digits).
    #[serde(default)]
    pub numbers: Vec<String>,
}

/// Changes to a user; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    /// Name shown to callees.
    pub display_name: Option<String>,
    /// E-mail address.
    pub email: Option<String>,
    /// Public numbers, replacing the current ones.
    pub numbers: Option<Vec<String>>,
}

/// A user's numbers.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NumbersIn {
    /// Public numbers, replacing the current ones.
    pub numbers: Vec<String>,
}

/// A device (SIP credential); its password is never shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceOut {
    /// Id.
    pub id: i64,
    /// Digest username.
    pub username: String,
}

impl From<Device> for DeviceOut {
    fn from(d: Device) -> Self {
        Self {
            id: d.id,
            username: d.username,
        }
    }
}

/// A new device.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceIn {
    /// Digest username, unique in the tenant.
    pub username: String,
    /// SIP password (at least 6 characters); write-only.
    pub password: String,
}

/// A schedule and whether it is open now.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScheduleOut {
    /// Name, e.g. `business-hours`.
    pub name: String,
    /// Open now.
    pub open: bool,
    /// `{"time_zone_offset_minutes": 60, "periods": [{"weekday": 1, "from": "09:00", "to": "17:00"}], "holidays": ["2026-12-25"]}`
    #[schema(value_type = Object)]
    pub schedule: serde_json::Value,
}

/// One call of the call log.
#[derive(Debug, Serialize, ToSchema)]
pub struct CdrOut {
    /// Id.
    pub id: i64,
    /// SIP Call-ID of the caller's leg.
    pub call_id: String,
    /// Caller.
    pub caller: String,
    /// Callee.
    pub callee: String,
    /// Unix ms.
    pub started_at: i64,
    /// Unix ms, when answered.
    pub answered_at: Option<i64>,
    /// Unix ms.
    pub ended_at: i64,
    /// `answered`, `busy`, `no-answer`, `cancelled`, `rejected`, ...
    pub result: String,
    /// Final SIP status.
    pub sip_code: i64,
}

impl From<Cdr> for CdrOut {
    fn from(c: Cdr) -> Self {
        Self {
            id: c.id,
            call_id: c.call_id,
            caller: c.caller,
            callee: c.callee,
            started_at: c.started_at,
            answered_at: c.answered_at,
            ended_at: c.ended_at,
            result: c.result,
            sip_code: c.sip_code,
        }
    }
}

/// A page of the call log.
#[derive(Debug, Deserialize, IntoParams)]
pub struct Page {
    /// Rows (1 to 500, default 50).
    pub limit: Option<i64>,
    /// Rows to skip (default 0).
    pub offset: Option<i64>,
}

/// The licences of a tenant with their use and suspensions.
pub async fn licences_of(s: &ApiState, tenant: i64) -> ApiResult<Vec<LicenceOut>> {
    let suspended = s.store.list_suspensions(tenant).await?;
    Ok(s.store
        .list_licences(tenant)
        .await?
        .into_iter()
        .map(|l| {
            let reason = suspended
                .iter()
                .find(|x| x.plugin_id == l.plugin_id)
                .map(|x| x.reason.clone());
            LicenceOut {
                suspended: reason,
                ..LicenceOut::from(l)
            }
        })
        .collect())
}

/// The user `id` of the tenant, or 404.
pub async fn user_or_404(s: &ApiState, tenant: i64, id: i64) -> ApiResult<User> {
    s.store
        .user(tenant, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("user {id} not found")))
}

/// The tenant's licences: used of total.
#[utoipa::path(get, path = "/licences", tag = "tenant admin",
    responses((status = 200, body = [LicenceOut]), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
async fn licences(
    a: TenantAdmin,
    State(s): State<ApiState>,
) -> ApiResult<axum::Json<Vec<LicenceOut>>> {
    Ok(axum::Json(licences_of(&s, a.tenant).await?))
}

/// The tenant's users.
#[utoipa::path(get, path = "/users", tag = "tenant admin",
    responses((status = 200, body = [UserOut])), security(("bearer" = [])))]
async fn list_users(
    a: TenantAdmin,
    State(s): State<ApiState>,
) -> ApiResult<axum::Json<Vec<UserOut>>> {
    let list = s.store.list_users(a.tenant).await?;
    Ok(axum::Json(list.into_iter().map(UserOut::from).collect()))
}

/// Create a user (add a device for it with `POST /users/{user_id}/devices`).
#[utoipa::path(post, path = "/users", tag = "tenant admin", request_body = UserIn,
    responses((status = 201, body = UserOut), (status = 409, body = ErrorBody),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_user(
    a: TenantAdmin,
    State(s): State<ApiState>,
    Json(u): Json<UserIn>,
) -> ApiResult<(StatusCode, axum::Json<UserOut>)> {
    let t = super::tenant_or_404(&s.store, a.tenant).await?;
    if u.extension.len() as i64 != t.extension_length
        || !u.extension.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(ApiError::invalid(format!(
            "extension {:?} must be {} digits",
            u.extension, t.extension_length
        ))
        .field("extension"));
    }
    let created = s
        .store
        .create_user(
            a.tenant,
            &u.extension,
            &u.display_name,
            &u.email,
            &u.numbers,
        )
        .await
        .map_err(|e| with_user_field(e, &u.extension))?;
    Ok((StatusCode::CREATED, axum::Json(created.into())))
}

/// Names the field a user write failed on, from the store's message.
fn with_user_field(e: crate::store::StoreError, extension: &str) -> ApiError {
    let message = e.to_string();
    let field = if message.contains("number") {
        "numbers"
    } else if message.contains("display name") {
        "display_name"
    } else if message.contains("e-mail") {
        "email"
    } else if message.contains(extension) || message.contains("extension") {
        "extension"
    } else {
        return e.into();
    };
    ApiError::from(e).field(field)
}

/// Get a user.
#[utoipa::path(get, path = "/users/{user_id}", tag = "tenant admin",
    params(("user_id" = i64, Path, description = "User id")),
    responses((status = 200, body = UserOut), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn get_user(
    a: TenantAdmin,
    State(s): State<ApiState>,
    Path(id): Path<i64>,
) -> ApiResult<axum::Json<UserOut>> {
    Ok(axum::Json(user_or_404(&s, a.tenant, id).await?.into()))
}

/// Change a user's name, e-mail or numbers.
#[utoipa::path(patch, path = "/users/{user_id}", tag = "tenant admin",
    params(("user_id" = i64, Path, description = "User id")), request_body = UserPatch,
    responses((status = 200, body = UserOut), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn update_user(
    a: TenantAdmin,
    State(s): State<ApiState>,
    Path(id): Path<i64>,
    Json(p): Json<UserPatch>,
) -> ApiResult<axum::Json<UserOut>> {
    user_or_404(&s, a.tenant, id).await?;
    let mut u = s
        .store
        .update_user(a.tenant, id, p.display_name.as_deref(), p.email.as_deref())
        .await
        .map_err(|e| with_user_field(e, ""))?;
    if let Some(numbers) = p.numbers {
        u = s
            .store
            .set_user_numbers(a.tenant, id, &numbers)
            .await
            .map_err(|e| ApiError::from(e).field("numbers"))?;
    }
    Ok(axum::Json(u.into()))
}

/// Replace a user's public numbers.
#[utoipa::path(put, path = "/users/{user_id}/numbers", tag = "tenant admin",
    params(("user_id" = i64, Path, description = "User id")), request_body = NumbersIn,
    responses((status = 200, body = UserOut), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn set_numbers(
    a: TenantAdmin,
    State(s): State<ApiState>,
    Path(id): Path<i64>,
    Json(n): Json<NumbersIn>,
) -> ApiResult<axum::Json<UserOut>> {
    user_or_404(&s, a.tenant, id).await?;
    let u = s
        .store
        .set_user_numbers(a.tenant, id, &n.numbers)
        .await
        .map_err(|e| ApiError::from(e).field("numbers"))?;
    Ok(axum::Json(u.into()))
}

/// Delete a user with its numbers, devices and registrations.
#[utoipa::path(delete, path = "/users/{user_id}", tag = "tenant admin",
    params(("user_id" = i64, Path, description = "User id")),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn delete_user(
    a: TenantAdmin,
    State(s): State<ApiState>,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    user_or_404(&s, a.tenant, id).await?;
    s.store.delete_user(a.tenant, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A user's devices.
#[utoipa::path(get, path = "/users/{user_id}/devices", tag = "tenant admin",
    params(("user_id" = i64, Path, description = "User id")),
    responses((status = 200, body = [DeviceOut]), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_devices(
    a: TenantAdmin,
    State(s): State<ApiState>,
    Path(id): Path<i64>,
) -> ApiResult<axum::Json<Vec<DeviceOut>>> {
    user_or_404(&s, a.tenant, id).await?;
    let list = s.store.list_devices(a.tenant, id).await?;
    Ok(axum::Json(list.into_iter().map(DeviceOut::from).collect()))
}

/// Add a device (SIP credential) to a user.
#[utoipa::path(post, path = "/users/{user_id}/devices", tag = "tenant admin",
    params(("user_id" = i64, Path, description = "User id")), request_body = DeviceIn,
    responses((status = 201, body = DeviceOut), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_device(
    a: TenantAdmin,
    State(s): State<ApiState>,
    Path(id): Path<i64>,
    Json(d): Json<DeviceIn>,
) -> ApiResult<(StatusCode, axum::Json<DeviceOut>)> {
    let t = super::tenant_or_404(&s.store, a.tenant).await?;
    user_or_404(&s, a.tenant, id).await?;
    if d.password.len() < 6 {
        return Err(
            ApiError::invalid("the SIP password must have at least 6 characters").field("password"),
        );
    }
    let dev = crate::cli::add_device(&s.store, &t, id, &d.username, &d.password)
        .await
        .map_err(|e| match e.downcast::<crate::store::StoreError>() {
            Ok(e) => ApiError::from(e).field("username"),
            Err(e) => ApiError::invalid(e.to_string()).field("password"),
        })?;
    Ok((StatusCode::CREATED, axum::Json(dev.into())))
}

/// Remove a device.
#[utoipa::path(delete, path = "/users/{user_id}/devices/{device_id}", tag = "tenant admin",
    params(("user_id" = i64, Path, description = "User id"),
        ("device_id" = i64, Path, description = "Device id")),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn delete_device(
    a: TenantAdmin,
    State(s): State<ApiState>,
    Path((user, device)): Path<(i64, i64)>,
) -> ApiResult<StatusCode> {
    s.store.delete_device(a.tenant, user, device).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The tenant's schedules.
#[utoipa::path(get, path = "/schedules", tag = "tenant admin",
    responses((status = 200, body = [ScheduleOut])), security(("bearer" = [])))]
async fn list_schedules(
    a: TenantAdmin,
    State(s): State<ApiState>,
) -> ApiResult<axum::Json<Vec<ScheduleOut>>> {
    let now = crate::now_ms();
    let mut out = Vec::new();
    for (name, sch) in s.store.list_schedules(a.tenant).await? {
        out.push(ScheduleOut {
            name,
            open: sch.is_open(now),
            schedule: serde_json::to_value(&sch).map_err(ApiError::internal)?,
        });
    }
    Ok(axum::Json(out))
}

/// Create or replace a schedule.
#[utoipa::path(put, path = "/schedules/{name}", tag = "tenant admin",
    params(("name" = String, Path, description = "Schedule name, e.g. business-hours")),
    request_body(content = Object, description = "The schedule"),
    responses((status = 200, body = ScheduleOut), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn set_schedule(
    a: TenantAdmin,
    State(s): State<ApiState>,
    Path(name): Path<String>,
    Json(body): Json<serde_json::Value>,
) -> ApiResult<axum::Json<ScheduleOut>> {
    let sch = s
        .store
        .set_schedule(a.tenant, &name, &body.to_string())
        .await
        .map_err(|e| ApiError::from(e).field("schedule"))?;
    Ok(axum::Json(ScheduleOut {
        open: sch.is_open(crate::now_ms()),
        schedule: serde_json::to_value(&sch).map_err(ApiError::internal)?,
        name,
    }))
}

/// Remove a schedule.
#[utoipa::path(delete, path = "/schedules/{name}", tag = "tenant admin",
    params(("name" = String, Path, description = "Schedule name")),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn delete_schedule(
    a: TenantAdmin,
    State(s): State<ApiState>,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    if s.store.delete_schedule(a.tenant, &name).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("schedule {name} not found")))
    }
}

/// The call log, newest first.
#[utoipa::path(get, path = "/cdrs", tag = "tenant admin", params(Page),
    responses((status = 200, body = [CdrOut]), (status = 400, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_cdrs(
    a: TenantAdmin,
    State(s): State<ApiState>,
    Query(p): Query<Page>,
) -> ApiResult<axum::Json<Vec<CdrOut>>> {
    let limit = p.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::bad_request("limit must be 1 to 500").field("limit"));
    }
    let offset = p.offset.unwrap_or(0);
    if offset < 0 {
        return Err(ApiError::bad_request("offset must not be negative").field("offset"));
    }
    let list = s.store.list_cdrs_page(a.tenant, limit, offset).await?;
    Ok(axum::Json(list.into_iter().map(CdrOut::from).collect()))
}

/// The tenant admin's routes (plugin assignments are in `plugins.rs`).
pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(licences))
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user, update_user, delete_user))
        .routes(routes!(set_numbers))
        .routes(routes!(list_devices, create_device))
        .routes(routes!(delete_device))
        .routes(routes!(list_schedules))
        .routes(routes!(set_schedule, delete_schedule))
        .routes(routes!(list_cdrs))
}
