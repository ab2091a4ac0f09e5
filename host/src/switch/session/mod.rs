//! Calls the host terminates itself: a plugin's session (voicemail, IVR)
//! and announcements played as early media before a rejection.
//!
//! `take_over` swaps the call's relay bridge for a host RTP endpoint
//! ([`MediaEndpoint`]), hands a [`Leg`] to the plugin's session and, while
//! the session runs, a watcher task answers what the caller sends: BYE and
//! CANCEL end the leg, INFO carries DTMF (the fallback for phones without
//! RFC 4733), a re-INVITE gets our SDP again. A session that faults makes
//! the caller hear the `error` prompt before the call ends. `dial`
//! connects the caller to another party from within a session (`dial.rs`).

mod dial;
mod leg;

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::call::Call;
use super::pipeline::SessionRef;
use super::{CallEvent, ALLOW};
use crate::media::endpoint::MediaEndpoint;
use crate::media::prompts::{Language, PromptLibrary};
use crate::media::sdp;
use crate::runtime::host::call_control::PlayItem;
use crate::runtime::SessionOutcome;
use crate::sip::{Response, ServerTx};
use crate::tenancy::User;
use leg::Leg;

/// What sessions need from the host beyond SIP and media.
#[derive(Debug, Clone)]
pub struct SessionServices {
    /// The standard prompts.
    pub prompts: Arc<PromptLibrary>,
    /// Where recordings are written before they become blobs.
    pub recordings_dir: PathBuf,
    /// The language sessions start in.
    pub language: Language,
}

impl Call {
    /// Builds a leg the host terminates: closes the relay bridge and opens
    /// an endpoint that answers the caller's offer. `None` after answering
    /// the caller with an error.
    async fn host_leg(&mut self) -> Option<Arc<Leg>> {
        if let Some(b) = self.bridge.take() {
            b.close();
        }
        let offer = std::str::from_utf8(&self.a_tx.request().body)
            .ok()
            .and_then(|t| sdp::parse(t).ok());
        let Some((offer, (codec, te))) = offer.and_then(|o| sdp::negotiate(&o).map(|n| (o, n)))
        else {
            self.reply_a(488, None, "failed");
            return None;
        };
        let endpoint =
            match MediaEndpoint::open_for(&self.sw.media, Some(self.origin.tenant.id)).await {
                Ok(e) => e,
                Err(e) => {
                    tracing::error!("no media port for a session: {e}");
                    self.reply_a(503, Some("No Media Ports"), "failed");
                    return None;
                }
            };
        if let Some(expect) = crate::media::Expect::from_sdp(&offer, self.a.peer.addr.ip()) {
            endpoint.set_remote(expect);
        }
        endpoint.set_codec(codec, te);
        endpoint.start();
        let answer = sdp::endpoint_answer(
            &offer,
            self.sw.media.advertise_ip(),
            endpoint.port(),
            codec,
            te,
            self.sdp_session,
        );
        let services = &self.sw.sessions;
        if let Err(e) = tokio::fs::create_dir_all(&services.recordings_dir).await {
            tracing::warn!("recordings dir: {e}");
        }
        Some(Arc::new(Leg::new(
            self.sw.clone(),
            self.a_tx.clone(),
            self.a_tag.clone(),
            self.a.clone(),
            endpoint,
            answer,
            services.prompts.clone(),
            services.recordings_dir.clone(),
            services.language,
            dial::DialFrom {
                tenant: self.origin.tenant.clone(),
                caller_id: self.origin.caller_id.clone(),
                display: self.origin.display.clone(),
                codec,
                te,
            },
        )))
    }

    /// Runs `session` for `subject` on this call. Returns the destination
    /// of a blind transfer, when the session asked for one (the caller is
    /// then still unanswered and the switch routes on).
    pub(super) async fn take_over(
        &mut self,
        subject: &User,
        session: SessionRef,
    ) -> Option<String> {
        let runner = self.sw.hooks.clone()?;
        let leg = self.host_leg().await?;
        let (dummy_tx, dummy_rx) = mpsc::channel(1);
        drop(dummy_tx);
        let events = std::mem::replace(&mut self.events, dummy_rx);
        let (stop_tx, stop_rx) = oneshot::channel();
        let watcher = tokio::spawn(watch(leg.clone(), self.a_tx.clone(), events, stop_rx));

        let call = self.hook_call(subject);
        let outcome = runner.run_session(&call, &session, leg.clone()).await;
        if let SessionOutcome::Fault { .. } | SessionOutcome::NoSession = outcome {
            // The caller hears that something went wrong, then the call ends.
            let _ = leg
                .play_items(None, &[PlayItem::Prompt("error".into())], false)
                .await;
            leg.end(500, "failed").await;
        }
        let state = leg.snapshot();
        if state.transfer.is_none() {
            leg.end(480, "no-answer").await;
        }
        let _ = stop_tx.send(());
        if let Ok(events) = watcher.await {
            self.events = events;
        }
        leg.endpoint.close();
        let state = leg.snapshot();
        if state.transfer.is_none() || state.finished {
            self.cdr.result = if state.result.is_empty() {
                "failed".into()
            } else {
                state.result.clone()
            };
            self.cdr.sip_code = i64::from(state.code);
            self.cdr.answered_at = state.answered_at;
            return None;
        }
        // Routing continues: the next leg needs a relay again.
        match self
            .sw
            .media
            .create_bridge_for(Some(self.origin.tenant.id))
            .await
        {
            Ok(b) => self.bridge = Some(b),
            Err(e) => {
                tracing::error!("no media ports after a transfer: {e}");
                self.reply_a(503, Some("No Media Ports"), "failed");
                return None;
            }
        }
        state.transfer
    }

