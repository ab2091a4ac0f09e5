//! One call through the B2BUA, from the caller's INVITE to the CDR:
//! authenticate the caller, resolve tenant and callee, fork to every
//! registered contact (or the trunk), relay progress, keep the first answer
//! and CANCEL the rest, anchor media, relay re-INVITE/INFO/BYE, write the CDR.

use super::dialog::Dialog;
use super::{CallEvent, Switch, ALLOW};
use crate::media::{sdp, Bridge, Side};
use crate::sip::auth::AuthOutcome;
use crate::sip::message::random_token;
use crate::sip::transaction::ClientTx;
use crate::sip::uri::{NameAddr, SipUri};
use crate::sip::{Peer, Request, Response, ServerTx, Transport};
use crate::tenancy::resolve::{resolve_callee, Destination};
use crate::tenancy::{Cdr, Tenant, User};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Who is calling.
struct Origin {
    tenant: Tenant,
    /// The calling user (None for calls from the trunk).
    user: Option<User>,
    /// Caller identity for the CDR and the B-leg From.
    caller_id: String,
    display: String,
}

/// Where the B-legs go.
enum Target {
    Users(User),
    Trunk(String),
}

struct Fork {
    peer: Peer,
    req: Request,
    canceller: crate::sip::transaction::Canceller,
    done: bool,
    auth_retried: bool,
}

struct ActiveGuard(Arc<Switch>);
impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.active_calls.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Runs the call started by the INVITE `tx`.
pub async fn run(sw: Arc<Switch>, tx: ServerTx) {
    sw.active_calls.fetch_add(1, Ordering::Relaxed);
    let _guard = ActiveGuard(sw.clone());
    let a_tag = random_token(10);
    let Some(origin) = authenticate(&sw, &tx, &a_tag).await else {
        return;
    };
    let mut call = Call::new(sw, tx, a_tag, origin);
    call.route().await;
    call.finish().await;
}

async fn authenticate(sw: &Arc<Switch>, tx: &ServerTx, a_tag: &str) -> Option<Origin> {
    let req = tx.request();
    let ruri = SipUri::parse(&req.uri).ok()?;
    let dialled = ruri.user_unescaped().unwrap_or_default();
    let from_user = req
        .headers
        .get("From")
        .and_then(|f| NameAddr::parse(f).ok())
        .map(|n| {
            let user = n.sip_uri().ok().and_then(|u| u.user).unwrap_or_default();
            (n.display.unwrap_or_default(), user)
        })
        .unwrap_or_default();

    // Calls from the trunk are trusted; their tenant is the called number's.
    if let Some(trunk) = &sw.cfg.trunk {
        if tx.peer().addr.ip() == trunk.peer.addr.ip() {
            return match lookup_did(sw, &dialled).await {
                Some((tenant, _)) => Some(Origin {
                    tenant,
                    user: None,
                    caller_id: from_user.1.clone(),
                    display: from_user.0,
                }),
                None => {
                    tx.reply(404, Some(a_tag));
                    None
                }
            };
        }
    }
    // Devices must authenticate; the realm offered is our best guess of
    // the tenant, but the tenant used is the authenticated device's.
    let host = ruri.host.to_ascii_lowercase();
    let realm = match sw.store.tenant_by_domain(&host).await {
        Ok(Some(t)) => t.domain,
        _ => match lookup_did(sw, &dialled).await {
            Some((t, _)) => t.domain,
            None => host,
        },
    };
    match sw
        .auth
        .check(req, tx.peer(), "Proxy-Authorization", &realm)
        .await
    {
        AuthOutcome::Authenticated(tenant, device) => {
            let user = sw
                .store
                .user(tenant.id, device.user_id)
                .await
                .ok()
                .flatten();
            let Some(user) = user else {
                tx.reply(403, Some(a_tag));
                return None;
            };
            Some(Origin {
                caller_id: user.extension.clone(),
                display: if user.display_name.is_empty() {
                    from_user.0
                } else {
                    user.display_name.clone()
                },
                tenant,
                user: Some(user),
            })
        }
        AuthOutcome::Challenge { realm, stale } => {
            tx.respond(sw.auth.challenge(req, a_tag, &realm, stale, true));
            None
        }
        AuthOutcome::Forbidden(why) => {
            let mut r = Response::to(req, 403, Some(a_tag));
            r.reason = why.to_string();
            tx.respond(r);
            None
        }
    }
}

