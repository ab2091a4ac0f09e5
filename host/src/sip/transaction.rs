//! RFC 3261 §17 transactions (with the RFC 6026 "Accepted" states): server
//! transactions absorb retransmitted requests and retransmit their final
//! response over UDP (Timers G/H/I/J/L); client transactions retransmit the
//! request (Timers A/B/E/F), ACK non-2xx finals (Timer D/K) and keep
//! delivering forked or retransmitted 2xx for the Timer M interval.
//!
//! The transaction user (the switch) receives [`TuEvent`]s through the
//! [`Handler`] trait and answers through [`ServerTx`].

use super::message::{new_branch, Message, Request, Response};
use super::transport::{Incoming, Peer, Transport, Transports};
use super::uri::Via;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// RTT estimate (RFC 3261 T1).
pub const T1: Duration = Duration::from_millis(500);
/// Maximum retransmit interval for non-INVITE requests and INVITE responses.
pub const T2: Duration = Duration::from_secs(4);
/// How long the network may hold a message.
pub const T4: Duration = Duration::from_secs(5);
/// 64*T1: transaction timeouts (Timers B, F, H, L, M).
pub const TIMEOUT_64T1: Duration = Duration::from_secs(32);
/// An INVITE not answered this fast gets 100 Trying (RFC 3261 §17.2.1).
pub const TRYING_AFTER: Duration = Duration::from_millis(200);

/// What the transaction layer hands to the switch.
pub enum TuEvent {
    /// A new request (not ACK, not CANCEL): answer through the [`ServerTx`].
    Request(ServerTx),
    /// An ACK for a 2xx (its own transaction-less request).
    Ack(Request, Peer),
    /// A response that matched no client transaction (e.g. a 2xx
    /// retransmitted after its transaction ended).
    StrayResponse(Response, Peer),
}

/// The switch side of the transaction layer.
pub trait Handler: Send + Sync + 'static {
    /// Called for every event; must not block (spawn work instead).
    fn handle(&self, ev: TuEvent);
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ServerKey {
    branch: String,
    sent_by: String,
    method: String,
}

fn server_key(req: &Request, method: &str) -> ServerKey {
    let via = req.headers.get("Via").and_then(|v| Via::parse(v).ok());
    let sent_by = via
        .as_ref()
        .map(|v| format!("{}:{}", v.host, v.port.unwrap_or(0)))
        .unwrap_or_default();
    let branch = via
        .as_ref()
        .and_then(|v| v.param("branch"))
        .filter(|b| b.starts_with("z9hG4bK"))
        .map(str::to_string)
        .unwrap_or_else(|| {
            // RFC 2543 peer: derive a key from the dialog-identifying fields.
            format!(
                "2543:{}:{}:{}:{}",
                req.call_id(),
                req.cseq().0,
                req.headers
                    .get("From")
                    .and_then(super::uri::header_tag)
                    .unwrap_or_default(),
                req.headers.get("Via").unwrap_or("")
            )
        });
    ServerKey {
        branch,
        sent_by,
        method: method.to_string(),
    }
}

fn dialog_key(req: &Request) -> (String, u32, String) {
    (
        req.call_id().to_string(),
        req.cseq().0,
        req.headers
            .get("From")
            .and_then(super::uri::header_tag)
            .unwrap_or_default(),
    )
}

struct ServerState {
    last: Option<Vec<u8>>,
    final_status: Option<u16>,
    acked: bool,
}

struct ServerTxInner {
    endpoint: Weak<Endpoint>,
    key: ServerKey,
    request: Request,
    peer: Peer,
    state: Mutex<ServerState>,
    cancelled: watch::Sender<bool>,
    acked: watch::Sender<bool>,
}

/// A server transaction: the request and the way to answer it.
#[derive(Clone)]
pub struct ServerTx(Arc<ServerTxInner>);

