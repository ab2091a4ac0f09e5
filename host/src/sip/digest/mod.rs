//! SIP digest authentication, server side (RFC 7616 / RFC 8760, as used by
//! RFC 3261 §22).
//!
//! Only `qop=auth` is supported, with the `MD5` and `SHA-256` algorithms. The
//! session variants (`MD5-sess`, `SHA-256-sess`), `auth-int` and `userhash`
//! are refused.
//!
//! Nonces are issued by a [`NonceIssuer`] and are self-validating: a nonce is
//! `base64url(timestamp_ms || 12 random bytes || HMAC-SHA256(secret, ts || rand)[..16])`,
//! so the server keeps no per-challenge state. It only remembers, for nonces
//! that have been used successfully, the highest nonce-count accepted, which
//! makes captured credentials non-replayable.
//!
//! Everything here is pure (no I/O), takes the current time as a parameter
//! where time matters, and is safe to share between threads.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use md5::Md5;
use rand::RngCore;
use sha2::{Digest as _, Sha256};
use std::fmt;
use std::fmt::Write as _;
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

pub(super) type HmacSha256 = Hmac<Sha256>;

/// Length of the random part of a nonce, in bytes.
pub(super) const NONCE_RAND_LEN: usize = 12;
/// Length of the truncated MAC in a nonce, in bytes.
pub(super) const NONCE_TAG_LEN: usize = 16;
/// Timestamp + random bytes: the part of a nonce covered by the MAC, also
/// used as the key of the replay table.
pub(super) const NONCE_BODY_LEN: usize = 8 + NONCE_RAND_LEN;
/// Decoded length of a nonce.
pub(super) const NONCE_RAW_LEN: usize = NONCE_BODY_LEN + NONCE_TAG_LEN;
/// Encoded (base64url, unpadded) length of a nonce.
pub(super) const NONCE_LEN: usize = (NONCE_RAW_LEN * 4).div_ceil(3);

/// Default bound on the number of nonces whose nonce-count is remembered.
pub const DEFAULT_MAX_TRACKED_NONCES: usize = 100_000;
/// Default bound on the number of source addresses the throttle remembers.
pub const DEFAULT_MAX_TRACKED_ADDRS: usize = 65_536;

/// Errors from parsing an `Authorization`/`Proxy-Authorization` (or
/// `WWW-Authenticate`/`Proxy-Authenticate`) header value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    /// The authentication scheme is not `Digest` (e.g. `Basic`).
    #[error("unsupported authentication scheme {0:?}")]
    UnsupportedScheme(String),
    /// A mandatory parameter is absent.
    #[error("missing digest parameter {0:?}")]
    MissingParam(&'static str),
    /// A parameter is present but its value is unacceptable.
    #[error("bad digest parameter: {0}")]
    BadParam(String),
    /// The header value is not syntactically valid.
    #[error("malformed digest header: {0}")]
    Malformed(String),
}

/// A digest hash algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Algorithm {
    /// `MD5` (RFC 2617 / RFC 7616); the default when `algorithm` is absent.
    #[default]
    Md5,
    /// `SHA-256` (RFC 7616, RFC 8760).
    Sha256,
}

impl Algorithm {
    /// All supported algorithms, in order of preference (RFC 8760 §3:
    /// SHA-256 before MD5).
    pub const PREFERENCE: [Algorithm; 2] = [Algorithm::Sha256, Algorithm::Md5];