async fn lookup_did(sw: &Switch, dialled: &str) -> Option<(Tenant, User)> {
    let d = crate::tenancy::resolve::normalise_dialled(dialled);
    if d.is_empty() {
        return None;
    }
    if let Ok(Some(x)) = sw.store.user_by_number(&d).await {
        return Some(x);
    }
    let alt = match d.strip_prefix('+') {
        Some(rest) => rest.to_string(),
        None => format!("+{d}"),
    };
    sw.store.user_by_number(&alt).await.ok().flatten()
}

struct Call {
    sw: Arc<Switch>,
    a_tx: ServerTx,
    a_tag: String,
    a: Dialog,
    origin: Origin,
    events: mpsc::Receiver<CallEvent>,
    events_tx: mpsc::Sender<CallEvent>,
    bridge: Option<Bridge>,
    b_call_id: String,
    b_tag: String,
    b: Option<Dialog>,
    /// Session id for an `o=` line we must build (peer sent none).
    sdp_session: u64,
    cdr: Cdr,
    fork_rx: Option<mpsc::Receiver<(usize, Response)>>,
    winner: Option<usize>,
}

impl Call {
    fn new(sw: Arc<Switch>, a_tx: ServerTx, a_tag: String, origin: Origin) -> Self {
        let (events_tx, events) = mpsc::channel(64);
        let a = Dialog::as_uas(&a_tx, &a_tag);
        sw.register_dialog(&a.call_id, &a_tag, true, events_tx.clone());
        let dialled = SipUri::parse(&a_tx.request().uri)
            .ok()
            .and_then(|u| u.user_unescaped())
            .unwrap_or_default();
        let cdr = Cdr {
            tenant_id: origin.tenant.id,
            call_id: a.call_id.clone(),
            caller: origin.caller_id.clone(),
            callee: dialled,
            started_at: crate::now_ms(),
            ..Cdr::default()
        };
        Self {
            sw,
            a_tx,
            a_tag,
            a,
            origin,
            events,
            events_tx,
            bridge: None,
            b_call_id: format!("{}@centrale", random_token(20)),
            b_tag: random_token(10),
            b: None,
            sdp_session: rand::random::<u32>().into(),
            cdr,
            fork_rx: None,
            winner: None,
        }
    }

    fn reply_a(&mut self, status: u16, text: Option<&str>, result: &str) {
        let mut r = Response::to(self.a_tx.request(), status, Some(&self.a_tag));
        if let Some(t) = text {
            r.reason = t.to_string();
        }
        self.a_tx.respond(r);
        self.cdr.result = result.to_string();
        self.cdr.sip_code = i64::from(status);
    }

    fn contact(&self, t: Transport) -> String {
        self.sw.endpoint.contact_uri("centrale", t)
    }

    fn relay_sdp(&mut self, side: Side, body: &[u8]) -> Option<String> {
        let text = std::str::from_utf8(body).ok()?;
        let sd = sdp::parse(text).ok()?;
        let bridge = self.bridge.as_ref()?;
        // The SDP a side sends tells where it wants media; we offer the
        // other side our port facing it.
        if let Some(addr) = sd.remote_audio() {
            bridge.set_remote(side, addr);
        }
        Some(sd.rewrite_for_relay(
            self.sw.media.advertise_ip(),
            bridge.port(side.other()),
            self.sdp_session,
        ))
    }

