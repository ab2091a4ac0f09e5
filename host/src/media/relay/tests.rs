use super::*;
use crate::media::latch::Expect;
use std::net::Ipv4Addr;
use std::time::Duration;

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const WAIT: Duration = Duration::from_secs(2);

fn engine(lo: u16, hi: u16) -> MediaEngine {
    MediaEngine::new(LOCAL, LOCAL, PortAllocator::new(lo, hi))
}

async fn peer() -> UdpSocket {
    UdpSocket::bind((LOCAL, 0)).await.unwrap()
}

fn rtp(pt: u8, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, pt, 0, 0, 0, 0, 0, 160, 0xde, 0xad, 0xbe, 0xef];
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

fn to(bridge: &Bridge, side: Side) -> SocketAddr {
    SocketAddr::new(LOCAL, bridge.port(side))
}

async fn recv(sock: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    let mut buf = [0u8; 2048];
    let (n, from) = tokio::time::timeout(WAIT, sock.recv_from(&mut buf))
        .await
        .expect("timed out waiting for a relayed packet")
        .unwrap();
    (buf[..n].to_vec(), from)
}

async fn nothing_arrives(sock: &UdpSocket) {
    let mut buf = [0u8; 2048];
    let r = tokio::time::timeout(Duration::from_millis(150), sock.recv_from(&mut buf)).await;
    assert!(r.is_err(), "unexpected packet");
}

