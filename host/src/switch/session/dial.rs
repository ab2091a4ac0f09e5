//! `call-control.dial` for a session: ring a destination of the call's
//! tenant, connect it to the caller, and give the caller back to the
//! session when the callee hangs up.
//!
//! **Media: the caller never moves.** The caller's media stays on the
//! session's [`MediaEndpoint`]; the callee gets the host's offer from a
//! [`PeerLink`] (a second port pair) with exactly the caller's negotiated
//! codec and telephone-event payload type, and once it answers the endpoint
//! goes into bridge mode: caller packets go out of the link unchanged, the
//! callee's come to the caller on the endpoint's own SSRC/sequence/timestamp
//! (see `media/endpoint/link.rs`). The alternative, re-INVITEing the caller
//! onto a relay bridge and back, would renegotiate SDP with the phone twice
//! per dial (glare with its own re-INVITEs, phones that refuse or change
//! codec on re-offers, a second ACK/timeout path); bridging on the
//! endpoint needs no SIP towards the caller at all, hold re-INVITEs from
//! the caller keep working as they do during the session (the watcher
//! answers them and the endpoint follows the new address), and after the
//! bridge the endpoint plays again on the same stream.
//!
//! **Signalling.** One INVITE per registered contact of a user (or to the
//! trunk for an outside number), From the caller's identity, no
//! Diversion; ringback is played to the caller while ringing (as early
//! media when the session has not answered). The first 2xx wins, other
//! forks are CANCELled; the caller is answered if the session had not done
//! so. Outcomes: 486/600 from any fork → `busy`, the timeout (CANCEL) →
//! `no-answer`, every fork failed or nothing to ring → `unavailable`,
//! the callee's BYE → `answered`; the caller's hang-up BYEs the callee and
//! is `hung-up`. Whatever ends the dial, including the session's future
//! being dropped at its wall-clock limit, a [`Cleanup`] cancels the forks,
//! BYEs an answered callee, unbridges the endpoint and forgets the dialog.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::leg::Leg;
use crate::media::endpoint::{MediaEndpoint, PeerLink, PlayEnd};
use crate::media::{sdp, tone, Codec};
use crate::runtime::host::call_control::{CallError, DialOutcome};
use crate::sip::message::random_token;
use crate::sip::uri::NameAddr;
use crate::sip::{Request, Response, ServerTx};
use crate::switch::call::Target;
use crate::switch::dialog::Dialog;
use crate::switch::fork::{cancel_forks, destinations, spawn_forwarder, BLeg, Fork};
use crate::switch::{CallEvent, Switch, ALLOW};
use crate::tenancy::resolve::{resolve_callee, Destination};
use crate::tenancy::Tenant;

/// Who the dialled party sees calling, and the caller's media format.
#[derive(Debug, Clone)]
pub(crate) struct DialFrom {
    /// The call's tenant: where the destination is resolved.
    pub(crate) tenant: Tenant,
    /// The caller's identity (extension, or the number from the trunk).
    pub(crate) caller_id: String,
    /// The caller's display name.
    pub(crate) display: String,
    /// The codec the caller's leg negotiated.
    pub(crate) codec: Codec,
    /// The caller's telephone-event payload type.
    pub(crate) te: Option<u8>,
}

/// What a dial leaves behind, undone on drop.
struct Cleanup {
    sw: Arc<Switch>,
    endpoint: MediaEndpoint,
    call_id: String,
    tag: String,
    forks: Vec<Fork>,
    /// The answered callee, until it hung up.
    callee: Option<Dialog>,
    link: Option<PeerLink>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        cancel_forks(&mut self.forks, None);
        if let Some(mut d) = self.callee.take() {
            if tokio::runtime::Handle::try_current().is_ok() {
                let contact = self.sw.endpoint.contact_uri("centrale", d.peer.transport);
                let bye = d.request("BYE", &contact);
                drop(self.sw.endpoint.send_request(bye, d.peer));
            }
        }
        self.endpoint.unbridge();
        self.endpoint.clear_digits();
        self.link.take();
        self.sw.unregister_dialog(&self.call_id, &self.tag);
    }
}

/// How ringing ended.
enum Rang {
    Answered(Box<Response>, usize),
    Outcome(DialOutcome),
}

impl Leg {
    /// Rings `destination` for at most `timeout_ms` (0: the host's ring
    /// timeout) and connects it; logs the outcome.
    pub(super) async fn dial_destination(
        &self,
        destination: &str,
        timeout_ms: u32,
    ) -> Result<DialOutcome, CallError> {
        let call_id = self.a_tx.request().call_id().to_string();
        let result = self.dial_inner(destination, timeout_ms).await;
        match &result {
            Ok(outcome) => {
                tracing::info!(%call_id, %destination, ?outcome, "session dial ended")
            }
            Err(e) => tracing::info!(%call_id, %destination, error = ?e, "session dial ended"),
        }
        result
    }

