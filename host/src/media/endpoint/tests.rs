//! The endpoint over loopback UDP against a scripted peer.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::time::{timeout, Instant};

use super::*;
use crate::media::dtmf::TelephoneEvent;
use crate::media::rtp::{self, RtpHeader};
use crate::media::tone;
use crate::media::wav::load_wav;
use crate::media::PortAllocator;

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const TE: u8 = 101;
const SSRC: u32 = 0x5eed_1234;

fn engine(lo: u16) -> MediaEngine {
    MediaEngine::new(LOCAL, LOCAL, PortAllocator::new(lo, lo + 19))
}

async fn setup(lo: u16) -> (MediaEngine, MediaEndpoint, UdpSocket, SocketAddr) {
    let engine = engine(lo);
    let ep = MediaEndpoint::open(&engine).await.unwrap();
    ep.set_codec(Codec::Pcmu, Some(TE));
    let peer = UdpSocket::bind((LOCAL, 0)).await.unwrap();
    // What the host does with the peer's SDP: only the peer is heard.
    ep.set_remote(crate::media::Expect::at(peer.local_addr().unwrap()));
    let to = SocketAddr::new(LOCAL, ep.port());
    (engine, ep, peer, to)
}

/// 20 ms PCMU packets of `samples`, timestamps from `ts0`, sequence from 1.
fn audio_packets(samples: &[i16], ts0: u32) -> Vec<Vec<u8>> {
    samples
        .chunks(160)
        .enumerate()
        .map(|(i, chunk)| {
            let h = RtpHeader {
                marker: i == 0,
                payload_type: 0,
                sequence: 1 + i as u16,
                timestamp: ts0 + 160 * i as u32,
                ssrc: SSRC,
            };
            rtp::build(&h, &Codec::Pcmu.encode(chunk))
        })
        .collect()
}

/// One key press as RFC 4733 packets: three updates, the end bit three times.
fn event_packets(digit: char, ts: u32, seq: u16) -> Vec<Vec<u8>> {
    let event = crate::media::dtmf::digit_to_event(digit).unwrap();
    (0..6u16)
        .map(|k| {
            let ev = TelephoneEvent {
                event,
                end: k >= 3,
                volume: 10,
                duration: 160 * (k.min(3) + 1),
            };
            let h = RtpHeader {
                marker: k == 0,
                payload_type: TE,
                sequence: seq + k,
                timestamp: ts,
                ssrc: SSRC,
            };
            rtp::build(&h, &ev.to_bytes())
        })
        .collect()
}

