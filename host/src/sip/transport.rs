//! UDP and TCP transports. Each receive loop parses what arrives and pushes
//! it into one *bounded* queue; when that queue is full, requests are
//! answered `503 Service Unavailable` with `Retry-After` right here instead
//! of piling up. Malformed requests are answered 400/505 here too, malformed
//! responses dropped (see [`super::parse`]).

use super::message::{Message, Response};
use super::parse::{self, ParseError};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;

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

/// The bound sockets.
pub struct Transports {
    udp: Vec<Arc<UdpSocket>>,
    tcp_local: Vec<SocketAddr>,
    tcp_conns: Mutex<HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>>,
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
            tcp_conns: Mutex::new(HashMap::new()),
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

    /// Sends bytes to a peer. TCP reuses an open connection to that address
    /// or opens one.
    pub async fn send(self: &Arc<Self>, peer: Peer, bytes: Vec<u8>) -> std::io::Result<()> {
        match peer.transport {
            Transport::Udp => {
                let sock = self
                    .udp_for(peer.addr)
                    .ok_or_else(|| std::io::Error::other("no UDP socket"))?;
                sock.send_to(&bytes, peer.addr).await.map(|_| ())
            }
            Transport::Tcp => {
                let existing = self
                    .tcp_conns
                    .lock()
                    .ok()
                    .and_then(|m| m.get(&peer.addr).cloned());
                let tx = match existing {
                    Some(tx) if !tx.is_closed() => tx,
                    _ => {
                        let stream = tokio::time::timeout(
                            std::time::Duration::from_secs(5),
                            TcpStream::connect(peer.addr),
                        )
                        .await
                        .map_err(|_| std::io::Error::other("TCP connect timed out"))??;
                        self.clone().adopt_tcp(stream, peer.addr)
                    }
                };
                tx.send(bytes)
                    .await
                    .map_err(|_| std::io::Error::other("TCP connection closed"))
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
                .tcp_conns
                .lock()
                .ok()
                .and_then(|m| m.get(&peer.addr).cloned())
                .map(|tx| tx.try_send(bytes.to_vec()).is_ok())
                .unwrap_or(false),
        }
    }

    fn adopt_tcp(self: Arc<Self>, stream: TcpStream, addr: SocketAddr) -> mpsc::Sender<Vec<u8>> {
        let _ = stream.set_nodelay(true);
        let (tx, rx) = mpsc::channel::<Vec<u8>>(256);
        if let Ok(mut m) = self.tcp_conns.lock() {
            m.insert(addr, tx.clone());
        }
        let (r, w) = stream.into_split();
        tokio::spawn(tcp_writer(w, rx));
        tokio::spawn(tcp_reader(self, r, addr, tx.clone()));
        tx
    }

    /// Hands a parsed message to the switch, or sheds load.
    fn deliver(&self, msg: Message, peer: Peer) -> Option<Vec<u8>> {
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
                t.clone().adopt_tcp(stream, addr);
            }
            Err(e) => {
                tracing::warn!("tcp accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

async fn tcp_writer(mut w: tokio::net::tcp::OwnedWriteHalf, mut rx: mpsc::Receiver<Vec<u8>>) {
    while let Some(b) = rx.recv().await {
        if w.write_all(&b).await.is_err() {
            break;
        }
    }
}

async fn tcp_reader(
    t: Arc<Transports>,
    mut r: tokio::net::tcp::OwnedReadHalf,
    addr: SocketAddr,
    tx: mpsc::Sender<Vec<u8>>,
) {
    let peer = Peer {
        transport: Transport::Tcp,
        addr,
    };
    let mut buf: Vec<u8> = Vec::with_capacity(8192);
    let mut chunk = vec![0u8; 16384];
    'conn: loop {
        let n = match tokio::time::timeout(std::time::Duration::from_secs(3600), r.read(&mut chunk))
            .await
        {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        loop {
            match parse::frame_stream(&buf) {
                Ok(None) => {
                    // Only CRLF keep-alives so far: answer a double CRLF ping (RFC 5626).
                    if !buf.is_empty() && buf.iter().all(|b| *b == b'\r' || *b == b'\n') {
                        if buf.len() >= 4 {
                            let _ = tx.send(b"\r\n".to_vec()).await;
                        }
                        buf.clear();
                    }
                    break;
                }
                Ok(Some((skip, len))) => {
                    let frame: Vec<u8> = buf[skip..skip + len].to_vec();
                    buf.drain(..skip + len);
                    let reply = match parse::parse_stream_message(&frame) {
                        Ok(msg) => t.deliver(msg, peer),
                        Err(e) => parse_failure(&frame, &e, addr),
                    };
                    if let Some(b) = reply {
                        let _ = tx.send(b).await;
                    }
                }
                Err(e) => {
                    // Cannot frame: answer if possible, then drop the connection.
                    if let Some(b) = parse_failure(&buf, &e, addr) {
                        let _ = tx.send(b).await;
                    }
                    break 'conn;
                }
            }
        }
    }
    if let Ok(mut m) = t.tcp_conns.lock() {
        if m.get(&addr).map(|s| s.same_channel(&tx)).unwrap_or(false) {
            m.remove(&addr);
        }
    }
}
