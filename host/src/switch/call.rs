//! One call through the B2BUA, from the caller's INVITE to the CDR:
//! authenticate the caller, resolve tenant and callee, run the callee's
//! feature hooks (forwarding, rejection, busy treatment), ring (see
//! [`super::fork`]), talk (see [`super::incall`]), write the CDR.

use super::dialog::Dialog;
use super::fork::RingOutcome;
use super::pipeline::{
    DiversionReason, DiversionStep, HookDecision, HookPoint, SessionRef, MAX_DIVERSIONS,
};
use super::{CallEvent, Switch};
use crate::media::{sdp, Bridge, Side};
use crate::sip::auth::AuthOutcome;
use crate::sip::message::random_token;
use crate::sip::uri::{NameAddr, SipUri};
use crate::sip::{Response, ServerTx, Transport};
use crate::tenancy::resolve::{resolve_callee, Destination};
use crate::tenancy::{Cdr, Tenant, User};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Who is calling.
pub(super) struct Origin {
    pub(super) tenant: Tenant,
    /// The calling user (None for calls from the trunk).
    pub(super) user: Option<User>,
    /// The device that placed the call (None for calls from the trunk).
    pub(super) device_id: Option<i64>,
    /// Caller identity for the CDR and the B-leg From.
    pub(super) caller_id: String,
    pub(super) display: String,
}

