//! A connected call: re-INVITE (hold/unhold) and INFO relayed between the
//! legs with SDP rewritten, BYE from either side ends both, the caller's ACK
//! awaited, late answers from other forks hung up, `max_call` enforced.

use super::call::Call;
use super::dialog::Dialog;
use super::fork::Fork;
use super::{CallEvent, ALLOW};
use crate::media::Side;
use crate::sip::{Response, ServerTx};
use tokio::sync::mpsc;
use tokio::time::Instant;

impl Call {
    pub(super) async fn connected(
        &mut self,
        mut forks: Vec<Fork>,
        mut fork_rx: mpsc::Receiver<(usize, Response)>,
    ) {
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
            match self.relay_sdp(in_side, &req.body, tx.peer().addr.ip()) {
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
            if let Some(sdp) = self.relay_sdp(out_side, &final_resp.body, peer.addr.ip()) {
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
}
