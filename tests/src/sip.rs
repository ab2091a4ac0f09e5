//! A raw SIP client for the tests: a lenient message parser, a UDP socket
//! that sends bytes and waits for answers, digest authentication (MD5 and
//! SHA-256, RFC 7616 / RFC 8760) and a REGISTER builder.

use crate::{token, DEMO_DOMAIN};
use sha2::Digest;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// A received SIP message, parsed leniently.
#[derive(Debug, Clone)]
pub struct SipMessage {
    /// First line.
    pub start_line: String,
    /// Status code of a response.
    pub status: Option<u16>,
    /// Method of a request.
    pub method: Option<String>,
    /// Headers in order, names in their long form (`v` becomes `Via`).
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// The whole message as text.
    pub raw: String,
}

fn long_name(name: &str) -> String {
    let n = name.trim();
    let long = match n.to_ascii_lowercase().as_str() {
        "i" => "Call-ID",
        "m" => "Contact",
        "e" => "Content-Encoding",
        "l" => "Content-Length",
        "c" => "Content-Type",
        "f" => "From",
        "s" => "Subject",
        "k" => "Supported",
        "t" => "To",
        "v" => "Via",
        _ => return n.to_string(),
    };
    long.to_string()
}

impl SipMessage {
    /// Parses one message (CRLF or LF line ends). `None` when the first line
    /// is neither a status line nor a request line.
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        let raw = String::from_utf8_lossy(bytes).into_owned();
        let text = raw.trim_start_matches(['\r', '\n']);
        let (head, body) = match text.find("\r\n\r\n") {
            Some(i) => (&text[..i], &text[i + 4..]),
            None => match text.find("\n\n") {
                Some(i) => (&text[..i], &text[i + 2..]),
                None => (text, ""),
            },
        };
        let mut lines = head.lines().map(|l| l.trim_end_matches('\r'));
        let start_line = lines.next()?.to_string();
        let (status, method) = if let Some(rest) = start_line.strip_prefix("SIP/2.0 ") {
            let code = rest.split(' ').next()?.parse::<u16>().ok()?;
            (Some(code), None)
        } else {
            let mut parts = start_line.split(' ');
            let m = parts.next()?.to_string();
            if !start_line.contains("SIP/") && !start_line.contains(':') {
                return None;
            }
            (None, Some(m))
        };
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in lines {
            if line.starts_with(' ') || line.starts_with('\t') {
                if let Some((_, v)) = headers.last_mut() {
                    v.push(' ');
                    v.push_str(line.trim());
                }
                continue;
            }
            if let Some((n, v)) = line.split_once(':') {
                headers.push((long_name(n), v.trim().to_string()));
            }
        }
        Some(SipMessage {
            start_line,
            status,
            method,
            headers,
            body: body.to_string(),
            raw,
        })
    }

    /// The first header called `name` (case-insensitive, compact forms too).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = long_name(name);
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(&name))
            .map(|(_, v)| v.as_str())
    }

    /// Every header called `name`, in order.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        let name = long_name(name);
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(&name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The method named in CSeq.
    pub fn cseq_method(&self) -> Option<&str> {
        self.header("CSeq")?.split_whitespace().nth(1)
    }

    /// The number in CSeq.
    pub fn cseq_number(&self) -> Option<u32> {
        self.header("CSeq")?.split_whitespace().next()?.parse().ok()
    }

    /// A response with a status of 200 or more.
    pub fn is_final(&self) -> bool {
        self.status.map(|s| s >= 200).unwrap_or(false)
    }

    /// Whether this is the request `method`.
    pub fn is_request(&self, method: &str) -> bool {
        self.method.as_deref() == Some(method)
    }

    /// Whether this is a response with `status` to a `method` request.
    pub fn is_response(&self, status: u16, method: &str) -> bool {
        self.status == Some(status) && self.cseq_method() == Some(method)
    }

    /// Where the SDP body wants audio: `c=` address and `m=audio` port.
    pub fn sdp_audio(&self) -> Option<SocketAddr> {
        let mut ip = None;
        let mut port = None;
        for line in self.body.lines().map(str::trim) {
            if let Some(c) = line.strip_prefix("c=IN IP4 ") {
                if ip.is_none() {
                    ip = c.trim().parse::<std::net::IpAddr>().ok();
                }
            } else if let Some(m) = line.strip_prefix("m=audio ") {
                port = m.split_whitespace().next()?.parse::<u16>().ok();
            }
        }
        Some(SocketAddr::new(ip?, port?))
    }
}

