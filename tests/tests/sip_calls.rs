//! Calls as people experience them: the callee's phone rings and the two
//! hear each other; busy, no answer, hang-up while ringing, nobody
//! registered, wrong number; a user with two phones; the call list.

use centrale_tests::rtp::{self, RtpPeer};
use centrale_tests::sip::{
    ack_for_failure, authorization, invite_request, Challenge, InviteSpec, SipUdp,
};
use centrale_tests::{Pbx, Phone, SippRun, DEMO_DOMAIN};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(40);

/// Registers `aor` at `phone` and starts `scenario` as its UAS there.
fn callee(pbx: &Pbx, phone: &Phone, scenario: &str) -> centrale_tests::SippChild {
    pbx.register(phone, "202", "202", "demo202");
    let mut uas = pbx.sipp(scenario).phone(phone).spawn();
    uas.wait_bound();
    uas
}

/// 201 calls 202 with `scenario` (a uac_*.xml).
fn call_from_201(pbx: &Pbx, scenario: &str, to: &str) -> SippRun {
    let caller = pbx.phone();
    pbx.sipp(scenario)
        .phone(&caller)
        .set("aor", "201")
        .service(to)
        .auth("201", "demo201")
        .pause_ms(500)
        .run()
}

/// The caller got the failure `code` once: the host's INVITE server
/// transaction took the caller's ACK and stopped retransmitting.
fn assert_final_once(run: &SippRun, code: u16) {
    let n = run
        .received()
        .iter()
        .filter(|m| m.is_response(code, "INVITE"))
        .count();
    assert_eq!(
        n,
        1,
        "the caller received {code} {n} times (ACK not matched?): {:?}",
        run.received_summary()
    );
}

#[test]
fn call_201_to_202_carries_rtp_both_ways() {
    let pbx = Pbx::start_demo();
    let callee_phone = pbx.phone();
    pbx.register(&callee_phone, "202", "202", "demo202");
    let mut media_a = RtpPeer::bind(0xA0A0_0001);
    let mut media_b = RtpPeer::bind(0xB0B0_0002);

    let mut uas = pbx
        .sipp("uas_answer.xml")
        .phone(&callee_phone)
        .set("rtp_port", media_b.port())
        .spawn();
    uas.wait_bound();
    let caller_phone = pbx.phone();
    let uac = pbx
        .sipp("uac_call.xml")
        .phone(&caller_phone)
        .set("aor", "201")
        .set("rtp_port", media_a.port())
        .service("202")
        .auth("201", "demo201")
        .pause_ms(6000)
        .spawn();

    // Where the host wants each side's media: its SDP towards the callee
    // (in the INVITE 202 received) and towards the caller (in the 200).
    let invite = uas
        .wait_received(Duration::from_secs(15), |m| m.is_request("INVITE"))
        .expect("202 received the INVITE");
    let host_b = invite.sdp_audio().expect("SDP in the INVITE to 202");
    let ok = uac
        .wait_received(Duration::from_secs(15), |m| {
            m.is_response(200, "INVITE") && m.sdp_audio().is_some()
        })
        .expect("201 received a 200 with SDP");
    let host_a = ok.sdp_audio().expect("SDP in the 200 to 201");
    assert_eq!(host_a.ip().to_string(), "127.0.0.1", "{}", ok.raw);
    assert_eq!(host_b.ip().to_string(), "127.0.0.1", "{}", invite.raw);
    let (lo, hi) = pbx.rtp_ports();
    for p in [host_a.port(), host_b.port()] {
        assert!((lo..=hi).contains(&p), "relay port {p} outside {lo}-{hi}");
    }
    assert_ne!(host_a.port(), media_a.port(), "SDP must be rewritten");
    assert_ne!(host_b.port(), media_b.port(), "SDP must be rewritten");

    let ex = rtp::exchange(&mut media_a, host_a, &mut media_b, host_b, 50);
    let a_to_b = ex.b_got(media_a.ssrc);
    let b_to_a = ex.a_got(media_b.ssrc);
    assert!(
        a_to_b.len() >= 45,
        "202 heard {} of 50 packets from 201",
        a_to_b.len()
    );
    assert!(
        b_to_a.len() >= 45,
        "201 heard {} of 50 packets from 202",
        b_to_a.len()
    );
    assert!(a_to_b
        .iter()
        .chain(&b_to_a)
        .all(|r| r.intact && r.payload_type == 0));
    // Symmetric RTP: each side gets media from the port the host advertised.
    assert!(a_to_b.iter().all(|r| r.from == host_b), "{:?}", a_to_b[0]);
    assert!(b_to_a.iter().all(|r| r.from == host_a), "{:?}", b_to_a[0]);

    let uac = uac.wait(WAIT);
    let uas = uas.wait(WAIT);
    pbx.check(&uac, "201 calling 202");
    pbx.check(&uas, "202 answering 201");
    // The caller ACKed the 200 at once: the host stops retransmitting it.
    assert_final_once(&uac, 200);
    let bye = uas
        .find_received(|m| m.is_request("BYE"))
        .expect("202 got the BYE");
    assert!(bye.header("Call-ID").is_some());
}

