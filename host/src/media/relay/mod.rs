//! The RTP/RTCP relay: a [`Bridge`] owns two port pairs, side A facing the
//! caller and side B facing the callee, and forwards packets between them
//! unchanged (payload-transparent: codecs, DTMF events, SRTP all pass).
//!
//! Destinations come from SDP ([`Bridge::set_remote`]); a side accepts
//! packets only from its peer and follows it behind NAT by the rules of
//! [`super::latch`] (symmetric RTP within a window, never to a stranger).

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

use super::latch::{Expect, Latch};
use super::ports::{PortAllocator, PortLease};

/// Receive buffer size per packet; RTP over a 1500-byte MTU always fits.
const BUF_LEN: usize = 2048;
/// Socket receive buffer requested from the kernel.
const SO_RCVBUF: usize = 1 << 20;

/// Why a bridge could not be created.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// Every port pair of the range is leased or held by another process,
    /// or the tenant holds its share of them.
    #[error("no free RTP port pair")]
    NoPorts,
    /// Binding failed for a reason other than the port being in use.
    #[error("cannot bind media socket: {0}")]
    Bind(#[from] io::Error),
}

/// One leg of a bridge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// Faces the caller (the incoming leg).
    A,
    /// Faces the callee (the outgoing leg).
    B,
}

impl Side {
    /// The opposite side.
    pub fn other(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }

    fn index(self) -> usize {
        match self {
            Side::A => 0,
            Side::B => 1,
        }
    }
}

/// Packet counters of a bridge (RTP and RTCP together).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BridgeStats {
    /// Packets received on side A and sent out of side B.
    pub a_to_b: u64,
    /// Packets received on side B and sent out of side A.
    pub b_to_a: u64,
    /// Packets dropped: no destination yet, not RTP/RTCP, or send failures.
    pub dropped: u64,
    /// Packets refused: RTP-shaped, but not from the side's peer (see
    /// [`super::latch`]).
    pub refused: u64,
}

/// Creates bridges: binds sockets on `bind_ip`, advertises `advertise_ip`.
#[derive(Debug)]
pub struct MediaEngine {
    bind_ip: IpAddr,
    advertise_ip: IpAddr,
    allocator: PortAllocator,
    latch_window: Duration,
}

impl MediaEngine {
    /// An engine binding media sockets on `bind_ip` (may be unspecified) and
    /// putting `advertise_ip` in the SDP we send.
    pub fn new(bind_ip: IpAddr, advertise_ip: IpAddr, allocator: PortAllocator) -> Self {
        MediaEngine {
            bind_ip,
            advertise_ip,
            allocator,
            latch_window: super::latch::DEFAULT_LATCH_WINDOW,
        }
    }

    /// Sets how long after an offer/answer a peer behind NAT may latch
    /// from a source other than its SDP address (see [`super::latch`]).
    pub fn with_latch_window(mut self, window: Duration) -> Self {
        self.latch_window = window;
        self
    }

    /// The latching window of new bridges and endpoints.
    pub fn latch_window(&self) -> Duration {
        self.latch_window
    }

    /// The address to write into `c=`/`o=` of relayed SDP.
    pub fn advertise_ip(&self) -> IpAddr {
        self.advertise_ip
    }

    /// The address media sockets are bound to.
    pub fn bind_ip(&self) -> IpAddr {
        self.bind_ip
    }

    /// The port allocator (for capacity reporting).
    pub fn allocator(&self) -> &PortAllocator {
        &self.allocator
    }

    /// Leases and binds two port pairs and starts relaying between them.
    pub async fn create_bridge(&self) -> Result<Bridge, MediaError> {
        self.create_bridge_for(None).await
    }

