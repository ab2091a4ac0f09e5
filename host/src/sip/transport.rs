//! UDP and TCP transports. Each receive loop parses what arrives and pushes
//! it into one *bounded* queue; when that queue is full, requests are
//! answered `503 Service Unavailable` with `Retry-After` right here instead
//! of piling up. Malformed requests are answered 400/505 here too, malformed
//! responses dropped (see [`super::parse`]).
//!
//! TCP connections are bounded ([`TcpLimits`]): in number (in total and
//! per source IP), in what waits to be written (a small queue; a peer that
//! does not read is dropped after the write timeout, and a full queue drops
//! the connection instead of making anyone wait), and in idle time (short
//! until the connection carries an authenticated request, see
//! [`Transports::keep`]). Messages are framed by [`super::framer`].

use super::framer::{Framed, StreamFramer};
use super::message::{Message, Response};
use super::parse::{self, ParseError};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{mpsc, watch};

/// A transport protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
}

impl Transport {
    /// Name as used in Via (`UDP`, `TCP`).
    pub fn via_name(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
        }
    }
}

/// Where a message came from or goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Peer {
    pub transport: Transport,
    pub addr: SocketAddr,
}

impl Peer {
    /// `udp:1.2.3.4:5060` form, as stored in registrations.
    pub fn to_source_string(&self) -> String {
        match self.transport {
            Transport::Udp => format!("udp:{}", self.addr),
            Transport::Tcp => format!("tcp:{}", self.addr),
        }
    }
    /// Parses the [`Peer::to_source_string`] form.
    pub fn from_source_string(s: &str) -> Option<Self> {
        let (t, a) = s.split_once(':')?;
        let transport = match t {
            "udp" => Transport::Udp,
            "tcp" => Transport::Tcp,
            _ => return None,
        };
        Some(Peer {
            transport,
            addr: a.parse().ok()?,
        })
    }
}

/// A received, well-formed message.
#[derive(Debug)]
pub struct Incoming {
    pub msg: Message,
    pub peer: Peer,
}

/// Size of the ingress queue between the receive loops and the switch.
pub const INGRESS_QUEUE: usize = 8192;

/// Bounds on TCP connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpLimits {
    /// Connections at once, inbound and outbound.
    pub max_connections: usize,
    /// Inbound connections at once from one IP address.
    pub max_per_ip: usize,
    /// A connection that has carried no authenticated request is closed
    /// after this long without receiving anything.
    pub idle_timeout: Duration,
    /// The idle timeout once it has (a registration, a call).
    pub kept_idle_timeout: Duration,
    /// A write that does not complete in this time drops the connection
    /// (the peer does not read).
    pub write_timeout: Duration,
    /// Messages waiting to be written per connection; when full, the
    /// connection is dropped.
    pub queue: usize,
}

impl Default for TcpLimits {
    fn default() -> Self {
        TcpLimits {
            max_connections: 1024,
            max_per_ip: 32,
            idle_timeout: Duration::from_secs(30),
            kept_idle_timeout: Duration::from_secs(3900),
            write_timeout: Duration::from_secs(10),
            queue: 64,
        }
    }
}

/// One open TCP connection.
#[derive(Clone)]
struct TcpConn {
    tx: mpsc::Sender<Vec<u8>>,
    /// Carries an authenticated request: the long idle timeout applies.
    kept: Arc<AtomicBool>,
    /// Set to close the connection from anywhere.
    close: Arc<watch::Sender<bool>>,
}

impl TcpConn {
    fn shut(&self) {
        let _ = self.close.send(true);
    }
}

#[derive(Default)]
struct TcpTable {
    conns: HashMap<SocketAddr, TcpConn>,
    /// Inbound connections per source IP.
    per_ip: HashMap<IpAddr, usize>,
}

/// The bound sockets.
pub struct Transports {
    udp: Vec<Arc<UdpSocket>>,
    tcp_local: Vec<SocketAddr>,
    tcp: Mutex<TcpTable>,
    tcp_limits: TcpLimits,
    advertise: IpAddr,
    queue: mpsc::Sender<Incoming>,
}

fn udp_socket(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let sock = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    let _ = sock.set_recv_buffer_size(8 * 1024 * 1024);
    let _ = sock.set_send_buffer_size(4 * 1024 * 1024);
    sock.set_reuse_address(true)?;
    sock.bind(&addr.into())?;
    sock.set_nonblocking(true)?;
    UdpSocket::from_std(sock.into())
}

