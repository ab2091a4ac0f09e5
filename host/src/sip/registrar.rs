//! The registrar (RFC 3261 §10.3): authenticated REGISTER, several contacts
//! per device, Expires handling with 423 Interval Too Brief, unregister,
//! bindings stored in the database so they survive a restart.

use super::auth::{AuthOutcome, Authenticator};
use super::message::{random_token, Response};
use super::transaction::ServerTx;
use super::uri::{NameAddr, SipUri};
use crate::store::Store;
use crate::tenancy::Registration;
use std::sync::Arc;

/// Registrar limits.
#[derive(Debug, Clone)]
pub struct RegistrarConfig {
    /// Shortest accepted registration, seconds (423 below it).
    pub min_expires: u32,
    /// Longest granted registration, seconds (longer requests are shortened).
    pub max_expires: u32,
    /// Used when the device asks for no particular interval.
    pub default_expires: u32,
    /// Most contacts one device may hold.
    pub max_contacts_per_device: usize,
}

impl Default for RegistrarConfig {
    fn default() -> Self {
        Self {
            min_expires: 60,
            max_expires: 3600,
            default_expires: 3600,
            max_contacts_per_device: 10,
        }
    }
}

/// Handles REGISTER requests.
pub struct Registrar {
    store: Store,
    auth: Arc<Authenticator>,
    cfg: RegistrarConfig,
}

impl Registrar {
    /// A registrar over `store`.
    pub fn new(store: Store, auth: Arc<Authenticator>, cfg: RegistrarConfig) -> Self {
        Self { store, auth, cfg }
    }

    /// Answers one REGISTER transaction.
    pub async fn handle(&self, tx: ServerTx) {
        match self.process(&tx).await {
            Ok(resp) => tx.respond(resp),
            Err(Some(challenge)) => tx.respond_stateless(challenge),
            Err(None) => tx.drop_silently(),
        }
    }

    /// The answer; `Err` with the challenge to send statelessly, or
    /// `Err(None)` to drop the request.
    async fn process(&self, tx: &ServerTx) -> Result<Response, Option<Response>> {
        let req = tx.request();
        let to_tag = random_token(10);
        let domain = SipUri::parse(&req.uri)
            .map(|u| u.host.to_ascii_lowercase())
            .unwrap_or_default();
        let (tenant, device) = match self
            .auth
            .check(req, tx.peer(), "Authorization", &domain)
            .await
        {
            AuthOutcome::Authenticated(t, d) => {
                tx.keep_connection();
                (t, d)
            }
            AuthOutcome::Challenge { realm, stale } => {
                return Err(self
                    .auth
                    .challenge_for(req, tx.peer(), &to_tag, &realm, stale, false))
            }
            AuthOutcome::Forbidden(why) => {
                let mut r = Response::to(req, 403, Some(&to_tag));
                r.reason = why.to_string();
                return Ok(r);
            }
        };
        // The address of record must be the device's own or its user's extension.
        let user = match self.store.user(tenant.id, device.user_id).await {
            Ok(Some(u)) => u,
            _ => return Ok(Response::to(req, 500, Some(&to_tag))),
        };
        let aor_user = req
            .headers
            .get("To")
            .and_then(|v| NameAddr::parse(v).ok())
            .and_then(|n| n.sip_uri().ok())
            .and_then(|u| u.user_unescaped())
            .unwrap_or_default();
        if aor_user != device.username
            && aor_user != user.extension
            && !user.numbers.contains(&aor_user)
        {
            let mut r = Response::to(req, 403, Some(&to_tag));
            r.reason = "Address of record does not belong to this device".into();
            return Ok(r);
        }

        let now = crate::now_ms();
        let header_expires: Option<u32> = req.headers.get("Expires").and_then(|e| e.parse().ok());
        let contacts: Vec<&str> = req.headers.get_all("Contact").collect();
        if contacts.len() == 1 && contacts[0] == "*" {
            if header_expires != Some(0) {
                return Ok(Response::to(req, 400, Some(&to_tag)));
            }
            if let Err(e) = self.store.delete_registrations_of_device(device.id).await {
                tracing::error!("unregister: {e}");
                return Ok(Response::to(req, 500, Some(&to_tag)));
            }
            return Ok(self.ok_with_bindings(req, &to_tag, device.id, now).await);
        }
        if contacts.contains(&"*") {
            return Ok(Response::to(req, 400, Some(&to_tag)));
        }
        // Check every contact before changing anything.
        let mut changes = Vec::new();
        for c in &contacts {
            let Ok(na) = NameAddr::parse(c) else {
                return Ok(Response::to(req, 400, Some(&to_tag)));
            };
            let expires = na
                .param("expires")
                .and_then(|e| e.parse::<u64>().ok())
                .map(|e| e.min(u64::from(u32::MAX)) as u32)
                .or(header_expires)
                .unwrap_or(self.cfg.default_expires);
            if expires != 0 && expires < self.cfg.min_expires {
                let mut r = Response::to(req, 423, Some(&to_tag));
                r.headers
                    .push("Min-Expires", self.cfg.min_expires.to_string());
                return Ok(r);
            }
            changes.push((na.uri.clone(), expires.min(self.cfg.max_expires)));
        }
        let existing = match self.store.registrations_of_device(device.id, now).await {
            Ok(r) => r,
            Err(_) => return Ok(Response::to(req, 500, Some(&to_tag))),
        };
        let new_count = changes
            .iter()
            .filter(|(uri, e)| *e > 0 && !existing.iter().any(|r| &r.contact == uri))
            .count();
        if existing.len() + new_count > self.cfg.max_contacts_per_device {
            let mut r = Response::to(req, 403, Some(&to_tag));
            r.reason = "Too many contacts for this device".into();
            return Ok(r);
        }
        let (cseq, _) = req.cseq();
        for (uri, expires) in changes {
            let result = if expires == 0 {
                self.store.delete_registration(device.id, &uri).await
            } else {
                let reg = Registration {
                    tenant_id: tenant.id,
                    user_id: device.user_id,
                    device_id: device.id,
                    contact: uri,
                    source: tx.peer().to_source_string(),
                    call_id: req.call_id().to_string(),
                    cseq: i64::from(cseq),
                    expires_at: now + i64::from(expires) * 1000,
                    updated_at: now,
                };
                self.store.upsert_registration(&reg).await
            };
            if let Err(e) = result {
                tracing::error!("registration write: {e}");
                return Ok(Response::to(req, 500, Some(&to_tag)));
            }
        }
        tracing::info!(tenant = %tenant.domain, device = %device.username, peer = %tx.peer().addr, "registered");
        Ok(self.ok_with_bindings(req, &to_tag, device.id, now).await)
    }

    async fn ok_with_bindings(
        &self,
        req: &super::Request,
        to_tag: &str,
        device_id: i64,
        now: i64,
    ) -> Response {
        let mut r = Response::to(req, 200, Some(to_tag));
        if let Ok(regs) = self.store.registrations_of_device(device_id, now).await {
            for reg in regs {
                let left = ((reg.expires_at - now).max(0) + 999) / 1000;
                r.headers
                    .push("Contact", format!("<{}>;expires={}", reg.contact, left));
            }
        }
        r
    }
}
