//! RFC 4475 torture messages (tests/data/sip-torture) against a running host (see
//! shared/sip-torture/README.md): every message gets the answer the RFC
//! asks for, the host never stops serving, and a normal REGISTER and call
//! still work afterwards on the same instance.

use centrale_tests::sip::{Challenge, SipMessage, SipUdp};
use centrale_tests::Pbx;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn torture_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("CENTRALE_TORTURE_DIR") {
        return PathBuf::from(d);
    }
    // A copy lives in the repository (tests/data, with its licence note);
    // the shared original is used when the copy is absent.
    let local = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/sip-torture");
    let d = if local.join("rfc4475").is_dir() {
        local
    } else {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/sip-torture")
    };
    assert!(
        d.join("rfc4475").is_dir(),
        "torture messages not found at {} (set CENTRALE_TORTURE_DIR)",
        d.display()
    );
    d
}

fn message(name: &str) -> Vec<u8> {
    let p = torture_dir().join("rfc4475").join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
}

/// What the RFC asks for.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// A well-formed request: answered, and not refused as malformed (no
    /// 400 Bad Request, no 505 Version Not Supported).
    Valid,
    /// Any final response (the RFC allows a 400 as well as liberal
    /// processing).
    AnyFinal,
    /// Exactly this status.
    Status(u16),
    /// One of these (the RFC allows either; see the note at the entry).
    OneOf(&'static [u16]),
    /// Any final status except this one.
    Not(u16),
    /// Nothing comes back (responses that match no transaction, or
    /// malformed responses: dropped).
    Nothing,
}

/// File, RFC 4475 section, expectation.
const CASES: &[(&str, &str, Expect)] = &[
    // 3.1.1: valid messages; requests must be answered, never with 400/505
    // (wsinv carries a To tag of no dialog here, so 481 is its right answer).
    ("wsinv.dat", "3.1.1.1", Expect::Valid),
    ("intmeth.dat", "3.1.1.2", Expect::Valid),
    ("esc01.dat", "3.1.1.3", Expect::Valid),
    ("escnull.dat", "3.1.1.4", Expect::Valid),
    ("esc02.dat", "3.1.1.5", Expect::Valid),
    ("lwsdisp.dat", "3.1.1.6", Expect::Valid),
    ("longreq.dat", "3.1.1.7", Expect::Valid),
    // dblreq (3.1.1.8) is checked on its own below.
    ("semiuri.dat", "3.1.1.9", Expect::Valid),
    ("transports.dat", "3.1.1.10", Expect::Valid),
    ("mpart01.dat", "3.1.1.11", Expect::Valid),
    // 3.1.1.12/13 are responses matching no transaction: absorbed.
    ("unreason.dat", "3.1.1.12", Expect::Nothing),
    ("noreason.dat", "3.1.1.13", Expect::Nothing),
    // 3.1.2: invalid messages.
    ("badinv01.dat", "3.1.2.1", Expect::Status(400)),
    ("clerr.dat", "3.1.2.2", Expect::Status(400)),
    ("ncl.dat", "3.1.2.3", Expect::Status(400)),
    ("scalar02.dat", "3.1.2.4", Expect::Status(400)),
    ("scalarlg.dat", "3.1.2.5", Expect::Nothing),
    ("quotbal.dat", "3.1.2.6", Expect::Status(400)),
    ("ltgtruri.dat", "3.1.2.7", Expect::Status(400)),
    ("lwsruri.dat", "3.1.2.8", Expect::Status(400)),
    ("lwsstart.dat", "3.1.2.9", Expect::Status(400)),
    ("trws.dat", "3.1.2.10", Expect::Status(400)),
    // 3.1.2.11-15: the RFC accepts either a 400 or liberal processing.
    ("escruri.dat", "3.1.2.11", Expect::AnyFinal),
    ("baddate.dat", "3.1.2.12", Expect::AnyFinal),
    ("regbadct.dat", "3.1.2.13", Expect::AnyFinal),
    ("badaspec.dat", "3.1.2.14", Expect::AnyFinal),
    ("baddn.dat", "3.1.2.15", Expect::AnyFinal),
    ("badvers.dat", "3.1.2.16", Expect::Status(505)),
    ("mismatch01.dat", "3.1.2.17", Expect::Status(400)),
    ("mismatch02.dat", "3.1.2.18", Expect::Status(400)),
    ("bigcode.dat", "3.1.2.19", Expect::Nothing),
    // 3.2.1: no magic cookie in the branch; still an OPTIONS to answer.
    ("badbranch.dat", "3.2.1", Expect::Valid),
    // 3.3: semantics.
    ("insuf.dat", "3.3.1", Expect::Status(400)),
    ("unkscm.dat", "3.3.2", Expect::Status(416)),
    ("novelsc.dat", "3.3.3", Expect::Status(416)),
    // A registrar rejects a non-SIP AOR with 400 (RFC 4475); RFC 3261
    // §10.3 authenticates (401) before it looks at the To header.
    ("unksm2.dat", "3.3.4", Expect::OneOf(&[400, 401])),
    ("bext01.dat", "3.3.5", Expect::Status(420)),
    ("invut.dat", "3.3.6", Expect::Status(415)),
    ("regaut01.dat", "3.3.7", Expect::Status(401)),
    ("multi01.dat", "3.3.8", Expect::Status(400)),
    ("mcl01.dat", "3.3.9", Expect::Status(400)),
    ("bcast.dat", "3.3.10", Expect::Nothing),
    // The host is the UAS of an OPTIONS: it answers; 483 only when forwarding.
    ("zeromf.dat", "3.3.11", Expect::Not(483)),
    ("cparam01.dat", "3.3.12", Expect::Valid),
    ("cparam02.dat", "3.3.13", Expect::Valid),
    ("regescrt.dat", "3.3.14", Expect::Valid),
    ("sdp01.dat", "3.3.15", Expect::Status(406)),
    // 3.4.1: RFC 2543 syntax, to be accepted for backwards compatibility
    // (or refused with 400); either way answered.
    ("inv2543.dat", "3.4.1", Expect::AnyFinal),
    // Not an RFC 4475 message: no SIP version, no Via, no CSeq, a header
    // line without a colon. Malformed beyond answering (no Via to answer
    // along): dropped.
    ("test.dat", "(extra)", Expect::Nothing),
];

