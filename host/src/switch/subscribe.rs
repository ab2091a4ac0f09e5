//! Message-waiting indication: SUBSCRIBE/NOTIFY for the `message-summary`
//! event package (RFC 6665, RFC 3842).
//!
//! - A registered device SUBSCRIBEs (digest-authenticated, 401 challenge like
//!   REGISTER) to its own user's account; the host answers 200 with the
//!   granted Expires (clamped to [`MIN_EXPIRES`]..=[`MAX_EXPIRES`]) and
//!   sends an in-dialog NOTIFY with the current state. In-dialog SUBSCRIBEs
//!   refresh the subscription; `Expires: 0` ends it with a final NOTIFY
//!   (`Subscription-State: terminated`). Other event packages get 489.
//! - [`Switch::notify_mwi`] stores a user's state and NOTIFYs every active
//!   subscription of the user, plus an unsolicited (out-of-dialog) NOTIFY to
//!   each registered contact without a subscription, as BroadWorks does.
//! - [`Switch::spawn_mwi_watch`] polls `mwi_state` every second so that
//!   states written by another process (`centrale mwi set`, another node on
//!   a shared database) are announced too.
//!
//! Subscriptions live in memory, keyed by dialog; they do not survive a
//! restart (phones refresh them well within an hour).

use super::dialog::Dialog;
use super::Switch;
use crate::sip::auth::AuthOutcome;
use crate::sip::message::random_token;
use crate::sip::uri::{header_tag, NameAddr, SipUri};
use crate::sip::{Peer, Request, Response, ServerTx, Transport};
use crate::store::StoreError;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// The event package served.
pub const EVENT: &str = "message-summary";
/// Content type of the NOTIFY body.
pub const CONTENT_TYPE: &str = "application/simple-message-summary";
/// Shortest subscription granted (shorter requests are lengthened), seconds.
pub const MIN_EXPIRES: u32 = 60;
/// Longest subscription granted (longer requests are shortened), seconds.
pub const MAX_EXPIRES: u32 = 3600;
/// Granted when the SUBSCRIBE has no Expires (RFC 3842 §4).
pub const DEFAULT_EXPIRES: u32 = 3600;
/// Subscriptions one device may hold; a new one replaces its oldest.
const MAX_PER_DEVICE: usize = 8;
/// Subscriptions the host holds in all.
const MAX_TOTAL: usize = 200_000;
/// How far back the poller looks for writes it may have missed, ms.
const LOOKBACK_MS: i64 = 5_000;

/// (Call-ID, our tag).
type Key = (String, String);

struct Subscription {
    tenant_id: i64,
    user_id: i64,
    device_id: i64,
    /// `sip:<ext>@<domain>`: the Message-Account.
    account: String,
    dialog: Dialog,
    /// Our Contact URI.
    contact: String,
    expires_at: Instant,
    created: Instant,
}

/// The host's message-summary subscriptions and what it announced.
#[derive(Default)]
pub struct Subscriptions {
    map: Mutex<HashMap<Key, Subscription>>,
    /// (tenant, user) → `updated_at` of the last state announced.
    announced: Mutex<HashMap<(i64, i64), i64>>,
}

impl Subscriptions {
    /// Active (unexpired) subscriptions.
    pub fn active(&self) -> usize {
        let now = Instant::now();
        self.map
            .lock()
            .map(|m| m.values().filter(|s| s.expires_at > now).count())
            .unwrap_or(0)
    }

    fn purge_expired(&self) {
        let now = Instant::now();
        if let Ok(mut m) = self.map.lock() {
            m.retain(|_, s| s.expires_at > now);
        }
    }

    fn contains(&self, key: &Key) -> bool {
        self.map
            .lock()
            .map(|m| m.contains_key(key))
            .unwrap_or(false)
    }

    fn insert(&self, key: Key, sub: Subscription) -> bool {
        let now = Instant::now();
        let Ok(mut m) = self.map.lock() else {
            return false;
        };
        m.retain(|_, s| s.expires_at > now);
        let mine: Vec<(Key, Instant)> = m
            .iter()
            .filter(|(_, s)| s.device_id == sub.device_id)
            .map(|(k, s)| (k.clone(), s.created))
            .collect();
        if mine.len() >= MAX_PER_DEVICE {
            if let Some((oldest, _)) = mine.into_iter().min_by_key(|(_, c)| *c) {
                m.remove(&oldest);
            }
        }
        if m.len() >= MAX_TOTAL {
            return false;
        }
        m.insert(key, sub);
        true
    }

