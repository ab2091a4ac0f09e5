//! The bundled feature plugins as users experience them, through the real
//! host (`centrale demo --plugins ... --components ...`, see
//! `Pbx::start_demo_with_plugins`) and the admin commands a tenant's
//! administrator runs while it serves: anonymous call rejection,
//! do-not-disturb, call forwarding (always, busy, no answer, loops) and the
//! licence limit.
//!
//! Anonymous callers come from outside, through the SIP trunk (sipp on the
//! trunk's port, `Pbx::trunk()`), with `From: "Anonymous"
//! <sip:anonymous@anonymous.invalid>` and `Privacy: id`.

use centrale_tests::{free_port, CliOutput, Pbx, Phone, SippChild, SippRun, DEMO_DOMAIN};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(40);

const ACR: &str = "anonymous-call-rejection";
const DND: &str = "do-not-disturb";
const CF: &str = "call-forwarding";

/// The demo with the bundled plugins and a trunk; `args` are added.
fn pbx(args: &[&str]) -> Pbx {
    let trunk = format!("127.0.0.1:{}", free_port(false));
    let mut all = vec!["--trunk", trunk.as_str()];
    all.extend_from_slice(args);
    Pbx::start_demo_with_plugins(&all)
}

/// `centrale plugin enable` for `user`, which must succeed.
fn enable(pbx: &Pbx, plugin: &str, user: &str, settings: Option<&str>) {
    let out = try_enable(pbx, plugin, user, settings);
    out.assert_success(&format!("plugin enable --plugin {plugin} --user {user}"));
}

fn try_enable(pbx: &Pbx, plugin: &str, user: &str, settings: Option<&str>) -> CliOutput {
    let mut args = vec![
        "plugin",
        "enable",
        "--tenant",
        DEMO_DOMAIN,
        "--plugin",
        plugin,
        "--user",
        user,
    ];
    if let Some(s) = settings {
        args.extend(["--settings", s]);
    }
    pbx.cli(&args)
}

fn disable(pbx: &Pbx, plugin: &str, user: &str) {
    pbx.cli(&[
        "plugin",
        "disable",
        "--tenant",
        DEMO_DOMAIN,
        "--plugin",
        plugin,
        "--user",
        user,
    ])
    .assert_success(&format!("plugin disable --plugin {plugin} --user {user}"));
}

/// Registers `ext` (password `demo<ext>`) from a new phone and starts
/// `scenario` as its UAS there.
fn callee(pbx: &Pbx, ext: &str, scenario: &str) -> (Phone, SippChild) {
    let phone = pbx.phone();
    pbx.register(&phone, ext, ext, &format!("demo{ext}"));
    let mut uas = pbx.sipp(scenario).phone(&phone).spawn();
    uas.wait_bound();
    (phone, uas)
}

/// 201 calls `to` with `scenario` (a uac_*.xml).
fn call_from_201(pbx: &Pbx, scenario: &str, to: &str) -> SippRun {
    let caller = pbx.phone();
    pbx.sipp(scenario)
        .phone(&caller)
        .set("aor", "201")
        .service(to)
        .auth("201", "demo201")
        .pause_ms(500)
        .timeout_s(20)
        .run()
}

/// An anonymous caller from outside calls `number` through the trunk.
fn anonymous_call(pbx: &Pbx, scenario: &str, number: &str) -> SippRun {
    pbx.sipp(scenario)
        .phone(&pbx.trunk())
        .service(number)
        .set("from_uri", "sip:anonymous@anonymous.invalid")
        .set("display", "Anonymous")
        .set("privacy", "id")
        .pause_ms(500)
        .timeout_s(15)
        .run()
}

/// Whether the UAS received an INVITE so far.
fn rang(uas: &SippChild) -> bool {
    uas.messages_so_far()
        .iter()
        .any(|t| !t.sent && t.msg.is_request("INVITE"))
}

/// The INVITE `run` (a finished UAS) received.
fn invite_of(run: &SippRun, who: &str) -> centrale_tests::SipMessage {
    run.find_received(|m| m.is_request("INVITE"))
        .unwrap_or_else(|| panic!("{who} received no INVITE: {:?}", run.received_summary()))
}

