//! The host must not be a reflector: a request without credentials costs
//! it one datagram (no 100 Trying before the challenge, no retransmitted
//! challenge), requests with a pile of Vias (more than 64) are not answered, and each
//! source gets only so many challenges a second (`[sip.auth]
//! challenges_per_second`, `challenge_burst`).

use centrale_tests::sip::{invite_request, options_request, InviteSpec, SipUdp};
use centrale_tests::{Pbx, DEMO_DOMAIN};
use std::time::Duration;

#[test]
fn an_unauthenticated_invite_gets_one_challenge_and_nothing_else() {
    let pbx = Pbx::start_demo();
    let udp = SipUdp::new(pbx.sip_addr());
    let invite = invite_request(
        &udp,
        &InviteSpec {
            from_user: "201",
            to_user: "202",
            cseq: 1,
            media_port: 40000,
            proxy_authorization: None,
        },
    );
    udp.send(invite.as_bytes());
    // No ACK is sent (a spoofed source would not): an old host kept
    // retransmitting its 407 for 32 s (Timer G), after a 100 Trying.
    let got = udp.recv_all(Duration::from_secs(5));
    let lines: Vec<&str> = got.iter().map(|m| m.start_line.as_str()).collect();
    assert_eq!(got.len(), 1, "responses: {lines:?}");
    assert_eq!(got[0].status, Some(407), "{}", got[0].raw);
}

fn options_with_vias(udp: &SipUdp, vias: usize) -> String {
    let plain = options_request(udp, DEMO_DOMAIN);
    let extra: String = (0..vias.saturating_sub(1))
        .map(|i| {
            format!(
                "Via: SIP/2.0/UDP 192.0.2.{}:5060;branch=z9hG4bKx{i}\r\n",
                i + 1
            )
        })
        .collect();
    // After our own Via (the first line after the request line).
    let (first, rest) = plain.split_once("\r\n").expect("request line");
    let (own_via, rest) = rest.split_once("\r\n").expect("a Via");
    format!("{first}\r\n{own_via}\r\n{extra}{rest}")
}

#[test]
fn a_request_with_too_many_vias_is_not_answered() {
    let pbx = Pbx::start_demo();
    let udp = SipUdp::new(pbx.sip_addr());
    udp.send(options_with_vias(&udp, 65).as_bytes());
    let got = udp.recv_all(Duration::from_millis(1500));
    assert!(got.is_empty(), "answered a request with 65 Vias: {got:?}");
    let ok = udp.request(&options_with_vias(&udp, 64));
    assert_eq!(ok.and_then(|m| m.status), Some(200), "64 Vias are fine");
}

#[test]
fn challenges_to_one_source_are_rate_limited() {
    let pbx = Pbx::start_demo();
    let flood = SipUdp::bind_at([127, 0, 0, 11], pbx.sip_addr());
    let register = |udp: &SipUdp, n: usize| {
        format!(
            "REGISTER sip:{DEMO_DOMAIN} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {l};branch=z9hG4bKflood{n}\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:201@{DEMO_DOMAIN}>;tag=f{n}\r\n\
             To: <sip:201@{DEMO_DOMAIN}>\r\n\
             Call-ID: flood-{n}@centrale-tests\r\n\
             CSeq: 1 REGISTER\r\n\
             Contact: <sip:201@{l}>\r\n\
             Content-Length: 0\r\n\r\n",
            l = udp.local()
        )
    };
    for n in 0..200 {
        flood.send(register(&flood, n).as_bytes());
    }
    let got = flood.recv_all(Duration::from_millis(1500));
    let challenges = got.iter().filter(|m| m.status == Some(401)).count();
    assert!(
        (40..100).contains(&challenges),
        "{challenges} challenges for 200 requests (burst 40, 20/s)"
    );
    // Another source is challenged as usual.
    let other = SipUdp::bind_at([127, 0, 0, 12], pbx.sip_addr());
    let r = other.request(&register(&other, 999));
    assert_eq!(r.and_then(|m| m.status), Some(401));
}