/// Sends `bytes` from a fresh socket and collects what comes back: the
/// first final response (3 s), or everything within 1.5 s when nothing is
/// expected.
fn exchange(pbx: &Pbx, bytes: &[u8], expect: Expect) -> Vec<SipMessage> {
    let udp = SipUdp::new(pbx.sip_addr());
    udp.send(bytes);
    match expect {
        Expect::Nothing => udp.recv_all(Duration::from_millis(1500)),
        _ => {
            let mut got = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(3);
            while let Some(left) = deadline.checked_duration_since(Instant::now()) {
                match udp.recv(left) {
                    Some(m) => {
                        let fin = m.is_final();
                        got.push(m);
                        if fin {
                            break;
                        }
                    }
                    None => break,
                }
            }
            got
        }
    }
}

/// Problems with the answer, if any.
fn judge(file: &str, expect: Expect, got: &[SipMessage]) -> Option<String> {
    let finals: Vec<&SipMessage> = got.iter().filter(|m| m.is_final()).collect();
    let first = finals.first();
    let codes: Vec<String> = got.iter().map(|m| m.start_line.clone()).collect();
    let status = first.and_then(|m| m.status);
    let problem = match expect {
        Expect::Nothing if got.is_empty() => None,
        Expect::Nothing => Some(format!("expected nothing, got {codes:?}")),
        _ if first.is_none() => Some(format!(
            "expected {expect:?}, got no final response ({codes:?})"
        )),
        Expect::AnyFinal => None,
        Expect::Valid if matches!(status, Some(400) | Some(505)) => Some(format!(
            "a valid message was refused as malformed: {codes:?}"
        )),
        Expect::Valid => None,
        Expect::Status(s) if status == Some(s) => None,
        Expect::OneOf(l) if status.is_some_and(|s| l.contains(&s)) => None,
        Expect::Not(n) if status != Some(n) => None,
        _ => Some(format!("expected {expect:?}, got {codes:?}")),
    };
    if problem.is_some() {
        return problem;
    }
    // Headers the RFC asks for with some answers.
    let m = first?;
    match (file, m.status) {
        ("bext01.dat", Some(420)) => {
            // A UAS lists the Require tags it lacks; Proxy-Require is not
            // for it (RFC 3261 §8.2.2.3).
            let u: Vec<&str> = m
                .header_all("Unsupported")
                .into_iter()
                .flat_map(|v| v.split(','))
                .map(str::trim)
                .collect();
            let wanted = ["nothingSupportsThis", "nothingSupportsThisEither"];
            if !wanted.iter().all(|w| u.contains(w)) || u.iter().any(|t| t.contains("Proxies")) {
                return Some(format!(
                    "420 must list Unsupported: {} (and no Proxy-Require tag):\n{}",
                    wanted.join(", "),
                    m.raw
                ));
            }
        }
        ("invut.dat", Some(415)) if m.header("Accept").is_none() => {
            return Some(format!("415 without Accept:\n{}", m.raw));
        }
        ("regaut01.dat", Some(401)) if Challenge::all_in(m).is_empty() => {
            return Some(format!("401 without a digest challenge:\n{}", m.raw));
        }
        _ => {}
    }
    None
}

