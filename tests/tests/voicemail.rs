//! Voicemail end to end: sipp callers sending real RTP (audio and RFC 4733
//! key presses from a pcap), a real SMTP server receiving the mails, and
//! the host restarted or killed in between.

use std::path::{Path, PathBuf};
use std::time::Duration;

use centrale_tests::pcap::RtpScript;
use centrale_tests::smtp::{self, SmtpSink};
use centrale_tests::{free_port, Pbx, SippRun};

const MAIL_WAIT: Duration = Duration::from_secs(60);

fn pbx(smtp_port: u16, extra: &[&str]) -> Pbx {
    let smtp = format!("127.0.0.1:{smtp_port}");
    let mut args = vec![
        "--enable-voicemail",
        "--smtp",
        smtp.as_str(),
        "--mail-retry-secs",
        "1",
        "--ring-timeout",
        "3",
    ];
    args.extend_from_slice(extra);
    Pbx::start_demo_with_plugins(&args)
}

/// A pcap in the test's data directory.
fn pcap(pbx: &Pbx, name: &str, build: impl FnOnce(&mut RtpScript)) -> PathBuf {
    let mut s = RtpScript::new();
    build(&mut s);
    let path = pbx.dir().join(name);
    s.write(&path);
    path
}

/// `scenario` with its `[$pcap]` replaced by `pcap` (sipp 3.6 does not
/// substitute variables in `play_pcap_audio`), written beside the pcap.
fn with_pcap(scenario: &str, pcap: &Path) -> String {
    let text = std::fs::read_to_string(centrale_tests::sipp::scenario_dir().join(scenario))
        .expect("read the scenario");
    let path = pcap.with_extension("xml");
    std::fs::write(&path, text.replace("[$pcap]", &pcap.display().to_string()))
        .expect("write the scenario copy");
    path.display().to_string()
}

/// `from` calls `to`, streams `pcap` after the answer and hangs up after
/// `hold_ms`.
fn call_and_hang_up(pbx: &Pbx, from: &str, to: &str, pcap: &Path, hold_ms: u64) -> SippRun {
    pbx.sipp(&with_pcap("uac_media_bye.xml", pcap))
        .service(to)
        .set("aor", from)
        .auth(from, &format!("demo{from}"))
        .arg("-mp")
        .arg(&free_port(false).to_string())
        .pause_ms(hold_ms)
        .timeout_s(60)
        .run()
}

/// `from` calls `to`, streams `pcap` and waits for the host to hang up.
fn call_until_host_hangs_up(pbx: &Pbx, from: &str, to: &str, pcap: &Path) -> SippRun {
    pbx.sipp(&with_pcap("uac_media_wait_bye.xml", pcap))
        .service(to)
        .set("aor", from)
        .auth(from, &format!("demo{from}"))
        .arg("-mp")
        .arg(&free_port(false).to_string())
        .timeout_s(90)
        .run()
}

/// # skips the greeting, then 3.0 s of 440 Hz, then the caller hangs up.
fn three_second_message(pbx: &Pbx) -> PathBuf {
    pcap(pbx, "message.pcap", |s| {
        s.dtmf(0.5, '#');
        s.tone(1.5, 3.0, 440.0);
    })
}

fn assert_voicemail_mail(raw: &[u8], expected_secs: f64) {
    let mail = smtp::parse(raw);
    assert_eq!(
        mail.to,
        vec!["user201@demo.centrale.test".to_string()],
        "{mail:?}"
    );
    assert!(
        mail.subject.contains("202"),
        "the subject names the caller: {}",
        mail.subject
    );
    let wavs: Vec<_> = mail
        .attachments
        .iter()
        .filter(|(name, ct, _)| name.ends_with(".wav") && ct == "audio/wav")
        .collect();
    assert_eq!(
        wavs.len(),
        1,
        "one WAV attached: {:?}",
        mail.attachments
            .iter()
            .map(|a| (&a.0, &a.1))
            .collect::<Vec<_>>()
    );
    let (secs, rms) = smtp::wav_stats(&wavs[0].2);
    assert!(
        (secs - expected_secs).abs() <= 0.2,
        "the recording lasts {secs:.2} s, the caller sent {expected_secs:.1} s"
    );
    assert!(rms > 1000.0, "the recording is not silent (RMS {rms:.0})");
}

#[test]
fn a_message_left_arrives_by_mail_with_the_recorded_audio() {
    let sink = SmtpSink::start();
    let pbx = pbx(sink.port, &[]);
    let audio = three_second_message(&pbx);
    // 201 has no registered phone: unreachable, so voicemail answers.
    let run = call_and_hang_up(&pbx, "202", "201", &audio, 5_500);
    pbx.check(&run, "202 leaving a message for 201");
    let mail = sink
        .next(MAIL_WAIT)
        .unwrap_or_else(|| panic!("no mail arrived\n{}", pbx.log_tail(60)));
    assert_eq!(mail.to, vec!["user201@demo.centrale.test".to_string()]);
    assert_voicemail_mail(&mail.data, 3.0);
}