/// The security review's hijack: a stranger who sprays RTP at every port
/// of the host's range during a call must neither receive the call's audio
/// nor get its own packets to the parties.
#[test]
fn a_stranger_spraying_the_rtp_range_neither_hears_nor_injects() {
    let pbx = Pbx::start_demo();
    let callee_phone = pbx.phone();
    pbx.register(&callee_phone, "202", "202", "demo202");
    let mut media_a = RtpPeer::bind(0xA0A0_0011);
    let mut media_b = RtpPeer::bind(0xB0B0_0012);
    let mut stranger = RtpPeer::bind_at([127, 0, 0, 66], 0x5757_5757);

    let mut uas = pbx
        .sipp("uas_answer.xml")
        .phone(&callee_phone)
        .set("rtp_port", media_b.port())
        .spawn();
    uas.wait_bound();
    let caller_phone = pbx.phone();
    let uac = pbx
        .sipp("uac_call.xml")
        .phone(&caller_phone)
        .set("aor", "201")
        .set("rtp_port", media_a.port())
        .service("202")
        .auth("201", "demo201")
        .pause_ms(6000)
        .spawn();
    let host_b = uas
        .wait_received(Duration::from_secs(15), |m| m.is_request("INVITE"))
        .and_then(|m| m.sdp_audio())
        .expect("INVITE with SDP at 202");
    let host_a = uac
        .wait_received(Duration::from_secs(15), |m| {
            m.is_response(200, "INVITE") && m.sdp_audio().is_some()
        })
        .and_then(|m| m.sdp_audio())
        .expect("200 with SDP at 201");

    let (lo, hi) = pbx.rtp_ports();
    let spray = |stranger: &mut RtpPeer| {
        for port in lo..=hi {
            stranger.send(std::net::SocketAddr::from(([127, 0, 0, 1], port)));
        }
    };
    // Before the parties speak, and all through the call.
    spray(&mut stranger);
    let mut ex = rtp::Exchange::default();
    for _ in 0..5 {
        let part = rtp::exchange(&mut media_a, host_a, &mut media_b, host_b, 10);
        ex.at_a.extend(part.at_a);
        ex.at_b.extend(part.at_b);
        spray(&mut stranger);
    }
    std::thread::sleep(Duration::from_millis(300));
    let overheard = stranger.drain();
    assert!(
        overheard.is_empty(),
        "the stranger received {} packets of the call, e.g. {:?}",
        overheard.len(),
        overheard.first()
    );
    assert!(
        ex.a_got(stranger.ssrc).is_empty() && ex.b_got(stranger.ssrc).is_empty(),
        "the stranger's packets reached a party"
    );
    assert!(ex.b_got(media_a.ssrc).len() >= 45, "202 lost 201's audio");
    assert!(ex.a_got(media_b.ssrc).len() >= 45, "201 lost 202's audio");
    assert!(ex.a_got(media_b.ssrc).iter().all(|r| r.from == host_a));

    let uac = uac.wait(WAIT);
    let uas = uas.wait(WAIT);
    pbx.check(&uac, "201 calling 202");
    pbx.check(&uas, "202 answering 201");
    assert!(
        pbx.log()
            .contains("media from an unexpected source refused"),
        "refusals are logged"
    );
}

