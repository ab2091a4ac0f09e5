//! The SIP trunk that carries calls to numbers outside the tenant: a static
//! address with optional digest credentials (we answer its challenges as a
//! client, RFC 7616 §3.4).
//!
//! Credentials are only ever answered on a leg to this trunk and only to a
//! challenge for its configured realm: a phone (or anything else the host
//! rings) that answers with 401/407 gets nothing, and neither does a
//! challenge for a realm an attacker chose.

use crate::sip::message::random_token;
use crate::sip::{Peer, Request, Response};

/// A configured trunk.
#[derive(Debug, Clone)]
pub struct Trunk {
    pub peer: Peer,
    /// Digest username and password for this trunk's challenges.
    pub credentials: Option<(String, String)>,
    /// The only realm the credentials are given for.
    pub realm: Option<String>,
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
        let realm = self.realm.as_deref()?;
        let (hdr_in, hdr_out) = if resp.status == 407 {
            ("Proxy-Authenticate", "Proxy-Authorization")
        } else {
            ("WWW-Authenticate", "Authorization")
        };
        // Only challenges for our realm; prefer SHA-256 when offered.
        let challenges: Vec<&str> = resp
            .headers
            .get_all(hdr_in)
            .filter(|c| param(c, "realm").as_deref() == Some(realm))
            .collect();
        if challenges.is_empty() {
            tracing::warn!(
                peer = %self.peer.addr, offered = ?resp.headers.get_all(hdr_in).filter_map(|c| param(c, "realm")).collect::<Vec<_>>(),
                "trunk challenge for another realm than the configured one: not answered"
            );
            return None;
        }
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