#[test]
fn a_message_left_while_smtp_is_down_arrives_when_it_comes_back() {
    let port = smtp::dead_port();
    let pbx = pbx(port, &[]);
    let audio = three_second_message(&pbx);
    let run = call_and_hang_up(&pbx, "202", "201", &audio, 5_500);
    pbx.check(&run, "202 leaving a message while SMTP is down");
    // The outbox keeps it and retries.
    std::thread::sleep(Duration::from_secs(3));
    let sink = SmtpSink::start_on(port);
    let mail = sink
        .next(MAIL_WAIT)
        .unwrap_or_else(|| panic!("the queued mail never arrived\n{}", pbx.log_tail(60)));
    assert_voicemail_mail(&mail.data, 3.0);
}

fn enable(pbx: &Pbx, plugin: &str, user: &str) {
    pbx.cli(&[
        "plugin",
        "enable",
        "--tenant",
        centrale_tests::DEMO_DOMAIN,
        "--plugin",
        plugin,
        "--user",
        user,
    ])
    .assert_success(&format!("plugin enable {plugin} for {user}"));
}

fn mwi(pbx: &Pbx, user: &str) -> String {
    let out = pbx.cli(&[
        "mwi",
        "get",
        "--tenant",
        centrale_tests::DEMO_DOMAIN,
        "--user",
        user,
    ]);
    out.assert_success("mwi get");
    out.stdout.trim().to_string()
}

fn summary_says(m: &centrale_tests::SipMessage, waiting: &str, counts: &str) -> bool {
    m.is_request("NOTIFY")
        && m.body.contains(&format!("Messages-Waiting: {waiting}"))
        && m.body.contains(&format!("Voice-Message: {counts}"))
}

#[test]
fn the_lamp_lights_and_the_portal_deletes_the_message_with_rfc4733_digits() {
    let sink = SmtpSink::start();
    let pbx = pbx(sink.port, &[]);
    // 201's phone is registered but 201 has do-not-disturb on: the call
    // gets busy treatment and voicemail answers it, while the phone only
    // sees the message-summary NOTIFYs.
    enable(&pbx, "do-not-disturb", "201");
    let phone = pbx.phone();
    pbx.register(&phone, "201", "201", "demo201");
    let mut lamp = pbx
        .sipp("uas_notify_many.xml")
        .phone(&phone)
        .timeout_s(120)
        .spawn();
    lamp.wait_bound();

    let audio = three_second_message(&pbx);
    let run = call_and_hang_up(&pbx, "202", "201", &audio, 5_500);
    pbx.check(&run, "202 leaving a message for 201 (DND: busy treatment)");
    let yes = lamp.wait_received(Duration::from_secs(20), |m| summary_says(m, "yes", "1/0"));
    assert!(
        yes.is_some(),
        "201's phone got no NOTIFY with Messages-Waiting: yes, 1/0; got {:?}\n{}",
        lamp.messages_so_far()
            .iter()
            .filter(|t| !t.sent)
            .map(|t| t.msg.body.clone())
            .collect::<Vec<_>>(),
        pbx.log_tail(40)
    );
    assert!(sink.next(MAIL_WAIT).is_some(), "the message was mailed");

    // 201 calls the portal: PIN 1234#, 1 (listen), 7 (delete), # (exit).
    let keys = pcap(&pbx, "portal.pcap", |s| {
        s.dtmf_string(1.0, 0.4, "1234#");
        s.dtmf(5.0, '1');
        s.dtmf(9.0, '7');
        s.dtmf(14.0, '#');
    });
    let portal = call_until_host_hangs_up(&pbx, "201", "1233", &keys);
    pbx.check(&portal, "201 in the voice portal, hung up by the host");
    let no = lamp.wait_received(Duration::from_secs(20), |m| summary_says(m, "no", "0/0"));
    assert!(
        no.is_some(),
        "after deleting, no NOTIFY said Messages-Waiting: no, 0/0; got {:?}\n{}",
        lamp.messages_so_far()
            .iter()
            .filter(|t| !t.sent)
            .map(|t| t.msg.body.clone())
            .collect::<Vec<_>>(),
        pbx.log_tail(60)
    );
    assert_eq!(mwi(&pbx, "201"), "0/0");
}