/// A UDP socket on 127.0.0.1 talking SIP to one server.
pub struct SipUdp {
    pub sock: UdpSocket,
    pub server: SocketAddr,
}

impl SipUdp {
    /// A new socket on a free port.
    pub fn new(server: SocketAddr) -> Self {
        Self::bind_at([127, 0, 0, 1], server)
    }

    /// A socket on exactly `addr` (e.g. the trunk's address).
    pub fn bind_addr(addr: SocketAddr, server: SocketAddr) -> Self {
        let sock = UdpSocket::bind(addr).expect("bind a UDP socket");
        SipUdp { sock, server }
    }

    /// A new socket on a free port of another loopback address (another
    /// "host" as far as the server can tell).
    pub fn bind_at(ip: [u8; 4], server: SocketAddr) -> Self {
        let sock = UdpSocket::bind((std::net::Ipv4Addr::from(ip), 0)).expect("bind a UDP socket");
        SipUdp { sock, server }
    }

    /// Our address.
    pub fn local(&self) -> SocketAddr {
        self.sock.local_addr().expect("local address")
    }

    /// Sends one datagram to the server.
    pub fn send(&self, bytes: &[u8]) {
        self.sock
            .send_to(bytes, self.server)
            .expect("send a datagram");
    }

    /// The next datagram from anyone, as raw bytes.
    pub fn recv_raw(&self, timeout: Duration) -> Option<Vec<u8>> {
        let deadline = Instant::now() + timeout;
        let mut buf = vec![0u8; 65536];
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            if left.is_zero() {
                return None;
            }
            self.sock.set_read_timeout(Some(left)).ok()?;
            match self.sock.recv_from(&mut buf) {
                Ok((n, _)) => return Some(buf[..n].to_vec()),
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    return None
                }
                // ICMP errors of earlier sends surface here: keep listening.
                Err(_) => continue,
            }
        }
    }

    /// The next SIP message (unparsable datagrams are skipped).
    pub fn recv(&self, timeout: Duration) -> Option<SipMessage> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let raw = self.recv_raw(left)?;
            if let Some(m) = SipMessage::parse(&raw) {
                return Some(m);
            }
        }
    }

    /// The next final response (provisional ones and requests are skipped).
    pub fn recv_final(&self, timeout: Duration) -> Option<SipMessage> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let m = self.recv(left)?;
            if m.is_final() {
                return Some(m);
            }
        }
    }

    /// Everything that arrives within `window`.
    pub fn recv_all(&self, window: Duration) -> Vec<SipMessage> {
        let deadline = Instant::now() + window;
        let mut out = Vec::new();
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.recv(left) {
                Some(m) => out.push(m),
                None => break,
            }
        }
        out
    }

    /// Sends `msg` and waits (5 s) for the final response.
    pub fn request(&self, msg: &str) -> Option<SipMessage> {
        self.send(msg.as_bytes());
        self.recv_final(Duration::from_secs(5))
    }
}

/// An OPTIONS from `from` (used as the host's readiness probe).
pub fn options_request(from: &SipUdp, domain: &str) -> String {
    let l = from.local();
    format!(
        "OPTIONS sip:{domain} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {l};branch=z9hG4bK{b}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:probe@{domain}>;tag={t}\r\n\
         To: <sip:{domain}>\r\n\
         Call-ID: {c}\r\n\
         CSeq: 1 OPTIONS\r\n\
         Content-Length: 0\r\n\r\n",
        b = token(),
        t = token(),
        c = token()
    )
}

/// A digest challenge (`WWW-Authenticate` / `Proxy-Authenticate`).
#[derive(Debug, Clone)]
pub struct Challenge {
    pub realm: String,
    pub nonce: String,
    /// `MD5` when the challenge names none.
    pub algorithm: String,
    pub qop: Option<String>,
    pub opaque: Option<String>,
    pub stale: bool,
}

