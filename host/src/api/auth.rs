//! Who is asking: `Authorization: Bearer <token>`, looked up by its SHA-256
//! in the store, and the throttle of failed attempts per client address.
//!
//! A token is 32 random bytes in base64url (no padding), shown once when
//! created ([`create_token`]); the store keeps only its hash. Requests with
//! a wrong token count as failures of their client address; past the
//! limit the address gets 429 with `Retry-After` until the window ends. The role
//! extractors ([`Operator`], [`TenantAdmin`], [`SelfUser`]) answer 401
//! without a valid token and 403 when the token's role does not fit.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::error::ApiError;
use super::ApiState;
use crate::store::{ApiToken, Store, TokenRole};

/// A token just created: the secret (shown once) and its row.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// The bearer token; not stored anywhere.
    pub secret: String,
    /// The stored row.
    pub token: ApiToken,
}

/// Lowercase hex SHA-256 of a token.
pub fn token_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Creates and stores a token with 32 random bytes.
pub async fn create_token(
    store: &Store,
    role: TokenRole,
    tenant_id: Option<i64>,
    user_id: Option<i64>,
) -> crate::store::Result<NewToken> {
    create_expiring_token(store, role, tenant_id, user_id, None).await
}

/// [`create_token`] for a token that stops working at `expires_at` (unix
/// ms; `None`: never).
pub async fn create_expiring_token(
    store: &Store,
    role: TokenRole,
    tenant_id: Option<i64>,
    user_id: Option<i64>,
    expires_at: Option<i64>,
) -> crate::store::Result<NewToken> {
    let bytes: [u8; 32] = rand::random();
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let token = store
        .create_api_token(&token_hash(&secret), role, tenant_id, user_id, expires_at)
        .await?;
    Ok(NewToken { secret, token })
}

/// The caller of a request, from its token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token's role.
    pub role: TokenRole,
    /// Its tenant (admin, user).
    pub tenant_id: Option<i64>,
    /// Its user (user; optionally admin).
    pub user_id: Option<i64>,
    /// The token's row id.
    pub token_id: i64,
}

/// Failed authentications per client address in a fixed window.
#[derive(Debug)]
pub struct Throttle {
    limit: u32,
    window: Duration,
    seen: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl Throttle {
    /// At most `limit` failures per `window` and address.
    pub fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit,
            window,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Seconds the address must wait, when it is over the limit.
    pub fn blocked(&self, ip: IpAddr) -> Option<u64> {
        let now = Instant::now();
        let seen = self.seen.lock().ok()?;
        let (start, n) = seen.get(&ip)?;
        let elapsed = now.duration_since(*start);
        if *n >= self.limit && elapsed < self.window {
            Some((self.window - elapsed).as_secs().max(1))
        } else {
            None
        }
    }

    /// Counts one failure of the address.
    pub fn fail(&self, ip: IpAddr) {
        let now = Instant::now();
        if let Ok(mut seen) = self.seen.lock() {
            if seen.len() > 100_000 {
                let window = self.window;
                seen.retain(|_, (start, _)| now.duration_since(*start) < window);
            }
            let e = seen.entry(ip).or_insert((now, 0));
            if now.duration_since(e.0) >= self.window {
                *e = (now, 0);
            }
            e.1 = e.1.saturating_add(1);
        }
    }
}

fn client_ip(parts: &Parts) -> IpAddr {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]))
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, message)
}

impl FromRequestParts<ApiState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ApiState,
    ) -> Result<Self, Self::Rejection> {
        let ip = client_ip(parts);
        if let Some(secs) = state.throttle.blocked(ip) {
            let mut e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too many failed authentications; try again later",
            );
            e.retry_after = Some(secs);
            return Err(e);
        }
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        // no credentials at all is not a failed login: not counted
        let Some(header) = header else {
            return Err(unauthorized("missing Authorization: Bearer <token>"));
        };
        let secret = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|s| !s.is_empty() && s.len() <= 256);
        let Some(secret) = secret else {
            state.throttle.fail(ip);
            return Err(unauthorized(
                "the Authorization header is not a bearer token",
            ));
        };
        match state.store.use_api_token(&token_hash(secret)).await? {
            Some(t) => Ok(Principal {
                role: t.role,
                tenant_id: t.tenant_id,
                user_id: t.user_id,
                token_id: t.id,
            }),
            None => {
                state.throttle.fail(ip);
                Err(unauthorized("unknown or revoked token"))
            }
        }
    }
}

/// The operator.
#[derive(Debug, Clone)]
pub struct Operator(pub Principal);

impl FromRequestParts<ApiState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ApiState,
    ) -> Result<Self, Self::Rejection> {
        let p = Principal::from_request_parts(parts, state).await?;
        if p.role == TokenRole::Operator {
            Ok(Operator(p))
        } else {
            Err(ApiError::forbidden("this needs an operator token"))
        }
    }
}

/// A tenant admin; `.tenant` is the token's tenant, the key of every query.
#[derive(Debug, Clone)]
pub struct TenantAdmin {
    /// The token's tenant.
    pub tenant: i64,
}

impl FromRequestParts<ApiState> for TenantAdmin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ApiState,
    ) -> Result<Self, Self::Rejection> {
        let p = Principal::from_request_parts(parts, state).await?;
        match (p.role, p.tenant_id) {
            (TokenRole::Admin, Some(tenant)) => Ok(TenantAdmin { tenant }),
            _ => Err(ApiError::forbidden("this needs a tenant admin token")),
        }
    }
}

/// A user acting on their own things (a user token, or an admin token that
/// names a user).
#[derive(Debug, Clone)]
pub struct SelfUser {
    /// The token's tenant.
    pub tenant: i64,
    /// The token's user.
    pub user: i64,
}

impl FromRequestParts<ApiState> for SelfUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ApiState,
    ) -> Result<Self, Self::Rejection> {
        let p = Principal::from_request_parts(parts, state).await?;
        match (p.tenant_id, p.user_id) {
            (Some(tenant), Some(user)) => Ok(SelfUser { tenant, user }),
            _ => Err(ApiError::forbidden("this needs a token of a user")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_blocks_after_the_limit_and_forgets_after_the_window() {
        let t = Throttle::new(3, Duration::from_millis(200));
        let ip = IpAddr::from([10, 0, 0, 1]);
        for _ in 0..3 {
            assert!(t.blocked(ip).is_none());
            t.fail(ip);
        }
        assert!(t.blocked(ip).is_some());
        assert!(t.blocked(IpAddr::from([10, 0, 0, 2])).is_none());
        std::thread::sleep(Duration::from_millis(250));
        assert!(t.blocked(ip).is_none());
    }

    #[test]
    fn hashes_are_hex_sha256() {
        assert_eq!(token_hash("abc").len(), 64);
        assert_ne!(token_hash("abc"), token_hash("abd"));
    }
}