#[test]
fn kill_9_during_and_after_a_recording_loses_no_completed_message() {
    let port = smtp::dead_port();
    let mut pbx = pbx(port, &[]);
    let audio = three_second_message(&pbx);
    // A complete message; its mail waits in the outbox (SMTP is down).
    let first = call_and_hang_up(&pbx, "202", "201", &audio, 5_500);
    pbx.check(&first, "the first message");
    // The session stores the message once the caller's BYE ended the
    // recording: wait for that before the kill ("after" a recording).
    let stored = smtp::poll(Duration::from_secs(15), || {
        (mwi(&pbx, "201") == "1/0").then_some(())
    });
    assert!(
        stored.is_some(),
        "the first message was stored (box: {})",
        mwi(&pbx, "201")
    );

    // Killed after it.
    pbx.kill_and_restart();
    // And killed in the middle of a second recording.
    let long = pcap(&pbx, "long.pcap", |s| {
        s.dtmf(0.5, '#');
        s.tone(1.5, 20.0, 440.0);
    });
    let with_pcap = with_pcap("uac_media_bye.xml", &long);
    let second = pbx
        .sipp(&with_pcap)
        .service("201")
        .set("aor", "203")
        .auth("203", "demo203")
        .arg("-mp")
        .arg(&free_port(false).to_string())
        .pause_ms(30_000)
        .timeout_s(60)
        .spawn();
    std::thread::sleep(Duration::from_secs(5));
    pbx.kill_and_restart();
    drop(second);

    // A third message after the crash: the box now holds the first and the
    // third (the interrupted one was never completed).
    let third = call_and_hang_up(&pbx, "202", "201", &audio, 5_500);
    pbx.check(&third, "a message after the crash");
    let counts = centrale_tests::smtp::poll(Duration::from_secs(10), || {
        let m = mwi(&pbx, "201");
        (m == "2/0").then_some(m)
    });
    assert_eq!(
        counts.as_deref(),
        Some("2/0"),
        "the first message survived both kills (box: {})",
        mwi(&pbx, "201")
    );
    // Both mails arrive once SMTP is up.
    let sink = SmtpSink::start_on(port);
    for n in 1..=2 {
        let mail = sink
            .next(MAIL_WAIT)
            .unwrap_or_else(|| panic!("mail {n} of 2 never arrived\n{}", pbx.log_tail(60)));
        assert_voicemail_mail(&mail.data, 3.0);
    }
}

fn voicemail_settings(pbx: &Pbx, user: &str, json: &str) {
    pbx.cli(&[
        "plugin",
        "settings",
        "--tenant",
        centrale_tests::DEMO_DOMAIN,
        "--plugin",
        "voicemail",
        "--user",
        user,
        json,
    ])
    .assert_success("plugin settings voicemail");
}

#[test]
fn a_greeting_only_box_plays_its_greeting_then_forwards_the_call() {
    let sink = SmtpSink::start();
    let pbx = pbx(sink.port, &[]);
    // A department number (201) that only greets and sends callers on to 203.
    voicemail_settings(
        &pbx,
        "201",
        r#"{"email":"user201@demo.centrale.test","mode":"greeting-only","forward_to":"203"}"#,
    );
    let phone203 = pbx.phone();
    pbx.register(&phone203, "203", "203", "demo203");
    let mut uas = pbx
        .sipp("uas_answer.xml")
        .phone(&phone203)
        .timeout_s(60)
        .spawn();
    uas.wait_bound();
    let tone = pcap(&pbx, "hello.pcap", |s| s.tone(0.2, 1.0, 440.0));
    let run = call_and_hang_up(&pbx, "202", "201", &tone, 1_500);
    pbx.check(&run, "202 calling 201's greeting-only box");
    let early = run
        .received()
        .iter()
        .position(|m| m.is_response(183, "INVITE"));
    let answer = run
        .received()
        .iter()
        .position(|m| m.is_response(200, "INVITE"));
    assert!(
        matches!((early, answer), (Some(e), Some(a)) if e < a),
        "the greeting comes as early media (183) before 203 answers: {:?}",
        run.received_summary()
    );
    let uas = uas.wait(Duration::from_secs(30));
    pbx.check(&uas, "203 answering the forwarded call");
    let invite = uas
        .find_received(|m| m.is_request("INVITE"))
        .expect("203 got the INVITE");
    let diversion = invite.header_all("Diversion").join(" | ");
    assert!(
        diversion.contains("sip:201@") && diversion.contains("reason=deflection"),
        "Diversion: {diversion}"
    );
    assert!(
        sink.next(Duration::from_secs(3)).is_none(),
        "greeting-only mails nothing"
    );
}

#[test]
fn a_mail_only_box_mails_the_message_and_keeps_none() {
    let sink = SmtpSink::start();
    let pbx = pbx(sink.port, &[]);
    voicemail_settings(
        &pbx,
        "201",
        r#"{"email":"user201@demo.centrale.test","mode":"mail-only","cc":"boss@demo.centrale.test"}"#,
    );
    let audio = three_second_message(&pbx);
    let run = call_and_hang_up(&pbx, "202", "201", &audio, 5_500);
    pbx.check(&run, "202 leaving a message in a mail-only box");
    let mail = sink.next(MAIL_WAIT).expect("the message is mailed");
    assert_voicemail_mail(&mail.data, 3.0);
    assert_eq!(
        smtp::parse(&mail.data).cc,
        vec!["boss@demo.centrale.test".to_string()]
    );
    assert_eq!(mwi(&pbx, "201"), "0/0", "nothing kept, no lamp");
}