    async fn route(&mut self) {
        let req = self.a_tx.request().clone();
        let mf: u32 = req
            .headers
            .get("Max-Forwards")
            .and_then(|v| v.parse().ok())
            .unwrap_or(70);
        if mf == 0 {
            return self.reply_a(483, None, "failed");
        }
        let dest = match &self.origin.user {
            None => match lookup_did(&self.sw, &self.cdr.callee).await {
                Some((_, u)) => Destination::User(u),
                None => Destination::NotFound,
            },
            Some(_) => {
                match resolve_callee(&self.sw.store, &self.origin.tenant, &self.cdr.callee).await {
                    Ok(d) => d,
                    Err(e) => {
                        tracing::error!("resolve: {e}");
                        return self.reply_a(500, None, "failed");
                    }
                }
            }
        };
        let target = match dest {
            Destination::User(u) => Target::Users(u),
            Destination::Outside(n) if self.sw.cfg.trunk.is_some() => Target::Trunk(n),
            Destination::Outside(_) => {
                return self.reply_a(404, Some("No Route To Outside Numbers"), "not-found")
            }
            Destination::NotFound => return self.reply_a(404, None, "not-found"),
        };
        // The offer.
        if req.body.is_empty() {
            return self.reply_a(488, Some("SDP Offer Required"), "failed");
        }
        let offer_ok = std::str::from_utf8(&req.body)
            .ok()
            .and_then(|t| sdp::parse(t).ok())
            .map(|s| s.has_acceptable_audio())
            .unwrap_or(false);
        if !offer_ok {
            return self.reply_a(488, None, "failed");
        }
        match self.sw.media.create_bridge().await {
            Ok(b) => self.bridge = Some(b),
            Err(e) => {
                tracing::error!("no media ports: {e}");
                return self.reply_a(503, Some("No Media Ports"), "failed");
            }
        }
        let Some(offer) = self.relay_sdp(Side::A, &req.body) else {
            return self.reply_a(488, None, "failed");
        };
        let destinations = match self.destinations(&target).await {
            Ok(d) if d.is_empty() => return self.reply_a(480, None, "unavailable"),
            Ok(d) => d,
            Err(status) => return self.reply_a(status, None, "failed"),
        };
        let mut forks = Vec::new();
        let (fork_tx, fork_rx) = mpsc::channel(64);
        self.sw
            .register_dialog(&self.b_call_id, &self.b_tag, false, self.events_tx.clone());
        for (uri, peer, to) in destinations {
            let mut b = Request::new("INVITE", &uri);
            let from_uri = format!(
                "sip:{}@{}",
                self.origin.caller_id, self.origin.tenant.domain
            );
            let from = NameAddr {
                display: if self.origin.display.is_empty() {
                    None
                } else {
                    Some(self.origin.display.clone())
                },
                uri: from_uri,
                params: vec![("tag".into(), Some(self.b_tag.clone()))],
            };
            b.headers.push("Max-Forwards", (mf - 1).to_string());
            b.headers.push("From", from.to_string());
            b.headers.push("To", to);
            b.headers.push("Call-ID", self.b_call_id.clone());
            b.headers.push("CSeq", "1 INVITE");
            b.headers
                .push("Contact", format!("<{}>", self.contact(peer.transport)));
            b.headers.push("Allow", ALLOW);
            b.headers
                .push("User-Agent", self.sw.endpoint.product.clone());
            b.set_body("application/sdp", offer.clone().into_bytes());
            let idx = forks.len();
            let ctx = self.sw.endpoint.send_request(b, peer);
            forks.push(Fork {
                peer,
                req: ctx.request.clone(),
                canceller: ctx.canceller(),
                done: false,
                auth_retried: false,
            });
            spawn_forwarder(idx, ctx, fork_tx.clone());
        }
        self.fork_rx = Some(fork_rx);
        self.ring(forks, fork_tx).await;
    }

    /// (Request-URI, transport peer, To header) of each B-leg.
    async fn destinations(&self, target: &Target) -> Result<Vec<(String, Peer, String)>, u16> {
        match target {
            Target::Trunk(number) => {
                let Some(trunk) = &self.sw.cfg.trunk else {
                    return Err(404);
                };
                let host = trunk.peer.addr.to_string();
                let uri = format!("sip:{number}@{host}");
                Ok(vec![(uri.clone(), trunk.peer, format!("<{uri}>"))])
            }
            Target::Users(user) => {
                let regs = self
                    .sw
                    .store
                    .registrations_of_user(user.tenant_id, user.id, crate::now_ms())
                    .await
                    .map_err(|_| 500u16)?;
                let to = format!("<sip:{}@{}>", user.extension, self.origin.tenant.domain);
                Ok(regs
                    .into_iter()
                    .filter_map(|r| {
                        let peer = Peer::from_source_string(&r.source).or_else(|| {
                            let u = SipUri::parse(&r.contact).ok()?;
                            let ip: std::net::IpAddr = u.host.parse().ok()?;
                            Some(Peer {
                                transport: Transport::Udp,
                                addr: (ip, u.port.unwrap_or(5060)).into(),
                            })
                        })?;
                        Some((r.contact, peer, to.clone()))
                    })
                    .collect())
            }
        }
    }

