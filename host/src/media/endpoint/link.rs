//! Bridge mode: an endpoint connected to another party through a
//! [`PeerLink`], a second RTP/RTCP port pair facing that party (the callee
//! a session dials).
//!
//! While bridged, the endpoint's own output (player, silence) pauses; what
//! the caller sends is forwarded unchanged out of the link (no digit
//! detection, no recording), and what the link receives is sent to the
//! caller from the endpoint's socket with the endpoint's SSRC, sequence
//! numbers and timestamps continued, so the caller sees one continuous
//! stream before, during and after the bridge. Telephone-event payload
//! types are mapped when the two sides use different ones. RTCP from the
//! party is drained. Unbridging gives the endpoint its output back.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::task::JoinHandle;

use super::{lock, Inner, MediaEndpoint};
use crate::media::latch::{Expect, Latch};
use crate::media::relay::{MediaEngine, MediaError, SidePair};
use crate::media::rtp::{self, RtpHeader};

/// Receive buffer size; RTP over a 1500-byte MTU always fits.
const BUF_LEN: usize = 2048;

/// The output clock of an endpoint: shared by the send task and a link
/// forwarding to the caller, so both continue one stream.
#[derive(Debug)]
pub(super) struct Clock {
    pub(super) ssrc: u32,
    pub(super) sequence: u16,
    pub(super) timestamp: u32,
    /// Set the marker bit on the next packet (start, and after a switch).
    pub(super) marker: bool,
    /// How the forwarded source maps onto this stream: (its SSRC,
    /// sequence offset, timestamp offset).
    pub(super) mapping: Option<(u32, u16, u32)>,
}

impl Clock {
    pub(super) fn new() -> Self {
        Clock {
            ssrc: rand::random(),
            sequence: rand::random(),
            timestamp: rand::random(),
            marker: true,
            mapping: None,
        }
    }

    /// The header for a forwarded packet of `h`, advancing the clock.
    fn forward(&mut self, h: &RtpHeader, payload_type: u8) -> RtpHeader {
        let (seq_off, ts_off) = match self.mapping {
            Some((ssrc, s, t)) if ssrc == h.ssrc => (s, t),
            _ => {
                let s = self.sequence.wrapping_sub(h.sequence);
                let t = self.timestamp.wrapping_sub(h.timestamp);
                self.mapping = Some((h.ssrc, s, t));
                self.marker = true;
                (s, t)
            }
        };
        let sequence = h.sequence.wrapping_add(seq_off);
        let timestamp = h.timestamp.wrapping_add(ts_off);
        // Only newer packets move the clock (reordered ones keep theirs).
        if sequence.wrapping_sub(self.sequence) < 0x8000 {
            self.sequence = sequence.wrapping_add(1);
        }
        if timestamp.wrapping_sub(self.timestamp) < 0x8000_0000 {
            self.timestamp = timestamp.wrapping_add(160);
        }
        let marker = h.marker || std::mem::take(&mut self.marker);
        RtpHeader {
            marker,
            payload_type,
            sequence,
            timestamp,
            ssrc: self.ssrc,
        }
    }
}

/// Telephone-event payload types: the caller's and the party's.
#[derive(Debug, Clone, Copy, Default)]
struct EventTypes {
    caller: Option<u8>,
    party: Option<u8>,
}

/// State shared by a [`PeerLink`], its task and the endpoint it bridges.
pub(super) struct LinkShared {
    pair: SidePair,
    remote: Mutex<Latch>,
    events: Mutex<EventTypes>,
    /// The endpoint bridged to, while bridged.
    endpoint: Mutex<Weak<Inner>>,
    to_party: AtomicU64,
    to_caller: AtomicU64,
}

impl LinkShared {
    fn destination(&self) -> Option<SocketAddr> {
        lock(&self.remote).rtp_dest()
    }