    async fn dial_inner(
        &self,
        destination: &str,
        timeout_ms: u32,
    ) -> Result<DialOutcome, CallError> {
        if self.is_over() {
            return Err(CallError::HungUp);
        }
        let sw = self.sw.clone();
        let from = &self.from;
        let target = match resolve_callee(&sw.store, &from.tenant, destination).await {
            Ok(Destination::User(u)) => Target::Users(u),
            Ok(Destination::Outside(n)) if sw.cfg.trunk.is_some() => Target::Trunk(n),
            Ok(_) => return Ok(DialOutcome::Unavailable),
            Err(e) => {
                tracing::warn!("dial: resolving `{destination}`: {e}");
                return Ok(DialOutcome::Unavailable);
            }
        };
        let dests = destinations(&sw, &from.tenant.domain, &target)
            .await
            .unwrap_or_default();
        if dests.is_empty() {
            return Ok(DialOutcome::Unavailable);
        }
        let link = match PeerLink::open_for(&sw.media, Some(from.tenant.id)).await {
            Ok(l) => l,
            Err(e) => {
                tracing::error!("dial: no media port: {e}");
                return Ok(DialOutcome::Unavailable);
            }
        };
        let offer = sdp::codec_offer(
            sw.media.advertise_ip(),
            link.port(),
            from.codec,
            from.te,
            rand::random::<u32>().into(),
        );
        let (events_tx, mut events) = mpsc::channel(16);
        let mut cleanup = Cleanup {
            sw: sw.clone(),
            endpoint: self.endpoint.clone(),
            call_id: format!("{}@centrale", random_token(20)),
            tag: random_token(10),
            forks: Vec::new(),
            callee: None,
            link: None,
        };
        sw.register_dialog(&cleanup.call_id, &cleanup.tag, false, events_tx);
        let (fork_tx, mut fork_rx) = mpsc::channel(64);
        for BLeg {
            uri,
            peer,
            to,
            trunk,
        } in dests
        {
            let req = self.invite(&uri, &to, &cleanup, peer.transport, &offer);
            let ctx = sw.endpoint.send_request(req, peer);
            let idx = cleanup.forks.len();
            cleanup.forks.push(Fork {
                peer,
                req: ctx.request.clone(),
                canceller: ctx.canceller(),
                done: false,
                auth_retried: false,
                trunk,
            });
            spawn_forwarder(idx, ctx, fork_tx.clone());
        }

        let timeout = if timeout_ms == 0 {
            sw.cfg.ring_timeout
        } else {
            Duration::from_millis(u64::from(timeout_ms))
        };
        let (resp, idx) = match self
            .ring(&mut cleanup, &fork_tx, &mut fork_rx, &mut events, timeout)
            .await?
        {
            Rang::Answered(resp, idx) => (resp, idx),
            Rang::Outcome(o) => return Ok(o),
        };
        let Some(fork) = cleanup.forks.get(idx) else {
            return Ok(DialOutcome::Unavailable);
        };
        let fork_peer = fork.peer;
        let b = Dialog::as_uac(&fork.req, &resp, fork_peer);
        sw.endpoint
            .send_stateless(b.ack(b.local_cseq), fork_peer)
            .await;
        cleanup.callee = Some(b);
        cancel_forks(
            &mut cleanup.forks,
            Some("SIP;cause=200;text=\"Call completed elsewhere\""),
        );
        if let Some(answer) = std::str::from_utf8(&resp.body)
            .ok()
            .and_then(|t| sdp::parse(t).ok())
        {
            if let Some(expect) = crate::media::Expect::from_sdp(&answer, fork_peer.addr.ip()) {
                link.set_remote(expect);
            }
            link.set_party_events(sdp::negotiate(&answer).and_then(|(_, te)| te));
        }
        self.do_answer()?;
        self.endpoint.bridge(&link);
        cleanup.link = Some(link);
        let call_id = self.a_tx.request().call_id();
        tracing::info!(%call_id, %destination, "session dial answered: bridged");
        let outcome = self
            .talk(&mut cleanup, idx, &mut fork_rx, &mut events)
            .await;
        if let Some(stats) = cleanup.link.as_ref().map(PeerLink::stats) {
            tracing::info!(
                %call_id, to_callee = stats.to_party, to_caller = stats.to_caller,
                "session dial media relayed"
            );
        }
        outcome
    }