impl ServerTx {
    /// The request.
    pub fn request(&self) -> &Request {
        &self.0.request
    }
    /// Where it came from.
    pub fn peer(&self) -> Peer {
        self.0.peer
    }
    /// Whether a final response was sent.
    pub fn is_answered(&self) -> bool {
        self.0
            .state
            .lock()
            .map(|s| s.final_status.is_some())
            .unwrap_or(true)
    }
    /// The request was authenticated: keep its connection (TCP) open for
    /// the long idle timeout (see [`super::transport::TcpLimits`]).
    pub fn keep_connection(&self) {
        if let Some(ep) = self.0.endpoint.upgrade() {
            ep.transports.keep(self.0.peer);
        }
    }
    /// Resolves when the peer CANCELled this INVITE.
    pub async fn cancelled(&self) {
        let mut rx = self.0.cancelled.subscribe();
        let _ = rx.wait_for(|c| *c).await;
    }
    /// Resolves when an ACK for the final response arrived (or never).
    pub async fn acked(&self) {
        let mut rx = self.0.acked.subscribe();
        let _ = rx.wait_for(|c| *c).await;
    }
    /// Sends `resp`. Provisional responses may be repeated; the first final
    /// response ends the transaction (later ones are ignored).
    pub fn respond(&self, resp: Response) {
        let Some(ep) = self.0.endpoint.upgrade() else {
            return;
        };
        let bytes = resp.to_bytes();
        let is_final = resp.status >= 200;
        {
            let Ok(mut st) = self.0.state.lock() else {
                return;
            };
            if st.final_status.is_some() {
                return;
            }
            st.last = Some(bytes.clone());
            if is_final {
                st.final_status = Some(resp.status);
            }
        }
        let peer = self.0.peer;
        let is_invite = self.0.request.method == "INVITE";
        let key_2xx = (
            self.0.request.call_id().to_string(),
            self.0.request.cseq().0,
        );
        if is_invite && (200..300).contains(&resp.status) {
            // Registered before sending, so that a fast ACK finds it.
            if let Ok(mut m) = ep.pending_2xx.lock() {
                m.insert(key_2xx.clone(), self.clone());
            }
        }
        // Sent right here, so the responses of a transaction leave in the
        // order they were given (RFC 3261 §17.2.1: no provisional after the
        // final); only when the socket cannot take it now does a task send it.
        let sent_now = ep.transports.try_send(peer, &bytes);
        if !is_final && sent_now {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            if !sent_now {
                let _ = ep.transports.send(peer, bytes.clone()).await;
            }
            if !is_final {
                return;
            }
            let reliable = peer.transport != Transport::Udp;
            if is_invite {
                if resp.status >= 300 {
                    // Timer G retransmits until ACK, Timer H gives up.
                    if !reliable {
                        let mut interval = T1;
                        let deadline = tokio::time::Instant::now() + TIMEOUT_64T1;
                        let mut acked = this.0.acked.subscribe();
                        loop {
                            tokio::select! {
                                _ = tokio::time::sleep(interval) => {}
                                _ = acked.wait_for(|a| *a) => break,
                            }
                            if tokio::time::Instant::now() >= deadline {
                                break;
                            }
                            let _ = ep.transports.send(peer, bytes.clone()).await;
                            interval = (interval * 2).min(T2);
                        }
                    }
                    tokio::time::sleep(if reliable { Duration::ZERO } else { T4 }).await;
                } else {
                    // 2xx: the UAS core retransmits until the ACK (matched
                    // by Call-ID and CSeq) arrives; RFC 6026 Timer L keeps
                    // the transaction to absorb INVITE retransmissions.
                    let key = key_2xx;
                    let mut acked = this.0.acked.subscribe();
                    let mut interval = T1;
                    let deadline = tokio::time::Instant::now() + TIMEOUT_64T1;
                    loop {
                        tokio::select! {
                            _ = tokio::time::sleep(interval) => {}
                            _ = acked.wait_for(|a| *a) => break,
                        }
                        if tokio::time::Instant::now() >= deadline {
                            tracing::info!(call_id = %key.0, "no ACK for 2xx");
                            break;
                        }
                        if !reliable {
                            let _ = ep.transports.send(peer, bytes.clone()).await;
                        }
                        interval = (interval * 2).min(T2);
                    }
                    if let Ok(mut m) = ep.pending_2xx.lock() {
                        m.remove(&key);
                    }
                    if !reliable {
                        // Timer L: absorb late INVITE retransmissions.
                        tokio::time::sleep_until(deadline).await;
                    }
                }
            } else if !reliable {
                tokio::time::sleep(TIMEOUT_64T1).await; // Timer J
            }
            ep.remove_server(&this.0.key);
        });
    }
    /// Sends `resp` (a final response) once, with no retransmission, and
    /// forgets the transaction at once: what a challenge to a request
    /// without credentials gets, so that an unauthenticated (possibly
    /// spoofed) request costs one datagram and no state. A retransmitted
    /// request is answered afresh, one for one.
    pub fn respond_stateless(&self, resp: Response) {
        let Some(ep) = self.0.endpoint.upgrade() else {
            return;
        };
        {
            let Ok(mut st) = self.0.state.lock() else {
                return;
            };
            if st.final_status.is_some() {
                return;
            }
            st.final_status = Some(resp.status);
        }
        let bytes = resp.to_bytes();
        let peer = self.0.peer;
        if !ep.transports.try_send(peer, &bytes) {
            let t = ep.transports.clone();
            tokio::spawn(async move {
                let _ = t.send(peer, bytes).await;
            });
        }
        ep.remove_server(&self.0.key);
    }

    /// Forgets the transaction without answering (the request is dropped,
    /// e.g. over the challenge rate of its source).
    pub fn drop_silently(&self) {
        if let Ok(mut st) = self.0.state.lock() {
            st.final_status.get_or_insert(0);
        }
        if let Some(ep) = self.0.endpoint.upgrade() {
            ep.remove_server(&self.0.key);
        }
    }

    /// Convenience: a bare response with this status.
    pub fn reply(&self, status: u16, to_tag: Option<&str>) {
        self.respond(Response::to(&self.0.request, status, to_tag));
    }
}