/// Polls the counters until they match (they are bumped after the send).
async fn wait_stats(bridge: &Bridge, want: BridgeStats) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while bridge.stats() != want && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(bridge.stats(), want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relays_both_ways_with_exact_counts() {
    let engine = engine(41000, 41019);
    let bridge = engine.create_bridge().await.unwrap();
    assert_ne!(bridge.port(Side::A), bridge.port(Side::B));
    let (caller, callee) = (peer().await, peer().await);
    bridge.set_remote(Side::A, Expect::at(caller.local_addr().unwrap()));
    bridge.set_remote(Side::B, Expect::at(callee.local_addr().unwrap()));

    for seq in 0..50u16 {
        let pkt = rtp(0, seq, &[0xff; 160]);
        caller.send_to(&pkt, to(&bridge, Side::A)).await.unwrap();
        let (got, from) = recv(&callee).await;
        assert_eq!(got, pkt);
        assert_eq!(from, to(&bridge, Side::B), "sent from side B's socket");
    }
    for seq in 0..30u16 {
        let pkt = rtp(8, seq, &[0xd5; 160]);
        callee.send_to(&pkt, to(&bridge, Side::B)).await.unwrap();
        let (got, from) = recv(&caller).await;
        assert_eq!(got, pkt);
        assert_eq!(from, to(&bridge, Side::A));
    }
    // RTCP goes RTCP port to RTCP port (remote RTP port + 1 until latched).
    let rtcp_callee = UdpSocket::bind((LOCAL, callee.local_addr().unwrap().port() + 1)).await;
    if let Ok(rtcp_callee) = rtcp_callee {
        let sr = [0x80, 200, 0, 6, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0];
        let rtcp_a = SocketAddr::new(LOCAL, bridge.port(Side::A) + 1);
        caller.send_to(&sr, rtcp_a).await.unwrap();
        let (got, from) = recv(&rtcp_callee).await;
        assert_eq!(got, sr);
        assert_eq!(from.port(), bridge.port(Side::B) + 1);
        wait_stats(
            &bridge,
            BridgeStats {
                a_to_b: 51,
                b_to_a: 30,
                dropped: 0,
                refused: 0,
            },
        )
        .await;
    } else {
        wait_stats(
            &bridge,
            BridgeStats {
                a_to_b: 50,
                b_to_a: 30,
                dropped: 0,
                refused: 0,
            },
        )
        .await;
    }
}

#[tokio::test]
async fn telephone_event_passes_unchanged() {
    let engine = engine(41100, 41119);
    let bridge = engine.create_bridge().await.unwrap();
    let (caller, callee) = (peer().await, peer().await);
    bridge.set_remote(Side::A, Expect::at(caller.local_addr().unwrap()));
    bridge.set_remote(Side::B, Expect::at(callee.local_addr().unwrap()));
    // RFC 4733 event "5", marker bit set on the first packet, end bit on the last.
    let mut packets = Vec::new();
    for (i, flags) in [0x0a, 0x0a, 0x8a].into_iter().enumerate() {
        let mut p = rtp(101, 7 + i as u16, &[5, flags, 0x01, 0x40]);
        if i == 0 {
            p[1] |= 0x80;
        }
        packets.push(p);
    }
    for p in &packets {
        caller.send_to(p, to(&bridge, Side::A)).await.unwrap();
        assert_eq!(&recv(&callee).await.0, p);
    }
    wait_stats(
        &bridge,
        BridgeStats {
            a_to_b: 3,
            b_to_a: 0,
            dropped: 0,
            refused: 0,
        },
    )
    .await;
}

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

async fn peer_at(last: u8) -> UdpSocket {
    UdpSocket::bind((ip(last), 0)).await.unwrap()
}

fn rtp_ssrc(ssrc: u32, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut p = rtp(0, seq, payload);
    p[8..12].copy_from_slice(&ssrc.to_be_bytes());
    p
}

#[tokio::test]
async fn latches_behind_nat_and_follows_rebinding_with_the_same_ssrc() {
    let engine = engine(41200, 41219);
    let bridge = engine.create_bridge().await.unwrap();
    let caller = peer().await;
    let sdp_addr = peer_at(3).await; // what the callee's SDP claims (private address)
                                     // Where it really is: its NAT, the address its SIP came from.
    let (nat1, nat2) = (peer_at(4).await, peer_at(4).await);
    bridge.set_remote(Side::A, Expect::at(caller.local_addr().unwrap()));
    bridge.set_remote(
        Side::B,
        Expect {
            addr: sdp_addr.local_addr().unwrap(),
            signalling: Some(ip(4)),
            ssrc: None,
        },
    );

    // Callee speaks first, from behind NAT: side B latches to nat1.
    nat1.send_to(&rtp_ssrc(7, 1, &[1; 20]), to(&bridge, Side::B))
        .await
        .unwrap();
    recv(&caller).await;
    assert_eq!(bridge.remote(Side::B), Some(nat1.local_addr().unwrap()));
    let pkt = rtp(0, 1, &[2; 20]);
    caller.send_to(&pkt, to(&bridge, Side::A)).await.unwrap();
    assert_eq!(recv(&nat1).await.0, pkt);
    nothing_arrives(&sdp_addr).await;

    // Garbage from elsewhere is dropped; a new port on the NAT's IP with
    // another SSRC is refused and does not move the latch.
    nat2.send_to(&[0x80, 0, 1], to(&bridge, Side::B))
        .await
        .unwrap();
    nat2.send_to(&rtp_ssrc(8, 2, &[3; 20]), to(&bridge, Side::B))
        .await
        .unwrap();
    nothing_arrives(&caller).await;
    assert_eq!(bridge.remote(Side::B), Some(nat1.local_addr().unwrap()));

    // NAT rebinding: the same stream (SSRC) from a new port moves the latch.
    nat2.send_to(&rtp_ssrc(7, 3, &[3; 20]), to(&bridge, Side::B))
        .await
        .unwrap();
    recv(&caller).await;
    assert_eq!(bridge.remote(Side::B), Some(nat2.local_addr().unwrap()));
    caller.send_to(&pkt, to(&bridge, Side::A)).await.unwrap();
    assert_eq!(recv(&nat2).await.0, pkt);
    nothing_arrives(&nat1).await;

    // Same SDP again (session refresh) keeps the latch; a new one resets it.
    bridge.set_remote(
        Side::B,
        Expect {
            addr: sdp_addr.local_addr().unwrap(),
            signalling: Some(ip(4)),
            ssrc: None,
        },
    );
    assert_eq!(bridge.remote(Side::B), Some(nat2.local_addr().unwrap()));
    bridge.set_remote(Side::B, Expect::at(nat1.local_addr().unwrap()));
    assert_eq!(bridge.remote(Side::B), Some(nat1.local_addr().unwrap()));
    wait_stats(
        &bridge,
        BridgeStats {
            a_to_b: 2,
            b_to_a: 2,
            dropped: 1,
            refused: 1,
        },
    )
    .await;
}

/// The review's hijack: a stranger sprays RTP at both sides of a running
/// call. Nothing of it reaches the parties, neither side re-latches, and
/// the stranger receives nothing.
#[tokio::test]
async fn a_stranger_spraying_rtp_neither_hears_nor_injects() {
    let engine = engine(41600, 41619);
    let bridge = engine.create_bridge().await.unwrap();
    let (caller, callee) = (peer().await, peer().await);
    let stranger = peer_at(9).await;
    bridge.set_remote(
        Side::A,
        Expect {
            addr: caller.local_addr().unwrap(),
            signalling: Some(LOCAL),
            ssrc: None,
        },
    );
    bridge.set_remote(
        Side::B,
        Expect {
            addr: callee.local_addr().unwrap(),
            signalling: Some(LOCAL),
            ssrc: None,
        },
    );
    // The stranger first, before either party spoke, then during the call.
    for round in 0..2u16 {
        for side in [Side::A, Side::B] {
            for seq in 0..10u16 {
                let p = rtp_ssrc(0x1234, round * 100 + seq, &[0x55; 160]);
                stranger.send_to(&p, to(&bridge, side)).await.unwrap();
                let sr = [0x80, 200, 0, 6, 0, 0, 0x12, 0x34, 0, 0, 0, 0, 0, 0, 0, 0];
                let rtcp = SocketAddr::new(LOCAL, bridge.port(side) + 1);
                stranger.send_to(&sr, rtcp).await.unwrap();
            }
        }
        nothing_arrives(&caller).await;
        nothing_arrives(&callee).await;
        let a = rtp(0, round, &[1; 160]);
        caller.send_to(&a, to(&bridge, Side::A)).await.unwrap();
        assert_eq!(recv(&callee).await.0, a);
        let b = rtp(0, round, &[2; 160]);
        callee.send_to(&b, to(&bridge, Side::B)).await.unwrap();
        assert_eq!(recv(&caller).await.0, b);
    }
    nothing_arrives(&stranger).await;
    assert_eq!(bridge.remote(Side::A), Some(caller.local_addr().unwrap()));
    assert_eq!(bridge.remote(Side::B), Some(callee.local_addr().unwrap()));
    wait_stats(
        &bridge,
        BridgeStats {
            a_to_b: 2,
            b_to_a: 2,
            dropped: 0,
            refused: 80,
        },
    )
    .await;
}

#[tokio::test]
async fn packets_before_any_remote_are_refused() {
    let engine = engine(41300, 41319);
    let bridge = engine.create_bridge().await.unwrap();
    let (caller, callee) = (peer().await, peer().await);
    assert_eq!(bridge.remote(Side::B), None);
    for seq in 0..5u16 {
        caller
            .send_to(&rtp(0, seq, &[0; 160]), to(&bridge, Side::A))
            .await
            .unwrap();
    }
    wait_stats(
        &bridge,
        BridgeStats {
            a_to_b: 0,
            b_to_a: 0,
            dropped: 0,
            refused: 5,
        },
    )
    .await;
    // Without SDP nobody latches: the callee hears nothing of it.
    nothing_arrives(&callee).await;
    // Once both sides signalled, media flows both ways.
    bridge.set_remote(Side::A, Expect::at(caller.local_addr().unwrap()));
    bridge.set_remote(Side::B, Expect::at(callee.local_addr().unwrap()));
    let back = rtp(0, 9, &[7; 10]);
    callee.send_to(&back, to(&bridge, Side::B)).await.unwrap();
    assert_eq!(recv(&caller).await.0, back);
    let fwd = rtp(0, 10, &[8; 10]);
    caller.send_to(&fwd, to(&bridge, Side::A)).await.unwrap();
    assert_eq!(recv(&callee).await.0, fwd);
    wait_stats(
        &bridge,
        BridgeStats {
            a_to_b: 1,
            b_to_a: 1,
            dropped: 0,
            refused: 5,
        },
    )
    .await;
}

fn bind_all(ports: &[u16]) -> bool {
    ports
        .iter()
        .all(|p| std::net::UdpSocket::bind((LOCAL, *p)).is_ok())
}

#[tokio::test]
async fn ports_are_released_after_close() {
    let engine = engine(41400, 41419);
    let bridge = engine.create_bridge().await.unwrap();
    let (a, b) = (bridge.port(Side::A), bridge.port(Side::B));
    let ports = [a, a + 1, b, b + 1];
    assert_eq!(engine.allocator().in_use(), 2);
    assert!(ports
        .iter()
        .all(|p| std::net::UdpSocket::bind((LOCAL, *p)).is_err()));
    bridge.shutdown().await;
    assert!(bind_all(&ports), "ports still bound after shutdown");
    assert_eq!(engine.allocator().in_use(), 0);

    // close() (and plain drop) is synchronous: the runtime drops the aborted
    // tasks right after.
    let bridge = engine.create_bridge().await.unwrap();
    let (a, b) = (bridge.port(Side::A), bridge.port(Side::B));
    bridge.close();
    let deadline = tokio::time::Instant::now() + WAIT;
    while !bind_all(&[a, a + 1, b, b + 1]) {
        assert!(tokio::time::Instant::now() < deadline, "ports not released");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(engine.allocator().in_use(), 0);
}

#[tokio::test]
async fn skips_ports_held_elsewhere_and_reports_exhaustion() {
    let (lo, hi) = (41500, 41507); // four pairs
    let engine = engine(lo, hi);
    // Another process holds the RTCP port of one pair and the RTP port of another.
    let _held = [
        std::net::UdpSocket::bind((LOCAL, lo + 1)),
        std::net::UdpSocket::bind((LOCAL, lo + 4)),
    ];
    let bridge = engine.create_bridge().await.unwrap();
    let used = [bridge.port(Side::A), bridge.port(Side::B)];
    assert!(
        used.iter().all(|p| *p == lo + 2 || *p == lo + 6),
        "{used:?}"
    );
    assert!(matches!(
        engine.create_bridge().await,
        Err(MediaError::NoPorts)
    ));
    assert_eq!(engine.allocator().in_use(), 2);
}
