//! Stock softphones from Debian, unconfigured on the host side: baresip
//! 1.0 and linphonec 5.1 register with digest against `centrale demo`,
//! call each other with audio both ways (each hears the other's tone, not
//! silence), baresip sees message waiting and puts a call on hold and
//! back. See `centrale_tests::phones`.

use std::time::Duration;

use centrale_tests::phones::{dominant, Baresip, BaresipOptions, Linphonec};
use centrale_tests::{wait_for, Pbx, DEMO_DOMAIN};

const A: f32 = 440.0;
const B: f32 = 660.0;
const WAIT: Duration = Duration::from_secs(20);

fn registered(pbx: &Pbx, device: &str) -> bool {
    let needle = format!("device={device} ");
    wait_for(WAIT, || {
        pbx.log()
            .lines()
            .any(|l| l.contains("registered") && l.contains(&needle))
            .then_some(())
    })
    .is_some()
}

/// Talk time: long enough for a few seconds of audio each way.
fn talk() {
    std::thread::sleep(Duration::from_secs(3));
}

#[test]
fn baresip_and_linphone_register_and_call_each_other_with_audio_both_ways() {
    let pbx = Pbx::start_demo();
    let bare = Baresip::start(&pbx, "201", "demo201", A, BaresipOptions::default());
    let mut lin = Linphonec::start(&pbx, "203", "demo203", B);
    bare.wait_registered();
    assert!(
        registered(&pbx, "203"),
        "linphonec did not register:\n{}",
        lin.output()
    );

    // baresip calls linphone, which answers by itself.
    bare.listen();
    bare.command("dial", "203");
    let up = bare.wait_event("CALL_ESTABLISHED", WAIT);
    assert!(
        up.is_some(),
        "the call was not answered: {:?}",
        bare.events()
    );
    talk();
    bare.command("hangup", "");
    assert!(bare.wait_event("CALL_CLOSED", WAIT).is_some());
    let heard = dominant(&bare.heard(), 8000, B, A);
    assert!(heard.is_tone(1.5), "baresip heard {heard:?} from linphone");
    let lin_heard = wait_for(WAIT, || {
        let s = lin.heard();
        (!s.is_empty()).then_some(s)
    })
    .unwrap_or_default();
    // linphonec records at the call's rate (8 kHz for G.711).
    let h = dominant(&lin_heard, 8000, A, B);
    assert!(h.is_tone(1.5), "linphone heard {h:?} from baresip");

    // And the other way round: linphone calls baresip (linphonec's own
    // output comes late when it is not on a terminal: baresip's events say
    // what happens).
    let before = bare.dumps().len();
    let events = bare.events().len();
    lin.send(&format!("call sip:201@{DEMO_DOMAIN}"));
    assert!(
        bare.wait_event_from(events, "CALL_ESTABLISHED", WAIT)
            .is_some(),
        "linphone's call to 201 was not answered: {:?}",
        bare.events()
    );
    talk();
    bare.command("hangup", "");
    assert!(bare.wait_event_from(events, "CALL_CLOSED", WAIT).is_some());
    let heard = dominant(&bare.dumps()[before..].concat(), 8000, B, A);
    assert!(
        heard.is_tone(1.5),
        "baresip heard {heard:?} from linphone's call"
    );
}

#[test]
fn baresip_sees_message_waiting() {
    let pbx = Pbx::start_demo();
    let bare = Baresip::start(&pbx, "201", "demo201", A, BaresipOptions::default());
    bare.wait_registered();
    assert!(
        bare.wait_output("Messages-Waiting: no", WAIT),
        "no message-summary NOTIFY:\n{}",
        bare.output()
    );
    pbx.cli(&[
        "mwi",
        "set",
        "--tenant",
        DEMO_DOMAIN,
        "--user",
        "201",
        "--new",
        "2",
        "--old",
        "1",
    ])
    .assert_success("mwi set");
    assert!(
        bare.wait_output("Messages-Waiting: yes", WAIT),
        "the lamp did not light:\n{}",
        bare.output()
    );
    assert!(
        bare.wait_output("Voice-Message: 2/1", WAIT),
        "{}",
        bare.output()
    );
}

/// baresip holds a call and takes it back: its re-INVITEs reach the other
/// phone (sipp, answering recvonly then sendrecv), the audio stops while
/// held and comes back after, still the caller's tone.
#[test]
fn baresip_puts_a_call_on_hold_and_back() {
    use centrale_tests::phones::ulaw;
    use centrale_tests::rtp::RtpPeer;
    let pbx = Pbx::start_demo();
    let phone = pbx.phone();
    pbx.register(&phone, "202", "202", "demo202");
    let mut ear = RtpPeer::bind(0x202);
    let mut uas = pbx
        .sipp("uas_answer_hold.xml")
        .phone(&phone)
        .set("rtp_port", ear.port())
        .timeout_s(40)
        .spawn();
    uas.wait_bound();
    let caller = Baresip::start(&pbx, "201", "demo201", A, BaresipOptions::default());
    caller.wait_registered();
    caller.listen();
    caller.command("dial", "202");
    assert!(caller.wait_event("CALL_ESTABLISHED", WAIT).is_some());
    // The host's SDP to 202 says where 202 sends: answer that, too.
    let host_b = uas
        .wait_received(WAIT, |m| m.is_request("INVITE"))
        .and_then(|m| m.sdp_audio())
        .expect("INVITE with SDP at 202");
    let listen = |ear: &mut RtpPeer, ms: u64| {
        let mut got = Vec::new();
        let until = std::time::Instant::now() + Duration::from_millis(ms);
        while std::time::Instant::now() < until {
            ear.send(host_b);
            std::thread::sleep(Duration::from_millis(20));
            got.extend(ear.drain().into_iter().map(|r| r.payload));
        }
        got
    };
    let talking = listen(&mut ear, 2000);
    let heard = dominant(&ulaw(&talking), 8000, A, B);
    assert!(heard.is_tone(1.5), "202 heard {heard:?} before the hold");

    caller.command("hold", "");
    let hold = uas.wait_received(WAIT, |m| {
        m.is_request("INVITE") && m.raw.contains("a=sendonly")
    });
    assert!(
        hold.is_some(),
        "202 got no hold re-INVITE: {:?}",
        uas.messages_so_far().len()
    );
    let _in_flight = listen(&mut ear, 500);
    let held = listen(&mut ear, 2500);
    assert!(
        held.len() < 10,
        "{} packets reached 202 while held",
        held.len()
    );

    caller.command("resume", "");
    let back = uas.wait_received(WAIT, |m| {
        m.is_request("INVITE") && m.raw.contains("a=sendrecv") && m.cseq_number() > Some(1)
    });
    assert!(
        back.is_some(),
        "202 got no resume re-INVITE: {:?}",
        uas.messages_so_far().len()
    );
    let resumed = listen(&mut ear, 2000);
    let heard = dominant(&ulaw(&resumed), 8000, A, B);
    assert!(heard.is_tone(1.0), "202 heard {heard:?} after the resume");
    caller.command("hangup", "");
    pbx.check(&uas.wait(WAIT), "202 (sipp) through hold and resume");
}
