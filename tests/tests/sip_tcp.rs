//! SIP over TCP under abuse: a peer that never reads, too many
//! connections, idle connections, and the registered connection that must
//! stay. Limits come from `[sip.tcp_limits]` (docs/security.md).

use centrale_tests::sip::{authorization, Challenge, SipMessage};
use centrale_tests::{token, Pbx, DEMO_DOMAIN};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

fn options(local: SocketAddr) -> String {
    format!(
        "OPTIONS sip:{DEMO_DOMAIN} SIP/2.0\r\n\
         Via: SIP/2.0/TCP {local};branch=z9hG4bK{b}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:probe@{DEMO_DOMAIN}>;tag={t}\r\n\
         To: <sip:{DEMO_DOMAIN}>\r\n\
         Call-ID: {c}\r\n\
         CSeq: 1 OPTIONS\r\n\
         Content-Length: 0\r\n\r\n",
        b = token(),
        t = token(),
        c = token(),
    )
}

/// Reads one SIP message from `s` (Content-Length framed), within `timeout`.
fn read_message(s: &mut TcpStream, timeout: Duration) -> Option<SipMessage> {
    s.set_read_timeout(Some(timeout)).ok()?;
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte) {
            Ok(1) => buf.push(byte[0]),
            _ => return None,
        }
    }
    let head = String::from_utf8_lossy(&buf).to_string();
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).ok()?;
    buf.extend_from_slice(&body);
    SipMessage::parse(&buf)
}

/// Whether the host closes `s` within `within` (EOF or reset).
fn closed_by_host(s: &mut TcpStream, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                continue
            }
            Err(_) => return true,
        }
    }
    false
}

fn connect(pbx: &Pbx) -> TcpStream {
    TcpStream::connect(pbx.sip_addr()).expect("connect over TCP")
}

fn answered(s: &mut TcpStream) -> bool {
    let local = s.local_addr().expect("local address");
    if s.write_all(options(local).as_bytes()).is_err() {
        return false;
    }
    read_message(s, Duration::from_secs(3)).is_some_and(|m| m.status == Some(200))
}

#[test]
fn a_peer_that_never_reads_is_dropped_and_memory_stays_bounded() {
    let mut pbx = Pbx::start_demo();
    pbx.restart_as_serve("[sip.tcp_limits]\nwrite_timeout_secs = 2\nqueue_messages = 16\n");
    let rss_before = pbx.rss_bytes().expect("host memory");
    // A tiny receive window: the host's responses pile up at once.
    let sock =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    sock.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    sock.connect(&pbx.sip_addr().into()).expect("connect");
    let mut s: TcpStream = sock.into();
    let local = s.local_addr().expect("local address");
    s.set_write_timeout(Some(Duration::from_secs(2)))
        .expect("write timeout");
    // Send requests (never reading the answers) until the host drops us.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut sent = 0u32;
    let dropped = loop {
        if Instant::now() > deadline {
            break false;
        }
        let batch: String = (0..50).map(|_| options(local)).collect();
        match s.write_all(batch.as_bytes()) {
            Ok(()) => sent += 50,
            Err(_) => break true,
        }
    };
    assert!(dropped, "still connected after {sent} unread requests");
    let rss_after = pbx.rss_bytes().expect("host memory");
    assert!(
        rss_after < rss_before + 30 * 1024 * 1024,
        "host memory grew from {rss_before} to {rss_after} bytes"
    );
    // Everyone else is still served.
    assert!(answered(&mut connect(&pbx)), "the host stopped answering");
    assert!(pbx.log().contains("TCP peer does not read"), "logged");
}

#[test]
fn connections_per_address_are_capped() {
    let mut pbx = Pbx::start_demo();
    pbx.restart_as_serve("[sip.tcp_limits]\nmax_connections_per_ip = 3\n");
    let mut open: Vec<TcpStream> = (0..3).map(|_| connect(&pbx)).collect();
    for s in &mut open {
        assert!(answered(s), "a connection within the limit is served");
    }
    let mut fourth = connect(&pbx);
    assert!(
        closed_by_host(&mut fourth, Duration::from_secs(5)),
        "the fourth connection from one address was accepted"
    );
    // A connection that ends makes room for another.
    drop(open.pop());
    let served = centrale_tests::wait_for(Duration::from_secs(5), || {
        let mut s = connect(&pbx);
        answered(&mut s).then_some(s)
    });
    assert!(served.is_some(), "no room after a connection closed");
}

#[test]
fn an_idle_connection_is_closed_unless_it_carries_a_registration() {
    let mut pbx = Pbx::start_demo();
    pbx.restart_as_serve("[sip.tcp_limits]\nidle_timeout_secs = 1\n");
    let mut idle = connect(&pbx);
    assert!(answered(&mut idle), "an OPTIONS is answered");
    assert!(
        closed_by_host(&mut idle, Duration::from_secs(10)),
        "an idle, unauthenticated connection stays open"
    );

    // A phone registered over TCP keeps its connection.
    let mut phone = connect(&pbx);
    let local = phone.local_addr().expect("local address");
    let (call_id, tag) = (token(), token());
    let register = |cseq: u32, auth: Option<&str>| {
        let mut m = format!(
            "REGISTER sip:{DEMO_DOMAIN} SIP/2.0\r\n\
             Via: SIP/2.0/TCP {local};branch=z9hG4bK{b}\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:201@{DEMO_DOMAIN}>;tag={tag}\r\n\
             To: <sip:201@{DEMO_DOMAIN}>\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: {cseq} REGISTER\r\n\
             Contact: <sip:201@{local};transport=tcp>\r\n\
             Expires: 300\r\n",
            b = token()
        );
        if let Some(a) = auth {
            m.push_str(&format!("Authorization: {a}\r\n"));
        }
        m.push_str("Content-Length: 0\r\n\r\n");
        m
    };
    phone
        .write_all(register(1, None).as_bytes())
        .expect("send REGISTER");
    let challenge = read_message(&mut phone, Duration::from_secs(3)).expect("401");
    assert_eq!(challenge.status, Some(401), "{}", challenge.raw);
    let ch = Challenge::all_in(&challenge)
        .into_iter()
        .find(|c| c.algorithm == "MD5")
        .expect("MD5 challenge");
    let auth = authorization(
        &ch,
        "201",
        "demo201",
        "REGISTER",
        &format!("sip:{DEMO_DOMAIN}"),
        1,
    );
    phone
        .write_all(register(2, Some(&auth)).as_bytes())
        .expect("send REGISTER");
    let ok = read_message(&mut phone, Duration::from_secs(3)).expect("200");
    assert_eq!(ok.status, Some(200), "{}", ok.raw);
    // Silent for longer than the idle timeout: still open, still served.
    std::thread::sleep(Duration::from_millis(2500));
    assert!(answered(&mut phone), "the registered connection was closed");
}