/// A client transaction's handle: responses arrive on `responses`.
pub struct ClientTx {
    /// Every response: provisional ones, then the final one, then (INVITE
    /// only) further 2xx from other forks or retransmissions.
    pub responses: mpsc::Receiver<Response>,
    /// The request as sent (top Via with our branch).
    pub request: Request,
    /// Where it went.
    pub peer: Peer,
    cancel: Arc<watch::Sender<Option<String>>>,
}

/// Cancels a client INVITE transaction from elsewhere.
#[derive(Clone)]
pub struct Canceller(Arc<watch::Sender<Option<String>>>);

impl Canceller {
    /// Asks the transaction to CANCEL its INVITE (RFC 3261 §9.1): sent as
    /// soon as a provisional response arrived; `reason` becomes a Reason
    /// header. Nothing happens once a final response arrived.
    pub fn cancel(&self, reason: Option<String>) {
        let _ = self.0.send(Some(reason.unwrap_or_default()));
    }
}

impl ClientTx {
    /// See [`Canceller::cancel`].
    pub fn cancel(&self, reason: Option<String>) {
        self.canceller().cancel(reason);
    }
    /// A handle that can cancel this transaction after `responses` was moved.
    pub fn canceller(&self) -> Canceller {
        Canceller(self.cancel.clone())
    }
}

struct ClientEntry {
    tx: mpsc::Sender<Response>,
}

/// The transaction layer, shared by the registrar and the switch.
pub struct Endpoint {
    transports: Arc<Transports>,
    servers: Mutex<HashMap<ServerKey, ServerTx>>,
    /// INVITE server transactions by (Call-ID, CSeq, From tag): matches an
    /// ACK for a non-2xx final whose sender changed the branch (sipp does).
    invites_by_dialog: Mutex<HashMap<(String, u32, String), ServerKey>>,
    clients: Mutex<HashMap<(String, String), ClientEntry>>,
    pending_2xx: Mutex<HashMap<(String, u32), ServerTx>>,
    /// Value of the Server/User-Agent header.
    pub product: String,
}

impl Endpoint {
    /// A new endpoint over `transports`.
    pub fn new(transports: Arc<Transports>) -> Arc<Self> {
        Arc::new(Self {
            transports,
            servers: Mutex::new(HashMap::new()),
            invites_by_dialog: Mutex::new(HashMap::new()),
            clients: Mutex::new(HashMap::new()),
            pending_2xx: Mutex::new(HashMap::new()),
            product: format!("Centrale/{}", env!("CARGO_PKG_VERSION")),
        })
    }

    /// The transports.
    pub fn transports(&self) -> &Arc<Transports> {
        &self.transports
    }

    /// Runs the dispatch loop until the ingress queue closes.
    pub async fn run(self: Arc<Self>, mut rx: mpsc::Receiver<Incoming>, handler: Arc<dyn Handler>) {
        while let Some(inc) = rx.recv().await {
            self.dispatch(inc, &*handler);
        }
    }

    fn remove_server(&self, key: &ServerKey) {
        let removed = self.servers.lock().ok().and_then(|mut m| m.remove(key));
        if let Some(tx) = removed {
            if tx.0.request.method == "INVITE" {
                if let Ok(mut m) = self.invites_by_dialog.lock() {
                    m.remove(&dialog_key(&tx.0.request));
                }
            }
        }
    }