/// Splits `a=b, c="d, e"` into lowercase names and unquoted values.
pub fn auth_params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        rest = rest.trim_start_matches([',', ' ', '\t']);
        let Some(eq) = rest.find('=') else { break };
        let name = rest[..eq].trim().to_ascii_lowercase();
        rest = rest[eq + 1..].trim_start();
        let value;
        if let Some(r) = rest.strip_prefix('"') {
            let mut v = String::new();
            let mut chars = r.char_indices();
            let mut end = r.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            v.push(n);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => v.push(c),
                }
            }
            value = v;
            rest = &r[end.min(r.len())..];
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            value = rest[..end].trim().to_string();
            rest = &rest[end..];
        }
        out.push((name, value));
    }
    out
}

impl Challenge {
    /// Parses a `Digest ...` challenge value.
    pub fn parse(value: &str) -> Option<Self> {
        let v = value.trim();
        let (scheme, params) = v.split_once(char::is_whitespace)?;
        if !scheme.eq_ignore_ascii_case("Digest") {
            return None;
        }
        let p = auth_params(params);
        let get = |n: &str| p.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        Some(Challenge {
            realm: get("realm")?,
            nonce: get("nonce")?,
            algorithm: get("algorithm").unwrap_or_else(|| "MD5".into()),
            qop: get("qop"),
            opaque: get("opaque"),
            stale: get("stale")
                .map(|s| s.eq_ignore_ascii_case("true"))
                .unwrap_or(false),
        })
    }