#[test]
fn caller_media_follows_the_address_rtp_comes_from() {
    // A caller behind NAT: its SDP names a port where nothing listens, its
    // packets come from another. The host must send 202's audio to where
    // 201's packets come from.
    let pbx = Pbx::start_demo();
    let callee_phone = pbx.phone();
    pbx.register(&callee_phone, "202", "202", "demo202");
    let mut media_a = RtpPeer::bind(0xA0A0_0003);
    let mut media_b = RtpPeer::bind(0xB0B0_0004);
    let dead_port = centrale_tests::free_port(false);

    let mut uas = pbx
        .sipp("uas_answer.xml")
        .phone(&callee_phone)
        .set("rtp_port", media_b.port())
        .spawn();
    uas.wait_bound();
    let caller_phone = pbx.phone();
    let uac = pbx
        .sipp("uac_call.xml")
        .phone(&caller_phone)
        .set("aor", "201")
        .set("rtp_port", dead_port)
        .service("202")
        .auth("201", "demo201")
        .pause_ms(6000)
        .spawn();
    let host_b = uas
        .wait_received(Duration::from_secs(15), |m| m.is_request("INVITE"))
        .and_then(|m| m.sdp_audio())
        .expect("INVITE with SDP at 202");
    let host_a = uac
        .wait_received(Duration::from_secs(15), |m| {
            m.is_response(200, "INVITE") && m.sdp_audio().is_some()
        })
        .and_then(|m| m.sdp_audio())
        .expect("200 with SDP at 201");

    // 201 talks first, so the host learns its real address.
    for _ in 0..5 {
        media_a.send(host_a);
        std::thread::sleep(Duration::from_millis(20));
    }
    let ex = rtp::exchange(&mut media_a, host_a, &mut media_b, host_b, 50);
    let b_to_a = ex.a_got(media_b.ssrc);
    assert!(
        b_to_a.len() >= 45,
        "201 (behind NAT) heard {} of 50 packets from 202",
        b_to_a.len()
    );
    assert!(ex.b_got(media_a.ssrc).len() >= 45);

    let uac = uac.wait(WAIT);
    let uas = uas.wait(WAIT);
    pbx.check(&uac, "201 calling 202");
    pbx.check(&uas, "202 answering 201");
}

#[test]
fn answered_call_is_listed_in_the_call_records() {
    let pbx = Pbx::start_demo();
    let phone = pbx.phone();
    let uas = callee(&pbx, &phone, "uas_answer.xml");
    let uac = call_from_201(&pbx, "uac_call.xml", "202");
    let uas = uas.wait(WAIT);
    pbx.check(&uac, "201 calling 202");
    pbx.check(&uas, "202 answering");

    let is_row = |l: &str| l.contains("201 -> 202") && l.contains("answered") && l.contains("200");
    let cdr = pbx.wait_cdr(is_row);
    assert!(
        cdr.lines().any(is_row),
        "`centrale cdr --tenant {DEMO_DOMAIN}` does not list the answered call:\n{cdr}"
    );
    // Its duration covers the 500 ms conversation.
    let row = cdr.lines().find(|l| is_row(l)).unwrap();
    let ms: i64 = row
        .trim_end()
        .strip_suffix(" ms")
        .and_then(|r| r.rsplit('\t').next())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no duration in {row:?}"));
    assert!(ms >= 500, "call lasted {ms} ms: {row}");
}

#[test]
fn busy_callee_gives_486() {
    let pbx = Pbx::start_demo();
    let phone = pbx.phone();
    let uas = callee(&pbx, &phone, "uas_busy.xml");
    let uac = call_from_201(&pbx, "uac_expect_486.xml", "202");
    let uas = uas.wait(WAIT);
    pbx.check(&uac, "201 calling busy 202");
    assert_final_once(&uac, 486);
    pbx.check(&uas, "202 busy");
    let is_row = |l: &str| l.contains("201 -> 202") && l.contains("busy") && l.contains("486");
    let cdr = pbx.wait_cdr(is_row);
    assert!(cdr.lines().any(is_row), "busy call not in the CDR:\n{cdr}");
}

#[test]
fn unanswered_call_gives_480_after_the_ring_timeout() {
    let pbx = Pbx::start_demo_with_ring_timeout(3);
    let phone = pbx.phone();
    let uas = callee(&pbx, &phone, "uas_ring_forever.xml");
    let started = Instant::now();
    let uac = call_from_201(&pbx, "uac_expect_480.xml", "202");
    let rang = started.elapsed();
    let uas = uas.wait(WAIT);
    pbx.check(&uac, "201 calling 202 who does not answer");
    assert_final_once(&uac, 480);
    pbx.check(&uas, "202 ringing until cancelled");
    assert!(
        rang >= Duration::from_millis(2500) && rang < Duration::from_secs(15),
        "the caller got 480 after {rang:?}, ring timeout 3 s"
    );
    assert!(uas.find_received(|m| m.is_request("CANCEL")).is_some());
}

