//! The SIP trunk that carries calls to numbers outside the tenant: a static
//! address with optional digest credentials (we answer its challenges as a
//! client, RFC 7616 §3.4).

use crate::sip::message::random_token;
use crate::sip::{Peer, Request, Response};

/// A configured trunk.
#[derive(Debug, Clone)]
pub struct Trunk {
    pub peer: Peer,
    pub credentials: Option<(String, String)>,
}

fn param<'a>(challenge: &'a str, name: &str) -> Option<String> {
    let rest = challenge.trim().strip_prefix("Digest")?.trim();
    for part in crate::sip::uri::split_unquoted(rest, ',') {
        let (k, v) = part.split_once('=')?;
        if k.trim().eq_ignore_ascii_case(name) {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|x| x.strip_suffix('"'))
                .unwrap_or(v);
            return Some(v.to_string());
        }
    }
    let _: Option<&'a str> = None;
    None
}

fn hex_hash(sha256: bool, s: &str) -> String {
    use md5::Digest as _;
    if sha256 {
        hex::encode(sha2::Sha256::digest(s.as_bytes()))
    } else {
        hex::encode(md5::Md5::digest(s.as_bytes()))
    }
}

impl Trunk {
    /// Adds credentials answering the 401/407 `resp` to `req` (a copy with
    /// CSeq incremented, to be sent as a new transaction). `None` when we
    /// have no credentials or the challenge is not one we can answer.
    pub fn authorize(&self, req: &Request, resp: &Response) -> Option<Request> {
        let (user, pass) = self.credentials.as_ref()?;
        let (hdr_in, hdr_out) = if resp.status == 407 {
            ("Proxy-Authenticate", "Proxy-Authorization")
        } else {
            ("WWW-Authenticate", "Authorization")
        };
        // Prefer SHA-256 when offered.
        let challenges: Vec<&str> = resp.headers.get_all(hdr_in).collect();
        let pick = challenges
            .iter()
            .find(|c| {
                param(c, "algorithm")
                    .map(|a| a.eq_ignore_ascii_case("SHA-256"))
                    .unwrap_or(false)
            })
            .or_else(|| {
                challenges.iter().find(|c| {
                    param(c, "algorithm")
                        .map(|a| a.eq_ignore_ascii_case("MD5"))
                        .unwrap_or(true)
                })
            })?;
        let realm = param(pick, "realm")?;
        let nonce = param(pick, "nonce")?;
        let opaque = param(pick, "opaque");
        let sha = param(pick, "algorithm")
            .map(|a| a.eq_ignore_ascii_case("SHA-256"))
            .unwrap_or(false);
        let qop_auth = param(pick, "qop")
            .map(|q| q.split(',').any(|x| x.trim() == "auth"))
            .unwrap_or(false);
        let ha1 = hex_hash(sha, &format!("{user}:{realm}:{pass}"));
        let ha2 = hex_hash(sha, &format!("{}:{}", req.method, req.uri));
        let cnonce = random_token(16);
        let nc = "00000001";
        let response = if qop_auth {
            hex_hash(sha, &format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"))
        } else {
            hex_hash(sha, &format!("{ha1}:{nonce}:{ha2}"))
        };
        let mut v = format!(
            "Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{}\", response=\"{response}\", algorithm={}",
            req.uri,
            if sha { "SHA-256" } else { "MD5" }
        );
        if qop_auth {
            v.push_str(&format!(", qop=auth, nc={nc}, cnonce=\"{cnonce}\""));
        }
        if let Some(o) = opaque {
            v.push_str(&format!(", opaque=\"{o}\""));
        }
        let mut out = req.clone();
        out.headers.remove("Via");
        out.headers.set(hdr_out, v);
        let (n, m) = req.cseq();
        out.headers.set("CSeq", format!("{} {m}", n + 1));
        Some(out)
    }
}
