//! SIP messages as the switch handles them: a start line, an ordered list of
//! headers under their canonical (long) names, and a body.
//!
//! Multi-valued headers that are routing-relevant (Via, Route, Record-Route,
//! Contact) are split into one entry per value at parse time, so "the top
//! Via" is simply the first `Via` entry.

use bytes::Bytes;
use std::fmt::Write as _;

/// Headers in their original order, names normalised to the long form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, String)>);

/// The long form of a header name: compact forms expanded (RFC 3261 §7.3.3
/// and later RFCs), well-known names in their usual capitalisation, others as
/// they came.
pub fn canonical_name(name: &str) -> String {
    let long = match name.to_ascii_lowercase().as_str() {
        "i" | "call-id" => "Call-ID",
        "m" | "contact" => "Contact",
        "e" | "content-encoding" => "Content-Encoding",
        "l" | "content-length" => "Content-Length",
        "c" | "content-type" => "Content-Type",
        "f" | "from" => "From",
        "s" | "subject" => "Subject",
        "k" | "supported" => "Supported",
        "t" | "to" => "To",
        "v" | "via" => "Via",
        "o" | "event" => "Event",
        "r" | "refer-to" => "Refer-To",
        "b" | "referred-by" => "Referred-By",
        "u" | "allow-events" => "Allow-Events",
        "x" | "session-expires" => "Session-Expires",
        "cseq" => "CSeq",
        "max-forwards" => "Max-Forwards",
        "www-authenticate" => "WWW-Authenticate",
        "proxy-authenticate" => "Proxy-Authenticate",
        "authorization" => "Authorization",
        "proxy-authorization" => "Proxy-Authorization",
        "record-route" => "Record-Route",
        "route" => "Route",
        "expires" => "Expires",
        "min-expires" => "Min-Expires",
        "require" => "Require",
        "proxy-require" => "Proxy-Require",
        "unsupported" => "Unsupported",
        "allow" => "Allow",
        "accept" => "Accept",
        "user-agent" => "User-Agent",
        "server" => "Server",
        "reason" => "Reason",
        "retry-after" => "Retry-After",
        "diversion" => "Diversion",
        "history-info" => "History-Info",
        "p-asserted-identity" => "P-Asserted-Identity",
        "privacy" => "Privacy",
        _ => return name.to_string(),
    };
    long.to_string()
}

impl Headers {
    /// Empty header list.
    pub fn new() -> Self {
        Self(Vec::new())
    }
    /// The first value of `name` (any spelling, compact forms included).
    pub fn get(&self, name: &str) -> Option<&str> {
        let name = canonical_name(name);
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(&name))
            .map(|(_, v)| v.as_str())
    }
    /// Every value of `name`, in order.
    pub fn get_all<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a str> + 'a {
        let name = canonical_name(name);
        self.0
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(&name))
            .map(|(_, v)| v.as_str())
    }
    /// How many entries `name` has.
    pub fn count(&self, name: &str) -> usize {
        self.get_all(name).count()
    }
    /// Appends a value.
    pub fn push(&mut self, name: &str, value: impl Into<String>) {
        self.0.push((canonical_name(name), value.into()));
    }
    /// Inserts a value before all others (e.g. a new top Via).
    pub fn push_front(&mut self, name: &str, value: impl Into<String>) {
        self.0.insert(0, (canonical_name(name), value.into()));
    }
    /// Replaces every value of `name` by one value (appended when absent).
    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        let canon = canonical_name(name);
        let value = value.into();
        if let Some(pos) = self
            .0
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(&canon))
        {
            self.0[pos].1 = value;
            let mut i = pos + 1;
            while i < self.0.len() {
                if self.0[i].0.eq_ignore_ascii_case(&canon) {
                    self.0.remove(i);
                } else {
                    i += 1;
                }
            }
        } else {
            self.0.push((canon, value));
        }
    }
    /// Removes every value of `name`.
    pub fn remove(&mut self, name: &str) {
        let canon = canonical_name(name);
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(&canon));
    }
    /// Removes the first value of `name`.
    pub fn remove_first(&mut self, name: &str) {
        let canon = canonical_name(name);
        if let Some(pos) = self
            .0
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(&canon))
        {
            self.0.remove(pos);
        }
    }
    /// All entries.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

/// A SIP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub uri: String,
    pub headers: Headers,
    pub body: Bytes,
}

/// A SIP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub headers: Headers,
    pub body: Bytes,
}

/// Either kind of message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Request(Request),
    Response(Response),
}

/// The standard reason phrase of a status code.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        423 => "Interval Too Brief",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        484 => "Address Incomplete",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        505 => "Version Not Supported",
        600 => "Busy Everywhere",
        603 => "Decline",
        _ => "Unknown",
    }
}

fn write_headers_and_body(out: &mut String, headers: &Headers, body: &[u8]) {
    for (n, v) in headers.iter() {
        if n == "Content-Length" {
            continue;
        }
        let _ = write!(out, "{n}: {v}\r\n");
    }
    let _ = write!(out, "Content-Length: {}\r\n\r\n", body.len());
}