#[test]
fn rfc4475_messages_over_udp_get_the_answers_the_rfc_asks_for() {
    let mut pbx = Pbx::start_demo();
    let mut problems = Vec::new();
    let mut seen = Vec::new();
    for (file, section, expect) in CASES {
        seen.push(file.to_string());
        let got = exchange(&pbx, &message(file), *expect);
        let summary: Vec<&str> = got.iter().map(|m| m.start_line.as_str()).collect();
        eprintln!("{section:>9} {file:<15} -> {summary:?}");
        if let Some(p) = judge(file, *expect, &got) {
            problems.push(format!("{section} {file}: {p}"));
        }
    }

    // 3.1.1.8: a REGISTER followed by octets beyond its Content-Length (an
    // INVITE) in one datagram: only the REGISTER is answered.
    seen.push("dblreq.dat".into());
    let udp = SipUdp::new(pbx.sip_addr());
    udp.send(&message("dblreq.dat"));
    let got = udp.recv_all(Duration::from_millis(2500));
    let finals: Vec<&SipMessage> = got.iter().filter(|m| m.is_final()).collect();
    eprintln!(
        " 3.1.1.8 dblreq.dat      -> {:?}",
        got.iter().map(|m| &m.start_line).collect::<Vec<_>>()
    );
    if finals.is_empty() || finals.iter().any(|m| m.cseq_method() != Some("REGISTER")) {
        problems.push(format!(
            "3.1.1.8 dblreq.dat: expected one answer to the REGISTER only, got {:?}",
            got.iter()
                .map(|m| format!("{} ({:?})", m.start_line, m.cseq_method()))
                .collect::<Vec<_>>()
        ));
    }

    // Every file of the directory is covered.
    let mut files: Vec<String> = std::fs::read_dir(torture_dir().join("rfc4475"))
        .expect("torture dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".dat"))
        .collect();
    files.sort();
    for f in &files {
        if !seen.contains(f) {
            problems.push(format!("{f}: no expectation in sip_torture.rs"));
        }
    }

    assert!(pbx.is_running(), "the host died during the torture run");
    let log = pbx.log();
    assert!(
        !log.contains("panicked"),
        "the host panicked:\n{}",
        pbx.log_tail(40)
    );

    // Still serving: OPTIONS, REGISTER and a full call.
    let udp = SipUdp::new(pbx.sip_addr());
    let opt = udp.request(&centrale_tests::sip::options_request(
        &udp,
        "demo.centrale.test",
    ));
    assert_eq!(opt.map(|m| m.status), Some(Some(200)));
    let callee = pbx.phone();
    pbx.register(&callee, "202", "202", "demo202");
    let mut uas = pbx.sipp("uas_answer.xml").phone(&callee).spawn();
    uas.wait_bound();
    let caller = pbx.phone();
    let uac = pbx
        .sipp("uac_call.xml")
        .phone(&caller)
        .set("aor", "201")
        .service("202")
        .auth("201", "demo201")
        .pause_ms(300)
        .run();
    let uas = uas.wait(Duration::from_secs(30));
    pbx.check(&uac, "call 201 -> 202 after the torture messages");
    pbx.check(&uas, "202 answering after the torture messages");

    assert!(
        problems.is_empty(),
        "answers differing from RFC 4475:\n  {}",
        problems.join("\n  ")
    );
}

/// Reads from `s` until EOF or `timeout`; returns (bytes, closed).
fn read_until_close(s: &mut TcpStream, timeout: Duration) -> (Vec<u8>, bool) {
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        if left.is_zero() {
            break;
        }
        s.set_read_timeout(Some(left)).unwrap();
        match s.read(&mut buf) {
            Ok(0) => return (out, true),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                break
            }
            Err(_) => return (out, true),
        }
    }
    (out, false)
}

