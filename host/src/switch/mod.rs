//! The switch: a B2BUA. It receives every transaction-layer event, sends
//! REGISTER to the registrar, answers OPTIONS, starts a call task for each
//! new INVITE and routes in-dialog requests to the call that owns the dialog.
//!
//! - [`call`]: one call's life (authentication, resolution, hooks, diversions, CDR)
//! - `fork`: ringing every contact, first answer wins; `incall`: the connected call
//! - [`pipeline`]: hook points, decisions, diversion headers
//! - [`dialog`]: the per-leg dialog state
//! - [`trunk`]: the SIP trunk for outside numbers
//! - [`subscribe`]: message-waiting indication (SUBSCRIBE/NOTIFY message-summary)

pub mod admission;
pub mod call;
pub mod dialog;
pub mod features;
mod fork;
mod incall;
pub mod pipeline;
pub mod session;
pub mod subscribe;
pub mod trunk;

use crate::media::MediaEngine;
use crate::sip::auth::Authenticator;
use crate::sip::registrar::Registrar;
use crate::sip::transaction::{Endpoint, Handler, ServerTx, TuEvent};
use crate::sip::uri::{header_tag, SipUri};
use crate::sip::{Peer, Request, Response};
use crate::store::Store;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// Methods this switch understands (sent in Allow).
pub const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REGISTER, SUBSCRIBE";

/// Behaviour settings of the switch.
#[derive(Debug, Clone)]
pub struct SwitchConfig {
    /// How long devices ring before the caller gets 480.
    pub ring_timeout: Duration,
    /// Longest call.
    pub max_call: Duration,
    /// The trunk for outside numbers.
    pub trunk: Option<trunk::Trunk>,
    /// Default call limits per tenant and device.
    pub limits: admission::CallLimits,
    /// The country numbers from the trunk are read in when national.
    pub country_code: String,
}

/// An event for a running call.
#[derive(Debug)]
pub enum CallEvent {
    /// An in-dialog request on leg `side` (`true` = the caller's leg).
    Request { from_caller: bool, tx: ServerTx },
    /// An ACK on the caller's leg.
    Ack(Request),
    /// A 2xx retransmitted by a callee whose transaction is gone.
    Stray2xx(Response, Peer),
}

/// (Call-ID, our tag): identifies one leg's dialog.
type DialogKey = (String, String);
/// Whether the dialog is the caller's leg, and the call's event channel.
type DialogRoute = (bool, mpsc::Sender<CallEvent>);

/// Everything a call needs from the host.
pub struct Switch {
    pub endpoint: Arc<Endpoint>,
    pub store: Store,
    pub auth: Arc<Authenticator>,
    pub registrar: Arc<Registrar>,
    pub media: Arc<MediaEngine>,
    pub cfg: SwitchConfig,
    /// Feature hooks (the plugin runtime); `None` runs every call plain.
    pub hooks: Option<Arc<dyn pipeline::HookRunner>>,
    /// Prompts and storage paths for sessions and announcements.
    pub sessions: session::SessionServices,
    /// (Call-ID, our tag) → the call owning that dialog, and whether it is
    /// the caller's leg.
    dialogs: Mutex<HashMap<DialogKey, DialogRoute>>,
    /// Message-summary subscriptions (see [`subscribe`]).
    pub(crate) subs: Arc<subscribe::Subscriptions>,
    active_calls: std::sync::atomic::AtomicUsize,
    /// Calls per tenant, for the operator's limits.
    admission: admission::Counters,
}

impl std::fmt::Debug for ServerTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ServerTx({} {})",
            self.request().method,
            self.request().call_id()
        )
    }
}