/// Where the B-legs go.
#[derive(Debug, Clone)]
pub(super) enum Target {
    /// Every registered device of a user.
    Users(User),
    /// An outside number, through the trunk.
    Trunk(String),
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
    metrics::counter!("centrale_calls_total").increment(1);
    let _guard = ActiveGuard(sw.clone());
    let a_tag = random_token(10);
    let Some(origin) = authenticate(&sw, &tx, &a_tag).await else {
        return;
    };
    // Authenticated: ringing takes a while, say so at once (the
    // transaction layer would after 200 ms).
    tx.reply(100, None);
    // The operator's limits on the tenant's calls.
    let _admission = match sw.admit(origin.tenant.id, origin.device_id).await {
        Ok(a) => a,
        Err(why) => {
            tracing::info!(tenant = %origin.tenant.domain, "call refused: {why}");
            let mut r = Response::to(tx.request(), 503, Some(&a_tag));
            r.reason = why.to_string();
            r.headers.push("Retry-After", "30");
            tx.respond(r);
            return;
        }
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
        // UDP trunks are recognised by their exact address; TCP ones by IP
        // (their source port is ephemeral).
        let from_trunk = match tx.peer().transport {
            Transport::Udp => tx.peer().addr == trunk.peer.addr,
            Transport::Tcp => tx.peer().addr.ip() == trunk.peer.addr.ip(),
        };
        if from_trunk {
            tx.keep_connection();
            return match lookup_did(sw, &dialled).await {
                Some((tenant, _)) => Some(Origin {
                    tenant,
                    user: None,
                    device_id: None,
                    caller_id: from_user.1.clone(),
                    display: super::pipeline::display_name_from_network(&from_user.0),
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
            tx.keep_connection();
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
                // The authenticated user's name, never the From display
                // a device chose (it goes into other phones and mails).
                display: user.display_name.clone(),
                tenant,
                user: Some(user),
                device_id: Some(device.id),
            })
        }
        AuthOutcome::Challenge { realm, stale } => {
            match sw
                .auth
                .challenge_for(req, tx.peer(), a_tag, &realm, stale, true)
            {
                Some(r) => tx.respond_stateless(r),
                None => tx.drop_silently(),
            }
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

/// The user a number dialled from outside reaches: any spelling, read in
/// the host's country ([`super::SwitchConfig::country_code`]), one
/// canonical E.164 key.
async fn lookup_did(sw: &Switch, dialled: &str) -> Option<(Tenant, User)> {
    let n = crate::tenancy::numbers::canonical(dialled, &sw.cfg.country_code).ok()?;
    sw.store.user_by_number(&n).await.ok().flatten()
}

pub(super) struct Call {
    pub(super) sw: Arc<Switch>,
    pub(super) a_tx: ServerTx,
    pub(super) a_tag: String,
    pub(super) a: Dialog,
    pub(super) origin: Origin,
    pub(super) events: mpsc::Receiver<CallEvent>,
    pub(super) events_tx: mpsc::Sender<CallEvent>,
    pub(super) bridge: Option<Bridge>,
    pub(super) b_call_id: String,
    pub(super) b_tag: String,
    pub(super) b: Option<Dialog>,
    /// Session id for an `o=` line we must build (peer sent none).
    pub(super) sdp_session: u64,
    pub(super) cdr: Cdr,
    pub(super) winner: Option<usize>,
    /// Diversions applied so far, oldest first.
    pub(super) diversions: Vec<DiversionStep>,
    /// The user the call was last routed to.
    pub(super) callee: Option<User>,
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
            diversions: Vec::new(),
            callee: None,
            winner: None,
        }
    }

    pub(super) fn reply_a(&mut self, status: u16, text: Option<&str>, result: &str) {
        let mut r = Response::to(self.a_tx.request(), status, Some(&self.a_tag));
        if let Some(t) = text {
            r.reason = t.to_string();
        }
        self.a_tx.respond(r);
        self.cdr.result = result.to_string();
        self.cdr.sip_code = i64::from(status);
    }

    pub(super) fn contact(&self, t: Transport) -> String {
        self.sw.endpoint.contact_uri("centrale", t)
    }

    /// Relays the SDP `side` sent (its SIP came from `signalling`): the
    /// bridge learns where that side wants media and whom to accept it
    /// from; the result is our SDP for the other side.
    pub(super) fn relay_sdp(
        &mut self,
        side: Side,
        body: &[u8],
        signalling: std::net::IpAddr,
    ) -> Option<String> {
        let text = std::str::from_utf8(body).ok()?;
        let sd = sdp::parse(text).ok()?;
        let bridge = self.bridge.as_ref()?;
        // The SDP a side sends tells where it wants media; we offer the
        // other side our port facing it.
        if let Some(expect) = crate::media::Expect::from_sdp(&sd, signalling) {
            bridge.set_remote(side, expect);
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
        // Originating hooks of the calling user (outgoing plans, barring,
        // feature codes such as the voice portal, which dial no subject).
        let dest = match (self.origin.user.clone(), dest) {
            (Some(caller), dest) => {
                let outbound = matches!(dest, Destination::Outside(_));
                match self.hook_as(HookPoint::Originate, &caller, outbound).await {
                    Some(HookDecision::Reject {
                        code,
                        reason,
                        announcement,
                    }) => {
                        return self.reject(code, reason, announcement).await;
                    }
                    Some(HookDecision::TakeOver(session)) => {
                        self.callee = Some(caller.clone());
                        if let Some(to) = self.take_over(&caller, session).await {
                            tracing::info!(call_id = %self.cdr.call_id, %to, "transfer from an originating session");
                            let Some(offer) = self.current_offer(&req) else {
                                return self.reply_a(488, None, "failed");
                            };
                            match self.resolve_target(&caller, &to).await {
                                Some(Target::Users(u)) => {
                                    return self.route_user(u, offer, mf).await
                                }
                                Some(trunk) => {
                                    let outcome = self.attempt(&trunk, &[], &offer, mf).await;
                                    return self.settle(outcome);
                                }
                                None => return self.reply_a(404, None, "not-found"),
                            }
                        }
                        return;
                    }
                    Some(HookDecision::Redirect { destination, .. }) => {
                        match resolve_callee(&self.sw.store, &self.origin.tenant, &destination)
                            .await
                        {
                            Ok(d) => d,
                            Err(_) => Destination::NotFound,
                        }
                    }
                    _ => dest,
                }
            }
            (_, dest) => dest,
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
        match self
            .sw
            .media
            .create_bridge_for(Some(self.origin.tenant.id))
            .await
        {
            Ok(b) => self.bridge = Some(b),
            Err(e) => {
                tracing::error!("no media ports: {e}");
                return self.reply_a(503, Some("No Media Ports"), "failed");
            }
        }
        let Some(offer) = self.relay_sdp(Side::A, &req.body, self.a.peer.addr.ip()) else {
            return self.reply_a(488, None, "failed");
        };
        match target {
            Target::Users(user) => self.route_user(user, offer, mf).await,
            trunk => {
                let outcome = self.attempt(&trunk, &[], &offer, mf).await;
                self.settle(outcome);
            }
        }
    }

    /// Routes to a user: terminating hooks, ringing, outcome hooks, and
    /// diversions (forwarding) until the call is answered or settled.
    async fn route_user(&mut self, mut user: User, mut offer: String, mf: u32) {
        loop {
            self.callee = Some(user.clone());
            let mut extra = Vec::new();
            let mut outcome = None;
            match self.hook(HookPoint::Terminate, &user).await {
                Some(HookDecision::Reject {
                    code,
                    reason,
                    announcement,
                }) => {
                    return self.reject(code, reason, announcement).await;
                }
                Some(HookDecision::TakeOver(session)) => {
                    match self.after_session(&user, session, mf).await {
                        Some((next, o)) => {
                            (user, offer) = (next, o);
                            continue;
                        }
                        None => return,
                    }
                }
                Some(HookDecision::Redirect {
                    destination,
                    reason,
                }) => match self.divert(&user, &destination, reason).await {
                    Some(Target::Users(next)) => {
                        user = next;
                        continue;
                    }
                    Some(trunk) => {
                        let outcome = self.attempt(&trunk, &[], &offer, mf).await;
                        return self.settle(outcome);
                    }
                    None => return,
                },
                Some(HookDecision::AddTargets(targets)) => {
                    for t in targets {
                        match self.resolve_target(&user, &t).await {
                            Some(target) => extra.push(target),
                            None => tracing::info!(target = %t, "added target does not resolve"),
                        }
                    }
                }
                Some(HookDecision::TreatAsBusy) => outcome = Some(RingOutcome::Busy),
                None => {}
            }
            let outcome = match outcome {
                Some(o) => o,
                None => {
                    self.attempt(&Target::Users(user.clone()), &extra, &offer, mf)
                        .await
                }
            };
            let point = match outcome {
                RingOutcome::Busy => HookPoint::Busy,
                RingOutcome::NoAnswer => HookPoint::NoAnswer,
                RingOutcome::Unreachable => HookPoint::Unreachable,
                other => return self.settle(other),
            };
            match self.hook(point, &user).await {
                Some(HookDecision::Reject {
                    code,
                    reason,
                    announcement,
                }) => {
                    return self.reject(code, reason, announcement).await;
                }
                Some(HookDecision::TakeOver(session)) => {
                    match self.after_session(&user, session, mf).await {
                        Some((next, o)) => (user, offer) = (next, o),
                        None => return,
                    }
                }
                Some(HookDecision::Redirect {
                    destination,
                    reason,
                }) => match self.divert(&user, &destination, reason).await {
                    Some(Target::Users(next)) => user = next,
                    Some(trunk) => {
                        let outcome = self.attempt(&trunk, &[], &offer, mf).await;
                        return self.settle(outcome);
                    }
                    None => return,
                },
                _ => return self.settle(outcome),
            }
        }
    }

    /// Rejects the caller, after an announcement as early media when a
    /// plugin asked for one.
    async fn reject(&mut self, code: u16, reason: Option<String>, announcement: Option<String>) {
        let services = &self.sw.sessions;
        match announcement {
            Some(a)
                if crate::media::prompts::valid_name(&a)
                    && services.prompts.exists(services.language, &a) =>
            {
                self.reject_announced(code, reason.as_deref(), &a).await
            }
            Some(a) => {
                tracing::info!(call_id = %self.cdr.call_id, "announcement `{a}` is not a standard prompt: rejected without it");
                self.reply_a(code, reason.as_deref(), "rejected")
            }
            None => self.reply_a(code, reason.as_deref(), "rejected"),
        }
    }

    /// Runs a session for `user`. When it transferred the call to another
    /// user, that user and the offer to ring them with; a transfer to an
    /// outside number is attempted here. `None` once the call is settled.
    async fn after_session(
        &mut self,
        user: &User,
        session: SessionRef,
        mf: u32,
    ) -> Option<(User, String)> {
        let to = self.take_over(user, session).await?;
        let target = self.divert(user, &to, DiversionReason::Deflection).await?;
        let Some(offer) = self.current_offer(&self.a_tx.request().clone()) else {
            self.reply_a(488, None, "failed");
            return None;
        };
        match target {
            Target::Users(next) => Some((next, offer)),
            trunk => {
                let outcome = self.attempt(&trunk, &[], &offer, mf).await;
                self.settle(outcome);
                None
            }
        }
    }

    /// Our offer to B-legs from the caller's SDP through the current bridge.
    fn current_offer(&mut self, req: &crate::sip::Request) -> Option<String> {
        let body = req.body.clone();
        let signalling = self.a.peer.addr.ip();
        self.relay_sdp(Side::A, &body, signalling)
    }

    /// Resolves a destination named by a plugin, as seen from `user`'s tenant.
    async fn resolve_target(&self, user: &User, destination: &str) -> Option<Target> {
        match resolve_callee(&self.sw.store, &self.origin.tenant, destination).await {
            Ok(Destination::User(u)) if u.tenant_id == user.tenant_id => Some(Target::Users(u)),
            Ok(Destination::Outside(n)) if self.sw.cfg.trunk.is_some() => Some(Target::Trunk(n)),
            _ => None,
        }
    }

    /// Applies a redirection from `from`: records the diversion, refuses
    /// loops and too many diversions. `None` when the caller was answered
    /// with an error (404, 482).
    async fn divert(
        &mut self,
        from: &User,
        destination: &str,
        reason: DiversionReason,
    ) -> Option<Target> {
        if self.diversions.len() >= MAX_DIVERSIONS {
            self.reply_a(482, Some("Too Many Diversions"), "failed");
            return None;
        }
        let Some(target) = self.resolve_target(from, destination).await else {
            self.reply_a(404, Some("Forwarding Destination Not Found"), "not-found");
            return None;
        };
        if let Target::Users(next) = &target {
            let seen =
                next.id == from.id || self.diversions.iter().any(|d| d.from_id == Some(next.id));
            if seen {
                tracing::info!(call_id = %self.cdr.call_id, "forwarding loop at {}", next.extension);
                self.reply_a(482, Some("Loop Detected"), "failed");
                return None;
            }
        }
        let to = match &target {
            Target::Users(u) => u.extension.clone(),
            Target::Trunk(n) => n.clone(),
        };
        tracing::info!(call_id = %self.cdr.call_id, from = %from.extension, %to, reason = reason.token(), "call diverted");
        self.diversions.push(DiversionStep {
            from: from.extension.clone(),
            from_id: Some(from.id),
            to,
            reason,
        });
        Some(target)
    }

    /// Answers the caller for an outcome no hook changed.
    fn settle(&mut self, outcome: RingOutcome) {
        match outcome {
            RingOutcome::Answered | RingOutcome::Cancelled => {}
            RingOutcome::NoAnswer => self.reply_a(480, Some("No Answer"), "no-answer"),
            RingOutcome::Busy => self.reply_a(486, None, "busy"),
            RingOutcome::Unreachable => self.reply_a(480, None, "unavailable"),
            RingOutcome::Failed(code, result) => self.reply_a(code, None, result),
        }
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
        if let (Some(runner), Some(subject)) = (self.sw.hooks.clone(), self.callee.clone()) {
            let call = self.hook_call(&subject);
            let code = u16::try_from(self.cdr.sip_code).unwrap_or(500);
            runner
                .ended(
                    &call,
                    &self.cdr.result,
                    code,
                    self.cdr.answered_at,
                    self.cdr.ended_at,
                )
                .await;
        }
    }
}