impl Transports {
    /// Binds every listen address and starts the receive loops, which push
    /// into `queue`.
    pub async fn bind(
        udp: &[SocketAddr],
        tcp: &[SocketAddr],
        advertise: IpAddr,
        queue: mpsc::Sender<Incoming>,
    ) -> std::io::Result<Arc<Self>> {
        Self::bind_with(udp, tcp, advertise, queue, TcpLimits::default()).await
    }

    /// [`Transports::bind`] with TCP limits.
    pub async fn bind_with(
        udp: &[SocketAddr],
        tcp: &[SocketAddr],
        advertise: IpAddr,
        queue: mpsc::Sender<Incoming>,
        tcp_limits: TcpLimits,
    ) -> std::io::Result<Arc<Self>> {
        let mut udp_socks = Vec::new();
        for a in udp {
            udp_socks.push(Arc::new(udp_socket(*a)?));
        }
        let mut listeners = Vec::new();
        let mut tcp_local = Vec::new();
        for a in tcp {
            let l = TcpListener::bind(a).await?;
            tcp_local.push(l.local_addr()?);
            listeners.push(l);
        }
        let this = Arc::new(Self {
            udp: udp_socks,
            tcp_local,
            tcp: Mutex::new(TcpTable::default()),
            tcp_limits,
            advertise,
            queue,
        });
        for s in &this.udp {
            tokio::spawn(udp_loop(this.clone(), s.clone()));
        }
        for l in listeners {
            tokio::spawn(tcp_accept_loop(this.clone(), l));
        }
        Ok(this)
    }

    /// The address put in Via and Contact for `transport`.
    pub fn sent_by(&self, transport: Transport) -> (IpAddr, u16) {
        let port = match transport {
            Transport::Udp => self
                .udp
                .first()
                .and_then(|s| s.local_addr().ok())
                .map(|a| a.port()),
            Transport::Tcp => self.tcp_local.first().map(|a| a.port()),
        }
        .unwrap_or(5060);
        (self.advertise, port)
    }

    /// The first bound UDP address (tests use it).
    pub fn udp_local(&self) -> Option<SocketAddr> {
        self.udp.first().and_then(|s| s.local_addr().ok())
    }

    /// Open TCP connections.
    pub fn tcp_connections(&self) -> usize {
        self.tcp.lock().map(|t| t.conns.len()).unwrap_or(0)
    }

    fn tcp_conn(&self, addr: &SocketAddr) -> Option<TcpConn> {
        self.tcp
            .lock()
            .ok()
            .and_then(|t| t.conns.get(addr).cloned())
    }

    /// The connection to `peer` carries an authenticated request (a
    /// registration, a call): keep it open through the long idle timeout.
    /// Nothing for UDP.
    pub fn keep(&self, peer: Peer) {
        if peer.transport == Transport::Tcp {
            if let Some(c) = self.tcp_conn(&peer.addr) {
                c.kept.store(true, Ordering::Relaxed);
            }
        }
    }

    /// Sends bytes to a peer. TCP reuses an open connection to that address
    /// or opens one; a connection whose queue is full is dropped (its peer
    /// does not read) and the send fails.
    pub async fn send(self: &Arc<Self>, peer: Peer, bytes: Vec<u8>) -> std::io::Result<()> {
        match peer.transport {
            Transport::Udp => {
                let sock = self
                    .udp_for(peer.addr)
                    .ok_or_else(|| std::io::Error::other("no UDP socket"))?;
                sock.send_to(&bytes, peer.addr).await.map(|_| ())
            }
            Transport::Tcp => {
                let conn = match self.tcp_conn(&peer.addr) {
                    Some(c) if !c.tx.is_closed() => c,
                    _ => {
                        if self.tcp_connections() >= self.tcp_limits.max_connections {
                            return Err(std::io::Error::other("too many TCP connections"));
                        }
                        let stream = tokio::time::timeout(
                            Duration::from_secs(5),
                            TcpStream::connect(peer.addr),
                        )
                        .await
                        .map_err(|_| std::io::Error::other("TCP connect timed out"))??;
                        self.clone().adopt_tcp(stream, peer.addr, false)
                    }
                };
                self.queue_tcp(&conn, bytes)
            }
        }
    }

