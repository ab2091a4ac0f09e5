//! Authentication of requests from devices: finds the credentials in a
//! request, checks them against the device's stored HA1 with server-issued
//! nonces, and builds challenges. Failed attempts are throttled per source
//! (IPv6 per /64), per (source, username) and per username, with back-off
//! (see [`AuthThrottle`]); a nonce serves one username and is spent after a
//! few wrong responses.

use super::digest::{self, Algorithm, AuthLimits, AuthThrottle, NonceIssuer, Verdict};
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
    throttle: AuthThrottle,
    algorithms: Vec<Algorithm>,
    /// Challenges per source address: an unauthenticated request costs the
    /// host one datagram, and only so many per second.
    challenges: crate::ratelimit::RateLimiter<std::net::IpAddr>,
    /// `User-Agent` prefixes (lowercase) offered MD5 only.
    md5_only_agents: Vec<String>,
}

/// User agents known to fail on a SHA-256 challenge beside the MD5 one:
/// baresip before 3.0 (its libre only knows MD5 and aborts the request).
pub const DEFAULT_MD5_ONLY_AGENTS: &[&str] = &["baresip v0.", "baresip v1.", "baresip v2."];

/// Lifetime of a nonce (after which a correct response gets `stale=true`).
pub const NONCE_TTL: Duration = Duration::from_secs(300);

/// Longest username and realm looked at (longer ones are refused).
const MAX_NAME: usize = 256;

impl Authenticator {
    /// A new authenticator over `store`, offering `algorithms` in that order
    /// (an empty list means MD5 then SHA-256), throttling failures by
    /// `limits`, challenging each source at most `challenge_rate` times a
    /// second (bursts of `challenge_burst`).
    pub fn new(
        store: Store,
        algorithms: Vec<Algorithm>,
        limits: AuthLimits,
        challenge_rate: f64,
        challenge_burst: f64,
    ) -> Self {
        let algorithms = if algorithms.is_empty() {
            vec![Algorithm::Md5, Algorithm::Sha256]
        } else {
            algorithms
        };
        Self {
            store,
            nonces: NonceIssuer::new(NONCE_TTL),
            throttle: AuthThrottle::new(limits),
            algorithms,
            challenges: crate::ratelimit::RateLimiter::new(
                challenge_rate,
                challenge_burst,
                digest::DEFAULT_MAX_TRACKED_ADDRS,
            ),
            md5_only_agents: DEFAULT_MD5_ONLY_AGENTS
                .iter()
                .map(|s| s.to_string())
                .collect(),
        }
    }

    /// Whether `req` comes from a user agent that refuses a challenge set
    /// holding any algorithm but MD5 (libre before 3.x, so baresip 1.x and
    /// 2.x, aborts with "Function not implemented" instead of picking the
    /// MD5 challenge): it is offered MD5 alone. Matched case-insensitively
    /// against the start of `User-Agent` ([`Authenticator::with_md5_only_agents`]).
    fn knows_only_md5(&self, req: &Request) -> bool {
        let Some(ua) = req.headers.get("User-Agent") else {
            return false;
        };
        let ua = ua.trim().to_ascii_lowercase();
        self.md5_only_agents
            .iter()
            .any(|p| !p.is_empty() && ua.starts_with(p.as_str()))
    }

    /// Offers only MD5 to user agents whose `User-Agent` starts with one of
    /// `prefixes` (case-insensitive); see [`DEFAULT_MD5_ONLY_AGENTS`].
    pub fn with_md5_only_agents(mut self, prefixes: &[String]) -> Self {
        self.md5_only_agents = prefixes.iter().map(|p| p.to_ascii_lowercase()).collect();
        self
    }

    /// The challenge to answer `req` from `peer` with (send it with
    /// [`crate::sip::ServerTx::respond_stateless`]), or `None` when that
    /// source is over its challenge rate: then drop the request.
    pub fn challenge_for(
        &self,
        req: &Request,
        peer: Peer,
        to_tag: &str,
        realm: &str,
        stale: bool,
        proxy: bool,
    ) -> Option<Response> {
        if !self.challenges.allow(&digest::source_key(peer.addr.ip())) {
            metrics::counter!("centrale_challenges_dropped_total").increment(1);
            tracing::debug!(peer = %peer.addr, "challenge rate exceeded: request dropped");
            return None;
        }
        Some(self.challenge(req, to_tag, realm, stale, proxy))
    }