    /// A packet from the caller (received on the endpoint's socket): out
    /// of the link to the party, event payload type mapped.
    pub(super) fn forward_to_party(&self, datagram: &[u8], payload_type: u8) {
        let Some(dest) = self.destination() else {
            return;
        };
        let ev = *lock(&self.events);
        let sent = match (ev.caller, ev.party) {
            (Some(c), Some(p)) if c == payload_type && c != p => {
                let mut out = datagram.to_vec();
                if let Some(b) = out.get_mut(1) {
                    *b = (*b & 0x80) | (p & 0x7f);
                }
                self.pair.rtp.try_send_to(&out, dest)
            }
            _ => self.pair.rtp.try_send_to(datagram, dest),
        };
        match sent {
            Ok(_) => {
                self.to_party.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => tracing::trace!(%dest, "link send: {e}"),
        }
    }

    /// A packet from the party: to the caller on the endpoint's stream.
    fn forward_to_caller(&self, datagram: &[u8], src: SocketAddr, out: &mut Vec<u8>) {
        let Some(pkt) = rtp::parse(datagram) else {
            return;
        };
        if !lock(&self.remote)
            .admit_rtp(src, pkt.header.ssrc)
            .accepted()
        {
            return;
        }
        let Some(inner) = lock(&self.endpoint).upgrade() else {
            return; // not bridged (ringing, or after the bridge)
        };
        if inner.is_closed() {
            return;
        }
        let Some(dest) = inner.destination() else {
            return;
        };
        let ev = *lock(&self.events);
        let pt = match (ev.party, ev.caller) {
            (Some(p), Some(c)) if p == pkt.header.payload_type => c,
            _ => pkt.header.payload_type,
        };
        let header = lock(&inner.clock).forward(&pkt.header, pt);
        rtp::build_into(&header, pkt.payload, out);
        match inner.pair.rtp.try_send_to(out, dest) {
            Ok(_) => {
                self.to_caller.fetch_add(1, Ordering::Relaxed);
                inner.packets_out.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => tracing::trace!(%dest, "link send to caller: {e}"),
        }
    }
}

/// Receives from the party until aborted.
async fn run(shared: Arc<LinkShared>) {
    let mut buf = vec![0u8; BUF_LEN];
    let mut rtcp = vec![0u8; BUF_LEN];
    let mut out = Vec::with_capacity(BUF_LEN);
    loop {
        let failed = tokio::select! {
            r = shared.pair.rtp.recv_from(&mut buf) => match r {
                Ok((n, src)) => {
                    shared.forward_to_caller(buf.get(..n).unwrap_or_default(), src, &mut out);
                    false
                }
                Err(e) => {
                    tracing::trace!("link recv: {e}");
                    true
                }
            },
            r = shared.pair.rtcp.recv_from(&mut rtcp) => r.is_err(),
        };
        if failed {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// Packet counters of a link.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Caller's packets sent to the party.
    pub to_party: u64,
    /// Party's packets sent to the caller.
    pub to_caller: u64,
}

/// A port pair facing another party, to bridge an endpoint to. Dropping it
/// stops its task and frees the ports (unbridge first).
pub struct PeerLink {
    shared: Arc<LinkShared>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for PeerLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerLink")
            .field("port", &self.port())
            .finish()
    }
}

impl Drop for PeerLink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl PeerLink {
    /// Leases and binds a port pair; its receive task starts at once
    /// (packets are latched, and dropped until bridged).
    pub async fn open(engine: &MediaEngine) -> Result<PeerLink, MediaError> {
        Self::open_for(engine, None).await
    }

    /// [`PeerLink::open`] on `tenant`'s share of the ports.
    pub async fn open_for(
        engine: &MediaEngine,
        tenant: Option<i64>,
    ) -> Result<PeerLink, MediaError> {
        let pair = engine.bind_pair(tenant)?;
        let shared = Arc::new(LinkShared {
            pair,
            remote: Mutex::new(Latch::new(engine.latch_window())),
            events: Mutex::default(),
            endpoint: Mutex::new(Weak::new()),
            to_party: AtomicU64::new(0),
            to_caller: AtomicU64::new(0),
        });
        let task = tokio::spawn(run(shared.clone()));
        Ok(PeerLink { shared, task })
    }

    /// The local RTP port, for the SDP sent to the party.
    pub fn port(&self) -> u16 {
        self.shared.pair.lease.rtp_port()
    }

    /// What the party signalled (its SDP, its SIP source); a changed
    /// address forgets the latch (see [`crate::media::latch`]).
    pub fn set_remote(&self, expect: Expect) {
        lock(&self.shared.remote).expect(expect);
    }

    /// The party's telephone-event payload type (from its SDP).
    pub fn set_party_events(&self, pt: Option<u8>) {
        lock(&self.shared.events).party = pt;
    }

    /// The counters so far.
    pub fn stats(&self) -> LinkStats {
        LinkStats {
            to_party: self.shared.to_party.load(Ordering::Relaxed),
            to_caller: self.shared.to_caller.load(Ordering::Relaxed),
        }
    }
}

impl MediaEndpoint {
    /// Connects the caller to `link`'s party (see the module doc). The
    /// caller's telephone-event payload type is the one set with
    /// [`set_codec`](Self::set_codec). Replaces an earlier bridge.
    pub fn bridge(&self, link: &PeerLink) {
        let inner = &self.handle.inner;
        lock(&link.shared.events).caller = inner.te_pt();
        *lock(&link.shared.endpoint) = Arc::downgrade(inner);
        *lock(&inner.link) = Some(link.shared.clone());
    }

    /// Ends bridge mode: the endpoint plays (or sends silence) again,
    /// continuing its stream with a marker bit.
    pub fn unbridge(&self) {
        let inner = &self.handle.inner;
        let link = lock(&inner.link).take();
        if let Some(link) = link {
            *lock(&link.endpoint) = Weak::new();
        }
        let mut clock = lock(&inner.clock);
        clock.mapping = None;
        clock.marker = true;
    }

    /// True while bridged.
    pub fn is_bridged(&self) -> bool {
        lock(&self.handle.inner.link).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::{Codec, PortAllocator};
    use std::net::{IpAddr, Ipv4Addr};
    use tokio::net::UdpSocket;

    const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    /// Every datagram arriving at `s` within `ms`.
    async fn collect(s: &UdpSocket, ms: u64) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut buf = [0u8; 2048];
        let until = tokio::time::Instant::now() + Duration::from_millis(ms);
        while let Ok(Ok(n)) = tokio::time::timeout_at(until, s.recv(&mut buf)).await {
            out.push(buf[..n].to_vec());
        }
        out
    }

    fn packet(pt: u8, seq: u16, ssrc: u32) -> Vec<u8> {
        let h = RtpHeader {
            marker: false,
            payload_type: pt,
            sequence: seq,
            timestamp: u32::from(seq) * 160,
            ssrc,
        };
        rtp::build(&h, &[0x55; 160])
    }

    #[tokio::test]
    async fn a_bridged_endpoint_relays_both_ways_and_plays_again_after() {
        let engine = MediaEngine::new(LOCAL, LOCAL, PortAllocator::new(43900, 43919));
        let ep = MediaEndpoint::open(&engine).await.unwrap();
        ep.set_codec(Codec::Pcmu, Some(101));
        let caller = UdpSocket::bind((LOCAL, 0)).await.unwrap();
        let party = UdpSocket::bind((LOCAL, 0)).await.unwrap();
        caller.connect((LOCAL, ep.port())).await.unwrap();
        ep.set_remote(crate::media::Expect::at(caller.local_addr().unwrap()));
        ep.start();
        let before = collect(&caller, 200).await;
        assert!(!before.is_empty(), "silence before the bridge");
        let own = ssrc_of(&before[0]);

        let link = PeerLink::open(&engine).await.unwrap();
        party.connect((LOCAL, link.port())).await.unwrap();
        link.set_remote(crate::media::Expect::at(party.local_addr().unwrap()));
        link.set_party_events(Some(96));
        ep.bridge(&link);
        let _ = collect(&caller, 60).await; // silence already in flight
        for seq in 0..10u16 {
            caller.send(&packet(0, seq, 0xaaaa)).await.unwrap();
            party.send(&packet(0, 500 + seq, 0xbbbb)).await.unwrap();
        }
        caller.send(&packet(101, 10, 0xaaaa)).await.unwrap();
        party.send(&packet(96, 510, 0xbbbb)).await.unwrap();
        let at_party = collect(&party, 200).await;
        let at_caller = collect(&caller, 100).await;
        assert_eq!(at_party.len(), 11, "the caller's packets reach the party");
        assert!(at_party.iter().all(|p| ssrc_of(p) == 0xaaaa));
        assert_eq!(
            at_party[10][1] & 0x7f,
            96,
            "event type mapped for the party"
        );
        // Only the party's packets, on the endpoint's stream (no silence).
        assert_eq!(at_caller.len(), 11, "{at_caller:?}");
        assert!(at_caller.iter().all(|p| ssrc_of(p) == own));
        assert_eq!(at_caller[10][1] & 0x7f, 101, "event type mapped back");
        let seqs: Vec<u16> = at_caller
            .iter()
            .map(|p| u16::from_be_bytes([p[2], p[3]]))
            .collect();
        assert!(
            seqs.windows(2).all(|w| w[1] == w[0].wrapping_add(1)),
            "{seqs:?}"
        );
        assert_eq!(
            link.stats(),
            LinkStats {
                to_party: 11,
                to_caller: 11
            }
        );

        ep.unbridge();
        drop(link);
        let after = collect(&caller, 200).await;
        assert!(after.len() >= 5, "the endpoint sends again");
        assert!(after.iter().all(|p| ssrc_of(p) == own));
        let first = u16::from_be_bytes([after[0][2], after[0][3]]);
        assert_eq!(first, seqs[10].wrapping_add(1), "the stream continues");
        assert!(after[0][1] & 0x80 != 0, "marker after the switch");
    }

    fn ssrc_of(p: &[u8]) -> u32 {
        u32::from_be_bytes([p[8], p[9], p[10], p[11]])
    }

    fn hdr(ssrc: u32, sequence: u16, timestamp: u32) -> RtpHeader {
        RtpHeader {
            marker: false,
            payload_type: 0,
            sequence,
            timestamp,
            ssrc,
        }
    }

    #[test]
    fn forwarded_packets_continue_the_stream() {
        let mut c = Clock::new();
        c.marker = false;
        let (s0, t0, own) = (c.sequence, c.timestamp, c.ssrc);
        let a = c.forward(&hdr(7, 500, 9000), 0);
        assert_eq!((a.sequence, a.timestamp, a.ssrc), (s0, t0, own));
        assert!(a.marker, "a new source starts with a marker");
        let b = c.forward(&hdr(7, 501, 9160), 0);
        assert_eq!(
            (b.sequence, b.timestamp),
            (s0.wrapping_add(1), t0.wrapping_add(160))
        );
        assert!(!b.marker);
        // A late packet keeps its place and does not move the clock back.
        let late = c.forward(&hdr(7, 499, 8840), 0);
        assert_eq!(late.sequence, s0.wrapping_sub(1));
        assert_eq!(c.sequence, s0.wrapping_add(2));
        // The party switches SSRC: remapped onto the clock.
        let d = c.forward(&hdr(9, 10, 10), 8);
        assert_eq!(
            (d.sequence, d.timestamp),
            (s0.wrapping_add(2), t0.wrapping_add(320))
        );
        assert!(d.marker);
        assert_eq!(d.payload_type, 8);
    }
}