    fn dispatch(self: &Arc<Self>, inc: Incoming, handler: &dyn Handler) {
        match inc.msg {
            Message::Response(resp) => self.on_response(resp, inc.peer, handler),
            Message::Request(req) => self.on_request(req, inc.peer, handler),
        }
    }

    fn on_response(&self, resp: Response, peer: Peer, handler: &dyn Handler) {
        let key = (
            resp.top_branch().unwrap_or_default(),
            resp.cseq().1.to_string(),
        );
        let sender = self
            .clients
            .lock()
            .ok()
            .and_then(|m| m.get(&key).map(|e| e.tx.clone()));
        match sender {
            Some(tx) => {
                let _ = tx.try_send(resp);
            }
            None => handler.handle(TuEvent::StrayResponse(resp, peer)),
        }
    }

    fn on_request(self: &Arc<Self>, req: Request, peer: Peer, handler: &dyn Handler) {
        let method = req.method.clone();
        match method.as_str() {
            "ACK" => {
                let key = server_key(&req, "INVITE");
                let existing = self.servers.lock().ok().and_then(|m| {
                    m.get(&key).cloned().or_else(|| {
                        let k = self
                            .invites_by_dialog
                            .lock()
                            .ok()?
                            .get(&dialog_key(&req))
                            .cloned()?;
                        m.get(&k).cloned()
                    })
                });
                if let Some(tx) = existing {
                    let non2xx =
                        tx.0.state
                            .lock()
                            .map(|s| s.final_status.map(|c| c >= 300).unwrap_or(false))
                            .unwrap_or(false);
                    if non2xx {
                        let _ = tx.0.acked.send_replace(true);
                        if let Ok(mut s) = tx.0.state.lock() {
                            s.acked = true;
                        }
                        return;
                    }
                }
                let k2 = (req.call_id().to_string(), req.cseq().0);
                let pending = self.pending_2xx.lock().ok().and_then(|mut m| m.remove(&k2));
                if let Some(tx) = pending {
                    let _ = tx.0.acked.send_replace(true);
                }
                handler.handle(TuEvent::Ack(req, peer));
            }
            "CANCEL" => {
                let key = server_key(&req, "INVITE");
                let invite = self.servers.lock().ok().and_then(|m| m.get(&key).cloned());
                let resp_status = match invite {
                    Some(inv) => {
                        let _ = inv.0.cancelled.send_replace(true);
                        200
                    }
                    None => 481,
                };
                let mut r = Response::to(&req, resp_status, None);
                r.headers.push("Server", self.product.clone());
                let ep = self.clone();
                tokio::spawn(async move {
                    let _ = ep.transports.send(peer, r.to_bytes()).await;
                });
            }
            method => {
                let key = server_key(&req, method);
                let existing = self.servers.lock().ok().and_then(|m| m.get(&key).cloned());
                if let Some(tx) = existing {
                    // Retransmission: repeat the last response, if any.
                    let last = tx.0.state.lock().ok().and_then(|s| s.last.clone());
                    if let Some(bytes) = last {
                        let ep = self.clone();
                        tokio::spawn(async move {
                            let _ = ep.transports.send(peer, bytes).await;
                        });
                    }
                    return;
                }
                let (cancelled, _) = watch::channel(false);
                let (acked, _) = watch::channel(false);
                let tx = ServerTx(Arc::new(ServerTxInner {
                    endpoint: Arc::downgrade(self),
                    key: key.clone(),
                    request: req,
                    peer,
                    state: Mutex::new(ServerState {
                        last: None,
                        final_status: None,
                        acked: false,
                    }),
                    cancelled,
                    acked,
                }));
                if method == "INVITE" {
                    if let Ok(mut m) = self.invites_by_dialog.lock() {
                        m.insert(dialog_key(tx.request()), key.clone());
                    }
                }
                if let Ok(mut m) = self.servers.lock() {
                    m.insert(key, tx.clone());
                }
                if method == "INVITE" {
                    // RFC 3261 §17.2.1: 100 Trying when the TU has not
                    // answered within 200 ms, so a request answered at once
                    // (a challenge) gets one response, not two.
                    let pending = tx.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(TRYING_AFTER).await;
                        let silent = pending
                            .0
                            .state
                            .lock()
                            .map(|s| s.last.is_none() && s.final_status.is_none())
                            .unwrap_or(false);
                        if silent {
                            pending.reply(100, None);
                        }
                    });
                }
                handler.handle(TuEvent::Request(tx));
            }
        }
    }

    /// Our top Via for a request sent over `transport`.
    pub fn via(&self, transport: Transport, branch: &str) -> String {
        let (ip, port) = self.transports.sent_by(transport);
        format!(
            "SIP/2.0/{} {}:{};branch={};rport",
            transport.via_name(),
            ip,
            port,
            branch
        )
    }

    /// Our Contact URI for `transport`, with `user`.
    pub fn contact_uri(&self, user: &str, transport: Transport) -> String {
        let (ip, port) = self.transports.sent_by(transport);
        match transport {
            Transport::Udp => format!("sip:{user}@{ip}:{port}"),
            Transport::Tcp => format!("sip:{user}@{ip}:{port};transport=tcp"),
        }
    }

    /// Sends a request outside any transaction (an ACK for a 2xx), with a
    /// fresh top Via.
    pub async fn send_stateless(&self, mut req: Request, peer: Peer) {
        req.headers
            .push_front("Via", self.via(peer.transport, &new_branch()));
        let _ = self.transports.send(peer, req.to_bytes()).await;
    }

    /// Sends a response outside any transaction (e.g. re-answering a
    /// retransmitted 2xx).
    pub async fn send_response(&self, resp: &Response, peer: Peer) {
        let _ = self.transports.send(peer, resp.to_bytes()).await;
    }

    /// Starts a client transaction: pushes our Via with a new branch and
    /// sends `req` to `peer`.
    pub fn send_request(self: &Arc<Self>, mut req: Request, peer: Peer) -> ClientTx {
        let branch = new_branch();
        req.headers
            .push_front("Via", self.via(peer.transport, &branch));
        if req.headers.get("Max-Forwards").is_none() {
            req.headers.push("Max-Forwards", "70");
        }
        let method = req.method.clone();
        let (resp_tx, resp_rx) = mpsc::channel(32);
        let (inner_tx, inner_rx) = mpsc::channel(32);
        if let Ok(mut m) = self.clients.lock() {
            m.insert(
                (branch.clone(), method.clone()),
                ClientEntry { tx: inner_tx },
            );
        }
        let (cancel_tx, cancel_rx) = watch::channel(None);
        let ep = self.clone();
        let sent = req.clone();
        tokio::spawn(async move {
            ep.run_client(req, peer, branch, inner_rx, resp_tx, cancel_rx)
                .await;
        });
        ClientTx {
            responses: resp_rx,
            request: sent,
            peer,
            cancel: Arc::new(cancel_tx),
        }
    }

    async fn run_client(
        self: Arc<Self>,
        req: Request,
        peer: Peer,
        branch: String,
        mut inner: mpsc::Receiver<Response>,
        out: mpsc::Sender<Response>,
        mut cancel: watch::Receiver<Option<String>>,
    ) {
        let is_invite = req.method == "INVITE";
        let reliable = peer.transport != Transport::Udp;
        let bytes = req.to_bytes();
        let key = (branch.clone(), req.method.clone());
        let synth = |status: u16| {
            let mut r = Response::to(&req, status, None);
            r.reason = match status {
                408 => "Request Timeout".into(),
                _ => "Service Unavailable (no route)".into(),
            };
            r
        };
        if self.transports.send(peer, bytes.clone()).await.is_err() {
            let _ = out.send(synth(503)).await;
            self.remove_client(&key);
            return;
        }
        let mut deadline = tokio::time::Instant::now() + TIMEOUT_64T1;
        let mut interval = T1;
        let mut next_retx = tokio::time::Instant::now() + interval;
        let mut provisional = false;
        let mut cancel_wanted: Option<String> = None;
        let mut cancel_sent = false;
        let mut cancel_closed = false;
        let mut final_status: Option<u16> = None;
        loop {
            let retx_on = !reliable && final_status.is_none() && !(is_invite && provisional);
            tokio::select! {
                r = inner.recv() => {
                    let Some(resp) = r else { break };
                    if resp.status < 200 {
                        if final_status.is_none() {
                            if is_invite && !provisional {
                                // Ringing may last: the TU's ring timeout
                                // CANCELs; this is only a backstop (Timer C).
                                deadline = tokio::time::Instant::now() + Duration::from_secs(300);
                            }
                            provisional = true;
                            if !is_invite {
                                interval = T2;
                            }
                            let _ = out.send(resp).await;
                        }
                    } else if resp.status < 300 {
                        // Forked or retransmitted 2xx pass to the TU too.
                        if final_status.is_none() {
                            deadline = tokio::time::Instant::now() + TIMEOUT_64T1; // Timer M
                        }
                        final_status = Some(resp.status);
                        let _ = out.send(resp).await;
                        if !is_invite {
                            break;
                        }
                    } else {
                        if is_invite {
                            self.send_ack_for(&req, &resp, peer).await;
                        }
                        if final_status.is_none() {
                            final_status = Some(resp.status);
                            deadline = tokio::time::Instant::now() + TIMEOUT_64T1; // Timer D
                            let _ = out.send(resp).await;
                        }
                        if !is_invite || reliable {
                            break;
                        }
                    }
                    if is_invite && provisional && !cancel_sent && final_status.is_none() {
                        if let Some(reason) = cancel_wanted.take() {
                            cancel_sent = true;
                            self.send_cancel(&req, peer, &reason);
                        }
                    }
                }
                _ = tokio::time::sleep_until(next_retx), if retx_on => {
                    let _ = self.transports.send(peer, bytes.clone()).await;
                    interval = if is_invite { interval * 2 } else { (interval * 2).min(T2) };
                    next_retx = tokio::time::Instant::now() + interval;
                }
                c = cancel.changed(), if is_invite && !cancel_sent && cancel_wanted.is_none() && !cancel_closed => {
                    if c.is_err() {
                        cancel_closed = true;
                        continue;
                    }
                    let reason = cancel.borrow().clone();
                    if let Some(reason) = reason {
                        if final_status.is_none() {
                            if provisional {
                                cancel_sent = true;
                                self.send_cancel(&req, peer, &reason);
                            } else {
                                cancel_wanted = Some(reason);
                            }
                        }
                    }
                }
                _ = tokio::time::sleep_until(deadline) => {
                    if final_status.is_none() {
                        let _ = out.send(synth(408)).await;
                    }
                    break;
                }
            }
            if final_status.is_some() && (out.is_closed() && !is_invite) {
                break;
            }
        }
        self.remove_client(&key);
    }

    fn remove_client(&self, key: &(String, String)) {
        if let Ok(mut m) = self.clients.lock() {
            m.remove(key);
        }
    }

    async fn send_ack_for(&self, req: &Request, resp: &Response, peer: Peer) {
        let mut ack = Request::new("ACK", &req.uri);
        if let Some(v) = req.headers.get("Via") {
            ack.headers.push("Via", v);
        }
        for name in ["Route"] {
            for v in req.headers.get_all(name) {
                ack.headers.push(name, v);
            }
        }
        ack.headers.push("Max-Forwards", "70");
        for name in ["From", "Call-ID"] {
            if let Some(v) = req.headers.get(name) {
                ack.headers.push(name, v);
            }
        }
        if let Some(v) = resp.headers.get("To") {
            ack.headers.push("To", v);
        }
        ack.headers.push("CSeq", format!("{} ACK", req.cseq().0));
        let _ = self.transports.send(peer, ack.to_bytes()).await;
    }

    fn send_cancel(self: &Arc<Self>, req: &Request, peer: Peer, reason: &str) {
        let mut c = Request::new("CANCEL", &req.uri);
        if let Some(v) = req.headers.get("Via") {
            c.headers.push("Via", v);
        }
        for v in req.headers.get_all("Route") {
            c.headers.push("Route", v);
        }
        c.headers.push("Max-Forwards", "70");
        for name in ["From", "To", "Call-ID"] {
            if let Some(v) = req.headers.get(name) {
                c.headers.push(name, v);
            }
        }
        c.headers.push("CSeq", format!("{} CANCEL", req.cseq().0));
        if !reason.is_empty() {
            c.headers.push("Reason", reason);
        }
        // CANCEL is its own non-INVITE transaction with the INVITE's branch.
        let branch = req.top_branch().unwrap_or_default();
        let (inner_tx, inner_rx) = mpsc::channel(8);
        if let Ok(mut m) = self.clients.lock() {
            m.insert(
                (branch.clone(), "CANCEL".into()),
                ClientEntry { tx: inner_tx },
            );
        }
        let (out, _rx) = mpsc::channel(8);
        let (_ctx, crx) = watch::channel(None);
        let ep = self.clone();
        tokio::spawn(async move {
            ep.run_client(c, peer, branch, inner_rx, out, crx).await;
        });
    }
}
