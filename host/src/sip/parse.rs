//! A strict SIP message parser (RFC 3261 §7, §25) with the framing rules of
//! §18.3, built to pass the RFC 4475 torture messages: a malformed request
//! yields a [`ParseError`] carrying the status to answer (400, or 505 for an
//! unknown version); a malformed response is simply an error (dropped).

use super::message::{canonical_name, Headers, Message, Request, Response};
use super::uri::{split_unquoted, NameAddr, Via};
use bytes::Bytes;

/// Largest accepted header section, bytes.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;
/// Largest accepted body, bytes.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// Most Via entries of a request the host answers: a response echoes them
/// all, so a pile of Vias buys an attacker a big response for free work.
/// 64 is far beyond any real proxy chain (RFC 4475's longreq has 34).
pub const MAX_VIAS: usize = 64;

/// Why a message was refused, and what to answer if it was a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 400 or 505.
    pub status: u16,
    /// Goes into the reason phrase / a Warning; no CR/LF.
    pub reason: String,
    /// Whether the start line looked like a request (so an answer is due).
    pub is_request: bool,
}

fn bad(reason: impl Into<String>, is_request: bool) -> ParseError {
    ParseError {
        status: 400,
        reason: reason.into(),
        is_request,
    }
}

const SINGLE_VALUED: &[&str] = &[
    "Call-ID",
    "CSeq",
    "From",
    "To",
    "Max-Forwards",
    "Content-Length",
    "Content-Type",
    "Expires",
];