async fn send_all(peer: &UdpSocket, to: SocketAddr, packets: &[Vec<u8>]) {
    for (i, p) in packets.iter().enumerate() {
        peer.send_to(p, to).await.unwrap();
        if i % 10 == 9 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

fn rms(x: &[i16]) -> f64 {
    (x.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / x.len().max(1) as f64).sqrt()
}

fn opts(max_s: u64, silence_ms: Option<u64>) -> RecordOptions {
    RecordOptions {
        max_duration: Duration::from_secs(max_s),
        silence: silence_ms.map(Duration::from_millis),
        terminators: "#".into(),
    }
}

#[tokio::test]
async fn records_a_reordered_tone_until_pound() {
    let (_engine, ep, peer, to) = setup(43000).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("msg.wav");
    let tone = tone::tone(&[440.0], Duration::from_secs(2), 0.3);
    let mut packets = audio_packets(&tone, 90_000);
    assert_eq!(packets.len(), 100);
    for i in [10, 41, 77] {
        packets.swap(i, i + 1);
    }
    packets.extend(event_packets('#', 90_000 + 16_000, 200));
    let (rec, ()) = tokio::join!(
        timeout(Duration::from_secs(10), ep.record(&path, opts(60, None))),
        send_all(&peer, to, &packets),
    );
    let rec = rec.unwrap().unwrap();
    assert_eq!(rec.end, RecordEnd::Terminator('#'));
    assert!((1900..=2100).contains(&rec.duration_ms), "{rec:?}");
    let wav = load_wav(&path).unwrap();
    assert_eq!(wav.len() as u64, rec.duration_ms * 8);
    assert!(rms(&wav) > 3000.0, "rms {}", rms(&wav));
    let stats = ep.stats();
    assert_eq!(stats.packets_in, 106);
    assert_eq!(stats.late_dropped, 0);
    assert_eq!(stats.dtmf_events, 1);
    // The terminator was consumed.
    assert_eq!(ep.next_digit(Duration::ZERO).await, DigitWait::Timeout);
}

#[tokio::test]
async fn play_sends_continuous_paced_packets() {
    let (_engine, ep, peer, _to) = setup(43020).await;
    ep.set_remote(crate::media::Expect::at(peer.local_addr().unwrap()));
    let one_second: Arc<[i16]> = tone::tone(&[440.0], Duration::from_secs(1), 0.3).into();
    let started = Instant::now();
    let end = timeout(Duration::from_secs(5), ep.play(one_second.clone(), false)).await;
    assert_eq!(end.unwrap(), PlayEnd::Finished);
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(900), "{elapsed:?}");
    // A second play continues the same stream.
    let short: Arc<[i16]> = tone::beep().into();
    assert_eq!(ep.play(short, true).await, PlayEnd::Finished);
    tokio::time::sleep(Duration::from_millis(60)).await;
    // Silence would flow forever: stop the stream, then drain the socket.
    ep.close();
    let mut buf = [0u8; 2048];
    let mut got = Vec::new();
    while let Ok(Ok((n, _))) = timeout(Duration::from_millis(100), peer.recv_from(&mut buf)).await {
        let p = rtp::parse(&buf[..n]).unwrap();
        got.push((p.header, p.payload.iter().any(|b| *b != 0xFF)));
    }
    assert!(got.len() >= 60, "{} packets", got.len());
    let first = got[0].0;
    assert!(first.marker);
    for (k, (h, _)) in got.iter().enumerate() {
        assert_eq!(h.ssrc, first.ssrc);
        assert_eq!(h.payload_type, 0);
        assert_eq!(h.sequence, first.sequence.wrapping_add(k as u16));
        assert_eq!(h.timestamp, first.timestamp.wrapping_add(160 * k as u32));
        assert_eq!(h.marker, k == 0);
    }
    let audible = got.iter().filter(|(_, loud)| *loud).count();
    assert_eq!(audible, 50 + 15); // 1 s, then the 300 ms beep
    assert_eq!(ep.stats().packets_out as usize, got.len());
}

#[tokio::test]
async fn a_digit_interrupts_play_and_stays_buffered() {
    let (_engine, ep, peer, to) = setup(43040).await;
    ep.set_remote(crate::media::Expect::at(peer.local_addr().unwrap()));
    let long: Arc<[i16]> = tone::busy().into();
    let press = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        send_all(&peer, to, &event_packets('5', 1234, 1)).await;
    };
    let started = Instant::now();
    let (end, ()) = tokio::join!(
        timeout(Duration::from_secs(3), ep.play(long.clone(), true)),
        press
    );
    assert_eq!(end.unwrap(), PlayEnd::Digit);
    assert!(started.elapsed() < Duration::from_secs(2));
    // Already buffered: the next interruptible play ends at once.
    assert_eq!(ep.play(long, true).await, PlayEnd::Digit);
    assert_eq!(
        ep.next_digit(Duration::from_secs(1)).await,
        DigitWait::Digit('5')
    );
    assert_eq!(
        ep.next_digit(Duration::from_millis(50)).await,
        DigitWait::Timeout
    );
    // SIP INFO digits join the same buffer; clear_digits empties it.
    ep.inject_digit('*');
    ep.inject_digit('x');
    assert_eq!(ep.next_digit(Duration::ZERO).await, DigitWait::Digit('*'));
    ep.inject_digit('1');
    ep.clear_digits();
    assert_eq!(ep.next_digit(Duration::ZERO).await, DigitWait::Timeout);
    assert_eq!(ep.stats().dtmf_events, 3);
}