#[test]
fn caller_hanging_up_while_ringing_gives_487_and_stops_the_ringing() {
    let pbx = Pbx::start_demo();
    let phone = pbx.phone();
    let uas = callee(&pbx, &phone, "uas_ring_forever.xml");
    let uac = call_from_201(&pbx, "uac_cancel.xml", "202");
    let uas = uas.wait(WAIT);
    pbx.check(&uac, "201 cancelling its call to 202");
    assert_final_once(&uac, 487);
    pbx.check(&uas, "202 ringing until cancelled");
    let cancel = uas
        .find_received(|m| m.is_request("CANCEL"))
        .expect("202 got a CANCEL");
    // Not "completed elsewhere": nobody answered.
    assert!(
        !cancel
            .header("Reason")
            .unwrap_or("")
            .contains("Call completed elsewhere"),
        "{}",
        cancel.raw
    );
}

#[test]
fn calling_a_user_without_registered_phone_gives_480() {
    let pbx = Pbx::start_demo();
    let uac = call_from_201(&pbx, "uac_expect_480.xml", "203");
    pbx.check(&uac, "201 calling unregistered 203");
    assert_final_once(&uac, 480);
}

#[test]
fn calling_an_unknown_extension_gives_404() {
    let pbx = Pbx::start_demo();
    let uac = call_from_201(&pbx, "uac_expect_404.xml", "299");
    pbx.check(&uac, "201 calling unknown 299");
    assert_final_once(&uac, 404);
}

#[test]
fn user_with_two_phones_rings_both_and_the_other_is_cancelled_as_completed_elsewhere() {
    let pbx = Pbx::start_demo();
    pbx.cli(&[
        "device",
        "add",
        "--tenant",
        DEMO_DOMAIN,
        "--extension",
        "202",
        "--username",
        "202-soft",
        "--password",
        "demo202soft",
    ])
    .assert_success("device add");

    let desk = pbx.phone();
    let soft = pbx.phone();
    pbx.register(&desk, "202", "202", "demo202");
    pbx.register(&soft, "202", "202-soft", "demo202soft");

    let mut answering = pbx.sipp("uas_answer.xml").phone(&desk).spawn();
    answering.wait_bound();
    let mut ringing = pbx.sipp("uas_ring_forever.xml").phone(&soft).spawn();
    ringing.wait_bound();

    let uac = call_from_201(&pbx, "uac_call.xml", "202");
    let answering = answering.wait(WAIT);
    let ringing = ringing.wait(WAIT);
    pbx.check(&uac, "201 calling 202 (two phones)");
    pbx.check(&answering, "202's desk phone answering");
    pbx.check(&ringing, "202's softphone ringing until cancelled");

    assert!(ringing.find_received(|m| m.is_request("INVITE")).is_some());
    let cancel = ringing
        .find_received(|m| m.is_request("CANCEL"))
        .expect("the softphone got a CANCEL");
    let reason = cancel
        .header("Reason")
        .unwrap_or_else(|| panic!("CANCEL without Reason:\n{}", cancel.raw));
    assert!(
        reason.contains("SIP")
            && reason.contains("cause=200")
            && reason.contains("Call completed elsewhere"),
        "Reason: {reason}"
    );
}

#[test]
fn callee_behind_nat_is_reached_at_the_address_its_register_came_from() {
    // The REGISTER's Contact names sipp's own port, but its packets reach
    // the host from the relay's port: the host must send the INVITE (and
    // the BYE) where the REGISTER came from, or the phone never rings.
    let pbx = Pbx::start_demo();
    let phone = pbx.phone_behind_nat();
    assert_ne!(phone.source().port(), phone.port);
    pbx.register(&phone, "202", "202", "demo202");
    let mut uas = pbx.sipp("uas_answer.xml").phone(&phone).spawn();
    uas.wait_bound();
    let uac = call_from_201(&pbx, "uac_call.xml", "202");
    let uas = uas.wait(WAIT);
    pbx.check(&uac, "201 calling 202 behind NAT");
    pbx.check(&uas, "202 behind NAT answering");
}