/// The INVITE carries `Diversion: <sip:<from>@domain>;reason=<reason>`.
fn assert_diverted(invite: &centrale_tests::SipMessage, from: &str, reason: &str) {
    let diversions = invite.header_all("Diversion");
    let ok = diversions.iter().any(|d| {
        d.contains(&format!("<sip:{from}@{DEMO_DOMAIN}>"))
            && d.contains(&format!("reason={reason}"))
    });
    assert!(
        ok,
        "the forwarded INVITE has no `Diversion: <sip:{from}@{DEMO_DOMAIN}>;reason={reason}` \
         (Diversion: {diversions:?}):\n{}",
        invite.raw
    );
    let history = invite.header_all("History-Info");
    assert!(
        history.iter().any(|h| h.contains(&format!("sip:{from}@"))),
        "no History-Info entry for {from}: {history:?}\n{}",
        invite.raw
    );
}

/// The caller got `code` once (the host took its ACK).
fn assert_final_once(run: &SippRun, code: u16) {
    let n = run
        .received()
        .iter()
        .filter(|m| m.is_response(code, "INVITE"))
        .count();
    assert_eq!(
        n,
        1,
        "the caller received {code} {n} times: {:?}",
        run.received_summary()
    );
}

#[test]
fn the_rejection_announcement_is_heard_as_early_media_before_the_433() {
    let pbx = pbx(&[]);
    enable(&pbx, ACR, "202", None);
    let ear = centrale_tests::rtp::RtpPeer::bind(0x433);
    let rejected = pbx
        .sipp("trunk_uac_expect_433.xml")
        .phone(&pbx.trunk())
        .service("+31205552020")
        .set("from_uri", "sip:anonymous@anonymous.invalid")
        .set("display", "Anonymous")
        .set("privacy", "id")
        .set("rtp_port", ear.port())
        .pause_ms(500)
        .timeout_s(30)
        .run();
    pbx.check(&rejected, "anonymous call to 202 with the announcement");
    assert_final_once(&rejected, 433);
    let early = rejected
        .received()
        .iter()
        .position(|m| m.is_response(183, "INVITE") && m.sdp_audio().is_some());
    let rejection = rejected
        .received()
        .iter()
        .position(|m| m.is_response(433, "INVITE"));
    assert!(
        matches!((early, rejection), (Some(e), Some(r)) if e < r),
        "183 with SDP before the 433: {:?}",
        rejected.received_summary()
    );
    // The prompt is a few seconds of speech: well over a second of packets.
    let heard = ear.drain();
    assert!(
        heard.len() >= 50 && heard.iter().all(|p| p.payload_type == 0),
        "{} PCMU packets of announcement reached the caller",
        heard.len()
    );
}

#[test]
fn anonymous_outside_callers_are_rejected_only_by_users_who_enabled_it() {
    let pbx = pbx(&[]);
    enable(&pbx, ACR, "202", None);
    let (_p202, uas202) = callee(&pbx, "202", "uas_answer.xml");
    let (_p203, uas203) = callee(&pbx, "203", "uas_answer.xml");

    // 202 rejects anonymous calls: the caller hears 433, 202 does not ring.
    let rejected = anonymous_call(&pbx, "trunk_uac_expect_433.xml", "+31205552020");
    pbx.check(&rejected, "anonymous call to 202 (rejection enabled)");
    assert_final_once(&rejected, 433);
    assert!(!rang(&uas202), "202 rang for an anonymous caller");

    // 203 has not enabled it: the same call rings and is answered.
    let to203 = anonymous_call(&pbx, "trunk_uac_call.xml", "+31205552030");
    pbx.check(&to203, "anonymous call to 203 (no rejection)");
    let uas203 = uas203.wait(WAIT);
    pbx.check(&uas203, "203 answering the anonymous call");

    // 202 turns it off: the next anonymous call rings 202.
    disable(&pbx, ACR, "202");
    let to202 = anonymous_call(&pbx, "trunk_uac_call.xml", "+31205552020");
    pbx.check(&to202, "anonymous call to 202 after `plugin disable`");
    let uas202 = uas202.wait(WAIT);
    pbx.check(&uas202, "202 answering once rejection is disabled");
    let invite = invite_of(&uas202, "202");
    let from = invite.header("From").unwrap_or("");
    assert!(
        from.to_ascii_lowercase().contains("anonymous"),
        "202 should see an anonymous caller: From: {from}"
    );
}