    async fn ring(&mut self, mut forks: Vec<Fork>, fork_tx: mpsc::Sender<(usize, Response)>) {
        let Some(mut fork_rx) = self.fork_rx.take() else {
            return;
        };
        let deadline = Instant::now() + self.sw.cfg.ring_timeout;
        let mut ringing_sent = false;
        let mut early_media: Option<usize> = None;
        let mut failures: Vec<u16> = Vec::new();
        let a_tx = self.a_tx.clone();
        loop {
            tokio::select! {
                _ = a_tx.cancelled() => {
                    cancel_forks(&mut forks, None);
                    self.reply_a(487, None, "cancelled");
                    self.fork_rx = Some(fork_rx);
                    return;
                }
                _ = tokio::time::sleep_until(deadline) => {
                    cancel_forks(&mut forks, None);
                    self.reply_a(480, Some("No Answer"), "no-answer");
                    self.fork_rx = Some(fork_rx);
                    return;
                }
                ev = self.events.recv() => {
                    if let Some(CallEvent::Request { tx, .. }) = ev {
                        tx.reply(491, None);
                    }
                }
                ev = fork_rx.recv() => {
                    let Some((idx, resp)) = ev else { return };
                    let Some(fork) = forks.get_mut(idx) else { continue };
                    if fork.done && resp.status >= 300 {
                        continue;
                    }
                    match resp.status {
                        100 => {}
                        101..=199 => {
                            let has_sdp = !resp.body.is_empty();
                            if has_sdp && early_media.is_none() {
                                early_media = Some(idx);
                                if let Some(sdp) = self.relay_sdp(Side::B, &resp.body) {
                                    let mut r = Response::to(self.a_tx.request(), 183, Some(&self.a_tag));
                                    if resp.status == 180 {
                                        r.status = 180;
                                        r.reason = "Ringing".into();
                                    }
                                    r.headers.push("Contact", format!("<{}>", self.contact(self.a.peer.transport)));
                                    r.set_body("application/sdp", sdp.into_bytes());
                                    self.a_tx.respond(r);
                                    ringing_sent = true;
                                }
                            } else if !ringing_sent && (180..=182).contains(&resp.status) {
                                ringing_sent = true;
                                let mut r = Response::to(self.a_tx.request(), 180, Some(&self.a_tag));
                                r.headers.push("Contact", format!("<{}>", self.contact(self.a.peer.transport)));
                                self.a_tx.respond(r);
                            }
                        }
                        200..=299 => {
                            fork.done = true;
                            let b = Dialog::as_uac(&fork.req, &resp, fork.peer);
                            self.sw.endpoint.send_stateless(b.ack(1), fork.peer).await;
                            self.b = Some(b);
                            self.winner = Some(idx);
                            cancel_forks(&mut forks, Some("SIP;cause=200;text=\"Call completed elsewhere\""));
                            let answer = self.relay_sdp(Side::B, &resp.body);
                            let mut r = Response::to(self.a_tx.request(), 200, Some(&self.a_tag));
                            r.headers.push("Contact", format!("<{}>", self.contact(self.a.peer.transport)));
                            r.headers.push("Allow", ALLOW);
                            if let Some(sdp) = answer {
                                r.set_body("application/sdp", sdp.into_bytes());
                            }
                            self.a_tx.respond(r);
                            self.cdr.answered_at = Some(crate::now_ms());
                            self.cdr.result = "answered".into();
                            self.cdr.sip_code = 200;
                            self.fork_rx = Some(fork_rx);
                            self.connected(forks).await;
                            return;
                        }
                        401 | 407 if !fork.auth_retried => {
                            let retry = self.sw.cfg.trunk.as_ref().and_then(|t| t.authorize(&fork.req, &resp));
                            match retry {
                                Some(req) => {
                                    fork.auth_retried = true;
                                    let ctx = self.sw.endpoint.send_request(req, fork.peer);
                                    fork.req = ctx.request.clone();
                                    fork.canceller = ctx.canceller();
                                    spawn_forwarder(idx, ctx, fork_tx.clone());
                                }
                                None => {
                                    fork.done = true;
                                    failures.push(resp.status);
                                }
                            }
                        }
                        status => {
                            fork.done = true;
                            failures.push(status);
                        }
                    }
                    if forks.iter().all(|f| f.done) && self.winner.is_none() {
                        let (status, result) = best_failure(&failures, self.origin.user.is_none() || forks.len() == 1);
                        self.reply_a(status, None, result);
                        return;
                    }
                }
            }
        }
    }