    fn queue_tcp(&self, conn: &TcpConn, bytes: Vec<u8>) -> std::io::Result<()> {
        match conn.tx.try_send(bytes) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::warn!("TCP peer does not read: connection dropped");
                conn.shut();
                Err(std::io::Error::other(
                    "TCP connection dropped (peer does not read)",
                ))
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                Err(std::io::Error::other("TCP connection closed"))
            }
        }
    }

    /// The UDP socket of the address family of `to`.
    fn udp_for(&self, to: SocketAddr) -> Option<&Arc<UdpSocket>> {
        self.udp
            .iter()
            .find(|s| {
                s.local_addr()
                    .map(|l| l.is_ipv4() == to.is_ipv4())
                    .unwrap_or(false)
            })
            .or_else(|| self.udp.first())
    }

    /// Sends without waiting: `false` when the datagram or frame could not
    /// be handed over now (full socket buffer, no open connection), in which
    /// case the caller falls back to [`Transports::send`].
    pub fn try_send(&self, peer: Peer, bytes: &[u8]) -> bool {
        match peer.transport {
            Transport::Udp => self
                .udp_for(peer.addr)
                .map(|s| s.try_send_to(bytes, peer.addr).is_ok())
                .unwrap_or(false),
            Transport::Tcp => self
                .tcp_conn(&peer.addr)
                .map(|c| self.queue_tcp(&c, bytes.to_vec()).is_ok())
                .unwrap_or(false),
        }
    }

    /// Registers a connection and starts its reader and writer.
    fn adopt_tcp(self: Arc<Self>, stream: TcpStream, addr: SocketAddr, inbound: bool) -> TcpConn {
        let _ = stream.set_nodelay(true);
        let (tx, rx) = mpsc::channel::<Vec<u8>>(self.tcp_limits.queue.max(1));
        let (close, closed) = watch::channel(false);
        let conn = TcpConn {
            tx,
            kept: Arc::new(AtomicBool::new(false)),
            close: Arc::new(close),
        };
        if let Ok(mut t) = self.tcp.lock() {
            if let Some(old) = t.conns.insert(addr, conn.clone()) {
                old.shut();
            }
        }
        let (r, w) = stream.into_split();
        tokio::spawn(tcp_writer(
            w,
            rx,
            conn.close.clone(),
            self.tcp_limits.write_timeout,
        ));
        let me = self.clone();
        let c = conn.clone();
        tokio::spawn(async move {
            tcp_reader(&me, r, addr, &c, closed).await;
            me.forget_tcp(addr, &c, inbound);
        });
        conn
    }

    /// The reader ended (EOF, framing error, idle, shut): what is queued
    /// is still written (within the write timeout) once the last sender
    /// is gone.
    fn forget_tcp(&self, addr: SocketAddr, conn: &TcpConn, inbound: bool) {
        if let Ok(mut t) = self.tcp.lock() {
            if t.conns
                .get(&addr)
                .is_some_and(|c| c.tx.same_channel(&conn.tx))
            {
                t.conns.remove(&addr);
            }
            if inbound {
                let ip = addr.ip();
                if let Some(n) = t.per_ip.get_mut(&ip) {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        t.per_ip.remove(&ip);
                    }
                }
            }
        }
    }

    /// Whether a new inbound connection from `addr` may be accepted; counts
    /// it when it may.
    fn admit_tcp(&self, addr: SocketAddr) -> bool {
        let Ok(mut t) = self.tcp.lock() else {
            return false;
        };
        if t.conns.len() >= self.tcp_limits.max_connections {
            return false;
        }
        let n = t.per_ip.entry(addr.ip()).or_insert(0);
        if *n >= self.tcp_limits.max_per_ip {
            return false;
        }
        *n += 1;
        true
    }

    /// Hands a parsed message to the switch, or sheds load. A request with
    /// more than [`parse::MAX_VIAS`] Via entries is dropped: answering it
    /// would reflect them all.
    fn deliver(&self, msg: Message, peer: Peer) -> Option<Vec<u8>> {
        if let Message::Request(r) = &msg {
            if r.headers.count("Via") > parse::MAX_VIAS {
                metrics::counter!("centrale_sip_dropped_total", "reason" => "vias").increment(1);
                tracing::debug!(peer = %peer.addr, vias = r.headers.count("Via"), "request with too many Vias dropped");
                return None;
            }
        }
        match self.queue.try_send(Incoming { msg, peer }) {
            Ok(()) => None,
            Err(mpsc::error::TrySendError::Full(inc)) => match inc.msg {
                Message::Request(req) if req.method != "ACK" => {
                    let mut r = Response::to(&req, 503, None);
                    r.headers.push("Retry-After", "5");
                    tracing::warn!("ingress queue full: 503 to {}", inc.peer.addr);
                    Some(r.to_bytes())
                }
                _ => None,
            },
            Err(mpsc::error::TrySendError::Closed(_)) => None,
        }
    }
}

fn parse_failure(data: &[u8], e: &ParseError, peer: SocketAddr) -> Option<Vec<u8>> {
    tracing::debug!(%peer, reason = %e.reason, "malformed SIP message");
    parse::error_response_for(data, e)
}

