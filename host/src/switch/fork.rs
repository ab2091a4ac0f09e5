//! Ringing: one B-leg INVITE per registered contact of the callee (or to
//! the trunk), progress relayed to the caller, first 2xx wins, the other
//! forks CANCELled with `Reason: SIP;cause=200;text="Call completed elsewhere"`.

use super::call::{Call, Target};
use super::dialog::Dialog;
use super::trunk::Trunk;
use super::{CallEvent, Switch, ALLOW};
use crate::media::Side;
use crate::sip::message::random_token;
use crate::sip::transaction::{Canceller, ClientTx};
use crate::sip::uri::{NameAddr, SipUri};
use crate::sip::{Peer, Request, Response, Transport};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// How ringing ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RingOutcome {
    /// Answered; the call has been talked and ended.
    Answered,
    /// The caller hung up (already answered 487).
    Cancelled,
    /// Nobody answered within the ring timeout (forks CANCELled).
    NoAnswer,
    /// Every device was busy.
    Busy,
    /// No device could be reached (none registered, or all failed to answer).
    Unreachable,
    /// Another failure, with the status and CDR result to give the caller.
    Failed(u16, &'static str),
}

pub(super) struct Fork {
    pub(super) peer: Peer,
    pub(super) req: Request,
    pub(super) canceller: Canceller,
    pub(super) done: bool,
    pub(super) auth_retried: bool,
    /// The trunk this fork goes to: the only kind of leg whose digest
    /// challenge the host answers.
    pub(super) trunk: Option<Trunk>,
}

/// Where one B-leg INVITE goes.
pub(super) struct BLeg {
    /// Request-URI.
    pub(super) uri: String,
    /// Transport address.
    pub(super) peer: Peer,
    /// To header.
    pub(super) to: String,
    /// Set when the leg goes to a trunk.
    pub(super) trunk: Option<Trunk>,
}

impl Fork {
    /// The INVITE that answers this fork's 401/407 `resp`, when the fork
    /// goes to a trunk with credentials for the challenge's realm. A
    /// phone's challenge is never answered (it would relay the trunk's
    /// credentials to whoever registered).
    pub(super) fn authorize(&self, resp: &Response) -> Option<Request> {
        match &self.trunk {
            Some(t) => t.authorize(&self.req, resp),
            None => {
                tracing::warn!(peer = %self.peer.addr, status = resp.status, "a device challenged the host: not answered");
                None
            }
        }
    }
}

impl Call {
    /// Rings `target` (and `extra` targets added by hooks) with `offer`:
    /// one B-leg INVITE per registered contact, first answer wins.
    pub(super) async fn attempt(
        &mut self,
        target: &Target,
        extra: &[Target],
        offer: &str,
        mf: u32,
    ) -> RingOutcome {
        let mut destinations = match self.destinations(target).await {
            Ok(d) => d,
            Err(status) => return RingOutcome::Failed(status, "failed"),
        };
        for t in extra {
            if let Ok(d) = self.destinations(t).await {
                destinations.extend(d);
            }
        }
        if destinations.is_empty() {
            return RingOutcome::Unreachable;
        }
        // Fresh B-side identifiers for every attempt (forwarding may ring
        // the same device again).
        self.sw.unregister_dialog(&self.b_call_id, &self.b_tag);
        self.b_call_id = format!("{}@centrale", random_token(20));
        self.b_tag = random_token(10);
        let pass_through = matches!(target, Target::Trunk(_)) && extra.is_empty();
        let mut forks = Vec::new();
        let (fork_tx, fork_rx) = mpsc::channel(64);
        self.sw
            .register_dialog(&self.b_call_id, &self.b_tag, false, self.events_tx.clone());
        for BLeg {
            uri,
            peer,
            to,
            trunk,
        } in destinations
        {
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
            self.add_diversion_headers(&mut b);
            b.set_body("application/sdp", offer.as_bytes().to_vec());
            let idx = forks.len();
            let ctx = self.sw.endpoint.send_request(b, peer);
            forks.push(Fork {
                peer,
                req: ctx.request.clone(),
                canceller: ctx.canceller(),
                done: false,
                auth_retried: false,
                trunk,
            });
            spawn_forwarder(idx, ctx, fork_tx.clone());
        }
        self.ring(forks, fork_tx, fork_rx, pass_through).await
    }

    /// Where each B-leg goes.
    pub(super) async fn destinations(&self, target: &Target) -> Result<Vec<BLeg>, u16> {
        destinations(&self.sw, &self.origin.tenant.domain, target).await
    }