    async fn connected(&mut self, mut forks: Vec<Fork>) {
        let Some(mut fork_rx) = self.fork_rx.take() else {
            return;
        };
        let end_at = Instant::now() + self.sw.cfg.max_call;
        let ack_deadline = Instant::now() + crate::sip::transaction::TIMEOUT_64T1;
        let mut a_acked = false;
        let a_tx = self.a_tx.clone();
        loop {
            tokio::select! {
                _ = a_tx.acked(), if !a_acked => { a_acked = true; }
                _ = tokio::time::sleep_until(ack_deadline), if !a_acked => {
                    tracing::info!(call_id = %self.a.call_id, "caller never ACKed the 200: ending the call");
                    self.bye(true).await;
                    self.bye(false).await;
                    return;
                }
                _ = tokio::time::sleep_until(end_at) => {
                    self.bye(true).await;
                    self.bye(false).await;
                    return;
                }
                ev = fork_rx.recv() => {
                    let Some((idx, resp)) = ev else { continue };
                    if (200..300).contains(&resp.status) {
                        let Some(fork) = forks.get_mut(idx) else { continue };
                        if Some(idx) == self.winner {
                            if let Some(b) = &self.b {
                                self.sw.endpoint.send_stateless(b.ack(1), fork.peer).await;
                            }
                        } else {
                            // A second device answered too: ACK and hang it up.
                            let mut late = Dialog::as_uac(&fork.req, &resp, fork.peer);
                            self.sw.endpoint.send_stateless(late.ack(1), fork.peer).await;
                            let bye = late.request("BYE", &self.contact(fork.peer.transport));
                            let _ = self.sw.endpoint.send_request(bye, fork.peer);
                        }
                    }
                }
                ev = self.events.recv() => {
                    match ev {
                        None => return,
                        Some(CallEvent::Ack(_)) => a_acked = true,
                        Some(CallEvent::Stray2xx(resp, peer)) => {
                            if let Some(b) = &self.b {
                                if resp.to_tag().as_deref() == crate::sip::uri::header_tag(&b.remote).as_deref() {
                                    self.sw.endpoint.send_stateless(b.ack(resp.cseq().0), peer).await;
                                }
                            }
                        }
                        Some(CallEvent::Request { from_caller, tx }) => {
                            if self.in_dialog(from_caller, tx).await {
                                return;
                            }
                        }
                    }
                }
            }
        }
    }

    /// Handles an in-dialog request; `true` when the call has ended.
    async fn in_dialog(&mut self, from_caller: bool, tx: ServerTx) -> bool {
        let method = tx.request().method.clone();
        match method.as_str() {
            "BYE" => {
                tx.reply(200, None);
                self.bye(!from_caller).await;
                true
            }
            "OPTIONS" => {
                let mut r = Response::to(tx.request(), 200, None);
                r.headers.push("Allow", ALLOW);
                tx.respond(r);
                false
            }
            "INVITE" | "INFO" => {
                self.relay(from_caller, tx).await;
                false
            }
            _ => {
                let mut r = Response::to(tx.request(), 501, None);
                r.headers.push("Allow", ALLOW);
                tx.respond(r);
                false
            }
        }
    }

    /// Relays a re-INVITE (hold/unhold) or INFO to the other leg and its
    /// final answer back.
    async fn relay(&mut self, from_caller: bool, tx: ServerTx) {
        let req = tx.request().clone();
        let (in_side, out_side) = if from_caller {
            (Side::A, Side::B)
        } else {
            (Side::B, Side::A)
        };
        let body = if req.method == "INVITE" {
            if req.body.is_empty() {
                tx.reply(488, None);
                return;
            }
            match self.relay_sdp(in_side, &req.body) {
                Some(s) => Some(("application/sdp".to_string(), s.into_bytes())),
                None => {
                    tx.reply(488, None);
                    return;
                }
            }
        } else if req.body.is_empty() {
            None
        } else {
            Some((
                req.headers
                    .get("Content-Type")
                    .unwrap_or("application/octet-stream")
                    .to_string(),
                req.body.to_vec(),
            ))
        };
        let dialog = if from_caller {
            self.b.as_mut()
        } else {
            Some(&mut self.a)
        };
        let Some(dialog) = dialog else {
            tx.reply(500, None);
            return;
        };
        let contact = self
            .sw
            .endpoint
            .contact_uri("centrale", dialog.peer.transport);
        let mut out = dialog.request(&req.method, &contact);
        let cseq = dialog.local_cseq;
        let peer = dialog.peer;
        if let Some((ct, b)) = body {
            out.set_body(&ct, b);
        }
        if req.method == "INFO" {
            for h in ["Info-Package", "Event"] {
                if let Some(v) = req.headers.get(h) {
                    out.headers.push(h, v);
                }
            }
        }
        let mut ctx = self.sw.endpoint.send_request(out, peer);
        let final_resp = loop {
            match ctx.responses.recv().await {
                Some(r) if r.status < 200 => continue,
                Some(r) => break r,
                None => break Response::to(&ctx.request, 408, None),
            }
        };
        if req.method == "INVITE" && final_resp.status < 300 {
            if let Some(d) = if from_caller {
                self.b.as_ref()
            } else {
                Some(&self.a)
            } {
                self.sw.endpoint.send_stateless(d.ack(cseq), peer).await;
            }
        }
        let mut r = Response::to(&req, final_resp.status, None);
        r.reason = final_resp.reason.clone();
        if req.method == "INVITE" && final_resp.status < 300 {
            r.headers.push(
                "Contact",
                format!("<{}>", self.contact(tx.peer().transport)),
            );
            if let Some(sdp) = self.relay_sdp(out_side, &final_resp.body) {
                r.set_body("application/sdp", sdp.into_bytes());
            }
        }
        tx.respond(r);
    }