async fn udp_loop(t: Arc<Transports>, sock: Arc<UdpSocket>) {
    let mut buf = vec![0u8; 65536];
    loop {
        let (n, from) = match sock.recv_from(&mut buf).await {
            Ok(x) => x,
            Err(e) => {
                // ICMP port unreachable surfaces here on some systems: keep going.
                tracing::trace!("udp recv error: {e}");
                continue;
            }
        };
        let data = &buf[..n];
        if data.iter().all(|b| b.is_ascii_whitespace() || *b == 0) {
            continue; // keep-alive
        }
        let peer = Peer {
            transport: Transport::Udp,
            addr: from,
        };
        let reply = match parse::parse_datagram(data) {
            Ok(msg) => t.deliver(msg, peer),
            Err(e) => parse_failure(data, &e, from),
        };
        if let Some(bytes) = reply {
            let _ = sock.send_to(&bytes, from).await;
        }
    }
}

async fn tcp_accept_loop(t: Arc<Transports>, l: TcpListener) {
    loop {
        match l.accept().await {
            Ok((stream, addr)) => {
                if t.admit_tcp(addr) {
                    t.clone().adopt_tcp(stream, addr, true);
                } else {
                    metrics::counter!("centrale_tcp_refused_total").increment(1);
                    tracing::warn!(%addr, "TCP connection refused: connection limit");
                    drop(stream);
                }
            }
            Err(e) => {
                tracing::warn!("tcp accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Writes what is queued until every sender is gone (then what remains is
/// written first) or the connection is shut (at once); a write that takes
/// longer than `write_timeout` shuts it. On exit the reader is stopped too.
async fn tcp_writer(
    mut w: tokio::net::tcp::OwnedWriteHalf,
    mut rx: mpsc::Receiver<Vec<u8>>,
    close: Arc<watch::Sender<bool>>,
    write_timeout: Duration,
) {
    let mut closed = close.subscribe();
    loop {
        let b = tokio::select! {
            b = rx.recv() => b,
            _ = closed.wait_for(|c| *c) => None,
        };
        let Some(b) = b else { break };
        match tokio::time::timeout(write_timeout, w.write_all(&b)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => break,
            Err(_) => {
                tracing::warn!("TCP write timed out: connection dropped");
                break;
            }
        }
    }
    let _ = close.send(true);
    let _ = tokio::time::timeout(write_timeout, w.shutdown()).await;
}

async fn tcp_reader(
    t: &Transports,
    mut r: tokio::net::tcp::OwnedReadHalf,
    addr: SocketAddr,
    conn: &TcpConn,
    mut closed: watch::Receiver<bool>,
) {
    let peer = Peer {
        transport: Transport::Tcp,
        addr,
    };
    let mut framer = StreamFramer::new();
    let mut chunk = vec![0u8; 16384];
    let limits = t.tcp_limits;
    let mut last = tokio::time::Instant::now();
    loop {
        // The limit may grow while we wait (the request just read gets
        // authenticated): re-check when the timer fires.
        let idle = if conn.kept.load(Ordering::Relaxed) {
            limits.kept_idle_timeout
        } else {
            limits.idle_timeout
        };
        let n = tokio::select! {
            r = tokio::time::timeout_at(last + idle, r.read(&mut chunk)) => match r {
                Ok(Ok(0)) | Ok(Err(_)) => return,
                Err(_) => {
                    let kept_now = conn.kept.load(Ordering::Relaxed);
                    if kept_now && last.elapsed() < limits.kept_idle_timeout {
                        continue;
                    }
                    tracing::debug!(%addr, "idle TCP connection closed");
                    return;
                }
                Ok(Ok(n)) => n,
            },
            _ = closed.wait_for(|c| *c) => return,
        };
        last = tokio::time::Instant::now();
        framer.push(&chunk[..n]);
        loop {
            match framer.next_frame() {
                Ok(None) => break,
                Ok(Some(Framed::Ping)) => {
                    if t.queue_tcp(conn, b"\r\n".to_vec()).is_err() {
                        return;
                    }
                }
                Ok(Some(Framed::Message(msg))) => {
                    if let Some(b) = t.deliver(msg, peer) {
                        if t.queue_tcp(conn, b).is_err() {
                            return;
                        }
                    }
                }
                Err(e) => {
                    // Cannot frame: answer if possible, then drop the connection.
                    if let Some(b) = parse_failure(framer.pending(), &e, addr) {
                        let _ = t.queue_tcp(conn, b);
                    }
                    return;
                }
            }
        }
    }
}
