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
use std::collections::HashMap;
use std::fmt;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

type HmacSha256 = Hmac<Sha256>;

/// Length of the random part of a nonce, in bytes.
const NONCE_RAND_LEN: usize = 12;
/// Length of the truncated MAC in a nonce, in bytes.
const NONCE_TAG_LEN: usize = 16;
/// Timestamp + random bytes: the part of a nonce covered by the MAC, also
/// used as the key of the replay table.
const NONCE_BODY_LEN: usize = 8 + NONCE_RAND_LEN;
/// Decoded length of a nonce.
const NONCE_RAW_LEN: usize = NONCE_BODY_LEN + NONCE_TAG_LEN;
/// Encoded (base64url, unpadded) length of a nonce.
const NONCE_LEN: usize = (NONCE_RAW_LEN * 4).div_ceil(3);

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
fn quote(s: &str) -> String {
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
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

fn millis_since_epoch(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Outcome of [`NonceIssuer::verify`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The credentials are valid.
    Ok,
    /// The password is right but the nonce is too old (or can no longer be
    /// checked for replay): challenge again with `stale=true`.
    Stale,
    /// The password is right but this nonce-count was already used with this
    /// nonce: a replay.
    Replay,
    /// The credentials are invalid, for the given reason (for logs, not for
    /// the peer).
    Invalid(&'static str),
}

/// What the replay table remembers of a nonce that has been used.
#[derive(Debug, Clone, Copy)]
struct Seen {
    /// Highest nonce-count accepted.
    nc: u32,
    /// When the nonce was issued (ms since the epoch).
    issued_ms: u64,
}

#[derive(Debug, Default)]
struct ReplayTable {
    seen: HashMap<[u8; NONCE_BODY_LEN], Seen>,
    /// Nonces issued at or before this time that are not in `seen` may have
    /// been evicted: they are refused as stale. Only ever increases.
    floor_ms: u64,
}

impl ReplayTable {
    /// Makes room for one more entry when the table is full: evicts expired
    /// entries, then the oldest ones, down to 90% of `max`.
    fn make_room(&mut self, now_ms: u64, ttl_ms: u64, max: usize) {
        if self.seen.len() < max {
            return;
        }
        self.floor_ms = self.floor_ms.max(now_ms.saturating_sub(ttl_ms));
        let floor = self.floor_ms;
        self.seen.retain(|_, s| s.issued_ms > floor);
        let low_water = max - (max / 10).max(1);
        if self.seen.len() > low_water {
            let excess = self.seen.len() - low_water;
            let mut issued: Vec<u64> = self.seen.values().map(|s| s.issued_ms).collect();
            let (_, nth, _) = issued.select_nth_unstable(excess - 1);
            self.floor_ms = self.floor_ms.max(*nth);
            let floor = self.floor_ms;
            self.seen.retain(|_, s| s.issued_ms > floor);
        }
    }
}

/// Issues self-validating nonces, builds challenges and verifies digest
/// responses, refusing replayed nonce-counts.
pub struct NonceIssuer {
    ttl: Duration,
    /// HMAC-SHA256 keyed with a random 32-byte secret.
    mac: HmacSha256,
    /// The `opaque` sent in challenges (not checked: nonces authenticate
    /// themselves).
    opaque: String,
    max_tracked: usize,
    table: Mutex<ReplayTable>,
}

impl fmt::Debug for NonceIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NonceIssuer")
            .field("ttl", &self.ttl)
            .field("max_tracked", &self.max_tracked)
            .finish_non_exhaustive()
    }
}

impl NonceIssuer {
    /// A new issuer with a random 32-byte secret; nonces older than `ttl`
    /// are stale. Remembers up to [`DEFAULT_MAX_TRACKED_NONCES`] used nonces.
    pub fn new(ttl: Duration) -> Self {
        Self::with_capacity(ttl, DEFAULT_MAX_TRACKED_NONCES)
    }

    /// Like [`NonceIssuer::new`], remembering the nonce-counts of at most
    /// `max_tracked` nonces (at least 1). When the table is full, expired
    /// entries and then the oldest ones are evicted; a nonce that might have
    /// been evicted is then answered [`Verdict::Stale`], never accepted.
    pub fn with_capacity(ttl: Duration, max_tracked: usize) -> Self {
        let mut rng = rand::rng();
        let mut secret = [0u8; 32];
        rng.fill_bytes(&mut secret);
        // HMAC pads a key shorter than the block size with zeros, so keying
        // with the zero-padded 64-byte block is HMAC with the 32-byte secret
        // (and infallible).
        let mut key = [0u8; 64];
        key[..32].copy_from_slice(&secret);
        let mac = <HmacSha256 as hmac::digest::KeyInit>::new(&key.into());
        let mut opaque = [0u8; 16];
        rng.fill_bytes(&mut opaque);
        Self {
            ttl,
            mac,
            opaque: hex::encode(opaque),
            max_tracked: max_tracked.max(1),
            table: Mutex::new(ReplayTable::default()),
        }
    }

    /// The nonce lifetime.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Challenge values for `WWW-Authenticate` / `Proxy-Authenticate` with a
    /// fresh nonce issued now; see [`NonceIssuer::challenge_at`].
    pub fn challenge(&self, realm: &str, stale: bool) -> Vec<String> {
        self.challenge_at(realm, stale, SystemTime::now())
    }

    /// Challenge values with a fresh nonce issued at `now`, one per
    /// algorithm, SHA-256 first then MD5 (RFC 8760 §3), sharing one nonce:
    /// `Digest realm="..", nonce="..", opaque="..", algorithm=SHA-256, qop="auth"[, stale=true]`.
    pub fn challenge_at(&self, realm: &str, stale: bool, now: SystemTime) -> Vec<String> {
        let nonce = self.issue(now);
        let realm = quote(realm);
        Algorithm::PREFERENCE
            .iter()
            .map(|alg| {
                let mut v = format!(
                    "Digest realm={realm}, nonce=\"{nonce}\", opaque=\"{}\", algorithm={}, qop=\"auth\"",
                    self.opaque,
                    alg.name()
                );
                if stale {
                    v.push_str(", stale=true");
                }
                v
            })
            .collect()
    }

    /// A new nonce stamped `now`.
    fn issue(&self, now: SystemTime) -> String {
        let mut raw = [0u8; NONCE_RAW_LEN];
        raw[..8].copy_from_slice(&millis_since_epoch(now).to_be_bytes());
        rand::rng().fill_bytes(&mut raw[8..NONCE_BODY_LEN]);
        let mut mac = self.mac.clone();
        mac.update(&raw[..NONCE_BODY_LEN]);
        let tag = mac.finalize().into_bytes();
        raw[NONCE_BODY_LEN..].copy_from_slice(&tag[..NONCE_TAG_LEN]);
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// Checks a nonce's MAC; returns its issue time and its body (the
    /// replay-table key).
    fn open(&self, nonce: &str) -> Option<(u64, [u8; NONCE_BODY_LEN])> {
        if nonce.len() != NONCE_LEN {
            return None;
        }
        let raw = URL_SAFE_NO_PAD.decode(nonce).ok()?;
        if raw.len() != NONCE_RAW_LEN {
            return None;
        }
        let mut mac = self.mac.clone();
        mac.update(&raw[..NONCE_BODY_LEN]);
        mac.verify_truncated_left(&raw[NONCE_BODY_LEN..]).ok()?;
        let body: [u8; NONCE_BODY_LEN] = raw[..NONCE_BODY_LEN].try_into().ok()?;
        let ts: [u8; 8] = raw[..8].try_into().ok()?;
        Some((u64::from_be_bytes(ts), body))
    }

    /// Verifies credentials `c` of a request with method `method` against
    /// `ha1` (the stored HA1 of the user for `c.algorithm`, hex), at time
    /// `now`.
    ///
    /// Checks, in order: the realm is `expected_realm`; the nonce is one of
    /// ours ("unknown nonce"); `qop=auth` with `nc` and `cnonce`; the
    /// response (constant-time, "wrong password"); then, with the password
    /// proven right, the nonce age ([`Verdict::Stale`] past the TTL) and the
    /// nonce-count, which must be strictly greater than any accepted before
    /// with this nonce ([`Verdict::Replay`]). Only an `Ok` verdict records
    /// the nonce-count.
    pub fn verify(
        &self,
        c: &Credentials,
        method: &str,
        expected_realm: &str,
        ha1: &str,
        now: SystemTime,
    ) -> Verdict {
        if c.realm != expected_realm {
            return Verdict::Invalid("wrong realm");
        }
        let Some((issued_ms, key)) = self.open(&c.nonce) else {
            return Verdict::Invalid("unknown nonce");
        };
        let qop = match c.qop.as_deref() {
            Some(q) if q.eq_ignore_ascii_case("auth") => q,
            Some(_) => return Verdict::Invalid("unsupported qop (only auth)"),
            None => return Verdict::Invalid("qop=auth required"),
        };
        let nc = match c.nc {
            Some(0) => return Verdict::Invalid("nonce-count must be positive"),
            Some(n) => n,
            None => return Verdict::Invalid("missing nonce-count"),
        };
        let cnonce = match c.cnonce.as_deref() {
            Some(s) if !s.is_empty() => s,
            _ => return Verdict::Invalid("missing cnonce"),
        };
        if ha1.len() != c.algorithm.hex_len() || !ha1.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Verdict::Invalid("no stored credentials for this algorithm");
        }
        let ha1 = ha1.to_ascii_lowercase();
        let expected = response(c.algorithm, &ha1, &c.nonce, nc, cnonce, qop, method, &c.uri);
        let given = c.response.to_ascii_lowercase();
        if !ct_eq(expected.as_bytes(), given.as_bytes()) {
            return Verdict::Invalid("wrong password");
        }
        let now_ms = millis_since_epoch(now);
        let ttl_ms = u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX);
        if now_ms.saturating_sub(issued_ms) > ttl_ms {
            return Verdict::Stale;
        }
        let mut table = lock(&self.table);
        if let Some(seen) = table.seen.get_mut(&key) {
            if nc > seen.nc {
                seen.nc = nc;
                return Verdict::Ok;
            }
            return Verdict::Replay;
        }
        if issued_ms <= table.floor_ms {
            // Possibly evicted: we cannot tell a first use from a replay.
            return Verdict::Stale;
        }
        table.make_room(now_ms, ttl_ms, self.max_tracked);
        if issued_ms <= table.floor_ms {
            return Verdict::Stale;
        }
        table.seen.insert(key, Seen { nc, issued_ms });
        Verdict::Ok
    }
}