    /// The name as it appears in the `algorithm` parameter: `"MD5"` or
    /// `"SHA-256"`.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Sha256 => "SHA-256",
        }
    }

    /// Parses an `algorithm` parameter value, case-insensitively. Session
    /// variants (`MD5-sess`, `SHA-256-sess`) and unknown algorithms are
    /// refused.
    ///
    /// # Errors
    ///
    /// [`DigestError::BadParam`] for anything but `MD5` and `SHA-256`.
    pub fn parse(s: &str) -> Result<Algorithm, DigestError> {
        if s.eq_ignore_ascii_case("MD5") {
            Ok(Algorithm::Md5)
        } else if s.eq_ignore_ascii_case("SHA-256") {
            Ok(Algorithm::Sha256)
        } else if s.eq_ignore_ascii_case("MD5-sess") || s.eq_ignore_ascii_case("SHA-256-sess") {
            Err(DigestError::BadParam(format!(
                "session algorithm {s:?} is not supported (use MD5 or SHA-256)"
            )))
        } else {
            Err(DigestError::BadParam(format!(
                "unsupported algorithm {s:?} (use MD5 or SHA-256)"
            )))
        }
    }

    /// Length in hex characters of a hash of this algorithm.
    pub fn hex_len(self) -> usize {
        match self {
            Algorithm::Md5 => 32,
            Algorithm::Sha256 => 64,
        }
    }

    /// Lowercase hex hash of `data`.
    fn hash(self, data: &[u8]) -> String {
        match self {
            Algorithm::Md5 => hex::encode(Md5::digest(data)),
            Algorithm::Sha256 => hex::encode(Sha256::digest(data)),
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Algorithm {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Algorithm::parse(s)
    }
}

/// `HA1 = H(username ":" realm ":" password)` as lowercase hex: what the
/// store keeps instead of the password, one per algorithm.
pub fn ha1(alg: Algorithm, username: &str, realm: &str, password: &str) -> String {
    alg.hash(format!("{username}:{realm}:{password}").as_bytes())
}

/// The expected `response` for `qop=auth` (RFC 7616 §3.4.1), as lowercase hex:
/// `H(HA1 ":" nonce ":" nc ":" cnonce ":" qop ":" H(method ":" uri))`, with
/// `nc` rendered as 8 lowercase hex digits.
///
/// Usable by a client as well as by the server.
#[allow(clippy::too_many_arguments)]
pub fn response(
    alg: Algorithm,
    ha1: &str,
    nonce: &str,
    nc: u32,
    cnonce: &str,
    qop: &str,
    method: &str,
    uri: &str,
) -> String {
    let ha2 = alg.hash(format!("{method}:{uri}").as_bytes());
    alg.hash(format!("{ha1}:{nonce}:{nc:08x}:{cnonce}:{qop}:{ha2}").as_bytes())
}

/// Digest credentials, as parsed from an `Authorization` or
/// `Proxy-Authorization` header value. Quoted values are unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// `username`.
    pub username: String,
    /// `realm`.
    pub realm: String,
    /// `nonce`, as issued by the server.
    pub nonce: String,
    /// `uri` (the digest-uri, normally the Request-URI).
    pub uri: String,
    /// `response`, hex as sent by the client.
    pub response: String,
    /// `algorithm` ([`Algorithm::Md5`] when absent).
    pub algorithm: Algorithm,
    /// `qop`, if present.
    pub qop: Option<String>,
    /// `nc`, the nonce-count (8 hex digits on the wire), if present.
    pub nc: Option<u32>,
    /// `cnonce`, if present.
    pub cnonce: Option<String>,
    /// `opaque`, if present.
    pub opaque: Option<String>,
}

impl Credentials {
    /// Renders these credentials as an `Authorization` header value
    /// (`Digest username="..", ...`), e.g. for a client or a test.
    pub fn to_header_value(&self) -> String {
        let mut s = format!(
            "Digest username={}, realm={}, nonce={}, uri={}, response={}, algorithm={}",
            quote(&self.username),
            quote(&self.realm),
            quote(&self.nonce),
            quote(&self.uri),
            quote(&self.response),
            self.algorithm.name()
        );
        if let Some(qop) = &self.qop {
            s.push_str(", qop=");
            s.push_str(qop);
        }
        if let Some(nc) = self.nc {
            let _ = write!(s, ", nc={nc:08x}");
        }
        if let Some(cnonce) = &self.cnonce {
            s.push_str(", cnonce=");
            s.push_str(&quote(cnonce));
        }
        if let Some(opaque) = &self.opaque {
            s.push_str(", opaque=");
            s.push_str(&quote(opaque));
        }
        s
    }
}

/// A digest challenge, as parsed from a `WWW-Authenticate` or
/// `Proxy-Authenticate` header value (client side, e.g. for tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// `realm`.
    pub realm: String,
    /// `nonce`.
    pub nonce: String,
    /// `opaque`, if present.
    pub opaque: Option<String>,
    /// `algorithm` ([`Algorithm::Md5`] when absent).
    pub algorithm: Algorithm,
    /// `qop` options, if present (e.g. `"auth"` or `"auth,auth-int"`).
    pub qop: Option<String>,
    /// `stale=true`.
    pub stale: bool,
}