    /// Every digest challenge of a 401 or 407, in order.
    pub fn all_in(resp: &SipMessage) -> Vec<Challenge> {
        resp.header_all("WWW-Authenticate")
            .into_iter()
            .chain(resp.header_all("Proxy-Authenticate"))
            .filter_map(Challenge::parse)
            .collect()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The digest hash `algorithm` names (`MD5` or `SHA-256`).
pub fn digest_hash(algorithm: &str, data: &str) -> String {
    if algorithm.eq_ignore_ascii_case("SHA-256") {
        hex(&sha2::Sha256::digest(data.as_bytes()))
    } else {
        hex(&md5::Md5::digest(data.as_bytes()))
    }
}

/// The credentials answering `ch` (RFC 7616 §3.4), as the value of an
/// `Authorization` / `Proxy-Authorization` header.
pub fn authorization(
    ch: &Challenge,
    username: &str,
    password: &str,
    method: &str,
    uri: &str,
    nc: u32,
) -> String {
    let alg = ch.algorithm.as_str();
    let ha1 = digest_hash(alg, &format!("{username}:{}:{password}", ch.realm));
    let ha2 = digest_hash(alg, &format!("{method}:{uri}"));
    let cnonce = token();
    let nc = format!("{nc:08x}");
    let qop_auth = ch
        .qop
        .as_deref()
        .map(|q| q.split(',').any(|x| x.trim() == "auth"))
        .unwrap_or(false);
    let mut v = if qop_auth {
        let resp = digest_hash(alg, &format!("{ha1}:{}:{nc}:{cnonce}:auth:{ha2}", ch.nonce));
        format!(
            "Digest username=\"{username}\", realm=\"{}\", nonce=\"{}\", uri=\"{uri}\", \
             response=\"{resp}\", algorithm={alg}, qop=auth, nc={nc}, cnonce=\"{cnonce}\"",
            ch.realm, ch.nonce
        )
    } else {
        let resp = digest_hash(alg, &format!("{ha1}:{}:{ha2}", ch.nonce));
        format!(
            "Digest username=\"{username}\", realm=\"{}\", nonce=\"{}\", uri=\"{uri}\", \
             response=\"{resp}\", algorithm={alg}",
            ch.realm, ch.nonce
        )
    };
    if let Some(o) = &ch.opaque {
        v.push_str(&format!(", opaque=\"{o}\""));
    }
    v
}

/// A device registering by hand (one socket, one Call-ID, growing CSeq).
pub struct Registrant {
    pub udp: SipUdp,
    pub aor: String,
    pub username: String,
    pub password: String,
    pub domain: String,
    pub call_id: String,
    pub tag: String,
    pub cseq: u32,
}

/// A REGISTER that went through a challenge.
#[derive(Debug)]
pub struct Registered {
    /// The 401.
    pub challenge: SipMessage,
    /// The Authorization value sent with the second REGISTER.
    pub authorization: String,
    /// The final answer to the second REGISTER.
    pub response: SipMessage,
}

impl Registrant {
    /// Device `username`/`password` registering `aor` in the demo tenant.
    pub fn new(server: SocketAddr, aor: &str, username: &str, password: &str) -> Self {
        Self::new_at([127, 0, 0, 1], server, aor, username, password)
    }

    /// Like [`Registrant::new`], from loopback address `ip`.
    pub fn new_at(
        ip: [u8; 4],
        server: SocketAddr,
        aor: &str,
        username: &str,
        password: &str,
    ) -> Self {
        Registrant {
            udp: SipUdp::bind_at(ip, server),
            aor: aor.into(),
            username: username.into(),
            password: password.into(),
            domain: DEMO_DOMAIN.into(),
            call_id: format!("{}@centrale-tests", token()),
            tag: token(),
            cseq: 0,
        }
    }

    /// The Request-URI of our REGISTERs.
    pub fn uri(&self) -> String {
        format!("sip:{}", self.domain)
    }

    /// Our Contact URI.
    pub fn contact(&self) -> String {
        format!("sip:{}@{}", self.aor, self.udp.local())
    }

    /// A REGISTER with a new branch and the next CSeq.
    pub fn request(&mut self, expires: Option<u32>, authorization: Option<&str>) -> String {
        self.cseq += 1;
        let mut m = format!(
            "REGISTER {uri} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {local};branch=z9hG4bK{branch}\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:{aor}@{d}>;tag={tag}\r\n\
             To: <sip:{aor}@{d}>\r\n\
             Call-ID: {cid}\r\n\
             CSeq: {cseq} REGISTER\r\n\
             Contact: <{contact}>\r\n\
             User-Agent: centrale-tests\r\n",
            uri = self.uri(),
            local = self.udp.local(),
            branch = token(),
            aor = self.aor,
            d = self.domain,
            tag = self.tag,
            cid = self.call_id,
            cseq = self.cseq,
            contact = self.contact(),
        );
        if let Some(e) = expires {
            m.push_str(&format!("Expires: {e}\r\n"));
        }
        if let Some(a) = authorization {
            m.push_str(&format!("Authorization: {a}\r\n"));
        }
        m.push_str("Content-Length: 0\r\n\r\n");
        m
    }

    /// Sends a REGISTER and returns its final answer (panics on silence).
    pub fn send(&mut self, expires: Option<u32>, authorization: Option<&str>) -> SipMessage {
        let req = self.request(expires, authorization);
        self.udp
            .request(&req)
            .unwrap_or_else(|| panic!("no answer to\n{req}"))
    }

    /// REGISTER, take the challenge with `algorithm` (`MD5` / `SHA-256`),
    /// REGISTER again with credentials.
    pub fn register(&mut self, expires: Option<u32>, algorithm: &str) -> Registered {
        let challenge = self.send(expires, None);
        assert_eq!(
            challenge.status,
            Some(401),
            "first REGISTER should be challenged:\n{}",
            challenge.raw
        );
        let ch = Challenge::all_in(&challenge)
            .into_iter()
            .find(|c| c.algorithm.eq_ignore_ascii_case(algorithm))
            .unwrap_or_else(|| panic!("no {algorithm} challenge in\n{}", challenge.raw));
        let authorization = authorization(
            &ch,
            &self.username,
            &self.password,
            "REGISTER",
            &self.uri(),
            1,
        );
        let response = self.send(expires, Some(&authorization));
        Registered {
            challenge,
            authorization,
            response,
        }
    }
}

/// What [`invite_request`] puts in an INVITE (new Call-ID, tag, branch).
pub struct InviteSpec<'a> {
    pub from_user: &'a str,
    pub to_user: &'a str,
    pub cseq: u32,
    /// Where the SDP offer wants audio (127.0.0.1).
    pub media_port: u16,
    pub proxy_authorization: Option<&'a str>,
}

/// An INVITE between users of the demo tenant, sent from `udp`.
pub fn invite_request(udp: &SipUdp, spec: &InviteSpec) -> String {
    let InviteSpec {
        from_user,
        to_user,
        cseq,
        media_port,
        proxy_authorization,
    } = *spec;
    let (call_id, from_tag, branch) = (
        format!("{}@centrale-tests", token()),
        token(),
        format!("z9hG4bK{}", token()),
    );
    let local = udp.local();
    let sdp = format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {media_port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
    );
    let auth = proxy_authorization
        .map(|a| format!("Proxy-Authorization: {a}\r\n"))
        .unwrap_or_default();
    format!(
        "INVITE sip:{to_user}@{d} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {local};branch={branch}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:{from_user}@{d}>;tag={from_tag}\r\n\
         To: <sip:{to_user}@{d}>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: {cseq} INVITE\r\n\
         Contact: <sip:{from_user}@{local}>\r\n\
         {auth}\
         Content-Type: application/sdp\r\n\
         Content-Length: {len}\r\n\r\n{sdp}",
        d = DEMO_DOMAIN,
        len = sdp.len()
    )
}

/// The ACK for a non-2xx final response to `invite` (RFC 3261 §17.1.1.3:
/// same Request-URI, top Via and From as the INVITE, To of the response).
pub fn ack_for_failure(invite: &str, resp: &SipMessage) -> String {
    let inv = SipMessage::parse(invite.as_bytes()).expect("parse our INVITE");
    let uri = inv
        .start_line
        .split(' ')
        .nth(1)
        .expect("Request-URI")
        .to_string();
    format!(
        "ACK {uri} SIP/2.0\r\n\
         Via: {via}\r\n\
         Max-Forwards: 70\r\n\
         From: {from}\r\n\
         To: {to}\r\n\
         Call-ID: {cid}\r\n\
         CSeq: {n} ACK\r\n\
         Content-Length: 0\r\n\r\n",
        via = inv.header("Via").expect("Via"),
        from = inv.header("From").expect("From"),
        to = resp.header("To").expect("To"),
        cid = inv.header("Call-ID").expect("Call-ID"),
        n = inv.cseq_number().expect("CSeq"),
    )
}

/// Reads the `expires` parameter of a Contact value.
pub fn contact_expires(contact: &str) -> Option<u32> {
    contact.split(';').skip(1).find_map(|p| {
        let (n, v) = p.split_once('=')?;
        if n.trim().eq_ignore_ascii_case("expires") {
            v.trim().parse().ok()
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc2617_md5_example_matches() {
        // RFC 2617 §3.5 (qop=auth), checked against the RFC's response value.
        let ch = Challenge::parse(
            "Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", \
             nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
        )
        .unwrap();
        let ha1 = digest_hash("MD5", "Mufasa:testrealm@host.com:Circle Of Life");
        let ha2 = digest_hash("MD5", "GET:/dir/index.html");
        let resp = digest_hash(
            "MD5",
            &format!("{ha1}:{}:00000001:0a4f113b:auth:{ha2}", ch.nonce),
        );
        assert_eq!(resp, "6629fae49393a05397450978507c4ef1");
        assert_eq!(
            ch.opaque.as_deref(),
            Some("5ccc069c403ebaf9f0171e9517f40e41")
        );
    }

    #[test]
    fn parses_compact_headers_and_sdp() {
        let m = SipMessage::parse(
            b"SIP/2.0 200 OK\r\nv: SIP/2.0/UDP x\r\nl: 5\r\ni: abc\r\nCSeq: 2 INVITE\r\n\r\nv=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 4000 RTP/AVP 0\r\n",
        )
        .unwrap();
        assert_eq!(m.status, Some(200));
        assert_eq!(m.header("Call-ID"), Some("abc"));
        assert!(m.is_response(200, "INVITE"));
        assert_eq!(m.sdp_audio(), Some("127.0.0.1:4000".parse().unwrap()));
    }
}
