//! Message-waiting indication as a phone sees it (RFC 6665, RFC 3842):
//! SUBSCRIBE to `message-summary`, the NOTIFYs that follow when the state
//! changes, unsolicited NOTIFYs to registered phones without a subscription,
//! and the refusals (unknown event package, no credentials).
//!
//! The state is changed with `centrale mwi set` while the host serves: the
//! command writes `mwi_state` from another process and the host's watcher
//! (one poll a second) turns the write into NOTIFYs, so the test observes a
//! real NOTIFY end to end. The same path serves a voicemail plugin through
//! `Switch::notify_mwi`, minus the poll.

use centrale_tests::{Pbx, SipMessage, SippChild, DEMO_DOMAIN};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

/// Whether the body of `m` has the line `line` (line ends ignored).
fn has_line(m: &SipMessage, line: &str) -> bool {
    m.body.lines().any(|l| l.trim_end() == line)
}

/// The NOTIFYs `sipp` received so far, in order.
fn notifies(sipp: &SippChild) -> Vec<SipMessage> {
    sipp.messages_so_far()
        .into_iter()
        .filter(|t| !t.sent && t.msg.is_request("NOTIFY"))
        .map(|t| t.msg)
        .collect()
}

fn assert_summary(n: &SipMessage, waiting: &str, voice: &str) {
    assert!(
        has_line(n, &format!("Messages-Waiting: {waiting}")),
        "expected Messages-Waiting: {waiting}:\n{}",
        n.raw
    );
    assert!(
        has_line(n, &format!("Message-Account: sip:201@{DEMO_DOMAIN}")),
        "{}",
        n.raw
    );
    assert!(
        has_line(n, &format!("Voice-Message: {voice} (0/0)")),
        "expected Voice-Message: {voice}:\n{}",
        n.raw
    );
    assert_eq!(n.header("Event"), Some("message-summary"), "{}", n.raw);
    assert_eq!(
        n.header("Content-Type"),
        Some("application/simple-message-summary"),
        "{}",
        n.raw
    );
}

fn mwi_set(pbx: &Pbx, new: u32, old: u32) {
    pbx.cli(&[
        "mwi",
        "set",
        "--tenant",
        DEMO_DOMAIN,
        "--user",
        "201",
        "--new",
        &new.to_string(),
        "--old",
        &old.to_string(),
    ])
    .assert_success("mwi set");
}

#[test]
fn subscribed_and_unsubscribed_phones_see_the_message_waiting_state() {
    let pbx = Pbx::start_demo();
    // Two phones of user 201: one subscribes, the other only registers.
    let subscriber = pbx.phone();
    pbx.register(&subscriber, "201", "201", "demo201");
    let plain = pbx.phone();
    pbx.register(&plain, "201", "201", "demo201");
    let mut unsolicited = pbx
        .sipp("uas_notify.xml")
        .phone(&plain)
        .timeout_s(40)
        .spawn();
    unsolicited.wait_bound();

    let sub = pbx
        .sipp("subscribe_mwi.xml")
        .phone(&subscriber)
        .set("aor", "201")
        .service("201")
        .auth("201", "demo201")
        .set("expires", "600")
        .timeout_s(40)
        .spawn();
    let ok = sub
        .wait_received(WAIT, |m| m.is_response(200, "SUBSCRIBE"))
        .unwrap_or_else(|| panic!("no 200 to SUBSCRIBE\n{}", pbx.log_tail(40)));
    let granted: u32 = ok
        .header("Expires")
        .and_then(|e| e.trim().parse().ok())
        .unwrap_or_else(|| panic!("200 without Expires:\n{}", ok.raw));
    assert!(
        (590..=600).contains(&granted),
        "Expires {granted}, asked 600"
    );
    let first = sub
        .wait_received(WAIT, |m| m.is_request("NOTIFY"))
        .unwrap_or_else(|| panic!("no NOTIFY after the SUBSCRIBE\n{}", pbx.log_tail(40)));
    assert_summary(&first, "no", "0/0");
    let state = first.header("Subscription-State").unwrap_or_default();
    assert!(
        state.starts_with("active;expires="),
        "Subscription-State: {state}"
    );
    assert!(
        notifies(&unsolicited).is_empty(),
        "nothing is sent unsolicited before the state changes"
    );

    // Two new messages: the subscription gets an in-dialog NOTIFY, the
    // other phone an unsolicited one.
    mwi_set(&pbx, 2, 0);
    let run = sub.wait(Duration::from_secs(60));
    pbx.check(&run, "SUBSCRIBE, NOTIFY, NOTIFY, unsubscribe, final NOTIFY");
    // One per CSeq: a NOTIFY retransmitted (UDP, Timer E) while sipp's 200
    // was on its way is the same request.
    let mut n: Vec<SipMessage> = run
        .received()
        .into_iter()
        .filter(|m| m.is_request("NOTIFY"))
        .collect();
    n.dedup_by_key(|m| m.cseq_number());
    assert_eq!(n.len(), 3, "{:?}", run.received_summary());
    assert_summary(&n[1], "yes", "2/0");
    assert_eq!(n[1].header("Call-ID"), first.header("Call-ID"));
    assert!(n[1].cseq_number() > first.cseq_number());
    let last = n[2].header("Subscription-State").unwrap_or_default();
    assert!(last.starts_with("terminated"), "final NOTIFY: {last}");

    let run = unsolicited.wait(Duration::from_secs(30));
    pbx.check(&run, "unsolicited NOTIFY to the unsubscribed phone");
    let u = run
        .find_received(|m| m.is_request("NOTIFY"))
        .expect("an unsolicited NOTIFY");
    assert_summary(&u, "yes", "2/0");
    assert_ne!(u.header("Call-ID"), first.header("Call-ID"));
}

#[test]
fn other_event_packages_get_489() {
    let pbx = Pbx::start_demo();
    let run = pbx
        .sipp("subscribe_expect_489.xml")
        .phone(&pbx.phone())
        .set("aor", "201")
        .service("201")
        .timeout_s(15)
        .run();
    pbx.check(&run, "SUBSCRIBE Event: presence");
    let r = run
        .find_received(|m| m.is_response(489, "SUBSCRIBE"))
        .expect("489");
    assert_eq!(
        r.header("Allow-Events"),
        Some("message-summary"),
        "{}",
        r.raw
    );
}

#[test]
fn subscribe_without_credentials_is_challenged() {
    let pbx = Pbx::start_demo();
    let run = pbx
        .sipp("subscribe_expect_401.xml")
        .phone(&pbx.phone())
        .set("aor", "201")
        .service("201")
        .timeout_s(15)
        .run();
    pbx.check(&run, "SUBSCRIBE without credentials");
    let r = run
        .find_received(|m| m.is_response(401, "SUBSCRIBE"))
        .expect("401");
    assert!(r.header("WWW-Authenticate").is_some(), "{}", r.raw);
}