/// Parses the value of an `Authorization` / `Proxy-Authorization` header:
/// `Digest k=v, k="v", ...`.
///
/// Parameter names are case-insensitive and may come in any order; values
/// are tokens or quoted strings (with backslash escapes); unknown parameters
/// are ignored; a repeated parameter is an error. `nc` must be exactly 8
/// lowercase hex digits (`nc=0000000a` is 10).
///
/// # Errors
///
/// [`DigestError::UnsupportedScheme`] if the scheme is not `Digest`,
/// [`DigestError::MissingParam`] if `username`, `realm`, `nonce`, `uri` or
/// `response` is absent, [`DigestError::BadParam`] for an unsupported
/// `algorithm`, a bad `nc` or `userhash=true`, [`DigestError::Malformed`]
/// for a syntax error.
pub fn parse_authorization(value: &str) -> Result<Credentials, DigestError> {
    let (scheme, params) = parse_header(value)?;
    if !scheme.eq_ignore_ascii_case("Digest") {
        return Err(DigestError::UnsupportedScheme(scheme.to_string()));
    }
    let mut username = None;
    let mut realm = None;
    let mut nonce = None;
    let mut uri = None;
    let mut resp = None;
    let mut algorithm = Algorithm::default();
    let mut qop = None;
    let mut nc = None;
    let mut cnonce = None;
    let mut opaque = None;
    for (name, v) in params {
        match name.as_str() {
            "username" => username = Some(v),
            "realm" => realm = Some(v),
            "nonce" => nonce = Some(v),
            "uri" => uri = Some(v),
            "response" => resp = Some(v),
            "algorithm" => algorithm = Algorithm::parse(&v)?,
            "qop" => qop = Some(v),
            "nc" => nc = Some(parse_nc(&v)?),
            "cnonce" => cnonce = Some(v),
            "opaque" => opaque = Some(v),
            "userhash" if v.eq_ignore_ascii_case("true") => {
                return Err(DigestError::BadParam(
                    "userhash is not supported".to_string(),
                ))
            }
            _ => {}
        }
    }
    Ok(Credentials {
        username: username.ok_or(DigestError::MissingParam("username"))?,
        realm: realm.ok_or(DigestError::MissingParam("realm"))?,
        nonce: nonce.ok_or(DigestError::MissingParam("nonce"))?,
        uri: uri.ok_or(DigestError::MissingParam("uri"))?,
        response: resp.ok_or(DigestError::MissingParam("response"))?,
        algorithm,
        qop,
        nc,
        cnonce,
        opaque,
    })
}

/// Parses the value of a `WWW-Authenticate` / `Proxy-Authenticate` header
/// (`Digest realm="..", nonce="..", ...`), with the same syntax rules as
/// [`parse_authorization`].
///
/// # Errors
///
/// As [`parse_authorization`]; `realm` and `nonce` are the mandatory
/// parameters.
pub fn parse_challenge(value: &str) -> Result<Challenge, DigestError> {
    let (scheme, params) = parse_header(value)?;
    if !scheme.eq_ignore_ascii_case("Digest") {
        return Err(DigestError::UnsupportedScheme(scheme.to_string()));
    }
    let mut realm = None;
    let mut nonce = None;
    let mut opaque = None;
    let mut algorithm = Algorithm::default();
    let mut qop = None;
    let mut stale = false;
    for (name, v) in params {
        match name.as_str() {
            "realm" => realm = Some(v),
            "nonce" => nonce = Some(v),
            "opaque" => opaque = Some(v),
            "algorithm" => algorithm = Algorithm::parse(&v)?,
            "qop" => qop = Some(v),
            "stale" => stale = v.eq_ignore_ascii_case("true"),
            _ => {}
        }
    }
    Ok(Challenge {
        realm: realm.ok_or(DigestError::MissingParam("realm"))?,
        nonce: nonce.ok_or(DigestError::MissingParam("nonce"))?,
        opaque,
        algorithm,
        qop,
        stale,
    })
}