impl Switch {
    /// A switch over the given parts.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        endpoint: Arc<Endpoint>,
        store: Store,
        auth: Arc<Authenticator>,
        registrar: Arc<Registrar>,
        media: Arc<MediaEngine>,
        cfg: SwitchConfig,
        hooks: Option<Arc<dyn pipeline::HookRunner>>,
        sessions: session::SessionServices,
    ) -> Arc<Self> {
        Arc::new(Self {
            endpoint,
            store,
            auth,
            registrar,
            media,
            cfg,
            hooks,
            sessions,
            dialogs: Mutex::new(HashMap::new()),
            admission: admission::Counters::default(),
            subs: Arc::default(),
            active_calls: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// Calls in progress.
    pub fn active_calls(&self) -> usize {
        self.active_calls.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub(crate) fn register_dialog(
        &self,
        call_id: &str,
        tag: &str,
        from_caller: bool,
        tx: mpsc::Sender<CallEvent>,
    ) {
        if let Ok(mut m) = self.dialogs.lock() {
            m.insert((call_id.to_string(), tag.to_string()), (from_caller, tx));
        }
    }

    pub(crate) fn unregister_dialog(&self, call_id: &str, tag: &str) {
        if let Ok(mut m) = self.dialogs.lock() {
            m.remove(&(call_id.to_string(), tag.to_string()));
        }
    }

    fn dialog(&self, call_id: &str, tag: &str) -> Option<DialogRoute> {
        self.dialogs
            .lock()
            .ok()
            .and_then(|m| m.get(&(call_id.to_string(), tag.to_string())).cloned())
    }

    fn options(&self, tx: &ServerTx) {
        let mut r = Response::to(
            tx.request(),
            200,
            Some(&crate::sip::message::random_token(10)),
        );
        r.headers.push("Allow", ALLOW);
        r.headers.push("Accept", "application/sdp");
        r.headers.push("Supported", "");
        r.headers.push("Server", self.endpoint.product.clone());
        tx.respond(r);
    }

    /// Checks every new request must pass whatever its method (RFC 3261
    /// §8.2.1–8.2.3): URI scheme, Require, content type, Accept. Returns
    /// the response to send when it fails.
    fn precheck(&self, req: &Request) -> Option<Response> {
        let tag = crate::sip::message::random_token(10);
        if let Err(e) = SipUri::parse(&req.uri) {
            if e.0.starts_with("unsupported scheme") {
                return Some(Response::to(req, 416, Some(&tag)));
            }
            let mut r = Response::to(req, 400, Some(&tag));
            r.reason = format!("Bad Request-URI ({e})");
            return Some(r);
        }
        let required: Vec<String> = req
            .headers
            .get_all("Require")
            .flat_map(|v| v.split(','))
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        if !required.is_empty() && req.method != "CANCEL" && req.method != "ACK" {
            let mut r = Response::to(req, 420, Some(&tag));
            r.headers.push("Unsupported", required.join(", "));
            return Some(r);
        }
        if req.method == "INVITE" {
            if !req.body.is_empty() {
                let ct = req
                    .headers
                    .get("Content-Type")
                    .unwrap_or("")
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                if ct != "application/sdp" {
                    let mut r = Response::to(req, 415, Some(&tag));
                    r.headers.push("Accept", "application/sdp");
                    return Some(r);
                }
            }
            if let Some(accept) = req.headers.get("Accept") {
                let ok = accept.split(',').any(|a| {
                    let a = a
                        .split(';')
                        .next()
                        .unwrap_or("")
                        .trim()
                        .to_ascii_lowercase();
                    a == "application/sdp" || a == "application/*" || a == "*/*"
                });
                if !ok {
                    let mut r = Response::to(req, 406, Some(&tag));
                    r.headers.push("Accept", "application/sdp");
                    return Some(r);
                }
            }
        }
        None
    }

    fn on_request(self: &Arc<Self>, tx: ServerTx) {
        let req = tx.request();
        if let Some(r) = self.precheck(req) {
            tx.respond(r);
            return;
        }
        if req.method == "SUBSCRIBE" {
            subscribe::on_subscribe(self, tx);
            return;
        }
        let to_tag = req.headers.get("To").and_then(header_tag);
        if let Some(tag) = to_tag {
            match self.dialog(req.call_id(), &tag) {
                Some((from_caller, ch)) => {
                    if let Err(mpsc::error::TrySendError::Full(CallEvent::Request { tx, .. })) =
                        ch.try_send(CallEvent::Request { from_caller, tx })
                    {
                        tx.reply(500, None);
                    }
                }
                None if req.method == "OPTIONS" => self.options(&tx),
                None => tx.reply(481, None),
            }
            return;
        }
        match req.method.as_str() {
            "REGISTER" => {
                let reg = self.registrar.clone();
                tokio::spawn(async move { reg.handle(tx).await });
            }
            "OPTIONS" => self.options(&tx),
            "INVITE" => {
                let sw = self.clone();
                tokio::spawn(async move { call::run(sw, tx).await });
            }
            "BYE" | "INFO" | "UPDATE" | "PRACK" => tx.reply(481, None),
            "NOTIFY" | "PUBLISH" | "MESSAGE" | "REFER" => {
                let mut r = Response::to(req, 405, Some(&crate::sip::message::random_token(10)));
                r.headers.push("Allow", ALLOW);
                tx.respond(r);
            }
            _ => {
                let mut r = Response::to(req, 501, Some(&crate::sip::message::random_token(10)));
                r.headers.push("Allow", ALLOW);
                tx.respond(r);
            }
        }
    }
}

/// Adapter so the transaction layer can deliver events to the switch.
pub struct SwitchHandler(pub Arc<Switch>);

impl Handler for SwitchHandler {
    fn handle(&self, ev: TuEvent) {
        match ev {
            TuEvent::Request(tx) => self.0.on_request(tx),
            TuEvent::Ack(req, _peer) => {
                let tag = req
                    .headers
                    .get("To")
                    .and_then(header_tag)
                    .unwrap_or_default();
                if let Some((_, ch)) = self.0.dialog(req.call_id(), &tag) {
                    let _ = ch.try_send(CallEvent::Ack(req));
                }
            }
            TuEvent::StrayResponse(resp, peer) => {
                if resp.status >= 200 && resp.status < 300 && resp.cseq().1 == "INVITE" {
                    let tag = resp
                        .headers
                        .get("From")
                        .and_then(header_tag)
                        .unwrap_or_default();
                    if let Some((_, ch)) = self.0.dialog(resp.call_id(), &tag) {
                        let _ = ch.try_send(CallEvent::Stray2xx(resp, peer));
                    }
                }
            }
        }
    }
}
