//! bench/authrelay.rs: a transparent UDP relay between sipp and the server
//! under test, built by bench/callrate.sh with plain `rustc -O` (std only).
//!
//!     authrelay LISTEN UPSTREAM
//!
//! Datagrams from UPSTREAM go to the last other address that sent to
//! LISTEN; all others go to UPSTREAM. Every datagram passes unchanged, except
//! 401/407 responses, from which the `WWW-Authenticate`/`Proxy-Authenticate`
//! headers whose algorithm is not MD5 are removed (when an MD5 one remains).
//!
//! Why: sipp 3.6.1 (Debian 12's sip-tester) joins all challenge headers of a
//! 401/407 into one and uses the first `algorithm=`; it supports only MD5,
//! and Centrale challenges with SHA-256 first, then MD5 (RFC 8760). The
//! relay is on the uac's path for both systems of the benchmark (Kamailio
//! never challenges, so for it the relay only forwards), so both get the
//! same rig.

use std::net::{SocketAddr, UdpSocket};

fn is_auth_header(line: &[u8]) -> bool {
    let name_end = line.iter().position(|&b| b == b':').unwrap_or(line.len());
    let name = String::from_utf8_lossy(&line[..name_end]);
    let name = name.trim();
    name.eq_ignore_ascii_case("WWW-Authenticate") || name.eq_ignore_ascii_case("Proxy-Authenticate")
}

fn is_md5(line: &[u8]) -> bool {
    let low = String::from_utf8_lossy(line).to_ascii_lowercase();
    match low.find("algorithm=") {
        Some(i) => low[i + 10..].trim_start_matches('"').starts_with("md5"),
        None => true,
    }
}

/// The datagram with non-MD5 challenges removed, or None to send it as is.
fn keep_md5_challenges(d: &[u8]) -> Option<Vec<u8>> {
    if !(d.starts_with(b"SIP/2.0 401 ") || d.starts_with(b"SIP/2.0 407 ")) {
        return None;
    }
    let end = d.windows(4).position(|w| w == b"\r\n\r\n")?;
    let (head, rest) = d.split_at(end);
    let lines: Vec<&[u8]> = head.split(|&b| b == b'\n').collect();
    // Lines keep their trailing '\r'; the last one (before "\r\n\r\n") has none.
    let line_of = |l: &&[u8]| -> Vec<u8> { l.strip_suffix(b"\r").unwrap_or(l).to_vec() };
    if !lines.iter().any(|l| is_auth_header(&line_of(l)) && is_md5(&line_of(l))) {
        return None;
    }
    let kept: Vec<Vec<u8>> = lines
        .iter()
        .map(line_of)
        .filter(|l| !is_auth_header(l) || is_md5(l))
        .collect();
    let mut out = kept.join(&b"\r\n"[..]);
    out.extend_from_slice(rest);
    Some(out)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: authrelay LISTEN UPSTREAM");
        std::process::exit(2);
    }
    let listen: SocketAddr = args[1].parse().expect("LISTEN address");
    let upstream: SocketAddr = args[2].parse().expect("UPSTREAM address");
    let sock = UdpSocket::bind(listen).expect("bind LISTEN");
    let mut client: Option<SocketAddr> = None;
    let mut buf = vec![0u8; 65536];
    loop {
        let (n, from) = match sock.recv_from(&mut buf) {
            Ok(x) => x,
            Err(_) => continue,
        };
        let d = &buf[..n];
        if from == upstream {
            if let Some(c) = client {
                let _ = match keep_md5_challenges(d) {
                    Some(out) => sock.send_to(&out, c),
                    None => sock.send_to(d, c),
                };
            }
        } else {
            client = Some(from);
            let _ = sock.send_to(d, upstream);
        }
    }
}