/// Failed attempts of one source address.
#[derive(Debug, Clone, Copy)]
struct Failures {
    /// Start of the current counting window.
    since: SystemTime,
    /// Failures since `since`.
    count: u32,
    /// Blocked until then, if blocked.
    blocked_until: Option<SystemTime>,
}

/// Per source IP throttle of failed authentications: after `max_failures`
/// failures within `window`, the address is blocked for `window` (from the
/// last failure). Memory is bounded.
pub struct FailureThrottle {
    max_failures: u32,
    window: Duration,
    max_tracked: usize,
    state: Mutex<HashMap<IpAddr, Failures>>,
}

impl fmt::Debug for FailureThrottle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FailureThrottle")
            .field("max_failures", &self.max_failures)
            .field("window", &self.window)
            .field("max_tracked", &self.max_tracked)
            .finish_non_exhaustive()
    }
}

impl FailureThrottle {
    /// A throttle allowing `max_failures` failures per `window` and address
    /// (0 behaves as 1), remembering up to [`DEFAULT_MAX_TRACKED_ADDRS`]
    /// addresses.
    pub fn new(max_failures: u32, window: Duration) -> Self {
        Self::with_capacity(max_failures, window, DEFAULT_MAX_TRACKED_ADDRS)
    }

    /// Like [`FailureThrottle::new`], remembering at most `max_tracked`
    /// addresses (at least 1). When full, addresses whose window and block
    /// are over are forgotten first, then the unblocked ones with the fewest
    /// failures, then the blocked ones whose block ends soonest.
    pub fn with_capacity(max_failures: u32, window: Duration, max_tracked: usize) -> Self {
        Self {
            max_failures: max_failures.max(1),
            window,
            max_tracked: max_tracked.max(1),
            state: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `ip` is currently blocked.
    pub fn is_blocked(&self, ip: IpAddr, now: SystemTime) -> bool {
        let mut state = lock(&self.state);
        let Some(f) = state.get(&ip) else {
            return false;
        };
        match f.blocked_until {
            Some(until) if now < until => true,
            Some(_) => {
                // The block is over: start afresh.
                state.remove(&ip);
                false
            }
            None => false,
        }
    }

    /// Records a failed attempt from `ip` at `now`.
    pub fn record_failure(&self, ip: IpAddr, now: SystemTime) {
        let mut state = lock(&self.state);
        if !state.contains_key(&ip) && state.len() >= self.max_tracked {
            self.make_room(&mut state, now);
        }
        let f = state.entry(ip).or_insert(Failures {
            since: now,
            count: 0,
            blocked_until: None,
        });
        if now.duration_since(f.since).unwrap_or(Duration::ZERO) >= self.window {
            f.since = now;
            f.count = 0;
        }
        f.count = f.count.saturating_add(1);
        if f.count >= self.max_failures {
            f.blocked_until = Some(now.checked_add(self.window).unwrap_or(now));
        }
    }

    /// Records a successful authentication from `ip`: forgets its failures.
    pub fn record_success(&self, ip: IpAddr) {
        lock(&self.state).remove(&ip);
    }

    /// Evicts entries down to 90% of capacity (see
    /// [`FailureThrottle::with_capacity`]).
    fn make_room(&self, state: &mut HashMap<IpAddr, Failures>, now: SystemTime) {
        let window = self.window;
        state.retain(|_, f| {
            let blocked = f.blocked_until.is_some_and(|u| now < u);
            let in_window = now.duration_since(f.since).unwrap_or(Duration::ZERO) < window;
            blocked || in_window
        });
        let low_water = self.max_tracked - (self.max_tracked / 10).max(1);
        if state.len() <= low_water {
            return;
        }
        let excess = state.len() - low_water;
        let mut order: Vec<((bool, SystemTime, u32, SystemTime), IpAddr)> = state
            .iter()
            .map(|(ip, f)| {
                let until = f.blocked_until.filter(|u| now < *u);
                (
                    (
                        until.is_some(),
                        until.unwrap_or(UNIX_EPOCH),
                        f.count,
                        f.since,
                    ),
                    *ip,
                )
            })
            .collect();
        order.select_nth_unstable_by(excess - 1, |a, b| a.0.cmp(&b.0));
        for (_, ip) in order.iter().take(excess) {
            state.remove(ip);
        }
    }

    /// Number of addresses currently remembered.
    pub fn tracked(&self) -> usize {
        lock(&self.state).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER: &str = "Mufasa";
    const PASS: &str = "Circle of Life";
    const REALM: &str = "http-auth@example.org";
    const RFC_NONCE: &str = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
    const URI: &str = "/dir/index.html";
    const CNONCE: &str = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";

    #[test]
    fn rfc7616_md5_vector() {
        let h = ha1(Algorithm::Md5, USER, REALM, PASS);
        assert_eq!(
            response(Algorithm::Md5, &h, RFC_NONCE, 1, CNONCE, "auth", "GET", URI),
            "8ca523f5e9506fed4657c9700eebdbec"
        );
    }

    #[test]
    fn rfc7616_sha256_vector() {
        let h = ha1(Algorithm::Sha256, USER, REALM, PASS);
        assert_eq!(h.len(), 64);
        assert_eq!(
            response(
                Algorithm::Sha256,
                &h,
                RFC_NONCE,
                1,
                CNONCE,
                "auth",
                "GET",
                URI
            ),
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
    }

    #[test]
    fn parses_rfc7616_authorization_example() {
        let v = "Digest username=\"Mufasa\",\r\n       realm=\"http-auth@example.org\",\r\n       uri=\"/dir/index.html\",\r\n       algorithm=SHA-256,\r\n       nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\",\r\n       nc=00000001,\r\n       cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\",\r\n       qop=auth,\r\n       response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\",\r\n       opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
        let c = parse_authorization(v).expect("parse");
        assert_eq!(c.username, USER);
        assert_eq!(c.realm, REALM);
        assert_eq!(c.uri, URI);
        assert_eq!(c.algorithm, Algorithm::Sha256);
        assert_eq!(c.nonce, RFC_NONCE);
        assert_eq!(c.nc, Some(1));
        assert_eq!(c.cnonce.as_deref(), Some(CNONCE));
        assert_eq!(c.qop.as_deref(), Some("auth"));
        assert_eq!(
            c.opaque.as_deref(),
            Some("FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS")
        );
        let h = ha1(c.algorithm, &c.username, &c.realm, PASS);
        let expected = response(c.algorithm, &h, &c.nonce, 1, CNONCE, "auth", "GET", &c.uri);
        assert_eq!(c.response, expected);
    }

    fn t(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
    }

    /// Answers `challenge` like a client would.
    fn answer(
        challenge: &str,
        user: &str,
        password: &str,
        method: &str,
        uri: &str,
        nc: u32,
    ) -> Credentials {
        let ch = parse_challenge(challenge).expect("challenge");
        let h = ha1(ch.algorithm, user, &ch.realm, password);
        let cnonce = "0a4f113b";
        Credentials {
            username: user.to_string(),
            realm: ch.realm.clone(),
            nonce: ch.nonce.clone(),
            uri: uri.to_string(),
            response: response(ch.algorithm, &h, &ch.nonce, nc, cnonce, "auth", method, uri),
            algorithm: ch.algorithm,
            qop: Some("auth".to_string()),
            nc: Some(nc),
            cnonce: Some(cnonce.to_string()),
            opaque: ch.opaque,
        }
    }

    const DOMAIN: &str = "acme.example";
    const RURI: &str = "sip:acme.example";

    fn stored(alg: Algorithm) -> String {
        ha1(alg, "alice", DOMAIN, "s3cret")
    }

    #[test]
    fn challenge_format_and_order() {
        let n = NonceIssuer::new(Duration::from_secs(300));
        let ch = n.challenge("acme.example", false);
        assert_eq!(ch.len(), 2);
        assert!(ch[0].starts_with("Digest realm=\"acme.example\", nonce=\""));
        assert!(ch[0].contains("algorithm=SHA-256"));
        assert!(ch[1].contains("algorithm=MD5"));
        assert!(ch[0].ends_with("qop=\"auth\""));
        assert!(!ch[0].contains("stale"));
        let a = parse_challenge(&ch[0]).expect("sha");
        let b = parse_challenge(&ch[1]).expect("md5");
        assert_eq!(a.algorithm, Algorithm::Sha256);
        assert_eq!(b.algorithm, Algorithm::Md5);
        assert_eq!(a.nonce, b.nonce);
        assert_eq!(a.nonce.len(), NONCE_LEN);
        assert!(a.opaque.is_some());
        assert!(!a.stale);
        let st = n.challenge("we\"ird", true);
        assert!(st[0].ends_with(", stale=true"));
        let p = parse_challenge(&st[1]).expect("stale");
        assert!(p.stale);
        assert_eq!(p.realm, "we\"ird");
    }

    #[test]
    fn issued_nonce_verifies_with_both_algorithms() {
        let n = NonceIssuer::new(Duration::from_secs(300));
        for i in 0..2 {
            // A fresh nonce each: both algorithms share one nonce-count.
            let ch = &n.challenge_at(DOMAIN, false, t(0))[i];
            let c = answer(ch, "alice", "s3cret", "REGISTER", RURI, 1);
            let alg = if i == 0 {
                Algorithm::Sha256
            } else {
                Algorithm::Md5
            };
            assert_eq!(c.algorithm, alg);
            // Round trip through the header syntax.
            let c = parse_authorization(&c.to_header_value()).expect("reparse");
            assert_eq!(
                n.verify(&c, "REGISTER", DOMAIN, &stored(alg), t(1)),
                Verdict::Ok
            );
            // Uppercase stored HA1 and response hex are tolerated.
            let mut up = c.clone();
            up.nc = Some(2);
            up.response = response(
                alg,
                &stored(alg),
                &up.nonce,
                2,
                "0a4f113b",
                "auth",
                "REGISTER",
                RURI,
            )
            .to_ascii_uppercase();
            assert_eq!(
                n.verify(
                    &up,
                    "REGISTER",
                    DOMAIN,
                    &stored(alg).to_ascii_uppercase(),
                    t(1)
                ),
                Verdict::Ok
            );
        }
    }

    #[test]
    fn wrong_password_method_or_stored_ha1_is_invalid() {
        let n = NonceIssuer::new(Duration::from_secs(300));
        let ch = n.challenge_at(DOMAIN, false, t(0));
        let c = answer(&ch[1], "alice", "guess", "INVITE", RURI, 1);
        assert_eq!(
            n.verify(&c, "INVITE", DOMAIN, &stored(Algorithm::Md5), t(1)),
            Verdict::Invalid("wrong password")
        );
        let c = answer(&ch[1], "alice", "s3cret", "INVITE", RURI, 1);
        assert_eq!(
            n.verify(&c, "BYE", DOMAIN, &stored(Algorithm::Md5), t(1)),
            Verdict::Invalid("wrong password")
        );
        // HA1 of the other algorithm.
        assert_eq!(
            n.verify(&c, "INVITE", DOMAIN, &stored(Algorithm::Sha256), t(1)),
            Verdict::Invalid("no stored credentials for this algorithm")
        );
        assert_eq!(
            n.verify(&c, "INVITE", DOMAIN, "", t(1)),
            Verdict::Invalid("no stored credentials for this algorithm")
        );
        assert_eq!(
            n.verify(&c, "INVITE", DOMAIN, &stored(Algorithm::Md5), t(1)),
            Verdict::Ok
        );
    }

    #[test]
    fn tampered_or_foreign_nonce_is_invalid() {
        let n = NonceIssuer::new(Duration::from_secs(300));
        let ch = n.challenge_at(DOMAIN, false, t(0));
        let mut c = answer(&ch[0], "alice", "s3cret", "REGISTER", RURI, 1);
        // Flip one character of the nonce and answer it correctly.
        let mut nonce: Vec<char> = c.nonce.chars().collect();
        nonce[3] = if nonce[3] == 'A' { 'B' } else { 'A' };
        c.nonce = nonce.into_iter().collect();
        let h = stored(Algorithm::Sha256);
        c.response = response(
            Algorithm::Sha256,
            &h,
            &c.nonce,
            1,
            "0a4f113b",
            "auth",
            "REGISTER",
            RURI,
        );
        assert_eq!(
            n.verify(&c, "REGISTER", DOMAIN, &h, t(1)),
            Verdict::Invalid("unknown nonce")
        );
        // A nonce from another issuer (another secret).
        let other = NonceIssuer::new(Duration::from_secs(300));
        let ch = other.challenge_at(DOMAIN, false, t(0));
        let c = answer(&ch[0], "alice", "s3cret", "REGISTER", RURI, 1);
        assert_eq!(
            n.verify(&c, "REGISTER", DOMAIN, &h, t(1)),
            Verdict::Invalid("unknown nonce")
        );
        // Garbage.
        let mut c = c;
        c.nonce = RFC_NONCE.to_string();
        assert_eq!(
            n.verify(&c, "REGISTER", DOMAIN, &h, t(1)),
            Verdict::Invalid("unknown nonce")
        );
    }

    #[test]
    fn replay_of_nonce_count_is_refused() {
        let n = NonceIssuer::new(Duration::from_secs(300));
        let ch = n.challenge_at(DOMAIN, false, t(0));
        let h = stored(Algorithm::Sha256);
        let c1 = answer(&ch[0], "alice", "s3cret", "REGISTER", RURI, 1);
        assert_eq!(n.verify(&c1, "REGISTER", DOMAIN, &h, t(1)), Verdict::Ok);
        assert_eq!(n.verify(&c1, "REGISTER", DOMAIN, &h, t(2)), Verdict::Replay);
        let c3 = answer(&ch[0], "alice", "s3cret", "REGISTER", RURI, 3);
        assert_eq!(n.verify(&c3, "REGISTER", DOMAIN, &h, t(3)), Verdict::Ok);
        let c2 = answer(&ch[0], "alice", "s3cret", "REGISTER", RURI, 2);
        assert_eq!(n.verify(&c2, "REGISTER", DOMAIN, &h, t(4)), Verdict::Replay);
        assert_eq!(n.verify(&c3, "REGISTER", DOMAIN, &h, t(4)), Verdict::Replay);
        // The same nonce with the other algorithm shares the counter.
        let m3 = answer(&ch[1], "alice", "s3cret", "REGISTER", RURI, 3);
        assert_eq!(
            n.verify(&m3, "REGISTER", DOMAIN, &stored(Algorithm::Md5), t(4)),
            Verdict::Replay
        );
        let m4 = answer(&ch[1], "alice", "s3cret", "REGISTER", RURI, 4);
        assert_eq!(
            n.verify(&m4, "REGISTER", DOMAIN, &stored(Algorithm::Md5), t(4)),
            Verdict::Ok
        );
        // A wrong password with a used nc is Invalid, not Replay.
        let bad = answer(&ch[0], "alice", "nope", "REGISTER", RURI, 1);
        assert_eq!(
            n.verify(&bad, "REGISTER", DOMAIN, &h, t(5)),
            Verdict::Invalid("wrong password")
        );
    }

    #[test]
    fn nc_is_hex() {
        let base = "Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"sip:r\", response=\"x\", qop=auth, cnonce=\"c\"";
        let c = parse_authorization(&format!("{base}, nc=0000000a")).expect("nc");
        assert_eq!(c.nc, Some(10));
        let c = parse_authorization(&format!("{base}, nc=ffffffff")).expect("nc");
        assert_eq!(c.nc, Some(u32::MAX));
        for bad in ["1", "0000000g", "000000001", "0000000A", "\"\"", "+0000001"] {
            assert!(
                matches!(
                    parse_authorization(&format!("{base}, nc={bad}")),
                    Err(DigestError::BadParam(_))
                ),
                "nc={bad}"
            );
        }
        // And verify hashes it as sent (8 lowercase hex digits).
        let n = NonceIssuer::new(Duration::from_secs(300));
        let ch = n.challenge_at(DOMAIN, false, t(0));
        let c = answer(&ch[1], "alice", "s3cret", "REGISTER", RURI, 10);
        let hv = c.to_header_value();
        assert!(hv.contains("nc=0000000a"));
        let c = parse_authorization(&hv).expect("reparse");
        assert_eq!(
            n.verify(&c, "REGISTER", DOMAIN, &stored(Algorithm::Md5), t(1)),
            Verdict::Ok
        );
    }

    #[test]
    fn expired_nonce_is_stale_only_with_the_right_password() {
        let n = NonceIssuer::new(Duration::from_secs(300));
        let ch = n.challenge_at(DOMAIN, false, t(0));
        let h = stored(Algorithm::Sha256);
        let good = answer(&ch[0], "alice", "s3cret", "REGISTER", RURI, 1);
        let bad = answer(&ch[0], "alice", "wrong", "REGISTER", RURI, 1);
        assert_eq!(
            n.verify(&good, "REGISTER", DOMAIN, &h, t(301)),
            Verdict::Stale
        );
        assert_eq!(
            n.verify(&bad, "REGISTER", DOMAIN, &h, t(301)),
            Verdict::Invalid("wrong password")
        );
        // Stale does not consume the nonce-count; still fresh at the TTL.
        assert_eq!(n.verify(&good, "REGISTER", DOMAIN, &h, t(300)), Verdict::Ok);
    }

    #[test]
    fn wrong_realm_is_invalid() {
        let n = NonceIssuer::new(Duration::from_secs(300));
        let ch = n.challenge_at(DOMAIN, false, t(0));
        let c = answer(&ch[0], "alice", "s3cret", "REGISTER", RURI, 1);
        assert_eq!(
            n.verify(
                &c,
                "REGISTER",
                "other.example",
                &stored(Algorithm::Sha256),
                t(1)
            ),
            Verdict::Invalid("wrong realm")
        );
    }

    #[test]
    fn qop_nc_cnonce_are_required() {
        let n = NonceIssuer::new(Duration::from_secs(300));
        let ch = n.challenge_at(DOMAIN, false, t(0));
        let h = stored(Algorithm::Sha256);
        let c = answer(&ch[0], "alice", "s3cret", "REGISTER", RURI, 1);
        let mut x = c.clone();
        x.qop = None;
        assert_eq!(
            n.verify(&x, "REGISTER", DOMAIN, &h, t(1)),
            Verdict::Invalid("qop=auth required")
        );
        x.qop = Some("auth-int".into());
        assert_eq!(
            n.verify(&x, "REGISTER", DOMAIN, &h, t(1)),
            Verdict::Invalid("unsupported qop (only auth)")
        );
        let mut x = c.clone();
        x.nc = None;
        assert_eq!(
            n.verify(&x, "REGISTER", DOMAIN, &h, t(1)),
            Verdict::Invalid("missing nonce-count")
        );
        x.nc = Some(0);
        assert_eq!(
            n.verify(&x, "REGISTER", DOMAIN, &h, t(1)),
            Verdict::Invalid("nonce-count must be positive")
        );
        let mut x = c.clone();
        x.cnonce = None;
        assert_eq!(
            n.verify(&x, "REGISTER", DOMAIN, &h, t(1)),
            Verdict::Invalid("missing cnonce")
        );
        assert_eq!(n.verify(&c, "REGISTER", DOMAIN, &h, t(1)), Verdict::Ok);
    }

    #[test]
    fn replay_table_is_bounded_and_fails_safe() {
        let n = NonceIssuer::with_capacity(Duration::from_secs(300), 10);
        let h = stored(Algorithm::Md5);
        let mut used = Vec::new();
        for i in 0..10u64 {
            let ch = n.challenge_at(DOMAIN, false, t(i));
            let c = answer(&ch[1], "alice", "s3cret", "REGISTER", RURI, 1);
            assert_eq!(n.verify(&c, "REGISTER", DOMAIN, &h, t(i)), Verdict::Ok);
            used.push(c);
        }
        // An unused nonce issued before the next insertion's eviction.
        let old = n.challenge_at(DOMAIN, false, t(0));
        let old = answer(&old[1], "alice", "s3cret", "REGISTER", RURI, 1);
        // The 11th evicts the oldest.
        let ch = n.challenge_at(DOMAIN, false, t(20));
        let c = answer(&ch[1], "alice", "s3cret", "REGISTER", RURI, 1);
        assert_eq!(n.verify(&c, "REGISTER", DOMAIN, &h, t(20)), Verdict::Ok);
        assert!(lock(&n.table).seen.len() <= 10);
        // Replaying an evicted nonce is never accepted.
        assert_eq!(
            n.verify(&used[0], "REGISTER", DOMAIN, &h, t(21)),
            Verdict::Stale
        );
        assert_eq!(
            n.verify(&old, "REGISTER", DOMAIN, &h, t(21)),
            Verdict::Stale
        );
        // Recent ones still tracked.
        assert_eq!(
            n.verify(&used[9], "REGISTER", DOMAIN, &h, t(21)),
            Verdict::Replay
        );
        // Expired entries are evicted first.
        for i in 0..20u64 {
            let ch = n.challenge_at(DOMAIN, false, t(1000 + i));
            let c = answer(&ch[1], "alice", "s3cret", "REGISTER", RURI, 1);
            assert_eq!(
                n.verify(&c, "REGISTER", DOMAIN, &h, t(1000 + i)),
                Verdict::Ok
            );
        }
        assert!(lock(&n.table).seen.len() <= 10);
    }

    #[test]
    fn parses_quoted_values_with_escapes_and_commas() {
        let v = r#"digest  REALM = "acme, \"inc\"" ,USERNAME="bob\\smith", nonce=abc, uri="sip:x@y;transport=tcp", response="00", foo="bar, baz=\"q\"", qop="auth", nc=00000001, cnonce="a,b""#;
        let c = parse_authorization(v).expect("parse");
        assert_eq!(c.realm, "acme, \"inc\"");
        assert_eq!(c.username, "bob\\smith");
        assert_eq!(c.nonce, "abc");
        assert_eq!(c.uri, "sip:x@y;transport=tcp");
        assert_eq!(c.response, "00");
        assert_eq!(c.qop.as_deref(), Some("auth"));
        assert_eq!(c.cnonce.as_deref(), Some("a,b"));
        assert_eq!(c.algorithm, Algorithm::Md5);
        assert_eq!(c.opaque, None);
        // Rendering and reparsing keeps the values.
        assert_eq!(parse_authorization(&c.to_header_value()).expect("rt"), c);
    }

    #[test]
    fn schemes_and_missing_params() {
        assert_eq!(
            parse_authorization("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="),
            Err(DigestError::UnsupportedScheme("Basic".into()))
        );
        assert_eq!(
            parse_authorization("Digest realm=\"r\", nonce=\"n\", uri=\"u\", response=\"x\""),
            Err(DigestError::MissingParam("username"))
        );
        assert_eq!(
            parse_authorization("Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"u\""),
            Err(DigestError::MissingParam("response"))
        );
        assert_eq!(
            parse_authorization("Digest"),
            Err(DigestError::MissingParam("username"))
        );
        for bad in [
            "",
            "   ",
            "Digest username=\"a",
            "Digest username=",
            "Digest username",
            "Digest username=\"a\" realm=\"r\"",
            "Digest username=\"a\", username=\"b\"",
            "Digest =x",
            "Digest, username=a",
        ] {
            assert!(
                matches!(parse_authorization(bad), Err(DigestError::Malformed(_))),
                "{bad:?} -> {:?}",
                parse_authorization(bad)
            );
        }
    }

    #[test]
    fn algorithms() {
        assert_eq!(Algorithm::parse("md5"), Ok(Algorithm::Md5));
        assert_eq!(Algorithm::parse("sha-256"), Ok(Algorithm::Sha256));
        assert_eq!(Algorithm::Sha256.name(), "SHA-256");
        assert_eq!(Algorithm::Md5.to_string(), "MD5");
        for bad in ["MD5-sess", "sha-256-SESS", "SHA-512-256", ""] {
            assert!(matches!(
                Algorithm::parse(bad),
                Err(DigestError::BadParam(_))
            ));
        }
        let base = "Digest username=a, realm=r, nonce=n, uri=u, response=x";
        match parse_authorization(&format!("{base}, algorithm=MD5-sess")) {
            Err(DigestError::BadParam(m)) => assert!(m.contains("session"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            parse_authorization(&format!("{base}, algorithm=\"sha-256\""))
                .expect("quoted alg")
                .algorithm,
            Algorithm::Sha256
        );
        assert!(matches!(
            parse_authorization(&format!("{base}, userhash=true")),
            Err(DigestError::BadParam(_))
        ));
        assert!(parse_authorization(&format!("{base}, userhash=false")).is_ok());
    }

    #[test]
    fn throttle_blocks_after_n_failures_and_unblocks_after_window() {
        let th = FailureThrottle::new(3, Duration::from_secs(60));
        let ip: IpAddr = "192.0.2.7".parse().expect("ip");
        let other: IpAddr = "2001:db8::1".parse().expect("ip");
        th.record_failure(ip, t(0));
        th.record_failure(ip, t(1));
        assert!(!th.is_blocked(ip, t(2)));
        th.record_failure(ip, t(2));
        assert!(th.is_blocked(ip, t(3)));
        assert!(!th.is_blocked(other, t(3)));
        assert!(th.is_blocked(ip, t(61)));
        assert!(!th.is_blocked(ip, t(62)));
        // Afresh after the block.
        th.record_failure(ip, t(63));
        assert!(!th.is_blocked(ip, t(63)));
        // Failures spread wider than the window do not block.
        let th = FailureThrottle::new(3, Duration::from_secs(60));
        th.record_failure(ip, t(0));
        th.record_failure(ip, t(30));
        th.record_failure(ip, t(61));
        assert!(!th.is_blocked(ip, t(62)));
        // Success clears.
        th.record_failure(ip, t(62));
        th.record_success(ip);
        th.record_failure(ip, t(63));
        assert!(!th.is_blocked(ip, t(63)));
    }

    #[test]
    fn throttle_memory_is_bounded_and_keeps_blocked_addresses() {
        let th = FailureThrottle::with_capacity(2, Duration::from_secs(60), 100);
        let bad: IpAddr = "198.51.100.1".parse().expect("ip");
        th.record_failure(bad, t(0));
        th.record_failure(bad, t(0));
        assert!(th.is_blocked(bad, t(0)));
        for i in 0..1000u32 {
            let ip = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            th.record_failure(ip, t(1));
        }
        assert!(th.tracked() <= 100);
        assert!(th.is_blocked(bad, t(2)));
    }

    #[test]
    fn constant_time_eq() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }
}