const SPLIT_ON_COMMA: &[&str] = &["Via", "Route", "Record-Route", "Contact"];

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-.!%*_+`'~".contains(c))
}

/// Position just after the blank line ending the header section, and the
/// length of the header section itself (without the blank line).
fn find_header_end(data: &[u8]) -> Option<(usize, usize)> {
    find_header_end_from(data, 0)
}

/// [`find_header_end`] looking only at line ends from `from` on (the
/// bytes before were searched already).
pub(super) fn find_header_end_from(data: &[u8], from: usize) -> Option<(usize, usize)> {
    let mut i = from.saturating_sub(3);
    while i + 1 < data.len() {
        if data[i] == b'\n' {
            if data[i + 1] == b'\n' {
                return Some((i, i + 2));
            }
            if data[i + 1] == b'\r' && i + 2 < data.len() && data[i + 2] == b'\n' {
                let hdr_end = if i > 0 && data[i - 1] == b'\r' {
                    i - 1
                } else {
                    i
                };
                return Some((hdr_end, i + 3));
            }
        }
        i += 1;
    }
    None
}

/// Strips keep-alive CRLFs before a message.
pub(super) fn skip_leading_crlf(data: &[u8]) -> usize {
    data.iter()
        .take_while(|b| **b == b'\r' || **b == b'\n')
        .count()
}

/// Parses one UDP datagram. Bytes beyond Content-Length are ignored
/// (RFC 3261 §18.3); a Content-Length larger than the datagram is an error.
pub fn parse_datagram(data: &[u8]) -> Result<Message, ParseError> {
    let start = skip_leading_crlf(data);
    let data = &data[start..];
    let looks_request = !data.starts_with(b"SIP/");
    let (hdr_len, body_start) =
        find_header_end(data).ok_or_else(|| bad("no end of headers", looks_request))?;
    let (msg_kind, headers, content_length) = parse_head(&data[..hdr_len])?;
    let available = data.len() - body_start;
    let len = match content_length {
        Some(cl) if cl > available => {
            return Err(bad(
                "Content-Length larger than message",
                msg_kind.is_request(),
            ))
        }
        Some(cl) => cl,
        None => available,
    };
    Ok(msg_kind.into_message(
        headers,
        Bytes::copy_from_slice(&data[body_start..body_start + len]),
    ))
}

/// A message head parsed once, waiting for its body on a stream.
pub(super) struct Head {
    kind: StartLine,
    headers: Headers,
    /// Bytes from the message start to the body.
    pub(super) body_start: usize,
    /// Content-Length (0 when absent).
    pub(super) body_len: usize,
}

impl Head {
    /// The message, with `body`.
    pub(super) fn into_message(self, body: &[u8]) -> Message {
        self.kind
            .into_message(self.headers, Bytes::copy_from_slice(body))
    }
}

/// Parses the head of a stream message whose header section is
/// `data[..hdr_len]`, body starting at `body_start`.
pub(super) fn parse_stream_head(
    data: &[u8],
    hdr_len: usize,
    body_start: usize,
) -> Result<Head, ParseError> {
    let (kind, headers, cl) = parse_head(&data[..hdr_len])?;
    Ok(Head {
        kind,
        headers,
        body_start,
        body_len: cl.unwrap_or(0),
    })
}

/// Parses one complete message taken from a stream (already framed, see
/// [`super::framer`]).
pub fn parse_stream_message(data: &[u8]) -> Result<Message, ParseError> {
    let (hdr_len, body_start) =
        find_header_end(data).ok_or_else(|| bad("no end of headers", true))?;
    let (kind, headers, cl) = parse_head(&data[..hdr_len])?;
    let cl = cl.unwrap_or(0);
    let end = (body_start + cl).min(data.len());
    Ok(kind.into_message(headers, Bytes::copy_from_slice(&data[body_start..end])))
}

enum StartLine {
    Request { method: String, uri: String },
    Response { status: u16, reason: String },
}

impl StartLine {
    fn is_request(&self) -> bool {
        matches!(self, StartLine::Request { .. })
    }
    fn into_message(self, headers: Headers, body: Bytes) -> Message {
        match self {
            StartLine::Request { method, uri } => Message::Request(Request {
                method,
                uri,
                headers,
                body,
            }),
            StartLine::Response { status, reason } => Message::Response(Response {
                status,
                reason,
                headers,
                body,
            }),
        }
    }
}

fn parse_start_line(line: &str) -> Result<StartLine, ParseError> {
    if let Some(rest) = line.strip_prefix("SIP/") {
        let mut parts = rest.splitn(3, ' ');
        let version = parts.next().unwrap_or("");
        let code = parts.next().unwrap_or("");
        let reason = parts.next().unwrap_or("");
        if version != "2.0" {
            return Err(bad("unsupported version in response", false));
        }
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("bad status code", false));
        }
        let status: u16 = code.parse().map_err(|_| bad("bad status code", false))?;
        if !(100..=699).contains(&status) {
            return Err(bad("status code out of range", false));
        }
        return Ok(StartLine::Response {
            status,
            reason: reason.to_string(),
        });
    }
    let parts: Vec<&str> = line.split(' ').collect();
    if parts.len() != 3 {
        return Err(bad("malformed request line", true));
    }
    let (method, uri, version) = (parts[0], parts[1], parts[2]);
    if !is_token(method) {
        return Err(bad("bad method", true));
    }
    if uri.is_empty() || uri.starts_with('<') || uri.contains(char::is_whitespace) {
        return Err(bad("malformed Request-URI", true));
    }
    if !uri.contains(':') {
        return Err(bad("Request-URI without scheme", true));
    }
    if version != "SIP/2.0" {
        let looks_versioned = version
            .strip_prefix("SIP/")
            .map(|v| {
                let mut it = v.split('.');
                matches!((it.next(), it.next(), it.next()), (Some(a), Some(b), None)
                    if !a.is_empty() && !b.is_empty()
                        && a.bytes().all(|c| c.is_ascii_digit())
                        && b.bytes().all(|c| c.is_ascii_digit()))
            })
            .unwrap_or(false);
        return Err(ParseError {
            status: if looks_versioned { 505 } else { 400 },
            reason: "unsupported SIP version".into(),
            is_request: true,
        });
    }
    Ok(StartLine::Request {
        method: method.to_string(),
        uri: uri.to_string(),
    })
}

fn parse_head(head: &[u8]) -> Result<(StartLine, Headers, Option<usize>), ParseError> {
    let looks_request = !head.starts_with(b"SIP/");
    let text =
        std::str::from_utf8(head).map_err(|_| bad("headers are not UTF-8", looks_request))?;
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let start = lines.next().unwrap_or("");
    let start = parse_start_line(start)?;
    let is_req = start.is_request();

    // Unfold and collect raw header lines.
    let mut raw: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.starts_with(' ') || line.starts_with('\t') {
            match raw.last_mut() {
                Some((_, v)) => {
                    v.push(' ');
                    v.push_str(line.trim());
                }
                None => return Err(bad("continuation line before any header", is_req)),
            }
            continue;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| bad("header line without colon", is_req))?;
        let name = name.trim_end();
        if !is_token(name) {
            return Err(bad(format!("bad header name {name:?}"), is_req));
        }
        if !controls_are_escaped(value) {
            return Err(bad(
                format!("control character in the {name} header"),
                is_req,
            ));
        }
        raw.push((canonical_name(name), value.trim().to_string()));
    }

    let mut headers = Headers::new();
    for (name, value) in raw {
        if SPLIT_ON_COMMA.contains(&name.as_str()) && !(name == "Contact" && value == "*") {
            for part in split_unquoted(&value, ',') {
                headers.push(&name, part.trim());
            }
        } else {
            headers.push(&name, value);
        }
    }

    for name in SINGLE_VALUED {
        if headers.count(name) > 1 {
            return Err(bad(format!("more than one {name}"), is_req));
        }
    }
    if is_req {
        for name in ["Via", "From", "To", "Call-ID", "CSeq"] {
            if headers.count(name) == 0 {
                return Err(bad(format!("missing {name}"), true));
            }
        }
    } else {
        for name in ["Via", "CSeq", "Call-ID"] {
            if headers.count(name) == 0 {
                return Err(bad(format!("missing {name}"), false));
            }
        }
    }
    validate_headers(&start, &headers)?;

    let content_length = match headers.get("Content-Length") {
        Some(v) => {
            if v.is_empty() || v.len() > 9 || !v.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad("bad Content-Length", is_req));
            }
            let n: usize = v.parse().map_err(|_| bad("bad Content-Length", is_req))?;
            if n > MAX_BODY_BYTES {
                return Err(bad("body too large", is_req));
            }
            Some(n)
        }
        None => None,
    };
    Ok((start, headers, content_length))
}

/// Whether `value` holds control characters (CR, NUL, BEL, DEL, ...; HTAB
/// is whitespace) only as quoted-pairs inside a quoted string, the one
/// place RFC 3261 §25.1 allows them (and never CR or LF, not even there).
/// A bare CR must not reach a phone as part of a header.
fn controls_are_escaped(value: &str) -> bool {
    let b = value.as_bytes();
    let control = |c: u8| (c < 0x20 && c != b'\t') || c == 0x7f;
    let mut quoted = false;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => quoted = !quoted,
            b'\\' if quoted => match b.get(i + 1) {
                Some(b'\r') | Some(b'\n') | None => return false,
                Some(_) => i += 1,
            },
            c if control(c) => return false,
            _ => {}
        }
        i += 1;
    }
    true
}

fn validate_headers(start: &StartLine, h: &Headers) -> Result<(), ParseError> {
    let is_req = start.is_request();
    if let Some(cseq) = h.get("CSeq") {
        let mut it = cseq.split_whitespace();
        let num = it.next().unwrap_or("");
        let method = it.next().unwrap_or("");
        if it.next().is_some()
            || num.is_empty()
            || num.len() > 10
            || !num.bytes().all(|b| b.is_ascii_digit())
            || !is_token(method)
        {
            return Err(bad("malformed CSeq", is_req));
        }
        let n: u64 = num.parse().map_err(|_| bad("malformed CSeq", is_req))?;
        if n > u64::from(u32::MAX >> 1) {
            return Err(bad("CSeq number too large", is_req));
        }
        if let StartLine::Request { method: m, .. } = start {
            if m != method {
                return Err(bad("CSeq method does not match the request", true));
            }
        }
    }
    if let Some(mf) = h.get("Max-Forwards") {
        // Leading zeros are allowed (RFC 4475 §3.1.1.1: "0068").
        let ok = !mf.is_empty()
            && mf.len() <= 10
            && mf.bytes().all(|b| b.is_ascii_digit())
            && mf.parse::<u32>().map(|v| v <= 255).unwrap_or(false);
        if !ok {
            return Err(bad("bad Max-Forwards", is_req));
        }
    }
    if let Some(e) = h.get("Expires") {
        if e.is_empty() || e.len() > 10 || !e.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("bad Expires", is_req));
        }
    }
    for v in h.get_all("Via") {
        Via::parse(v).map_err(|e| bad(format!("bad Via: {e}"), is_req))?;
    }
    for name in ["From", "To"] {
        if let Some(v) = h.get(name) {
            NameAddr::parse(v).map_err(|e| bad(format!("bad {name}: {e}"), is_req))?;
        }
    }
    for v in h.get_all("Contact") {
        if v != "*" {
            NameAddr::parse(v).map_err(|e| bad(format!("bad Contact: {e}"), is_req))?;
        }
    }
    if h.get("Call-ID").map(str::is_empty).unwrap_or(false) {
        return Err(bad("empty Call-ID", is_req));
    }
    Ok(())
}

/// Builds the error response for a request the strict parser refused,
/// reading the headers it needs leniently. `None` when the message is not a
/// request or has no Via to answer along.
pub fn error_response_for(data: &[u8], err: &ParseError) -> Option<Vec<u8>> {
    if !err.is_request {
        return None;
    }
    let text = String::from_utf8_lossy(&data[skip_leading_crlf(data)..]).into_owned();
    let head = text
        .split("\r\n\r\n")
        .next()
        .unwrap_or("")
        .split("\n\n")
        .next()
        .unwrap_or("");
    let mut lines = head.lines();
    let _start = lines.next()?;
    let mut out = Headers::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = canonical_name(name.trim());
        if name == "Via" {
            for v in split_unquoted(value, ',') {
                if out.count("Via") >= MAX_VIAS {
                    // Not answered: the answer would reflect them all.
                    return None;
                }
                out.push("Via", v.trim());
            }
        } else if ["From", "To", "Call-ID", "CSeq"].contains(&name.as_str()) && out.count(&name) < 1
        {
            out.push(&name, value.trim());
        }
    }
    out.get("Via")?;
    let reason: String = err
        .reason
        .chars()
        .filter(|c| !c.is_control())
        .take(100)
        .collect();
    let mut s = format!(
        "SIP/2.0 {} {}\r\n",
        err.status,
        if err.status == 505 {
            "Version Not Supported".to_string()
        } else {
            format!("Bad Request ({reason})")
        }
    );
    for (n, v) in out.iter() {
        s.push_str(&format!("{n}: {v}\r\n"));
    }
    s.push_str("Content-Length: 0\r\n\r\n");
    Some(s.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTIONS: &str = "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";

    #[test]
    fn parses_a_plain_request() {
        match parse_datagram(OPTIONS.as_bytes()) {
            Ok(Message::Request(r)) => {
                assert_eq!(r.method, "OPTIONS");
                assert_eq!(r.cseq(), (1, "OPTIONS"));
                assert_eq!(r.top_branch().as_deref(), Some("z9hG4bK1"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn control_characters_only_as_quoted_pairs() {
        for bad_value in ["x\ry", "a\0b", "a\x07b", "\"\\\r\"", "a\x7fb"] {
            let m = OPTIONS.replace(
                "From: <sip:x@y>;tag=1",
                &format!("From: \"{bad_value}\" <sip:x@y>;tag=1"),
            );
            let e = parse_datagram(m.as_bytes()).map(|_| ()).unwrap_err();
            assert_eq!(e.status, 400, "{bad_value:?}");
            assert!(e.reason.contains("control character"), "{}", e.reason);
        }
        let ok = OPTIONS.replace(
            "From: <sip:x@y>;tag=1",
            "From: \"BEL:\\\x07 NUL:\\\0\tDEL:\\\x7f\" <sip:x@y>;tag=1",
        );
        assert!(parse_datagram(ok.as_bytes()).is_ok());
    }

    /// Every message RFC 4475 calls well-formed parses (insuf.dat lacks
    /// mandatory headers, which §3.3.1 wants refused with 400: it is left
    /// to the end-to-end test).
    #[test]
    fn every_valid_torture_message_parses() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/sip-torture");
        let index = std::fs::read_to_string(dir.join("INDEX.tsv")).expect("INDEX.tsv");
        let mut checked = 0;
        for line in index.lines().filter(|l| !l.starts_with('#')) {
            let cols: Vec<&str> = line.split('\t').collect();
            let (Some(file), Some(class)) = (cols.first(), cols.get(3)) else {
                continue;
            };
            if class.trim() != "parse-ok" || *file == "insuf.dat" {
                continue;
            }
            let data = std::fs::read(dir.join("rfc4475").join(file)).expect("torture file");
            if let Err(e) = parse_datagram(&data) {
                panic!("{file} ({}) is valid but was refused: {e:?}", cols[1]);
            }
            checked += 1;
        }
        assert!(checked >= 30, "only {checked} valid messages found");
    }

    #[test]
    fn refuses_mismatched_cseq_and_bad_version() {
        let m = OPTIONS.replace("1 OPTIONS", "1 INVITE");
        assert_eq!(parse_datagram(m.as_bytes()).unwrap_err().status, 400);
        let v = OPTIONS.replace("sip:a@b SIP/2.0", "sip:a@b SIP/7.0");
        let e = parse_datagram(v.as_bytes()).unwrap_err();
        assert_eq!(e.status, 505);
        let resp = String::from_utf8(error_response_for(v.as_bytes(), &e).unwrap()).unwrap();
        assert!(resp.starts_with("SIP/2.0 505 "));
        assert!(resp.contains("Call-ID: c1\r\n"));
    }
}