/// `nc-value = 8LHEX`.
fn parse_nc(v: &str) -> Result<u32, DigestError> {
    let ok = v.len() == 8
        && v.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !ok {
        return Err(DigestError::BadParam(format!(
            "nc must be 8 lowercase hex digits, got {v:?}"
        )));
    }
    u32::from_str_radix(v, 16).map_err(|_| DigestError::BadParam(format!("bad nc {v:?}")))
}

/// RFC 3261 `token` characters.
fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b)
}

fn is_lws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Characters allowed in an unquoted parameter value. More lenient than
/// `token` (some devices send e.g. an unquoted URI), but never a separator
/// that would make the header ambiguous.
fn is_bare_value_char(b: u8) -> bool {
    !is_lws(b) && b != b',' && b != b'"' && b != b'\\' && !b.is_ascii_control()
}

/// (lowercased name, unescaped value) pairs of a header, in order.
type Params = Vec<(String, String)>;

/// Splits `scheme param, param, ...` into the scheme and the
/// (lowercased name, unescaped value) pairs.
fn parse_header(value: &str) -> Result<(&str, Params), DigestError> {
    let b = value.as_bytes();
    let mut i = 0;
    while i < b.len() && is_lws(b[i]) {
        i += 1;
    }
    let start = i;
    while i < b.len() && is_token_char(b[i]) {
        i += 1;
    }
    let scheme = &value[start..i];
    if scheme.is_empty() {
        return Err(DigestError::Malformed(
            "missing authentication scheme".to_string(),
        ));
    }
    if i < b.len() && !is_lws(b[i]) {
        return Err(DigestError::Malformed(format!(
            "unexpected character after scheme {scheme:?}"
        )));
    }
    let mut params: Params = Vec::new();
    loop {
        // Separators: whitespace and (possibly empty) list elements.
        while i < b.len() && (is_lws(b[i]) || b[i] == b',') {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let name_start = i;
        while i < b.len() && is_token_char(b[i]) {
            i += 1;
        }
        if i == name_start {
            return Err(DigestError::Malformed(format!(
                "expected a parameter name at offset {i}"
            )));
        }
        let name = value[name_start..i].to_ascii_lowercase();
        while i < b.len() && is_lws(b[i]) {
            i += 1;
        }
        if i >= b.len() || b[i] != b'=' {
            return Err(DigestError::Malformed(format!(
                "expected '=' after parameter {name:?}"
            )));
        }
        i += 1;
        while i < b.len() && is_lws(b[i]) {
            i += 1;
        }
        let v = if i < b.len() && b[i] == b'"' {
            i += 1;
            let mut out = Vec::new();
            let mut closed = false;
            while i < b.len() {
                match b[i] {
                    b'"' => {
                        closed = true;
                        i += 1;
                        break;
                    }
                    b'\\' => {
                        if i + 1 >= b.len() {
                            break;
                        }
                        out.push(b[i + 1]);
                        i += 2;
                    }
                    c => {
                        out.push(c);
                        i += 1;
                    }
                }
            }
            if !closed {
                return Err(DigestError::Malformed(format!(
                    "unterminated quoted value of {name:?}"
                )));
            }
            String::from_utf8(out)
                .map_err(|_| DigestError::Malformed(format!("value of {name:?} is not UTF-8")))?
        } else {
            let vstart = i;
            while i < b.len() && is_bare_value_char(b[i]) {
                i += 1;
            }
            if i == vstart {
                return Err(DigestError::Malformed(format!("missing value of {name:?}")));
            }
            value[vstart..i].to_string()
        };
        while i < b.len() && is_lws(b[i]) {
            i += 1;
        }
        if i < b.len() && b[i] != b',' {
            return Err(DigestError::Malformed(format!(
                "expected ',' after parameter {name:?}"
            )));
        }
        if params.iter().any(|(n, _)| *n == name) {
            return Err(DigestError::Malformed(format!(
                "parameter {name:?} repeated"
            )));
        }
        params.push((name, v));
    }
    Ok((scheme, params))
}

/// `s` as a quoted-string.
pub(super) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Constant-time comparison of two byte strings (the length is not secret).
pub(super) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

pub(super) fn millis_since_epoch(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

mod nonce;
mod throttle;
pub use nonce::{NonceIssuer, Verdict, MAX_NONCE_FAILURES};
pub use throttle::{source_key, AuthLimits, AuthThrottle, Blocked, FailureThrottle};

#[cfg(test)]
mod tests;