impl Request {
    /// A request with no headers and no body.
    pub fn new(method: &str, uri: &str) -> Self {
        Self {
            method: method.to_string(),
            uri: uri.to_string(),
            headers: Headers::new(),
            body: Bytes::new(),
        }
    }
    /// The wire form; Content-Length is always recomputed.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut s = format!("{} {} SIP/2.0\r\n", self.method, self.uri);
        write_headers_and_body(&mut s, &self.headers, &self.body);
        let mut out = s.into_bytes();
        out.extend_from_slice(&self.body);
        out
    }
    /// `Call-ID` value (present in every parsed request).
    pub fn call_id(&self) -> &str {
        self.headers.get("Call-ID").unwrap_or("")
    }
    /// CSeq number and method.
    pub fn cseq(&self) -> (u32, &str) {
        parse_cseq(self.headers.get("CSeq").unwrap_or(""))
    }
    /// The branch of the top Via.
    pub fn top_branch(&self) -> Option<String> {
        self.headers
            .get("Via")
            .and_then(|v| crate::sip::uri::Via::parse(v).ok())
            .and_then(|v| v.param("branch").map(str::to_string))
    }
    /// Sets the body and its content type.
    pub fn set_body(&mut self, content_type: &str, body: impl Into<Bytes>) {
        self.body = body.into();
        if self.body.is_empty() {
            self.headers.remove("Content-Type");
        } else {
            self.headers.set("Content-Type", content_type);
        }
    }
}

impl Response {
    /// The response of status `status` to `req` (RFC 3261 §8.2.6.2): Via,
    /// From, To, Call-ID and CSeq copied; `to_tag` added to To when given and
    /// To has no tag yet.
    pub fn to(req: &Request, status: u16, to_tag: Option<&str>) -> Self {
        let mut headers = Headers::new();
        for v in req.headers.get_all("Via") {
            headers.push("Via", v);
        }
        for name in ["From", "To", "Call-ID", "CSeq"] {
            if let Some(v) = req.headers.get(name) {
                let mut v = v.to_string();
                if name == "To" {
                    if let Some(tag) = to_tag {
                        if crate::sip::uri::header_tag(&v).is_none() {
                            v = format!("{v};tag={tag}");
                        }
                    }
                }
                headers.push(name, v);
            }
        }
        Self {
            status,
            reason: reason_phrase(status).to_string(),
            headers,
            body: Bytes::new(),
        }
    }
    /// The wire form; Content-Length is always recomputed.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut s = format!("SIP/2.0 {} {}\r\n", self.status, self.reason);
        write_headers_and_body(&mut s, &self.headers, &self.body);
        let mut out = s.into_bytes();
        out.extend_from_slice(&self.body);
        out
    }
    /// CSeq number and method.
    pub fn cseq(&self) -> (u32, &str) {
        parse_cseq(self.headers.get("CSeq").unwrap_or(""))
    }
    /// `Call-ID` value.
    pub fn call_id(&self) -> &str {
        self.headers.get("Call-ID").unwrap_or("")
    }
    /// The branch of the top Via.
    pub fn top_branch(&self) -> Option<String> {
        self.headers
            .get("Via")
            .and_then(|v| crate::sip::uri::Via::parse(v).ok())
            .and_then(|v| v.param("branch").map(str::to_string))
    }
    /// Sets the body and its content type.
    pub fn set_body(&mut self, content_type: &str, body: impl Into<Bytes>) {
        self.body = body.into();
        if self.body.is_empty() {
            self.headers.remove("Content-Type");
        } else {
            self.headers.set("Content-Type", content_type);
        }
    }
    /// The tag of the To header.
    pub fn to_tag(&self) -> Option<String> {
        self.headers.get("To").and_then(crate::sip::uri::header_tag)
    }
}

/// Splits a CSeq value into number and method ((0, "") when malformed; the
/// parser has already rejected malformed CSeqs of received messages).
pub fn parse_cseq(v: &str) -> (u32, &str) {
    let mut it = v.split_whitespace();
    let n = it.next().and_then(|n| n.parse().ok()).unwrap_or(0);
    (n, it.next().unwrap_or(""))
}

impl Message {
    /// The wire form.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Message::Request(r) => r.to_bytes(),
            Message::Response(r) => r.to_bytes(),
        }
    }
}

/// A random token for tags, branches and Call-IDs.
pub fn random_token(len: usize) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// A new RFC 3261 branch (magic cookie + random).
pub fn new_branch() -> String {
    format!("z9hG4bK{}", random_token(16))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_and_long_names_are_the_same_header() {
        let mut h = Headers::new();
        h.push("i", "abc");
        h.push("v", "SIP/2.0/UDP a");
        assert_eq!(h.get("Call-ID"), Some("abc"));
        assert_eq!(h.get("call-id"), Some("abc"));
        assert_eq!(h.get("Via"), Some("SIP/2.0/UDP a"));
    }

    #[test]
    fn content_length_is_recomputed() {
        let mut r = Request::new("MESSAGE", "sip:a@b");
        r.headers.push("Content-Length", "99");
        r.set_body("text/plain", "hi");
        let s = String::from_utf8(r.to_bytes()).unwrap_or_default();
        assert!(s.contains("Content-Length: 2\r\n"));
        assert!(!s.contains("99"));
    }
}
