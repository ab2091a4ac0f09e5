//! `call-control.dial` from a session, through the real host and sipp: 202
//! calls 201, whose session (the session-hostile test plugin in mode
//! `dial`) beeps and dials 203. When 203 answers the two talk through the
//! host (RTP both ways), when 203 hangs up 202 is back in the session (it
//! hears the session's beep on the same RTP stream) and the host hangs up.
//! A busy 203 makes `dial` return `busy` and the session goes on; 202
//! hanging up while connected hangs up 203 too.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use centrale_tests::rtp::RtpPeer;
use centrale_tests::{build_test_plugin, wait_for, Pbx, DEMO_DOMAIN};

const PLUGIN: &str = "test-session-hostile";
const WAIT: Duration = Duration::from_secs(60);

/// Builds host/tests/plugins/session-hostile: manifest and component.
fn build_plugin() -> (PathBuf, PathBuf) {
    build_test_plugin("session-hostile")
}

/// A demo PBX where 201's calls run the dialling session (to 203), and
/// 203 registered from a phone of the test.
fn pbx_with_dialling_201() -> (Pbx, centrale_tests::Phone) {
    let pbx = Pbx::start_demo_with_plugins(&[]);
    let (manifest, wasm) = build_plugin();
    let m = manifest.display().to_string();
    let w = wasm.display().to_string();
    pbx.cli(&["plugin", "install", &m, &w])
        .assert_success("plugin install");
    pbx.cli(&[
        "licence",
        "grant",
        "--tenant",
        DEMO_DOMAIN,
        "--plugin",
        PLUGIN,
        "--quantity",
        "1",
    ])
    .assert_success("licence grant");
    pbx.cli(&[
        "plugin",
        "enable",
        "--tenant",
        DEMO_DOMAIN,
        "--plugin",
        PLUGIN,
        "--user",
        "201",
        "--settings",
        r#"{"mode":"dial","to":"203"}"#,
    ])
    .assert_success("plugin enable");
    let phone = pbx.phone();
    pbx.register(&phone, "203", "203", "demo203");
    (pbx, phone)
}

/// Every RTP datagram waiting at `peer`: (source, bytes).
fn drain_raw(peer: &RtpPeer) -> Vec<(SocketAddr, Vec<u8>)> {
    let mut out = Vec::new();
    let mut buf = [0u8; 2048];
    while let Ok((n, from)) = peer.sock.recv_from(&mut buf) {
        if n >= 12 && buf[0] >> 6 == 2 {
            out.push((from, buf[..n].to_vec()));
        }
    }
    out
}

fn ssrc(pkt: &[u8]) -> u32 {
    u32::from_be_bytes([pkt[8], pkt[9], pkt[10], pkt[11]])
}

/// The payload is what [`RtpPeer::send`] writes (`i ^ seq` per byte),
/// whatever the sequence number in the header says: audio of a test peer.
fn peer_audio(pkt: &[u8]) -> bool {
    let p = &pkt[12..];
    p.len() == 160 && p.iter().enumerate().all(|(i, b)| *b == (i as u8) ^ p[0])
}

/// Neither a test peer's audio nor PCMU silence: a tone the host played.
fn host_tone(pkt: &[u8]) -> bool {
    !peer_audio(pkt) && pkt[12..].iter().any(|b| *b != 0xff && *b != 0x7f)
}

fn dial_line(pbx: &Pbx) -> Option<String> {
    pbx.log()
        .lines()
        .find(|l| l.contains("session dial ended"))
        .map(str::to_string)
}