    /// Sends BYE on the caller's leg (`to_caller`) or the callee's.
    async fn bye(&mut self, to_caller: bool) {
        let dialog = if to_caller {
            Some(&mut self.a)
        } else {
            self.b.as_mut()
        };
        let Some(d) = dialog else { return };
        let contact = self.sw.endpoint.contact_uri("centrale", d.peer.transport);
        let bye = d.request("BYE", &contact);
        let peer = d.peer;
        let mut ctx = self.sw.endpoint.send_request(bye, peer);
        // Do not hold the call for the answer; it is only logged.
        tokio::spawn(async move {
            while let Some(r) = ctx.responses.recv().await {
                if r.status >= 200 {
                    break;
                }
            }
        });
    }

    async fn finish(&mut self) {
        self.sw.unregister_dialog(&self.a.call_id, &self.a_tag);
        self.sw.unregister_dialog(&self.b_call_id, &self.b_tag);
        self.cdr.ended_at = crate::now_ms();
        if self.cdr.result.is_empty() {
            self.cdr.result = "failed".into();
        }
        if let Some(b) = self.bridge.take() {
            let s = b.stats();
            tracing::info!(
                call_id = %self.cdr.call_id, a_to_b = s.a_to_b, b_to_a = s.b_to_a,
                "media relayed"
            );
            b.close();
        }
        tracing::info!(
            tenant = %self.origin.tenant.domain, call_id = %self.cdr.call_id,
            caller = %self.cdr.caller, callee = %self.cdr.callee, result = %self.cdr.result,
            "call ended"
        );
        if let Err(e) = self.sw.store.insert_cdr(&self.cdr).await {
            tracing::error!("CDR write failed: {e}");
        }
    }
}

fn spawn_forwarder(idx: usize, mut ctx: ClientTx, out: mpsc::Sender<(usize, Response)>) {
    tokio::spawn(async move {
        while let Some(r) = ctx.responses.recv().await {
            if out.send((idx, r)).await.is_err() {
                break;
            }
        }
    });
}

fn cancel_forks(forks: &mut [Fork], reason: Option<&str>) {
    for f in forks.iter_mut().filter(|f| !f.done) {
        f.canceller.cancel(reason.map(str::to_string));
        f.done = true;
    }
}

/// The answer for the caller when every fork failed (RFC 3261 §16.7 in
/// spirit): busy wins over unreachable; a single destination's own code is
/// passed through.
fn best_failure(codes: &[u16], pass_through: bool) -> (u16, &'static str) {
    let result = |c: u16| match c {
        486 | 600 => "busy",
        603 => "rejected",
        404 | 484 => "not-found",
        408 | 480 | 503 => "unavailable",
        487 => "cancelled",
        _ => "failed",
    };
    if let Some(c) = codes.iter().find(|c| (600..700).contains(*c)) {
        return (*c, result(*c));
    }
    if codes.contains(&486) {
        return (486, "busy");
    }
    if pass_through {
        if let Some(c) = codes.first() {
            return (*c, result(*c));
        }
    }
    if codes.iter().all(|c| matches!(c, 408 | 480 | 503)) {
        return (480, "unavailable");
    }
    let c = codes.first().copied().unwrap_or(480);
    (c, result(c))
}

#[cfg(test)]
mod tests {
    use super::best_failure;

    #[test]
    fn busy_beats_unreachable() {
        assert_eq!(best_failure(&[408, 486], false), (486, "busy"));
        assert_eq!(best_failure(&[408, 503], false), (480, "unavailable"));
        assert_eq!(best_failure(&[603, 486], false).0, 603);
        assert_eq!(best_failure(&[404], true), (404, "not-found"));
    }
}