    /// The INVITE to one contact: the caller's identity, no Diversion.
    fn invite(
        &self,
        uri: &str,
        to: &str,
        c: &Cleanup,
        transport: crate::sip::Transport,
        offer: &str,
    ) -> Request {
        let from = NameAddr {
            display: (!self.from.display.is_empty()).then(|| self.from.display.clone()),
            uri: format!("sip:{}@{}", self.from.caller_id, self.from.tenant.domain),
            params: vec![("tag".into(), Some(c.tag.clone()))],
        };
        let mut b = Request::new("INVITE", uri);
        b.headers.push("Max-Forwards", "70");
        b.headers.push("From", from.to_string());
        b.headers.push("To", to.to_string());
        b.headers.push("Call-ID", c.call_id.clone());
        b.headers.push("CSeq", "1 INVITE");
        b.headers.push(
            "Contact",
            format!("<{}>", self.sw.endpoint.contact_uri("centrale", transport)),
        );
        b.headers.push("Allow", ALLOW);
        b.headers
            .push("User-Agent", self.sw.endpoint.product.clone());
        b.set_body("application/sdp", offer.as_bytes().to_vec());
        b
    }

    /// Rings until a fork answers, every fork failed, the timeout, or the
    /// caller hangs up; ringback meanwhile.
    async fn ring(
        &self,
        c: &mut Cleanup,
        fork_tx: &mpsc::Sender<(usize, Response)>,
        fork_rx: &mut mpsc::Receiver<(usize, Response)>,
        events: &mut mpsc::Receiver<CallEvent>,
        timeout: Duration,
    ) -> Result<Rang, CallError> {
        let deadline = Instant::now() + timeout;
        let hung_up = hung_up(self.ended_tx.subscribe());
        tokio::pin!(hung_up);
        let ringback = async {
            if self.ensure_media().is_ok() {
                let samples: Arc<[i16]> = tone::ringback().into();
                while self.endpoint.play(samples.clone(), false).await != PlayEnd::Closed {}
            }
            std::future::pending::<()>().await
        };
        tokio::pin!(ringback);
        let mut failures: Vec<u16> = Vec::new();
        let mut events_open = true;
        loop {
            tokio::select! {
                _ = &mut hung_up => return Err(CallError::HungUp),
                _ = tokio::time::sleep_until(deadline) => {
                    return Ok(Rang::Outcome(DialOutcome::NoAnswer));
                }
                _ = &mut ringback => {}
                ev = events.recv(), if events_open => match ev {
                    None => events_open = false,
                    Some(CallEvent::Request { tx, .. }) => tx.reply(481, None),
                    Some(_) => {}
                },
                ev = fork_rx.recv() => {
                    let Some((idx, resp)) = ev else {
                        return Ok(Rang::Outcome(DialOutcome::Unavailable));
                    };
                    let Some(fork) = c.forks.get_mut(idx) else { continue };
                    if fork.done {
                        continue;
                    }
                    match resp.status {
                        100..=199 => {}
                        200..=299 => {
                            fork.done = true;
                            return Ok(Rang::Answered(Box::new(resp), idx));
                        }
                        401 | 407 if !fork.auth_retried => {
                            fork.auth_retried = true;
                            let retry = fork.authorize(&resp);
                            match retry {
                                Some(req) => {
                                    let ctx = self.sw.endpoint.send_request(req, fork.peer);
                                    fork.req = ctx.request.clone();
                                    fork.canceller = ctx.canceller();
                                    spawn_forwarder(idx, ctx, fork_tx.clone());
                                }
                                None => {
                                    fork.done = true;
                                    failures.push(480);
                                }
                            }
                        }
                        status => {
                            fork.done = true;
                            failures.push(status);
                        }
                    }
                    if c.forks.iter().all(|f| f.done) {
                        return Ok(Rang::Outcome(failure_outcome(&failures)));
                    }
                }
            }
        }
    }