#[test]
fn internal_callers_withholding_their_number_are_not_rejected() {
    // UF-22: anonymous call rejection never applies inside the tenant.
    let pbx = pbx(&[]);
    enable(&pbx, ACR, "202", None);
    let (_p, uas) = callee(&pbx, "202", "uas_answer.xml");
    let uac = call_from_201(&pbx, "uac_call_privacy.xml", "202");
    let uas = uas.wait(WAIT);
    pbx.check(&uac, "201 (Privacy: id) calling 202 with rejection enabled");
    pbx.check(&uas, "202 answering an internal private call");
}

#[test]
fn do_not_disturb_gives_busy_and_the_phone_does_not_ring() {
    let pbx = pbx(&[]);
    enable(&pbx, DND, "202", None);
    let (_p, uas) = callee(&pbx, "202", "uas_answer.xml");

    let busy = call_from_201(&pbx, "uac_expect_486.xml", "202");
    pbx.check(&busy, "201 calling 202 in do-not-disturb");
    assert_final_once(&busy, 486);
    assert!(!rang(&uas), "202's phone rang in do-not-disturb");
    let is_row = |l: &str| l.contains("201 -> 202") && l.contains("486");
    let cdr = pbx.wait_cdr(is_row);
    assert!(cdr.lines().any(is_row), "DND call not in the CDR:\n{cdr}");

    // The toggle: settings {"enabled": false} turn it off for the next call.
    pbx.cli(&[
        "plugin",
        "settings",
        "--tenant",
        DEMO_DOMAIN,
        "--plugin",
        DND,
        "--user",
        "202",
        r#"{"enabled": false}"#,
    ])
    .assert_success("plugin settings do-not-disturb {enabled: false}");
    let uac = call_from_201(&pbx, "uac_call.xml", "202");
    pbx.check(&uac, "201 calling 202 after DND was switched off");
    let uas = uas.wait(WAIT);
    pbx.check(&uas, "202 answering after DND was switched off");
}

