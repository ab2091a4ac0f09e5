//! Which sources a media socket accepts: the one rule for relay sides,
//! session endpoints and peer links.
//!
//! A media port is reachable by anyone who sprays the port range, so a
//! packet's source alone proves nothing. A [`Latch`] accepts RTP:
//! - from the address the peer signalled in its SDP, always;
//! - from another port or address (the peer is behind NAT) only within
//!   [`Latch::window`] after an offer/answer armed it, only from the IP the
//!   peer's SIP came from (or the SDP's IP), and only with the SSRC its SDP
//!   announced (`a=ssrc`) when it announced one. The first such packet
//!   latches: from then on that source is the peer.
//! - once latched, from the latched source, or from a new port on the same
//!   IP carrying the latched SSRC (NAT rebinding) — never from another IP.
//!
//! Everything else is refused and counted; the first refused source of a
//! latch is logged. A new offer/answer with a different address starts
//! over; the same address re-arms the window and keeps the latch.
//! RTCP follows the RTP decision: accepted from the latched RTP IP (or the
//! signalled IPs before RTP latched), latched separately by port.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use super::sdp::SessionDescription;

/// Default length of the latching window after an offer/answer.
pub const DEFAULT_LATCH_WINDOW: Duration = Duration::from_secs(15);

/// What the peer signalled: where it wants media, where its SIP came from,
/// and the SSRC it announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expect {
    /// The SDP's connection address and audio port.
    pub addr: SocketAddr,
    /// The source IP of the peer's SIP messages (its NAT's public address).
    pub signalling: Option<IpAddr>,
    /// `a=ssrc` of its audio, when announced.
    pub ssrc: Option<u32>,
}

impl Expect {
    /// Media at `addr`, nothing else known (tests, and peers whose
    /// signalling address is the media address).
    pub fn at(addr: SocketAddr) -> Self {
        Expect {
            addr,
            signalling: None,
            ssrc: None,
        }
    }

    /// From a peer's SDP and the IP its SIP came from; `None` when the SDP
    /// has no usable audio address.
    pub fn from_sdp(sd: &SessionDescription, signalling: IpAddr) -> Option<Self> {
        let addr = sd.remote_audio()?;
        let ssrc = sd
            .audio()
            .and_then(|m| m.attribute("ssrc"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|s| s.parse::<u32>().ok());
        Some(Expect {
            addr,
            signalling: Some(signalling),
            ssrc,
        })
    }

    /// Whether `ip` is one the peer signalled (SDP or SIP source).
    fn signalled_ip(&self, ip: IpAddr) -> bool {
        self.addr.ip() == ip || self.signalling == Some(ip)
    }
}

/// The decision for one received packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// From the peer: use it.
    Accept,
    /// From the peer, which moved to this source (first latch or NAT
    /// rebinding).
    Latched,
    /// Not from the peer: drop it.
    Refuse,
}

impl Admit {
    /// Whether the packet is to be used.
    pub fn accepted(self) -> bool {
        !matches!(self, Admit::Refuse)
    }
}

/// The latch of one media socket pair (see the module doc).
#[derive(Debug)]
pub struct Latch {
    expect: Option<Expect>,
    window: Duration,
    armed_at: Instant,
    rtp: Option<(SocketAddr, u32)>,
    rtcp: Option<SocketAddr>,
    refused: u64,
    logged_refusal: bool,
}

impl Default for Latch {
    fn default() -> Self {
        Latch::new(DEFAULT_LATCH_WINDOW)
    }
}

impl Latch {
    /// A latch with no peer yet (everything refused) and `window` for
    /// latching after each offer/answer.
    pub fn new(window: Duration) -> Self {
        Latch {
            expect: None,
            window,
            armed_at: Instant::now(),
            rtp: None,
            rtcp: None,
            refused: 0,
            logged_refusal: false,
        }
    }

    /// The latching window.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// An offer or answer from the peer: a changed address forgets the
    /// latch; the same one keeps it (a session refresh must not undo NAT
    /// traversal). Either way the latching window starts again.
    pub fn expect(&mut self, e: Expect) {
        if self.expect.map(|x| x.addr) != Some(e.addr) {
            self.rtp = None;
            self.rtcp = None;
            self.logged_refusal = false;
        }
        self.expect = Some(e);
        self.armed_at = Instant::now();
    }