    /// The bridged conversation, until either side hangs up.
    async fn talk(
        &self,
        c: &mut Cleanup,
        winner: usize,
        fork_rx: &mut mpsc::Receiver<(usize, Response)>,
        events: &mut mpsc::Receiver<CallEvent>,
    ) -> Result<DialOutcome, CallError> {
        let end_at = Instant::now() + self.sw.cfg.max_call;
        let hung_up = hung_up(self.ended_tx.subscribe());
        tokio::pin!(hung_up);
        let mut forks_open = true;
        loop {
            tokio::select! {
                _ = &mut hung_up => return Err(CallError::HungUp),
                _ = tokio::time::sleep_until(end_at) => return Ok(DialOutcome::Answered),
                ev = fork_rx.recv(), if forks_open => {
                    let Some((idx, resp)) = ev else {
                        forks_open = false;
                        continue;
                    };
                    if (200..300).contains(&resp.status) {
                        self.late_answer(c, idx == winner, idx, &resp).await;
                    }
                }
                ev = events.recv() => match ev {
                    None => return Ok(DialOutcome::Answered),
                    Some(CallEvent::Request { tx, .. }) => {
                        if tx.request().method == "BYE" {
                            tx.reply(200, None);
                            c.callee = None;
                            return Ok(DialOutcome::Answered);
                        }
                        self.callee_request(c, tx);
                    }
                    Some(CallEvent::Stray2xx(resp, peer)) => {
                        if let Some(b) = &c.callee {
                            if resp.to_tag() == crate::sip::uri::header_tag(&b.remote) {
                                self.sw.endpoint.send_stateless(b.ack(resp.cseq().0), peer).await;
                            }
                        }
                    }
                    Some(CallEvent::Ack(_)) => {}
                },
            }
        }
    }

    /// A retransmitted 2xx of the winner is ACKed again; another fork
    /// answering too is ACKed and hung up.
    async fn late_answer(&self, c: &Cleanup, is_winner: bool, idx: usize, resp: &Response) {
        let Some(fork) = c.forks.get(idx) else { return };
        if is_winner {
            if let Some(b) = &c.callee {
                self.sw
                    .endpoint
                    .send_stateless(b.ack(resp.cseq().0), fork.peer)
                    .await;
            }
            return;
        }
        let mut late = Dialog::as_uac(&fork.req, resp, fork.peer);
        self.sw
            .endpoint
            .send_stateless(late.ack(late.local_cseq), fork.peer)
            .await;
        let contact = self
            .sw
            .endpoint
            .contact_uri("centrale", fork.peer.transport);
        let bye = late.request("BYE", &contact);
        drop(self.sw.endpoint.send_request(bye, fork.peer));
    }

    /// Answers what the callee sends during the conversation (BYE aside):
    /// a re-INVITE (hold) gets our side of the link again, INFO and
    /// OPTIONS a 200.
    fn callee_request(&self, c: &Cleanup, tx: ServerTx) {
        let req = tx.request();
        match req.method.as_str() {
            "INVITE" => {
                let offer = std::str::from_utf8(&req.body)
                    .ok()
                    .and_then(|t| sdp::parse(t).ok());
                let (Some(offer), Some(link)) = (offer, c.link.as_ref()) else {
                    tx.reply(488, None);
                    return;
                };
                let pt = self.from.codec.payload_type();
                if !offer.audio_formats().contains(&pt) {
                    tx.reply(488, None);
                    return;
                }
                if let Some(expect) = crate::media::Expect::from_sdp(&offer, tx.peer().addr.ip()) {
                    link.set_remote(expect);
                }
                let te = sdp::negotiate(&offer).and_then(|(_, te)| te);
                link.set_party_events(te);
                let answer = sdp::endpoint_answer(
                    &offer,
                    self.sw.media.advertise_ip(),
                    link.port(),
                    self.from.codec,
                    te,
                    rand::random::<u32>().into(),
                );
                let mut r = Response::to(req, 200, None);
                let transport = tx.peer().transport;
                r.headers.push(
                    "Contact",
                    format!("<{}>", self.sw.endpoint.contact_uri("centrale", transport)),
                );
                r.set_body("application/sdp", answer.into_bytes());
                tx.respond(r);
            }
            "INFO" | "OPTIONS" => {
                let mut r = Response::to(req, 200, None);
                r.headers.push("Allow", ALLOW);
                tx.respond(r);
            }
            _ => {
                let mut r = Response::to(req, 501, None);
                r.headers.push("Allow", ALLOW);
                tx.respond(r);
            }
        }
    }
}

/// Resolves once the leg has ended (the caller hung up).
async fn hung_up(mut ended: tokio::sync::watch::Receiver<bool>) {
    let _ = ended.wait_for(|e| *e).await.is_ok();
}

/// Every fork failed: busy when one was busy, else unavailable.
fn failure_outcome(codes: &[u16]) -> DialOutcome {
    if codes.iter().any(|c| matches!(c, 486 | 600)) {
        DialOutcome::Busy
    } else {
        DialOutcome::Unavailable
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_wins_over_other_failures() {
        assert!(matches!(failure_outcome(&[480, 486]), DialOutcome::Busy));
        assert!(matches!(failure_outcome(&[600]), DialOutcome::Busy));
        assert!(matches!(
            failure_outcome(&[404, 503]),
            DialOutcome::Unavailable
        ));
        assert!(matches!(failure_outcome(&[]), DialOutcome::Unavailable));
    }
}