    /// [`MediaEngine::create_bridge`] on `tenant`'s share of the ports.
    pub async fn create_bridge_for(&self, tenant: Option<i64>) -> Result<Bridge, MediaError> {
        let a = Arc::new(self.bind_pair(tenant)?);
        let b = Arc::new(self.bind_pair(tenant)?);
        let shared = Arc::new(Shared::new(self.latch_window));
        let ports = [a.lease.rtp_port(), b.lease.rtp_port()];
        let mut tasks = Vec::with_capacity(4);
        for (from, to, side) in [(&a, &b, Side::A), (&b, &a, Side::B)] {
            for rtcp in [false, true] {
                let dir = Forwarder {
                    shared: shared.clone(),
                    from: from.clone(),
                    to: to.clone(),
                    side,
                    rtcp,
                };
                tasks.push(tokio::spawn(dir.run()));
            }
        }
        tracing::debug!(a = ports[0], b = ports[1], "media bridge created");
        Ok(Bridge {
            shared,
            ports,
            tasks,
        })
    }

    /// Leases pairs until one binds; a port held by another process is
    /// skipped (its lease is dropped and the cursor has moved on).
    pub(super) fn bind_pair(&self, tenant: Option<i64>) -> Result<SidePair, MediaError> {
        for _ in 0..self.allocator.capacity() {
            let lease = self
                .allocator
                .allocate_pair_for(tenant)
                .ok_or(MediaError::NoPorts)?;
            let rtp = match bind_udp(SocketAddr::new(self.bind_ip, lease.rtp_port())) {
                Ok(s) => s,
                Err(e) if e.kind() == io::ErrorKind::AddrInUse => continue,
                Err(e) => return Err(e.into()),
            };
            let rtcp = match bind_udp(SocketAddr::new(self.bind_ip, lease.rtcp_port())) {
                Ok(s) => s,
                Err(e) if e.kind() == io::ErrorKind::AddrInUse => continue,
                Err(e) => return Err(e.into()),
            };
            return Ok(SidePair { rtp, rtcp, lease });
        }
        Err(MediaError::NoPorts)
    }
}

/// Binds a non-blocking UDP socket with a large receive buffer (best effort).
fn bind_udp(addr: SocketAddr) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if let Err(e) = socket.set_recv_buffer_size(SO_RCVBUF) {
        tracing::debug!("SO_RCVBUF not set: {e}");
    }
    socket.set_nonblocking(true)?;
    socket.bind(&SockAddr::from(addr))?;
    UdpSocket::from_std(socket.into())
}

/// One side's sockets. Fields drop in order: the sockets close before the
/// lease returns the ports to the allocator.
pub(super) struct SidePair {
    pub(super) rtp: UdpSocket,
    pub(super) rtcp: UdpSocket,
    pub(super) lease: PortLease,
}

#[derive(Debug, Default)]
struct Shared {
    peers: [Mutex<Latch>; 2],
    forwarded: [AtomicU64; 2],
    dropped: AtomicU64,
    refused: AtomicU64,
}

impl Shared {
    fn new(window: Duration) -> Self {
        Shared {
            peers: [
                Mutex::new(Latch::new(window)),
                Mutex::new(Latch::new(window)),
            ],
            ..Shared::default()
        }
    }

    fn peer(&self, side: Side) -> MutexGuard<'_, Latch> {
        // The latch is plain data; a poisoned lock still holds a usable value.
        self.peers[side.index()]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    fn drop_one(&self) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
    }
}

/// True for an RTP (or RTCP, >= 8 bytes) packet: version 2 header.
fn is_rtp_v2(pkt: &[u8], min_len: usize) -> bool {
    pkt.len() >= min_len && pkt[0] >> 6 == 2
}

/// One forwarding direction of one socket kind (RTP or RTCP).
struct Forwarder {
    shared: Arc<Shared>,
    from: Arc<SidePair>,
    to: Arc<SidePair>,
    /// The side packets arrive on.
    side: Side,
    rtcp: bool,
}