#[test]
fn caller_hanging_up_right_after_trying_stops_the_call() {
    // The CANCEL follows the 100 Trying at once, while the host is still
    // setting the call up: it must still end the call with 487, and the
    // callee's phone must not keep ringing.
    let pbx = Pbx::start_demo();
    let phone = pbx.phone();
    pbx.register(&phone, "202", "202", "demo202");
    let mut uas = pbx
        .sipp("uas_ring_forever.xml")
        .phone(&phone)
        .timeout_s(15)
        .spawn();
    uas.wait_bound();
    let caller = pbx.phone();
    let uac = pbx
        .sipp("uac_cancel_early.xml")
        .phone(&caller)
        .set("aor", "201")
        .service("202")
        .auth("201", "demo201")
        .timeout_s(10)
        .run();
    // Either 202 never rang, or it got a CANCEL.
    let uas = uas.wait(Duration::from_secs(3));
    pbx.check(&uac, "201 cancelling right after 100 Trying");
    assert_final_once(&uac, 487);
    if uas.find_received(|m| m.is_request("INVITE")).is_some() {
        assert!(
            uas.find_received(|m| m.is_request("CANCEL")).is_some(),
            "202 kept ringing after the caller cancelled: {:?}",
            uas.received_summary()
        );
    }
}

#[test]
fn challenge_to_an_invite_is_not_repeated_once_acked() {
    // Phones ACK a 407 within microseconds. The host's INVITE server
    // transaction must absorb that ACK and stop retransmitting the 407
    // (RFC 3261 §17.2.1); otherwise the caller sees a stray 407 with
    // another To tag in the middle of its call. Many callers at once, each
    // ACKing immediately, then listening 1.5 s for retransmissions.
    let pbx = Pbx::start_demo();
    let mut repeated: Vec<String> = Vec::new();
    // The race is narrow: three rounds of 40 callers.
    for round in 0..3 {
        repeated.extend(std::thread::scope(|scope| {
            let handles: Vec<_> = (0..40u16)
                .map(|i| {
                    let pbx = &pbx;
                    scope.spawn(move || {
                        // One phone per address, as in an office: each
                        // source has its own challenge rate.
                        let ip = [127, 1, round as u8, i as u8 + 1];
                        let udp = SipUdp::bind_at(ip, pbx.sip_addr());
                        let invite = invite_request(
                            &udp,
                            &InviteSpec {
                                from_user: "201",
                                to_user: "202",
                                cseq: 1,
                                media_port: 40000 + i,
                                proxy_authorization: None,
                            },
                        );
                        udp.send(invite.as_bytes());
                        let resp = udp
                            .recv_final(Duration::from_secs(5))
                            .expect("an answer to the INVITE");
                        assert_eq!(resp.status, Some(407), "{}", resp.raw);
                        udp.send(ack_for_failure(&invite, &resp).as_bytes());
                        let again = udp
                            .recv_all(Duration::from_millis(1500))
                            .into_iter()
                            .filter(|m| m.status == Some(407))
                            .count();
                        (again > 0).then(|| {
                            format!("round {round}, caller {i}: 407 repeated {again} times")
                        })
                    })
                })
                .collect();
            handles
                .into_iter()
                .filter_map(|h| h.join().expect("caller thread"))
                .collect::<Vec<_>>()
        }));
    }
    assert!(
        repeated.is_empty(),
        "the host retransmitted its 407 after the ACK:\n{}",
        repeated.join("\n")
    );
}

#[test]
fn replayed_invite_credentials_cannot_place_another_call() {
    // Someone who captured a phone's authorised INVITE must not be able to
    // place calls with its Proxy-Authorization.
    let pbx = Pbx::start_demo();
    let udp = SipUdp::new(pbx.sip_addr());
    let spec = |auth| InviteSpec {
        from_user: "201",
        to_user: "203",
        cseq: 1,
        media_port: 40000,
        proxy_authorization: auth,
    };
    let first = invite_request(&udp, &spec(None));
    let challenge = udp.request(&first).expect("an answer to the INVITE");
    assert_eq!(challenge.status, Some(407), "{}", challenge.raw);
    udp.send(ack_for_failure(&first, &challenge).as_bytes());
    let ch = Challenge::all_in(&challenge)
        .into_iter()
        .find(|c| c.algorithm == "MD5")
        .expect("an MD5 challenge");
    let creds = authorization(
        &ch,
        "201",
        "demo201",
        "INVITE",
        &format!("sip:203@{DEMO_DOMAIN}"),
        1,
    );
    // With credentials the call gets past authentication: 203 has no
    // registered phone, so 480.
    let authorised = invite_request(&udp, &spec(Some(&creds)));
    let resp = udp.request(&authorised).expect("an answer");
    assert_eq!(resp.status, Some(480), "{}", resp.raw);
    udp.send(ack_for_failure(&authorised, &resp).as_bytes());

    // The same credentials in a new call, from the same and from another
    // address.
    for (who, sock) in [("same", &udp), ("other", &SipUdp::new(pbx.sip_addr()))] {
        let replay = invite_request(sock, &spec(Some(&creds)));
        let resp = sock.request(&replay).expect("an answer to the replay");
        assert!(
            matches!(resp.status, Some(407) | Some(403)),
            "replayed INVITE credentials ({who} address) were accepted:\n{}",
            resp.raw
        );
        sock.send(ack_for_failure(&replay, &resp).as_bytes());
    }
}