    /// Checks `req`'s `header` (`Authorization` or `Proxy-Authorization`).
    /// `realm` is the realm to challenge with when there are no usable
    /// credentials (the tenant domain the request seems to be for).
    pub async fn check(&self, req: &Request, peer: Peer, header: &str, realm: &str) -> AuthOutcome {
        let ip = peer.addr.ip();
        let now = SystemTime::now();
        if self.throttle.source_blocked(ip, now) {
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
        if c.username.len() > MAX_NAME || c.realm.len() > MAX_NAME {
            self.throttle.failure(ip, None, now);
            return AuthOutcome::Forbidden("Wrong credentials");
        }
        // Throttled per account: `user@realm`.
        let account = format!("{}@{}", c.username, c.realm.to_ascii_lowercase());
        if self.throttle.check(ip, &account, now).is_some() {
            return AuthOutcome::Forbidden("Too many failed attempts");
        }
        let tenant = match self.store.tenant_by_domain(&c.realm).await {
            Ok(Some(t)) => t,
            Ok(None) => {
                self.throttle.failure(ip, None, now);
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
                self.throttle.failure(ip, Some(&account), now);
                return AuthOutcome::Forbidden("Wrong credentials");
            }
            Err(e) => {
                tracing::error!("auth lookup: {e}");
                return AuthOutcome::Forbidden("Temporary failure");
            }
        };
        if !same_uri(&c.uri, &req.uri) {
            tracing::info!(user = %c.username, %ip, digest_uri = %c.uri, request_uri = %req.uri, "digest uri is not the Request-URI");
            self.throttle.failure(ip, Some(&account), now);
            return AuthOutcome::Forbidden("Digest URI does not match the Request-URI");
        }
        if !self.algorithms.contains(&c.algorithm) {
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
                self.throttle.success(ip, &account, now);
                AuthOutcome::Authenticated(tenant, device)
            }
            Verdict::Stale => AuthOutcome::Challenge {
                realm: tenant.domain,
                stale: true,
            },
            Verdict::Replay => {
                tracing::warn!(user = %c.username, %ip, "replayed digest credentials refused");
                self.throttle.failure(ip, None, now);
                AuthOutcome::Challenge {
                    realm: tenant.domain,
                    stale: false,
                }
            }
            Verdict::Invalid(why) => {
                tracing::info!(user = %c.username, %ip, "digest refused: {why}");
                self.throttle.failure(ip, Some(&account), now);
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
        let md5_only = self.knows_only_md5(req);
        for alg in &self.algorithms {
            if md5_only && *alg != Algorithm::Md5 {
                continue;
            }
            let marker = format!("algorithm={},", alg.name());
            if let Some(v) = offered.iter().find(|v| v.contains(&marker)) {
                r.headers.push(header, v.clone());
            }
        }
        r
    }
}

/// Whether the digest `uri` names the Request-URI (RFC 7616 §3.4.6,
/// RFC 3261 §22.4): the same scheme, user, host (case-insensitive) and port
/// (absent = 5060 for `sip`, 5061 for `sips`); URI parameters may differ.
fn same_uri(digest_uri: &str, request_uri: &str) -> bool {
    if digest_uri == request_uri {
        return true;
    }
    use super::uri::SipUri;
    let (Ok(d), Ok(r)) = (SipUri::parse(digest_uri), SipUri::parse(request_uri)) else {
        return false;
    };
    let secure = |u: &SipUri| u.scheme.eq_ignore_ascii_case("sips");
    let port = |u: &SipUri| u.port.unwrap_or(if secure(u) { 5061 } else { 5060 });
    secure(&d) == secure(&r)
        && d.user_unescaped() == r.user_unescaped()
        && d.host.eq_ignore_ascii_case(&r.host)
        && port(&d) == port(&r)
}

#[cfg(test)]
mod tests {
    use super::same_uri;

    #[test]
    fn the_digest_uri_must_be_the_request_uri() {
        assert!(same_uri("sip:202@d.test", "sip:202@d.test"));
        assert!(same_uri("sip:202@D.TEST:5060", "sip:202@d.test;user=phone"));
        assert!(!same_uri("sip:203@d.test", "sip:202@d.test"));
        assert!(!same_uri("sip:202@other.test", "sip:202@d.test"));
        assert!(!same_uri("sip:202@d.test:5070", "sip:202@d.test"));
        assert!(!same_uri("sips:202@d.test", "sip:202@d.test"));
        assert!(!same_uri("garbage", "sip:202@d.test"));
    }
}