impl Forwarder {
    async fn run(self) {
        let (rx, tx) = if self.rtcp {
            (&self.from.rtcp, &self.to.rtcp)
        } else {
            (&self.from.rtp, &self.to.rtp)
        };
        let min_len = if self.rtcp { 8 } else { 12 };
        let mut buf = vec![0u8; BUF_LEN];
        loop {
            let (n, src) = match rx.recv_from(&mut buf).await {
                Ok(r) => r,
                Err(e) => {
                    // E.g. ICMP errors reported on some platforms: keep going,
                    // but do not spin on a persistent error.
                    tracing::trace!("media recv: {e}");
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                }
            };
            let pkt = &buf[..n];
            if !is_rtp_v2(pkt, min_len) {
                self.shared.drop_one();
                continue;
            }
            if !self.admit(pkt, src) {
                self.shared.refused.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let dest = {
                let peer = self.shared.peer(self.side.other());
                if self.rtcp {
                    peer.rtcp_dest()
                } else {
                    peer.rtp_dest()
                }
            };
            let Some(dest) = dest else {
                self.shared.drop_one();
                continue;
            };
            match tx.send_to(pkt, dest).await {
                Ok(_) => {
                    self.shared.forwarded[self.side.index()].fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    tracing::trace!(%dest, "media send: {e}");
                    self.shared.drop_one();
                }
            }
        }
    }

    /// Whether the packet comes from this side's peer (see
    /// [`super::latch`]); latches when it moved.
    fn admit(&self, pkt: &[u8], src: SocketAddr) -> bool {
        let mut peer = self.shared.peer(self.side);
        if self.rtcp {
            peer.admit_rtcp(src).accepted()
        } else {
            let ssrc = u32::from_be_bytes([pkt[8], pkt[9], pkt[10], pkt[11]]);
            peer.admit_rtp(src, ssrc).accepted()
        }
    }
}

/// A running relay between two port pairs. Dropping it (or [`close`]) stops
/// the relay tasks; the ports return to the allocator once their sockets
/// are closed.
///
/// [`close`]: Bridge::close
#[derive(Debug)]
pub struct Bridge {
    shared: Arc<Shared>,
    ports: [u16; 2],
    tasks: Vec<JoinHandle<()>>,
}

impl Bridge {
    /// The RTP port of `side`, to advertise in the SDP sent to that side.
    pub fn port(&self, side: Side) -> u16 {
        self.ports[side.index()]
    }

    /// What `side`'s peer signalled (its SDP, its SIP source). A changed
    /// address (re-INVITE to a new endpoint) forgets what was latched; the
    /// same address keeps the latch, so a session refresh does not undo
    /// NAT traversal. Either way the latching window starts again.
    pub fn set_remote(&self, side: Side, expect: Expect) {
        self.shared.peer(side).expect(expect);
    }

    /// Starts `side`'s latching window again (the call was answered: the
    /// peer starts sending now).
    pub fn rearm(&self, side: Side) {
        self.shared.peer(side).rearm();
    }

    /// Where RTP for `side`'s peer is currently sent (latched, else SDP).
    pub fn remote(&self, side: Side) -> Option<SocketAddr> {
        self.shared.peer(side).rtp_dest()
    }

    /// The packet counters so far.
    pub fn stats(&self) -> BridgeStats {
        let s = &self.shared;
        BridgeStats {
            a_to_b: s.forwarded[0].load(Ordering::Relaxed),
            b_to_a: s.forwarded[1].load(Ordering::Relaxed),
            dropped: s.dropped.load(Ordering::Relaxed),
            refused: s.refused.load(Ordering::Relaxed),
        }
    }

    /// Stops relaying; the ports are released as the runtime drops the
    /// aborted tasks (almost at once). Same as dropping the bridge.
    pub fn close(self) {
        drop(self);
    }

    /// Stops relaying and waits until the sockets are closed and the ports
    /// are back in the allocator.
    pub async fn shutdown(mut self) {
        let tasks = std::mem::take(&mut self.tasks);
        for t in &tasks {
            t.abort();
        }
        for t in tasks {
            let _ = t.await;
        }
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

#[cfg(test)]
mod tests;
