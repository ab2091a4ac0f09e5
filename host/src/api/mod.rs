//! The admin REST API (`/api/v1`, OpenAPI document at
//! `/api/v1/openapi.json`, Swagger UI at `/api/docs`) and `/metrics`.
//!
//! Roles (see `DESIGN.md` §5): the operator (tenants, catalogue, licences),
//! a tenant admin (the tenant's users, devices, numbers, schedules, plugin
//! assignments, licences in use, call log) and a user (own do-not-disturb,
//! forwarding and voicemail). A bearer token carries the role, tenant and
//! user; every tenant-scoped query is keyed by the token's tenant, so an id
//! of another tenant's row is 404.
//!
//! Files: `auth.rs` (tokens, roles, throttle), `error.rs` (JSON errors and
//! extractors), `operator.rs`, `admin.rs`, `plugins.rs` (assignments),
//! `user.rs` (self-service), `metrics.rs`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::Router;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

use crate::mail::Mailer;
use crate::store::{BlobStore, Store};
use crate::switch::features::Features;
use crate::switch::Switch;
use crate::tenancy::storage::Storage;
use crate::tenancy::Tenant;

pub mod admin;
pub mod auth;
pub mod error;
pub mod limits;
pub mod metrics;
pub mod numbers;
pub mod operator;
pub mod plugins;
pub mod upload;
pub mod user;

pub use auth::{create_expiring_token, create_token, NewToken};

/// Largest request body but greetings (bytes).
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// What the handlers share. Cheap to clone.
#[derive(Clone)]
pub struct ApiState {
    /// The database.
    pub store: Store,
    /// Plugin blobs (voicemail audio, greetings).
    pub storage: Storage,
    /// Failed authentications per client address.
    pub throttle: Arc<auth::Throttle>,
    /// The running switch (metrics), when there is one.
    pub switch: Option<Arc<Switch>>,
    /// The plugin runner (metrics), when there is one.
    pub features: Option<Arc<Features>>,
    /// The outbox (metrics), when there is one.
    pub mailer: Option<Mailer>,
}

impl ApiState {
    /// A state over a store and a blob store, without a running switch;
    /// 10 failed authentications per minute and address are allowed.
    pub fn new(store: Store, blobs: BlobStore) -> Self {
        Self {
            store,
            storage: Storage::new(blobs, None),
            throttle: Arc::new(auth::Throttle::new(10, Duration::from_secs(60))),
            switch: None,
            features: None,
            mailer: None,
        }
    }

    /// Adds the running host's parts that `/metrics` reads.
    pub fn with_host(
        mut self,
        switch: Arc<Switch>,
        features: Option<Arc<Features>>,
        mailer: Mailer,
    ) -> Self {
        self.switch = Some(switch);
        self.features = features;
        self.mailer = Some(mailer);
        self
    }

    /// Replaces the throttle of failed authentications.
    pub fn with_throttle(mut self, limit: u32, window: Duration) -> Self {
        self.throttle = Arc::new(auth::Throttle::new(limit, window));
        self
    }
}

impl std::fmt::Debug for ApiState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiState")
            .field("storage", &self.storage)
            .finish_non_exhaustive()
    }
}

/// The tenant `id`, or 404.
pub async fn tenant_or_404(store: &Store, id: i64) -> error::ApiResult<Tenant> {
    store
        .tenant(id)
        .await?
        .ok_or_else(|| error::ApiError::not_found(format!("tenant {id} not found")))
}

/// The OpenAPI document's fixed part.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Centrale admin API",
        description = "Operator, tenant admin and user self-service. \
            Authenticate with `Authorization: Bearer <token>` (`centrale token create`)."
    ),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The `/api/v1` routes with their OpenAPI document.
pub fn api_v1() -> (Router<ApiState>, utoipa::openapi::OpenApi) {
    let small = OpenApiRouter::new()
        .merge(operator::routes())
        .merge(limits::routes())
        .merge(numbers::routes())
        .merge(admin::routes())
        .merge(plugins::routes())
        .merge(user::routes())
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES));
    let uploads = user::upload_routes()
        .layer(DefaultBodyLimit::max(user::MAX_GREETING_BYTES))
        .merge(upload::routes().layer(DefaultBodyLimit::max(upload::MAX_UPLOAD_BODY)));
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest("/api/v1", small.merge(uploads))
        .split_for_parts()
}

/// The whole HTTP service: `/api/v1`, its OpenAPI document, Swagger UI,
/// the web admin (`/admin/`) and `/metrics`.
pub fn router(state: ApiState) -> Router {
    let (api, doc) = api_v1();
    let api = api
        .route("/metrics", get(metrics::metrics))
        .fallback(|| async { error::ApiError::not_found("no such resource") })
        .with_state(state);
    Router::new()
        .merge(SwaggerUi::new("/api/docs").url("/api/v1/openapi.json", doc))
        .merge(crate::web::router())
        .merge(api)
}

/// Serves `router(state)` on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, state: ApiState) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}

/// Binds `addr` and serves only `/metrics`, without authentication, on a
/// task (`[api] metrics_listen`); returns the bound address.
pub async fn spawn_metrics(addr: SocketAddr, state: ApiState) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let app = Router::new()
        .route("/metrics", get(metrics::open_metrics))
        .with_state(state);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!("the metrics server stopped: {e}");
        }
    });
    Ok(bound)
}

/// Binds `addr` and serves the API on a task; returns the bound address.
pub async fn spawn(addr: SocketAddr, state: ApiState) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(e) = serve(listener, state).await {
            tracing::error!("the API server stopped: {e}");
        }
    });
    Ok(bound)
}
