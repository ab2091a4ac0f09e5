//! Number ranges (operator): the blocks of public numbers a tenant may
//! assign to its users. Ranges of different tenants never overlap.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Operator;
use super::error::{ApiError, ApiResult, ErrorBody, Json, Path};
use super::ApiState;
use crate::store::{NumberRange, StoreError};

/// A block of numbers, both ends included, canonical E.164.
#[derive(Debug, Serialize, ToSchema)]
pub struct RangeOut {
    /// Id.
    pub id: i64,
    /// First number.
    pub first: String,
    /// Last number.
    pub last: String,
}

impl From<NumberRange> for RangeOut {
    fn from(r: NumberRange) -> Self {
        RangeOut {
            id: r.id,
            first: r.first,
            last: r.last,
        }
    }
}

/// A block to allocate (any spelling, read in the tenant's country).
#[derive(Debug, Deserialize, ToSchema)]
pub struct RangeIn {
    /// First number, e.g. `+31205552000` or `020 555 2000`.
    pub first: String,
    /// Last number (same number of digits); default: `first` alone.
    #[serde(default)]
    pub last: Option<String>,
}

/// A tenant's number ranges.
#[utoipa::path(get, path = "/tenants/{tenant_id}/number-ranges", tag = "operator",
    params(("tenant_id" = i64, Path, description = "Tenant id")),
    responses((status = 200, body = [RangeOut]), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_ranges(
    _: Operator,
    State(s): State<ApiState>,
    Path(id): Path<i64>,
) -> ApiResult<axum::Json<Vec<RangeOut>>> {
    super::tenant_or_404(&s.store, id).await?;
    let list = s.store.list_number_ranges(id).await?;
    Ok(axum::Json(list.into_iter().map(Into::into).collect()))
}

/// Allocate a block of numbers to a tenant.
#[utoipa::path(post, path = "/tenants/{tenant_id}/number-ranges", tag = "operator",
    params(("tenant_id" = i64, Path, description = "Tenant id")),
    request_body = RangeIn,
    responses((status = 201, body = RangeOut), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "overlaps a range"),
        (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
async fn add_range(
    _: Operator,
    State(s): State<ApiState>,
    Path(id): Path<i64>,
    Json(b): Json<RangeIn>,
) -> ApiResult<(StatusCode, axum::Json<RangeOut>)> {
    let t = super::tenant_or_404(&s.store, id).await?;
    let last = b.last.clone().unwrap_or_else(|| b.first.clone());
    let r = s
        .store
        .add_number_range(&t, &b.first, &last)
        .await
        .map_err(|e| match e {
            StoreError::Invalid(m) => ApiError::invalid(m).field("first"),
            other => other.into(),
        })?;
    Ok((StatusCode::CREATED, axum::Json(r.into())))
}

/// Take a range back (none of its numbers may be assigned).
#[utoipa::path(delete, path = "/tenants/{tenant_id}/number-ranges/{range_id}", tag = "operator",
    params(("tenant_id" = i64, Path, description = "Tenant id"),
        ("range_id" = i64, Path, description = "Range id")),
    responses((status = 204), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "a number of it is assigned")),
    security(("bearer" = [])))]
async fn remove_range(
    _: Operator,
    State(s): State<ApiState>,
    Path((id, range)): Path<(i64, i64)>,
) -> ApiResult<StatusCode> {
    super::tenant_or_404(&s.store, id).await?;
    s.store.remove_number_range(id, range).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The number-range routes.
pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list_ranges, add_range))
        .routes(routes!(remove_range))
}