    fn remove(&self, key: &Key) {
        if let Ok(mut m) = self.map.lock() {
            m.remove(key);
        }
    }

    /// Keys of the user's unexpired subscriptions.
    fn of_user(&self, tenant_id: i64, user_id: i64) -> Vec<Key> {
        let now = Instant::now();
        self.map
            .lock()
            .map(|m| {
                m.iter()
                    .filter(|(_, s)| {
                        s.tenant_id == tenant_id && s.user_id == user_id && s.expires_at > now
                    })
                    .map(|(k, _)| k.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether a subscription of `device_id` comes from this registration
    /// (same Contact URI or same source address).
    fn covers(&self, device_id: i64, contact: &str, source: &str) -> bool {
        let now = Instant::now();
        self.map
            .lock()
            .map(|m| {
                m.values().any(|s| {
                    s.device_id == device_id
                        && s.expires_at > now
                        && (s.dialog.remote_target == contact
                            || s.dialog.peer.to_source_string() == source)
                })
            })
            .unwrap_or(false)
    }

    /// The next in-dialog NOTIFY of subscription `key` with `state` and
    /// `counts` (None: the subscription is gone). `state` `None` means
    /// `active;expires=<seconds left>`.
    fn notify_request(
        &self,
        key: &Key,
        state: Option<&str>,
        counts: (u32, u32),
        product: &str,
    ) -> Option<(Request, Peer)> {
        let mut m = self.map.lock().ok()?;
        let s = m.get_mut(key)?;
        let state = match state {
            Some(st) => st.to_string(),
            None => {
                let left = s.expires_at.saturating_duration_since(Instant::now());
                format!("active;expires={}", left.as_secs().max(1))
            }
        };
        let contact = s.contact.clone();
        let mut r = s.dialog.request("NOTIFY", &contact);
        r.headers.push("Contact", format!("<{contact}>"));
        r.headers.push("Event", EVENT);
        r.headers.push("Subscription-State", state);
        r.headers.push("User-Agent", product.to_string());
        r.set_body(
            CONTENT_TYPE,
            summary_body(&s.account, counts.0, counts.1).into_bytes(),
        );
        Some((r, s.dialog.peer))
    }

    /// Records that the state written at `updated_at` was announced; false
    /// when that (or a later) write was announced already.
    fn mark_announced(&self, tenant_id: i64, user_id: i64, updated_at: i64) -> bool {
        let Ok(mut a) = self.announced.lock() else {
            return true;
        };
        let e = a.entry((tenant_id, user_id)).or_insert(i64::MIN);
        if *e >= updated_at {
            return false;
        }
        *e = updated_at;
        true
    }

    fn prune_announced(&self, before: i64) {
        if let Ok(mut a) = self.announced.lock() {
            a.retain(|_, t| *t >= before);
        }
    }
}

/// The `application/simple-message-summary` body (RFC 3842 §5.2).
pub fn summary_body(account: &str, new: u32, old: u32) -> String {
    format!(
        "Messages-Waiting: {}\r\nMessage-Account: {account}\r\nVoice-Message: {new}/{old} (0/0)\r\n",
        if new > 0 { "yes" } else { "no" }
    )
}

/// The event package of an Event header value, lower-cased (`message-summary`
/// of `message-summary;id=1`).
fn event_package(v: &str) -> String {
    v.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Seconds granted for a requested Expires (`None`: none given); 0 stays 0.
pub fn granted_expires(requested: Option<u32>) -> u32 {
    match requested {
        Some(0) => 0,
        Some(e) => e.clamp(MIN_EXPIRES, MAX_EXPIRES),
        None => DEFAULT_EXPIRES,
    }
}

fn bad_event(tx: &ServerTx, tag: &str) {
    let mut r = Response::to(tx.request(), 489, Some(tag));
    r.headers.push("Allow-Events", EVENT);
    tx.respond(r);
}

/// Whether an Accept header (if any) admits the summary body.
fn accepts_summary(req: &Request) -> bool {
    let Some(accept) = req.headers.get("Accept") else {
        return true;
    };
    accept.split(',').any(|a| {
        let a = a
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        a == CONTENT_TYPE || a == "application/*" || a == "*/*" || a.is_empty()
    })
}

/// Entry from the switch for every SUBSCRIBE.
pub(super) fn on_subscribe(sw: &Arc<Switch>, tx: ServerTx) {
    let req = tx.request();
    let tag = random_token(10);
    let event = req.headers.get("Event").map(event_package);
    if event.as_deref() != Some(EVENT) {
        bad_event(&tx, &tag);
        return;
    }
    if !accepts_summary(req) {
        let mut r = Response::to(req, 406, Some(&tag));
        r.headers.push("Accept", CONTENT_TYPE);
        tx.respond(r);
        return;
    }
    match req.headers.get("To").and_then(header_tag) {
        Some(to_tag) => {
            let key = (req.call_id().to_string(), to_tag);
            if !sw.subs.contains(&key) {
                tx.reply(481, None);
                return;
            }
            let sw = sw.clone();
            tokio::spawn(async move { refresh(sw, tx, key).await });
        }
        None => {
            let sw = sw.clone();
            tokio::spawn(async move { subscribe(sw, tx, tag).await });
        }
    }
}

/// A new subscription (or a fetch, `Expires: 0`).
async fn subscribe(sw: Arc<Switch>, tx: ServerTx, tag: String) {
    let req = tx.request();
    let Ok(ruri) = SipUri::parse(&req.uri) else {
        tx.reply(400, Some(&tag));
        return;
    };
    let realm = ruri.host.to_ascii_lowercase();
    // A notifier is a UAS: 401 and Authorization, as for REGISTER; phones
    // that answer with Proxy-Authorization are accepted too.
    let header = if req.headers.get("Authorization").is_none()
        && req.headers.get("Proxy-Authorization").is_some()
    {
        "Proxy-Authorization"
    } else {
        "Authorization"
    };
    let (tenant, device) = match sw.auth.check(req, tx.peer(), header, &realm).await {
        AuthOutcome::Authenticated(t, d) => {
            tx.keep_connection();
            (t, d)
        }
        AuthOutcome::Challenge { realm, stale } => {
            match sw
                .auth
                .challenge_for(req, tx.peer(), &tag, &realm, stale, false)
            {
                Some(r) => tx.respond_stateless(r),
                None => tx.drop_silently(),
            }
            return;
        }
        AuthOutcome::Forbidden(why) => {
            let mut r = Response::to(req, 403, Some(&tag));
            r.reason = why.to_string();
            tx.respond(r);
            return;
        }
    };
    let user = match sw.store.user(tenant.id, device.user_id).await {
        Ok(Some(u)) => u,
        Ok(None) => return tx.reply(403, Some(&tag)),
        Err(_) => return tx.reply(500, Some(&tag)),
    };
    // Only the user's own mailbox (by extension, device name or number).
    let resource = ruri.user_unescaped().unwrap_or_default();
    if !resource.is_empty()
        && resource != user.extension
        && resource != device.username
        && !user.numbers.contains(&resource)
    {
        let mut r = Response::to(req, 403, Some(&tag));
        r.reason = "Not your mailbox".into();
        tx.respond(r);
        return;
    }
    let expires = granted_expires(req.headers.get("Expires").and_then(|e| e.parse().ok()));
    let peer = tx.peer();
    let contact = sw.endpoint.contact_uri(&user.extension, peer.transport);
    let key = (req.call_id().to_string(), tag.clone());
    let sub = Subscription {
        tenant_id: tenant.id,
        user_id: user.id,
        device_id: device.id,
        account: format!("sip:{}@{}", user.extension, tenant.domain),
        dialog: Dialog::as_uas(&tx, &tag),
        contact: contact.clone(),
        expires_at: Instant::now() + Duration::from_secs(u64::from(expires.max(1))),
        created: Instant::now(),
    };
    if !sw.subs.insert(key.clone(), sub) {
        let mut r = Response::to(req, 503, Some(&tag));
        r.headers.push("Retry-After", "60");
        tx.respond(r);
        return;
    }
    let mut r = Response::to(req, 200, Some(&tag));
    r.headers.push("Expires", expires.to_string());
    r.headers.push("Contact", format!("<{contact}>"));
    tx.respond(r);
    tracing::info!(tenant = %tenant.domain, device = %device.username, expires, "message-summary subscription");
    let counts = sw.store.mwi_get(tenant.id, user.id).await.unwrap_or((0, 0));
    if expires == 0 {
        // A fetch: one NOTIFY with the state, then the subscription is over.
        sw.send_notify(&key, Some("terminated;reason=timeout"), counts);
        sw.subs.remove(&key);
    } else {
        sw.send_notify(&key, None, counts);
    }
}

/// An in-dialog SUBSCRIBE: refresh, or end with `Expires: 0`.
async fn refresh(sw: Arc<Switch>, tx: ServerTx, key: Key) {
    let req = tx.request();
    let expires = granted_expires(req.headers.get("Expires").and_then(|e| e.parse().ok()));
    let cseq = req.cseq().0;
    let ids = {
        let Ok(mut m) = sw.subs.map.lock() else {
            return tx.reply(500, None);
        };
        match m.get_mut(&key) {
            None => None,
            Some(s) if cseq <= s.dialog.remote_cseq => Some(Err(())),
            Some(s) => {
                s.dialog.remote_cseq = cseq;
                s.expires_at = Instant::now() + Duration::from_secs(u64::from(expires.max(1)));
                Some(Ok((s.tenant_id, s.user_id)))
            }
        }
    };
    let (tenant_id, user_id) = match ids {
        None => return tx.reply(481, None),
        Some(Err(())) => {
            let mut r = Response::to(req, 500, None);
            r.reason = "CSeq out of order".into();
            return tx.respond(r);
        }
        Some(Ok(ids)) => ids,
    };
    let mut r = Response::to(req, 200, None);
    r.headers.push("Expires", expires.to_string());
    tx.respond(r);
    let counts = sw.store.mwi_get(tenant_id, user_id).await.unwrap_or((0, 0));
    if expires == 0 {
        sw.send_notify(&key, Some("terminated;reason=timeout"), counts);
        sw.subs.remove(&key);
    } else {
        sw.send_notify(&key, None, counts);
    }
}

/// The transport peer of a registration (its source, else its Contact).
fn registration_peer(source: &str, contact: &str) -> Option<Peer> {
    Peer::from_source_string(source).or_else(|| {
        let u = SipUri::parse(contact).ok()?;
        let ip: std::net::IpAddr = u.host.parse().ok()?;
        Some(Peer {
            transport: Transport::Udp,
            addr: (ip, u.port.unwrap_or(5060)).into(),
        })
    })
}

impl Switch {
    /// Sends the next NOTIFY of subscription `key` without waiting for its
    /// answer; a failure answer (481, timeout, ...) ends the subscription.
    fn send_notify(&self, key: &Key, state: Option<&str>, counts: (u32, u32)) {
        let Some((req, peer)) =
            self.subs
                .notify_request(key, state, counts, &self.endpoint.product)
        else {
            return;
        };
        let mut ctx = self.endpoint.send_request(req, peer);
        let subs = self.subs.clone();
        let key = key.clone();
        tokio::spawn(async move {
            while let Some(r) = ctx.responses.recv().await {
                if r.status < 200 {
                    continue;
                }
                if r.status >= 300 && !matches!(r.status, 491 | 500 | 503 | 504) {
                    tracing::info!(status = r.status, "NOTIFY refused: subscription ended");
                    subs.remove(&key);
                }
                break;
            }
        });
    }

    /// Stores the message-waiting state of a user (`new`/`old` voice
    /// messages) and tells the user's devices: an in-dialog NOTIFY on every
    /// active message-summary subscription, an unsolicited NOTIFY to every
    /// registered contact without one. Does not wait for the answers.
    pub async fn notify_mwi(
        &self,
        tenant_id: i64,
        user_id: i64,
        new: u32,
        old: u32,
    ) -> Result<(), StoreError> {
        let updated_at = self.store.mwi_set(tenant_id, user_id, new, old).await?;
        self.subs.mark_announced(tenant_id, user_id, updated_at);
        self.announce_mwi(tenant_id, user_id, new, old).await;
        Ok(())
    }

    /// Sends the NOTIFYs of [`Switch::notify_mwi`] without storing anything.
    async fn announce_mwi(&self, tenant_id: i64, user_id: i64, new: u32, old: u32) {
        for key in self.subs.of_user(tenant_id, user_id) {
            self.send_notify(&key, None, (new, old));
        }
        let (tenant, user) = match (
            self.store.tenant(tenant_id).await,
            self.store.user(tenant_id, user_id).await,
        ) {
            (Ok(Some(t)), Ok(Some(u))) => (t, u),
            _ => return,
        };
        let regs = match self
            .store
            .registrations_of_user(tenant_id, user_id, crate::now_ms())
            .await
        {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!("MWI: registrations of user {user_id}: {e}");
                return;
            }
        };
        let aor = format!("sip:{}@{}", user.extension, tenant.domain);
        let body = summary_body(&aor, new, old);
        for reg in regs {
            if self.subs.covers(reg.device_id, &reg.contact, &reg.source) {
                continue;
            }
            let Some(peer) = registration_peer(&reg.source, &reg.contact) else {
                continue;
            };
            let mut r = Request::new("NOTIFY", &reg.contact);
            let from = NameAddr {
                display: None,
                uri: aor.clone(),
                params: vec![("tag".into(), Some(random_token(10)))],
            };
            r.headers.push("From", from.to_string());
            r.headers.push("To", format!("<{aor}>"));
            r.headers
                .push("Call-ID", format!("{}@centrale", random_token(20)));
            r.headers.push("CSeq", "1 NOTIFY");
            r.headers.push(
                "Contact",
                format!(
                    "<{}>",
                    self.endpoint.contact_uri(&user.extension, peer.transport)
                ),
            );
            r.headers.push("Event", EVENT);
            r.headers.push("Subscription-State", "active");
            r.headers.push("User-Agent", self.endpoint.product.clone());
            r.set_body(CONTENT_TYPE, body.clone().into_bytes());
            // The transaction runs (and retransmits) on its own.
            drop(self.endpoint.send_request(r, peer));
        }
    }

    /// Starts the task that announces message-waiting states written
    /// outside this process (polls `mwi_state.updated_at` every second).
    pub fn spawn_mwi_watch(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let sw = self.clone();
        tokio::spawn(async move {
            let mut mark = crate::now_ms();
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                sw.subs.purge_expired();
                let rows = match sw.store.mwi_changed_since(mark - LOOKBACK_MS).await {
                    Ok(r) => r,
                    Err(e) => {
                        tracing::warn!("MWI watch: {e}");
                        continue;
                    }
                };
                for s in rows {
                    mark = mark.max(s.updated_at);
                    if sw.subs.mark_announced(s.tenant_id, s.user_id, s.updated_at) {
                        sw.announce_mwi(s.tenant_id, s.user_id, s.new_messages, s.old_messages)
                            .await;
                    }
                }
                sw.subs.prune_announced(mark - LOOKBACK_MS - 1000);
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_and_expiry() {
        assert_eq!(
            summary_body("sip:201@d.test", 2, 0),
            "Messages-Waiting: yes\r\nMessage-Account: sip:201@d.test\r\nVoice-Message: 2/0 (0/0)\r\n"
        );
        assert!(summary_body("sip:201@d.test", 0, 5).starts_with("Messages-Waiting: no\r\n"));
        assert_eq!(granted_expires(None), DEFAULT_EXPIRES);
        assert_eq!(granted_expires(Some(0)), 0);
        assert_eq!(granted_expires(Some(1)), MIN_EXPIRES);
        assert_eq!(granted_expires(Some(600)), 600);
        assert_eq!(granted_expires(Some(u32::MAX)), MAX_EXPIRES);
        assert_eq!(event_package(" Message-Summary ;id=3"), "message-summary");
    }

    #[test]
    fn announcements_are_deduplicated() {
        let s = Subscriptions::default();
        assert!(s.mark_announced(1, 2, 100));
        assert!(!s.mark_announced(1, 2, 100));
        assert!(!s.mark_announced(1, 2, 99));
        assert!(s.mark_announced(1, 2, 101));
        s.prune_announced(200);
        assert!(s.mark_announced(1, 2, 101));
    }
}