#[tokio::test]
async fn close_during_record_returns_closed_with_a_valid_file() {
    let (engine, ep, peer, to) = setup(43060).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("closed.wav");
    let audio = audio_packets(&tone::tone(&[440.0], Duration::from_millis(500), 0.3), 7);
    let closer = ep.clone();
    let script = async {
        send_all(&peer, to, &audio).await;
        let deadline = Instant::now() + Duration::from_secs(5);
        while closer.stats().packets_in < 25 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        closer.close();
    };
    let (rec, ()) = tokio::join!(
        timeout(Duration::from_secs(10), ep.record(&path, opts(60, None))),
        script
    );
    let rec = rec.unwrap().unwrap();
    assert_eq!(
        rec,
        Recorded {
            duration_ms: 500,
            end: RecordEnd::Closed
        }
    );
    assert_eq!(load_wav(&path).unwrap().len(), 4000);
    assert!(ep.is_closed());
    assert_eq!(ep.play(tone::beep().into(), false).await, PlayEnd::Closed);
    assert_eq!(
        ep.next_digit(Duration::from_secs(5)).await,
        DigitWait::Closed
    );
    assert_eq!(
        ep.record(&path, opts(1, None)).await.unwrap().end,
        RecordEnd::Closed
    );
    // The ports return once the last clone is gone.
    assert_eq!(engine.allocator().in_use(), 1);
    drop((ep, closer));
    let deadline = Instant::now() + Duration::from_secs(2);
    while engine.allocator().in_use() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(engine.allocator().in_use(), 0);
}

#[tokio::test]
async fn silence_ends_a_recording_when_the_peer_goes_quiet() {
    let (_engine, ep, peer, to) = setup(43080).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("quiet.wav");
    let mut samples = tone::tone(&[440.0], Duration::from_millis(400), 0.3);
    samples.extend(vec![0i16; 8000]); // then one second of digital silence
    let packets = audio_packets(&samples, 0);
    let (rec, ()) = tokio::join!(
        timeout(
            Duration::from_secs(10),
            ep.record(&path, opts(60, Some(600)))
        ),
        send_all(&peer, to, &packets),
    );
    let rec = rec.unwrap().unwrap();
    assert_eq!(rec.end, RecordEnd::Silence);
    assert_eq!(rec.duration_ms, 400);
    assert_eq!(load_wav(&path).unwrap().len(), 3200);

    // No packets at all: the wall clock notices the silent line.
    let started = Instant::now();
    let rec = timeout(
        Duration::from_secs(5),
        ep.record(&path, opts(60, Some(300))),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!((rec.end, rec.duration_ms), (RecordEnd::Silence, 0));
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn latching_ignores_other_hosts_and_follows_the_same_ip() {
    let (_engine, ep, peer, to) = setup(43100).await;
    // SDP says port 9; NAT says otherwise (its SIP came from this IP).
    ep.set_remote(crate::media::Expect {
        addr: SocketAddr::new(LOCAL, 9),
        signalling: Some(LOCAL),
        ssrc: None,
    });
    send_all(&peer, to, &event_packets('1', 100, 1)).await;
    assert_eq!(
        ep.next_digit(Duration::from_secs(2)).await,
        DigitWait::Digit('1')
    );
    // Another host cannot inject digits...
    let intruder = UdpSocket::bind((Ipv4Addr::new(127, 0, 0, 2), 0))
        .await
        .unwrap();
    send_all(&intruder, to, &event_packets('9', 900, 10)).await;
    let deadline = Instant::now() + Duration::from_secs(2);
    while ep.refused() < 6 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(ep.refused(), 6, "the intruder's packets are refused");
    // ...but the peer's new port (NAT rebinding) is followed.
    let moved = UdpSocket::bind((LOCAL, 0)).await.unwrap();
    send_all(&moved, to, &event_packets('2', 2000, 20)).await;
    assert_eq!(
        ep.next_digit(Duration::from_secs(2)).await,
        DigitWait::Digit('2')
    );
    assert_eq!(ep.stats().packets_in, 12);
    ep.start();
    let mut buf = [0u8; 64];
    let got = timeout(Duration::from_secs(2), moved.recv_from(&mut buf)).await;
    assert!(got.is_ok(), "no media at the re-latched address");
    // A terminator by SIP INFO ends a recording too.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("info.wav");
    let injector = ep.clone();
    let (rec, ()) = tokio::join!(ep.record(&path, opts(60, None)), async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        injector.inject_digit('#');
    });
    assert_eq!(rec.unwrap().end, RecordEnd::Terminator('#'));
    assert!(load_wav(&path).unwrap().is_empty());
}
