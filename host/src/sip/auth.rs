//! Authentication of requests from devices: finds the credentials in a
//! request, checks them against the device's stored HA1 with server-issued
//! nonces, and builds challenges. Failed attempts are throttled per source IP.

use super::digest::{self, Algorithm, FailureThrottle, NonceIssuer, Verdict};
use super::message::{Request, Response};
use super::transport::Peer;
use crate::store::Store;
use crate::tenancy::{Device, Tenant};
use std::time::{Duration, SystemTime};

/// What to do with a request after looking at its credentials.
#[derive(Debug)]
pub enum AuthOutcome {
    /// Valid credentials of this device.
    Authenticated(Tenant, Device),
    /// Answer 401/407 with a fresh challenge for `realm`.
    Challenge { realm: String, stale: bool },
    /// Answer 403 with this reason.
    Forbidden(&'static str),
}

/// Digest authenticator shared by the registrar and the switch.
pub struct Authenticator {
    store: Store,
    nonces: NonceIssuer,
    throttle: FailureThrottle,
    algorithms: Vec<Algorithm>,
}

/// Lifetime of a nonce (after which a correct response gets `stale=true`).
pub const NONCE_TTL: Duration = Duration::from_secs(300);

impl Authenticator {
    /// A new authenticator over `store`, offering `algorithms` in that order
    /// (an empty list means MD5 then SHA-256).
    pub fn new(store: Store, algorithms: Vec<Algorithm>) -> Self {
        let algorithms = if algorithms.is_empty() {
            vec![Algorithm::Md5, Algorithm::Sha256]
        } else {
            algorithms
        };
        Self {
            store,
            nonces: NonceIssuer::new(NONCE_TTL),
            throttle: FailureThrottle::new(20, Duration::from_secs(60)),
            algorithms,
        }
    }

    /// Checks `req`'s `header` (`Authorization` or `Proxy-Authorization`).
    /// `realm` is the realm to challenge with when there are no usable
    /// credentials (the tenant domain the request seems to be for).
    pub async fn check(&self, req: &Request, peer: Peer, header: &str, realm: &str) -> AuthOutcome {
        let ip = peer.addr.ip();
        let now = SystemTime::now();
        if self.throttle.is_blocked(ip, now) {
            return AuthOutcome::Forbidden("Too many failed attempts");
        }
        // Use the credentials for a realm we know (a request may carry several).
        let mut creds = None;
        for v in req.headers.get_all(header) {
            if let Ok(c) = digest::parse_authorization(v) {
                creds = Some(c);
                break;
            }
        }
        let Some(c) = creds else {
            return AuthOutcome::Challenge {
                realm: realm.to_string(),
                stale: false,
            };
        };
        let tenant = match self.store.tenant_by_domain(&c.realm).await {
            Ok(Some(t)) => t,
            Ok(None) => {
                self.throttle.record_failure(ip, now);
                return AuthOutcome::Challenge {
                    realm: realm.to_string(),
                    stale: false,
                };
            }
            Err(e) => {
                tracing::error!("auth lookup: {e}");
                return AuthOutcome::Forbidden("Temporary failure");
            }
        };
        let device = match self.store.device_by_username(tenant.id, &c.username).await {
            Ok(Some(d)) => d,
            Ok(None) => {
                self.throttle.record_failure(ip, now);
                return AuthOutcome::Forbidden("Wrong credentials");
            }
            Err(e) => {
                tracing::error!("auth lookup: {e}");
                return AuthOutcome::Forbidden("Temporary failure");
            }
        };
        if !plausible_uri(&c.uri, &req.uri) {
            self.throttle.record_failure(ip, now);
            return AuthOutcome::Forbidden("Bad digest URI");
        }
        if !self.algorithms.contains(&c.algorithm) {
            self.throttle.record_failure(ip, now);
            return AuthOutcome::Challenge {
                realm: tenant.domain,
                stale: false,
            };
        }
        let ha1 = match c.algorithm {
            Algorithm::Md5 => &device.ha1_md5,
            Algorithm::Sha256 => &device.ha1_sha256,
        };
        match self
            .nonces
            .verify(&c, &req.method, &tenant.domain, ha1, now)
        {
            Verdict::Ok => {
                self.throttle.record_success(ip);
                AuthOutcome::Authenticated(tenant, device)
            }
            Verdict::Stale => AuthOutcome::Challenge {
                realm: tenant.domain,
                stale: true,
            },
            Verdict::Replay => {
                tracing::warn!(user = %c.username, %ip, "replayed digest credentials refused");
                self.throttle.record_failure(ip, now);
                AuthOutcome::Challenge {
                    realm: tenant.domain,
                    stale: false,
                }
            }
            Verdict::Invalid(why) => {
                tracing::info!(user = %c.username, %ip, "digest refused: {why}");
                self.throttle.record_failure(ip, now);
                AuthOutcome::Forbidden("Wrong credentials")
            }
        }
    }

    /// A 401 (`proxy` false) or 407 (`proxy` true) challenge to `req`.
    pub fn challenge(
        &self,
        req: &Request,
        to_tag: &str,
        realm: &str,
        stale: bool,
        proxy: bool,
    ) -> Response {
        let (status, header) = if proxy {
            (407, "Proxy-Authenticate")
        } else {
            (401, "WWW-Authenticate")
        };
        let mut r = Response::to(req, status, Some(to_tag));
        let offered = self.nonces.challenge(realm, stale);
        for alg in &self.algorithms {
            let marker = format!("algorithm={},", alg.name());
            if let Some(v) = offered.iter().find(|v| v.contains(&marker)) {
                r.headers.push(header, v.clone());
            }
        }
        r
    }
}

/// Whether the digest `uri` is acceptable for a request to `request_uri`.
/// RFC 7616 §3.4.6 asks for the Request-URI, but phones (and sipp) often put
/// the registrar's address there instead; since the response hash covers the
/// digest URI and nonce-counts stop replays, any SIP URI is accepted.
fn plausible_uri(digest_uri: &str, request_uri: &str) -> bool {
    digest_uri == request_uri || super::uri::SipUri::parse(digest_uri).is_ok()
}