    async fn ring(
        &mut self,
        mut forks: Vec<Fork>,
        fork_tx: mpsc::Sender<(usize, Response)>,
        mut fork_rx: mpsc::Receiver<(usize, Response)>,
        pass_through: bool,
    ) -> RingOutcome {
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
                    return RingOutcome::Cancelled;
                }
                _ = tokio::time::sleep_until(deadline) => {
                    cancel_forks(&mut forks, None);
                    return RingOutcome::NoAnswer;
                }
                ev = self.events.recv() => {
                    if let Some(CallEvent::Request { tx, .. }) = ev {
                        tx.reply(491, None);
                    }
                }
                ev = fork_rx.recv() => {
                    let Some((idx, resp)) = ev else { return RingOutcome::Failed(500, "failed") };
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
                                if let Some(sdp) = self.relay_sdp(Side::B, &resp.body, fork.peer.addr.ip()) {
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
                            let fork_ip = fork.peer.addr.ip();
                            let b = Dialog::as_uac(&fork.req, &resp, fork.peer);
                            self.sw.endpoint.send_stateless(b.ack(1), fork.peer).await;
                            self.b = Some(b);
                            self.winner = Some(idx);
                            cancel_forks(&mut forks, Some("SIP;cause=200;text=\"Call completed elsewhere\""));
                            let answer = self.relay_sdp(Side::B, &resp.body, fork_ip);
                            if let Some(bridge) = &self.bridge {
                                // Media starts now: both sides may latch behind NAT.
                                bridge.rearm(Side::A);
                                bridge.rearm(Side::B);
                            }
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
                            self.connected(forks, fork_rx).await;
                            return RingOutcome::Answered;
                        }
                        401 | 407 if !fork.auth_retried => {
                            let retry = fork.authorize(&resp);
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
                                    // A challenge we do not answer is a leg
                                    // that cannot be reached.
                                    failures.push(480);
                                }
                            }
                        }
                        status => {
                            fork.done = true;
                            failures.push(status);
                        }
                    }
                    if forks.iter().all(|f| f.done) && self.winner.is_none() {
                        return best_failure(&failures, pass_through);
                    }
                }
            }
        }
    }
}

/// Where each B-leg to `target` of the tenant at `domain` goes: every
/// registered contact of a user, or the trunk.
pub(super) async fn destinations(
    sw: &Switch,
    domain: &str,
    target: &Target,
) -> Result<Vec<BLeg>, u16> {
    match target {
        Target::Trunk(number) => {
            let Some(trunk) = &sw.cfg.trunk else {
                return Err(404);
            };
            let host = trunk.peer.addr.to_string();
            let uri = format!("sip:{number}@{host}");
            Ok(vec![BLeg {
                to: format!("<{uri}>"),
                uri,
                peer: trunk.peer,
                trunk: Some(trunk.clone()),
            }])
        }
        Target::Users(user) => {
            let regs = sw
                .store
                .registrations_of_user(user.tenant_id, user.id, crate::now_ms())
                .await
                .map_err(|_| 500u16)?;
            let to = format!("<sip:{}@{domain}>", user.extension);
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
                    Some(BLeg {
                        uri: r.contact,
                        peer,
                        to: to.clone(),
                        trunk: None,
                    })
                })
                .collect())
        }
    }
}

pub(super) fn spawn_forwarder(idx: usize, mut ctx: ClientTx, out: mpsc::Sender<(usize, Response)>) {
    tokio::spawn(async move {
        while let Some(r) = ctx.responses.recv().await {
            if out.send((idx, r)).await.is_err() {
                break;
            }
        }
    });
}

pub(super) fn cancel_forks(forks: &mut [Fork], reason: Option<&str>) {
    for f in forks.iter_mut().filter(|f| !f.done) {
        f.canceller.cancel(reason.map(str::to_string));
        f.done = true;
    }
}

/// The outcome when every fork failed (RFC 3261 §16.7 in spirit): busy wins
/// over unreachable; the trunk's own code is passed through.
fn best_failure(codes: &[u16], pass_through: bool) -> RingOutcome {
    classify(best_code(codes, pass_through))
}

fn classify((code, result): (u16, &'static str)) -> RingOutcome {
    match result {
        "busy" if code == 486 => RingOutcome::Busy,
        "unavailable" => RingOutcome::Unreachable,
        _ => RingOutcome::Failed(code, result),
    }
}

fn best_code(codes: &[u16], pass_through: bool) -> (u16, &'static str) {
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
    use super::best_code as best_failure;

    #[test]
    fn busy_beats_unreachable() {
        assert_eq!(best_failure(&[408, 486], false), (486, "busy"));
        assert_eq!(best_failure(&[408, 503], false), (480, "unavailable"));
        assert_eq!(best_failure(&[603, 486], false).0, 603);
        assert_eq!(best_failure(&[404], true), (404, "not-found"));
    }
}
