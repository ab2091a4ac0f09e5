//! RTP endpoints owned by the test: the SDP of a sipp scenario points at
//! them (`-set rtp_port`), they send numbered G.711 packets to the host's
//! relay port and count what arrives. See tests/README.md ("How media is
//! checked").

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// One side's media socket.
pub struct RtpPeer {
    pub sock: UdpSocket,
    pub ssrc: u32,
    seq: u16,
    ts: u32,
}

/// A received RTP packet.
#[derive(Debug, Clone)]
pub struct Received {
    pub from: SocketAddr,
    pub ssrc: u32,
    pub seq: u16,
    pub payload_type: u8,
    pub payload_len: usize,
    /// The payload is the pattern [`RtpPeer::send`] writes for this seq.
    pub intact: bool,
    /// The payload itself.
    pub payload: Vec<u8>,
}

fn payload(seq: u16) -> Vec<u8> {
    (0..160u16).map(|i| (i ^ seq) as u8).collect()
}

impl RtpPeer {
    /// A socket on a free port of 127.0.0.1.
    pub fn bind(ssrc: u32) -> Self {
        Self::bind_at([127, 0, 0, 1], ssrc)
    }

    /// A socket on a free port of another loopback address (e.g.
    /// `[127, 0, 0, 66]`): a host the call's parties never signalled.
    pub fn bind_at(ip: [u8; 4], ssrc: u32) -> Self {
        let sock = UdpSocket::bind((std::net::Ipv4Addr::from(ip), 0)).expect("bind an RTP socket");
        sock.set_nonblocking(true).expect("nonblocking");
        RtpPeer {
            sock,
            ssrc,
            seq: 1000,
            ts: 0,
        }
    }

    pub fn port(&self) -> u16 {
        self.sock.local_addr().expect("local addr").port()
    }

    /// Sends one PCMU packet (20 ms, 160 bytes) to `to`.
    pub fn send(&mut self, to: SocketAddr) {
        let mut p = Vec::with_capacity(172);
        p.push(0x80);
        p.push(0); // PCMU
        p.extend_from_slice(&self.seq.to_be_bytes());
        p.extend_from_slice(&self.ts.to_be_bytes());
        p.extend_from_slice(&self.ssrc.to_be_bytes());
        p.extend_from_slice(&payload(self.seq));
        let _ = self.sock.send_to(&p, to);
        self.seq = self.seq.wrapping_add(1);
        self.ts = self.ts.wrapping_add(160);
    }

    /// Everything waiting in the socket.
    pub fn drain(&self) -> Vec<Received> {
        let mut out = Vec::new();
        let mut buf = [0u8; 2048];
        loop {
            match self.sock.recv_from(&mut buf) {
                Ok((n, from)) => {
                    if n < 12 || buf[0] >> 6 != 2 {
                        continue;
                    }
                    let seq = u16::from_be_bytes([buf[2], buf[3]]);
                    out.push(Received {
                        from,
                        ssrc: u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]),
                        seq,
                        payload_type: buf[1] & 0x7f,
                        payload_len: n - 12,
                        intact: buf[12..n] == payload(seq)[..],
                        payload: buf[12..n].to_vec(),
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(_) => continue,
            }
        }
        out
    }
}

/// What two media sockets received while exchanging packets.
#[derive(Debug, Default)]
pub struct Exchange {
    pub at_a: Vec<Received>,
    pub at_b: Vec<Received>,
}

impl Exchange {
    /// Packets of `ssrc` received at A.
    pub fn a_got(&self, ssrc: u32) -> Vec<&Received> {
        self.at_a.iter().filter(|r| r.ssrc == ssrc).collect()
    }
    /// Packets of `ssrc` received at B.
    pub fn b_got(&self, ssrc: u32) -> Vec<&Received> {
        self.at_b.iter().filter(|r| r.ssrc == ssrc).collect()
    }
}

/// A sends `n` packets to `a_to` while B sends `n` to `b_to`, one pair every
/// 20 ms, then both keep listening for 500 ms.
pub fn exchange(
    a: &mut RtpPeer,
    a_to: SocketAddr,
    b: &mut RtpPeer,
    b_to: SocketAddr,
    n: usize,
) -> Exchange {
    let mut ex = Exchange::default();
    for _ in 0..n {
        a.send(a_to);
        b.send(b_to);
        std::thread::sleep(Duration::from_millis(20));
        ex.at_a.extend(a.drain());
        ex.at_b.extend(b.drain());
    }
    let until = Instant::now() + Duration::from_millis(500);
    while Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
        ex.at_a.extend(a.drain());
        ex.at_b.extend(b.drain());
    }
    ex
}