    /// Starts the latching window again without new SDP (e.g. when the
    /// call is answered and the peer starts sending).
    pub fn rearm(&mut self) {
        self.armed_at = Instant::now();
    }

    fn in_window(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.armed_at) <= self.window
    }

    /// Decides on an RTP packet from `src` with `ssrc`.
    pub fn admit_rtp(&mut self, src: SocketAddr, ssrc: u32) -> Admit {
        self.admit_rtp_at(src, ssrc, Instant::now())
    }

    /// [`Latch::admit_rtp`] at a given time (tests).
    pub fn admit_rtp_at(&mut self, src: SocketAddr, ssrc: u32, now: Instant) -> Admit {
        let Some(expect) = self.expect else {
            return self.refuse(src);
        };
        let verdict = match self.rtp {
            Some((addr, _)) if addr == src => {
                if let Some(l) = self.rtp.as_mut() {
                    l.1 = ssrc;
                }
                Admit::Accept
            }
            Some((addr, latched_ssrc)) if addr.ip() == src.ip() && latched_ssrc == ssrc => {
                tracing::debug!(from = %addr, to = %src, "media re-latched (NAT rebinding)");
                self.rtp = Some((src, ssrc));
                Admit::Latched
            }
            Some(_) => Admit::Refuse,
            None if src == expect.addr => {
                self.rtp = Some((src, ssrc));
                Admit::Accept
            }
            None if self.in_window(now)
                && expect.signalled_ip(src.ip())
                && expect.ssrc.is_none_or(|s| s == ssrc) =>
            {
                tracing::debug!(sdp = %expect.addr, %src, "media latched behind NAT");
                self.rtp = Some((src, ssrc));
                Admit::Latched
            }
            None => Admit::Refuse,
        };
        if verdict == Admit::Refuse {
            return self.refuse(src);
        }
        verdict
    }

    /// Decides on an RTCP packet from `src`.
    pub fn admit_rtcp(&mut self, src: SocketAddr) -> Admit {
        let Some(expect) = self.expect else {
            return self.refuse(src);
        };
        let ip_ok = match self.rtp {
            Some((addr, _)) => addr.ip() == src.ip(),
            None => expect.signalled_ip(src.ip()),
        };
        if !ip_ok {
            return self.refuse(src);
        }
        if self.rtcp == Some(src) {
            Admit::Accept
        } else {
            self.rtcp = Some(src);
            Admit::Latched
        }
    }

    fn refuse(&mut self, src: SocketAddr) -> Admit {
        self.refused += 1;
        metrics::counter!("centrale_media_refused_packets_total").increment(1);
        if !self.logged_refusal {
            self.logged_refusal = true;
            tracing::warn!(
                %src, expected = ?self.expect.map(|e| e.addr), latched = ?self.rtp.map(|r| r.0),
                "media from an unexpected source refused"
            );
        }
        Admit::Refuse
    }

    /// Where to send RTP: the latched source, else the SDP address.
    pub fn rtp_dest(&self) -> Option<SocketAddr> {
        self.rtp.map(|r| r.0).or(self.expect.map(|e| e.addr))
    }

    /// Where to send RTCP: the latched RTCP source, else the RTP
    /// destination's port + 1.
    pub fn rtcp_dest(&self) -> Option<SocketAddr> {
        let plus_one = |a: SocketAddr| Some(SocketAddr::new(a.ip(), a.port().checked_add(1)?));
        self.rtcp
            .or_else(|| self.expect.and_then(|e| plus_one(e.addr)))
            .or_else(|| self.rtp.and_then(|r| plus_one(r.0)))
    }

    /// Packets refused so far.
    pub fn refused(&self) -> u64 {
        self.refused
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn nothing_is_accepted_before_an_offer() {
        let mut l = Latch::default();
        assert_eq!(l.admit_rtp(a("10.0.0.1:4000"), 1), Admit::Refuse);
        assert_eq!(l.admit_rtcp(a("10.0.0.1:4001")), Admit::Refuse);
        assert_eq!(l.rtp_dest(), None);
        assert_eq!(l.refused(), 2);
    }

    #[test]
    fn the_signalled_address_is_always_accepted() {
        let mut l = Latch::new(Duration::ZERO);
        l.expect(Expect::at(a("192.0.2.5:4000")));
        let later = Instant::now() + Duration::from_secs(60);
        assert_eq!(l.admit_rtp_at(a("192.0.2.5:4000"), 7, later), Admit::Accept);
        assert_eq!(l.rtp_dest(), Some(a("192.0.2.5:4000")));
    }

    #[test]
    fn a_stranger_cannot_latch_or_hijack() {
        let mut l = Latch::default();
        l.expect(Expect {
            addr: a("10.1.1.1:4000"),
            signalling: Some("198.51.100.7".parse().unwrap()),
            ssrc: None,
        });
        // Spray from an address nobody signalled: refused, before and after
        // the peer latched.
        assert_eq!(l.admit_rtp(a("203.0.113.9:5000"), 1), Admit::Refuse);
        assert_eq!(l.admit_rtp(a("198.51.100.7:6000"), 42), Admit::Latched);
        assert_eq!(l.admit_rtp(a("203.0.113.9:5000"), 42), Admit::Refuse);
        assert_eq!(l.admit_rtcp(a("203.0.113.9:5001")), Admit::Refuse);
        assert_eq!(l.rtp_dest(), Some(a("198.51.100.7:6000")));
        // Same IP, other port: only with the latched SSRC (rebinding).
        assert_eq!(l.admit_rtp(a("198.51.100.7:6002"), 43), Admit::Refuse);
        assert_eq!(l.admit_rtp(a("198.51.100.7:6002"), 42), Admit::Latched);
        assert_eq!(l.rtp_dest(), Some(a("198.51.100.7:6002")));
        // Even the SDP address cannot take over once media flows elsewhere.
        assert_eq!(l.admit_rtp(a("10.1.1.1:4000"), 42), Admit::Refuse);
        assert_eq!(l.refused(), 5);
    }

    #[test]
    fn nat_latching_only_within_the_window() {
        let mut l = Latch::new(Duration::from_secs(5));
        l.expect(Expect {
            addr: a("10.1.1.1:4000"),
            signalling: Some("198.51.100.7".parse().unwrap()),
            ssrc: None,
        });
        let late = Instant::now() + Duration::from_secs(6);
        assert_eq!(
            l.admit_rtp_at(a("198.51.100.7:6000"), 1, late),
            Admit::Refuse
        );
        l.rearm();
        assert_eq!(l.admit_rtp(a("198.51.100.7:6000"), 1), Admit::Latched);
    }

    #[test]
    fn an_announced_ssrc_must_match() {
        let mut l = Latch::default();
        l.expect(Expect {
            addr: a("10.1.1.1:4000"),
            signalling: Some("198.51.100.7".parse().unwrap()),
            ssrc: Some(99),
        });
        assert_eq!(l.admit_rtp(a("198.51.100.7:6000"), 1), Admit::Refuse);
        assert_eq!(l.admit_rtp(a("198.51.100.7:6000"), 99), Admit::Latched);
    }

    #[test]
    fn a_new_address_starts_over_the_same_keeps_the_latch() {
        let mut l = Latch::default();
        l.expect(Expect {
            addr: a("10.1.1.1:4000"),
            signalling: Some("198.51.100.7".parse().unwrap()),
            ssrc: None,
        });
        assert_eq!(l.admit_rtp(a("198.51.100.7:6000"), 1), Admit::Latched);
        l.expect(Expect {
            addr: a("10.1.1.1:4000"),
            signalling: Some("198.51.100.7".parse().unwrap()),
            ssrc: None,
        });
        assert_eq!(l.rtp_dest(), Some(a("198.51.100.7:6000")));
        l.expect(Expect::at(a("192.0.2.1:7000")));
        assert_eq!(l.rtp_dest(), Some(a("192.0.2.1:7000")));
        assert_eq!(l.admit_rtp(a("198.51.100.7:6000"), 1), Admit::Refuse);
    }

    #[test]
    fn rtcp_follows_the_rtp_ip() {
        let mut l = Latch::default();
        l.expect(Expect::at(a("192.0.2.5:4000")));
        assert_eq!(l.rtcp_dest(), Some(a("192.0.2.5:4001")));
        assert_eq!(l.admit_rtcp(a("192.0.2.5:4009")), Admit::Latched);
        assert_eq!(l.rtcp_dest(), Some(a("192.0.2.5:4009")));
        assert_eq!(l.admit_rtcp(a("192.0.2.6:4001")), Admit::Refuse);
    }
}