#[test]
fn the_tenants_concurrent_call_limit_refuses_the_call_over_it_with_503() {
    let pbx = Pbx::start_demo();
    pbx.cli(&["tenant", "limits", DEMO_DOMAIN, "--max-calls", "1"])
        .assert_success("tenant limits");
    let phone = pbx.phone();
    let uas = callee(&pbx, &phone, "uas_answer.xml");
    // The first call is answered and lasts 4 s.
    let caller = pbx.phone();
    let first = pbx
        .sipp("uac_call.xml")
        .phone(&caller)
        .set("aor", "201")
        .service("202")
        .auth("201", "demo201")
        .pause_ms(4000)
        .spawn();
    let answered = first.wait_received(WAIT, |m| m.is_response(200, "INVITE"));
    assert!(answered.is_some(), "the first call was not answered");
    // A second call of the tenant meanwhile: 503 with Retry-After.
    let second = pbx
        .sipp("uac_expect_503.xml")
        .phone(&pbx.phone())
        .set("aor", "203")
        .service("201")
        .auth("203", "demo203")
        .pause_ms(500)
        .run();
    pbx.check(&second, "a second call over the tenant's limit of 1");
    let refusal = second
        .find_received(|m| m.is_response(503, "INVITE"))
        .expect("503");
    assert!(refusal.header("Retry-After").is_some(), "{}", refusal.raw);
    let first = first.wait(WAIT);
    pbx.check(&first, "the first call, undisturbed");
    pbx.check(&uas.wait(WAIT), "202 answering the first call");
    // Its place is free again: the next call is admitted (and finds 201
    // unregistered).
    let third = call_from_201(&pbx, "uac_expect_480.xml", "203");
    pbx.check(&third, "a call after the first ended");
}

/// One phone cannot hold every port and plugin instance of the host: the
/// calls a device places at once are capped (`[limits] device_max_calls`,
/// 4 by default), the tenant's other phones are not affected.
#[test]
fn a_device_over_its_call_limit_gets_503_and_other_phones_do_not() {
    let mut pbx = Pbx::start_demo();
    pbx.restart_as_serve("[limits]\ndevice_max_calls = 1\n");
    let phone = pbx.phone();
    let uas = callee(&pbx, &phone, "uas_answer.xml");
    let first = pbx
        .sipp("uac_call.xml")
        .phone(&pbx.phone())
        .set("aor", "201")
        .service("202")
        .auth("201", "demo201")
        .pause_ms(4000)
        .spawn();
    let answered = first.wait_received(WAIT, |m| m.is_response(200, "INVITE"));
    assert!(answered.is_some(), "the first call was not answered");
    let second = pbx
        .sipp("uac_expect_503.xml")
        .phone(&pbx.phone())
        .set("aor", "201")
        .service("203")
        .auth("201", "demo201")
        .pause_ms(500)
        .run();
    pbx.check(&second, "a second call of device 201");
    let refusal = second
        .find_received(|m| m.is_response(503, "INVITE"))
        .expect("503");
    assert!(
        refusal.start_line.contains("Device Call Limit"),
        "{}",
        refusal.raw
    );
    // Another device of the tenant still calls (203 finds 201 unregistered).
    let other = pbx
        .sipp("uac_expect_480.xml")
        .phone(&pbx.phone())
        .set("aor", "203")
        .service("201")
        .auth("203", "demo203")
        .run();
    pbx.check(&other, "device 203 while 201 is at its limit");
    pbx.check(&first.wait(WAIT), "the first call, undisturbed");
    pbx.check(&uas.wait(WAIT), "202 answering the first call");
}