#[test]
fn forwarding_always_sends_the_call_to_the_destination_with_a_diversion() {
    let pbx = pbx(&[]);
    enable(
        &pbx,
        CF,
        "202",
        Some(r#"{"always": {"enabled": true, "destination": "203"}}"#),
    );
    let (_p202, uas202) = callee(&pbx, "202", "uas_answer.xml");
    let (_p203, uas203) = callee(&pbx, "203", "uas_answer.xml");

    let uac = call_from_201(&pbx, "uac_call.xml", "202");
    let uas203 = uas203.wait(WAIT);
    pbx.check(&uac, "201 calling 202 (forwarded always to 203)");
    pbx.check(&uas203, "203 answering the forwarded call");
    assert!(!rang(&uas202), "202 rang although it forwards every call");
    let invite = invite_of(&uas203, "203");
    assert_diverted(&invite, "202", "unconditional");
    let diversion = invite.header("Diversion").unwrap_or("");
    assert!(diversion.contains("counter=1"), "Diversion: {diversion}");
    let from = invite.header("From").unwrap_or("");
    assert!(
        from.contains("201"),
        "203 should see the original caller: From: {from}"
    );
}

#[test]
fn forwarding_on_busy_sends_the_call_on_when_the_phone_is_busy() {
    let pbx = pbx(&[]);
    enable(
        &pbx,
        CF,
        "202",
        Some(r#"{"busy": {"enabled": true, "destination": "203"}}"#),
    );
    let (_p202, uas202) = callee(&pbx, "202", "uas_busy.xml");
    let (_p203, uas203) = callee(&pbx, "203", "uas_answer.xml");

    let uac = call_from_201(&pbx, "uac_call.xml", "202");
    let uas203 = uas203.wait(WAIT);
    let uas202 = uas202.wait(WAIT);
    pbx.check(&uac, "201 calling busy 202 (forward on busy to 203)");
    pbx.check(&uas202, "202 busy");
    pbx.check(&uas203, "203 answering the call 202 was busy for");
    assert_diverted(&invite_of(&uas203, "203"), "202", "user-busy");
}

#[test]
fn do_not_disturb_with_busy_forwarding_sends_the_call_on() {
    // Busy treatment: DND does not end the call when busy forwarding is set.
    let pbx = pbx(&[]);
    enable(&pbx, DND, "202", None);
    enable(
        &pbx,
        CF,
        "202",
        Some(r#"{"busy": {"enabled": true, "destination": "203"}}"#),
    );
    let (_p202, uas202) = callee(&pbx, "202", "uas_answer.xml");
    let (_p203, uas203) = callee(&pbx, "203", "uas_answer.xml");

    let uac = call_from_201(&pbx, "uac_call.xml", "202");
    let uas203 = uas203.wait(WAIT);
    pbx.check(&uac, "201 calling 202 (DND, forward on busy to 203)");
    pbx.check(&uas203, "203 answering");
    assert!(!rang(&uas202), "202 rang in do-not-disturb");
    assert_diverted(&invite_of(&uas203, "203"), "202", "user-busy");
}

#[test]
fn forwarding_on_no_answer_sends_the_call_on_after_the_ring_timeout() {
    let pbx = pbx(&["--ring-timeout", "2"]);
    enable(
        &pbx,
        CF,
        "202",
        Some(r#"{"no_answer": {"enabled": true, "destination": "203"}}"#),
    );
    let (_p202, uas202) = callee(&pbx, "202", "uas_ring_forever.xml");
    let (_p203, uas203) = callee(&pbx, "203", "uas_answer.xml");

    let started = Instant::now();
    let uac = call_from_201(&pbx, "uac_call.xml", "202");
    let uas202 = uas202.wait(WAIT);
    let uas203 = uas203.wait(WAIT);
    pbx.check(&uac, "201 calling 202 who does not answer (forward to 203)");
    pbx.check(&uas202, "202 ringing until the ring timeout");
    pbx.check(&uas203, "203 answering after 202's ring timeout");
    assert!(
        uas202.find_received(|m| m.is_request("CANCEL")).is_some(),
        "202 kept ringing: {:?}",
        uas202.received_summary()
    );
    assert_diverted(&invite_of(&uas203, "203"), "202", "no-answer");
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(2000),
        "forwarded after {elapsed:?}, before the 2 s ring timeout"
    );
}

#[test]
fn forwarding_loop_ends_with_482() {
    let pbx = pbx(&[]);
    enable(
        &pbx,
        CF,
        "202",
        Some(r#"{"always": {"enabled": true, "destination": "203"}}"#),
    );
    enable(
        &pbx,
        CF,
        "203",
        Some(r#"{"always": {"enabled": true, "destination": "202"}}"#),
    );
    let (_p202, uas202) = callee(&pbx, "202", "uas_answer.xml");
    let (_p203, uas203) = callee(&pbx, "203", "uas_answer.xml");
    let uac = call_from_201(&pbx, "uac_expect_482.xml", "202");
    pbx.check(&uac, "201 calling 202 (202 -> 203 -> 202)");
    assert_final_once(&uac, 482);
    // Forwarding always: neither phone rings on the way to the loop.
    let invites = |u: &SippChild| {
        u.messages_so_far()
            .iter()
            .filter(|t| !t.sent && t.msg.is_request("INVITE"))
            .count()
    };
    assert!(
        invites(&uas202) + invites(&uas203) == 0,
        "phones rang in the loop: 202 {} times, 203 {} times",
        invites(&uas202),
        invites(&uas203)
    );
}

#[test]
fn licence_quantity_limits_how_many_users_can_enable_a_plugin() {
    let pbx = pbx(&[]);
    pbx.cli(&[
        "licence",
        "grant",
        "--tenant",
        DEMO_DOMAIN,
        "--plugin",
        DND,
        "--quantity",
        "1",
    ])
    .assert_success("licence grant --quantity 1");
    enable(&pbx, DND, "202", None);

    let refused = try_enable(&pbx, DND, "203", None);
    assert!(
        !refused.status.success(),
        "a second user could enable {DND} with a licence for one:\n{}{}",
        refused.stdout,
        refused.stderr
    );
    let text = format!("{}{}", refused.stdout, refused.stderr);
    assert!(
        text.contains(DND),
        "the refusal does not name the plugin: {text}"
    );

    let list = pbx.cli(&["licence", "list", "--tenant", DEMO_DOMAIN]);
    list.assert_success("licence list");
    let row = list
        .stdout
        .lines()
        .find(|l| l.starts_with(DND))
        .unwrap_or_else(|| panic!("{DND} not in `licence list`:\n{}", list.stdout));
    assert!(row.contains("1 of 1"), "licence list: {row}");

    // Freeing the seat lets 203 have it.
    disable(&pbx, DND, "202");
    enable(&pbx, DND, "203", None);
}

#[test]
fn invalid_settings_are_refused_with_the_plugin_named() {
    let pbx = pbx(&[]);
    let out = try_enable(
        &pbx,
        CF,
        "202",
        Some(r#"{"always": {"enabled": "yes", "destination": "203"}}"#),
    );
    assert!(
        !out.status.success(),
        "settings that do not match the schema were accepted:\n{}",
        out.stdout
    );
    assert!(
        out.stderr.contains(CF),
        "the refusal does not name the plugin: {}",
        out.stderr
    );
}

/// `invite` with a P-Asserted-Identity header.
fn with_pai(invite: &str, pai: &str) -> String {
    invite.replacen(
        "\r\nContent-Type:",
        &format!("\r\nP-Asserted-Identity: {pai}\r\nContent-Type:"),
        1,
    )
}

/// The review's spoof: a device sends the boss's number as
/// P-Asserted-Identity to trigger a forwarding rule "calls from the boss".
/// Only the trunk may assert identities: the device's header is ignored,
/// while the same header from the trunk is believed.
#[test]
fn a_device_cannot_assert_someone_elses_identity() {
    use centrale_tests::sip::{
        ack_for_failure, authorization, invite_request, Challenge, InviteSpec, SipUdp,
    };
    let pbx = pbx(&[]);
    // 203 (no phone registered) forwards calls from the boss to 299, which
    // does not exist: a forwarded call ends in 404, one that is not in 480.
    enable(
        &pbx,
        CF,
        "203",
        Some(r#"{"selective": [{"callers": ["+31611111111"], "destination": "299"}]}"#),
    );
    let boss = "<sip:+31611111111@carrier.test>";

    let udp = SipUdp::new(pbx.sip_addr());
    let spec = |auth| InviteSpec {
        from_user: "201",
        to_user: "203",
        cseq: 1,
        media_port: 40000,
        proxy_authorization: auth,
    };
    let first = with_pai(&invite_request(&udp, &spec(None)), boss);
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
    let spoofed = with_pai(&invite_request(&udp, &spec(Some(&creds))), boss);
    let resp = udp.request(&spoofed).expect("an answer");
    udp.send(ack_for_failure(&spoofed, &resp).as_bytes());
    assert_eq!(
        resp.status,
        Some(480),
        "a device's P-Asserted-Identity was believed:\n{}",
        resp.raw
    );

    // The trunk is trusted: the same assertion from it forwards.
    let trunk = SipUdp::bind_addr(pbx.trunk().source(), pbx.sip_addr());
    let from_trunk = with_pai(
        &invite_request(
            &trunk,
            &InviteSpec {
                from_user: "0612345678",
                to_user: "+31205552030",
                cseq: 1,
                media_port: 40002,
                proxy_authorization: None,
            },
        ),
        boss,
    );
    let resp = trunk
        .request(&from_trunk)
        .expect("an answer from the trunk side");
    trunk.send(ack_for_failure(&from_trunk, &resp).as_bytes());
    assert_eq!(resp.status, Some(404), "{}", resp.raw);
}