#[test]
fn a_session_dials_203_who_talks_with_the_caller_and_hangs_up_then_the_session_goes_on() {
    let (pbx, phone_203) = pbx_with_dialling_201();
    let mut media_202 = RtpPeer::bind(0xCA11_0202);
    let mut media_203 = RtpPeer::bind(0xCA11_0203);
    let mut uas = pbx
        .sipp("uas_answer_hangup.xml")
        .phone(&phone_203)
        .set("rtp_port", media_203.port())
        .pause_ms(3000)
        .timeout_s(60)
        .spawn();
    uas.wait_bound();
    let caller = pbx.phone();
    let uac = pbx
        .sipp("uac_wait_bye.xml")
        .phone(&caller)
        .service("201")
        .set("aor", "202")
        .set("rtp_port", media_202.port())
        .auth("202", "demo202")
        .timeout_s(60)
        .spawn();

    let invite = uas
        .wait_received(Duration::from_secs(20), |m| m.is_request("INVITE"))
        .unwrap_or_else(|| panic!("203 was not dialled\n{}", pbx.log_tail(40)));
    let from = invite.header("From").unwrap_or_default().to_string();
    assert!(from.contains("sip:202@"), "From is the caller: {from}");
    assert!(invite.header("Diversion").is_none(), "{}", invite.raw);
    let host_b = invite.sdp_audio().expect("SDP in the INVITE to 203");
    let ok = uac
        .wait_received(Duration::from_secs(20), |m| {
            m.is_response(200, "INVITE") && m.sdp_audio().is_some()
        })
        .expect("202 was answered by the session");
    let host_a = ok.sdp_audio().expect("SDP in the 200 to 202");
    assert_ne!(host_a, host_b);
    let bridged = wait_for(Duration::from_secs(10), || {
        pbx.log().contains("session dial answered").then_some(())
    });
    assert!(bridged.is_some(), "not bridged\n{}", pbx.log_tail(40));

    // Before: the session's beep and the ringback, on the endpoint's SSRC.
    let before = drain_raw(&media_202);
    assert!(!before.is_empty(), "202 heard nothing before the bridge");
    let stream = ssrc(&before[0].1);
    assert!(
        before.iter().any(|(_, p)| host_tone(p)),
        "no beep or ringback"
    );

    // Talking: 50 packets each way through the host.
    let (mut at_202, mut at_203) = (Vec::new(), Vec::new());
    for _ in 0..50 {
        media_202.send(host_a);
        media_203.send(host_b);
        std::thread::sleep(Duration::from_millis(20));
        at_202.extend(drain_raw(&media_202));
        at_203.extend(drain_raw(&media_203));
    }
    std::thread::sleep(Duration::from_millis(300));
    at_202.extend(drain_raw(&media_202));
    at_203.extend(drain_raw(&media_203));
    let from_202: Vec<_> = at_203
        .iter()
        .filter(|(_, p)| ssrc(p) == media_202.ssrc && peer_audio(p))
        .collect();
    let from_203: Vec<_> = at_202.iter().filter(|(_, p)| peer_audio(p)).collect();
    assert!(
        from_202.len() >= 45,
        "203 heard {} of 50 from 202",
        from_202.len()
    );
    assert!(
        from_203.len() >= 45,
        "202 heard {} of 50 from 203",
        from_203.len()
    );
    assert!(from_202.iter().all(|(src, _)| *src == host_b));
    // 202 hears 203 from the session's port, on the session's stream.
    assert!(from_203
        .iter()
        .all(|(src, p)| *src == host_a && ssrc(p) == stream));
    assert!(
        at_202.iter().all(|(_, p)| peer_audio(p)),
        "the session's own output pauses while bridged"
    );

    // 203 hangs up; the session beeps and the host hangs up on 202.
    let uas = uas.wait(WAIT);
    pbx.check(&uas, "203 answering, then hanging up");
    let uac = uac.wait(WAIT);
    pbx.check(&uac, "202 calling 201 and hung up by the host");
    let after = drain_raw(&media_202);
    assert!(
        after.iter().any(|(_, p)| host_tone(p) && ssrc(p) == stream),
        "202 did not hear the session again ({} packets)\n{}",
        after.len(),
        pbx.log_tail(30)
    );
    let line = dial_line(&pbx).expect("the dial outcome is logged");
    assert!(line.contains("Answered"), "{line}");
}

#[test]
fn a_busy_destination_makes_dial_return_busy_and_the_session_goes_on() {
    let (pbx, phone_203) = pbx_with_dialling_201();
    let mut uas = pbx.sipp("uas_busy.xml").phone(&phone_203).spawn();
    uas.wait_bound();
    let ear = RtpPeer::bind(0xb05e);
    let started = Instant::now();
    let uac = pbx
        .sipp("uac_wait_bye.xml")
        .service("201")
        .set("aor", "202")
        .set("rtp_port", ear.port())
        .auth("202", "demo202")
        .timeout_s(60)
        .run();
    pbx.check(&uac, "202 calling 201, whose session dials a busy 203");
    let uas = uas.wait(WAIT);
    pbx.check(&uas, "203 busy");
    assert!(started.elapsed() < Duration::from_secs(20));
    let line = dial_line(&pbx).expect("the dial outcome is logged");
    assert!(line.contains("Busy"), "{line}");
    // Two beeps (before and after the dial): at least 30 packets.
    assert!(ear.drain().len() >= 30);
}

#[test]
fn the_caller_hanging_up_while_connected_hangs_up_the_destination() {
    let (pbx, phone_203) = pbx_with_dialling_201();
    let media_203 = RtpPeer::bind(0xCA11_1203);
    let ear = RtpPeer::bind(0xCA11_1202);
    let mut uas = pbx
        .sipp("uas_answer.xml")
        .phone(&phone_203)
        .set("rtp_port", media_203.port())
        .timeout_s(60)
        .spawn();
    uas.wait_bound();
    let caller = pbx.phone();
    let uac = pbx
        .sipp("uac_call.xml")
        .phone(&caller)
        .service("201")
        .set("aor", "202")
        .set("rtp_port", ear.port())
        .auth("202", "demo202")
        .pause_ms(3000)
        .timeout_s(60)
        .run();
    pbx.check(&uac, "202 calling 201 and hanging up while connected");
    let uas = uas.wait(WAIT);
    pbx.check(&uas, "203 answering and hung up by the host");
    let line = wait_for(Duration::from_secs(5), || dial_line(&pbx)).expect("logged");
    assert!(line.contains("HungUp"), "{line}");
}