fn options_over_tcp(pbx: &Pbx) -> Option<SipMessage> {
    let mut s = TcpStream::connect(pbx.sip_addr()).ok()?;
    let local = s.local_addr().ok()?;
    let req = format!(
        "OPTIONS sip:demo.centrale.test SIP/2.0\r\n\
         Via: SIP/2.0/TCP {local};branch=z9hG4bK{b}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:probe@demo.centrale.test>;tag={t}\r\n\
         To: <sip:demo.centrale.test>\r\n\
         Call-ID: {c}\r\n\
         CSeq: 1 OPTIONS\r\n\
         Content-Length: 0\r\n\r\n",
        b = centrale_tests::token(),
        t = centrale_tests::token(),
        c = centrale_tests::token()
    );
    s.write_all(req.as_bytes()).ok()?;
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        s.set_read_timeout(Some(Duration::from_millis(200))).ok()?;
        if let Ok(n) = s.read(&mut buf) {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
            if out.windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
    }
    SipMessage::parse(&out)
}

#[test]
fn rfc4475_framing_errors_over_tcp() {
    let pbx = Pbx::start_demo();
    let control = options_over_tcp(&pbx).expect("an answer to OPTIONS over TCP");
    assert_eq!(control.status, Some(200), "{}", control.raw);

    // 3.3.9 mcl01 over a stream: an error answer, then the connection is
    // closed (the framing cannot be recovered).
    let mut s = TcpStream::connect(pbx.sip_addr()).expect("connect");
    s.write_all(&message("mcl01.dat")).unwrap();
    let (bytes, closed) = read_until_close(&mut s, Duration::from_secs(5));
    let resp = SipMessage::parse(&bytes);
    assert_eq!(
        resp.as_ref().and_then(|m| m.status),
        Some(400),
        "mcl01 over TCP: {:?}",
        String::from_utf8_lossy(&bytes)
    );
    assert!(closed, "mcl01 over TCP: the connection must be closed");

    // 3.1.2.2 clerr over a stream: the receiver cannot know the message is
    // truncated; it waits for the rest and answers nothing meanwhile.
    let mut s = TcpStream::connect(pbx.sip_addr()).expect("connect");
    s.write_all(&message("clerr.dat")).unwrap();
    let (bytes, _closed) = read_until_close(&mut s, Duration::from_secs(2));
    assert!(
        bytes.is_empty(),
        "clerr over TCP: nothing expected while the body is incomplete, got {:?}",
        String::from_utf8_lossy(&bytes)
    );

    // Other connections are served all along.
    let after = options_over_tcp(&pbx).expect("an answer to OPTIONS over TCP");
    assert_eq!(after.status, Some(200), "{}", after.raw);
    drop(s);
    let mut pbx = pbx;
    assert!(pbx.is_running());
}