    /// Rejects with `code` after playing `announcement` as early media.
    pub(super) async fn reject_announced(
        &mut self,
        code: u16,
        reason: Option<&str>,
        announcement: &str,
    ) {
        let Some(leg) = self.host_leg().await else {
            return;
        };
        let (dummy_tx, dummy_rx) = mpsc::channel(1);
        drop(dummy_tx);
        let events = std::mem::replace(&mut self.events, dummy_rx);
        let (stop_tx, stop_rx) = oneshot::channel();
        let watcher = tokio::spawn(watch(leg.clone(), self.a_tx.clone(), events, stop_rx));
        let played = leg
            .play_items(None, &[PlayItem::Prompt(announcement.to_string())], false)
            .await;
        if let Err(e) = played {
            tracing::info!(call_id = %self.cdr.call_id, "announcement `{announcement}` not played: {e:?}");
        }
        let cancelled = leg.snapshot().finished;
        let _ = stop_tx.send(());
        if let Ok(events) = watcher.await {
            self.events = events;
        }
        leg.endpoint.close();
        if cancelled {
            let s = leg.snapshot();
            self.cdr.result = s.result;
            self.cdr.sip_code = i64::from(s.code);
        } else {
            self.reply_a(code, reason, "rejected");
        }
    }
}

/// Answers the caller's requests while the host holds the leg; returns the
/// event channel when told to stop.
async fn watch(
    leg: Arc<Leg>,
    a_tx: ServerTx,
    mut events: mpsc::Receiver<CallEvent>,
    mut stop: oneshot::Receiver<()>,
) -> mpsc::Receiver<CallEvent> {
    let mut cancel_seen = false;
    loop {
        let unanswered = {
            let s = leg.snapshot();
            !s.answered && !s.finished
        };
        tokio::select! {
            _ = &mut stop => return events,
            _ = a_tx.cancelled(), if unanswered && !cancel_seen => {
                cancel_seen = true;
                let s = leg.snapshot();
                if !s.answered && !s.finished {
                    a_tx.reply(487, None);
                    leg.mark_ended(Some((487, "cancelled")));
                }
            }
            ev = events.recv() => match ev {
                None => return events,
                Some(CallEvent::Request { tx, .. }) => in_dialog(&leg, tx),
                Some(_) => {}
            },
        }
    }
}

fn in_dialog(leg: &Leg, tx: ServerTx) {
    let req = tx.request();
    match req.method.as_str() {
        "BYE" => {
            tx.reply(200, None);
            leg.mark_ended(None);
        }
        "INFO" => {
            let ct = req
                .headers
                .get("Content-Type")
                .unwrap_or("")
                .to_ascii_lowercase();
            let body = String::from_utf8_lossy(&req.body);
            match info_digit(&ct, &body) {
                Some(d) => {
                    leg.endpoint.inject_digit(d);
                    tx.reply(200, None);
                }
                None => tx.reply(415, None),
            }
        }
        "INVITE" => {
            if let Some(expect) = std::str::from_utf8(&req.body)
                .ok()
                .and_then(|t| sdp::parse(t).ok())
                .and_then(|s| crate::media::Expect::from_sdp(&s, tx.peer().addr.ip()))
            {
                leg.endpoint.set_remote(expect);
            }
            let mut r = Response::to(req, 200, None);
            r.set_body("application/sdp", leg.answer_sdp().as_bytes().to_vec());
            tx.respond(r);
        }
        "OPTIONS" => {
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

/// The digit of a SIP INFO: `application/dtmf-relay` (`Signal=5`) or
/// `application/dtmf` (`5`).
fn info_digit(content_type: &str, body: &str) -> Option<char> {
    let value = if content_type.starts_with("application/dtmf-relay") {
        body.lines().find_map(|l| {
            let (k, v) = l.split_once('=')?;
            k.trim().eq_ignore_ascii_case("signal").then(|| v.trim())
        })?
    } else if content_type.starts_with("application/dtmf") {
        body.trim()
    } else {
        return None;
    };
    let mut chars = value.chars();
    let c = chars.next()?.to_ascii_uppercase();
    (chars.next().is_none() && "0123456789*#ABCD".contains(c)).then_some(c)
}

#[cfg(test)]
mod tests {
    use super::info_digit;

    #[test]
    fn info_bodies() {
        assert_eq!(
            info_digit("application/dtmf-relay", "Signal=5\r\nDuration=160\r\n"),
            Some('5')
        );
        assert_eq!(
            info_digit("application/dtmf-relay", "Signal= #\r\n"),
            Some('#')
        );
        assert_eq!(info_digit("application/dtmf", "7"), Some('7'));
        assert_eq!(info_digit("application/dtmf", "77"), None);
        assert_eq!(info_digit("text/plain", "Signal=5"), None);
        assert_eq!(info_digit("application/dtmf-relay", "Duration=160"), None);
    }
}
