//! Server-issued, self-validating nonces and the nonce-count replay table.

use super::*;
use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

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
pub(super) struct Seen {
    /// Highest nonce-count accepted (0: none yet, only failures).
    nc: u32,
    /// When the nonce was issued (ms since the epoch).
    issued_ms: u64,
    /// Keyed hash of the username it was first used with: a nonce serves
    /// one username only.
    user: u64,
    /// Wrong responses given with it.
    failures: u8,
}

/// Wrong responses after which a nonce is spent: every guess beyond needs a
/// new challenge, and challenges are rate-limited.
pub const MAX_NONCE_FAILURES: u8 = 3;

#[derive(Debug, Default)]
pub(super) struct ReplayTable {
    pub(super) seen: HashMap<[u8; NONCE_BODY_LEN], Seen>,
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
    /// Keys the username hashes of the replay table.
    user_hasher: std::collections::hash_map::RandomState,
    pub(super) table: Mutex<ReplayTable>,
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
            user_hasher: std::collections::hash_map::RandomState::new(),
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
    /// ours ("unknown nonce"); `qop=auth` with `nc` and `cnonce`; the nonce
    /// was not used with another username and is not spent by
    /// [`MAX_NONCE_FAILURES`] wrong responses; the response (constant-time,
    /// "wrong password", counted against the nonce); then, with the
    /// password proven right, the nonce age ([`Verdict::Stale`] past the
    /// TTL) and the nonce-count, which must be strictly greater than any
    /// accepted before with this nonce ([`Verdict::Replay`]). Only an `Ok`
    /// verdict records the nonce-count.
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
        let user = {
            use std::hash::BuildHasher as _;
            self.user_hasher.hash_one(c.username.as_str())
        };
        let now_ms = millis_since_epoch(now);
        let ttl_ms = u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX);
        if let Some(seen) = lock(&self.table).seen.get(&key) {
            if seen.user != user {
                return Verdict::Invalid("nonce was used with another username");
            }
            if seen.failures >= MAX_NONCE_FAILURES {
                return Verdict::Invalid("nonce spent by wrong responses");
            }
        }
        let ha1 = ha1.to_ascii_lowercase();
        let expected = response(c.algorithm, &ha1, &c.nonce, nc, cnonce, qop, method, &c.uri);
        let given = c.response.to_ascii_lowercase();
        if !ct_eq(expected.as_bytes(), given.as_bytes()) {
            let mut table = lock(&self.table);
            if let Some(seen) = table.seen.get_mut(&key) {
                seen.failures = seen.failures.saturating_add(1);
            } else if issued_ms > table.floor_ms {
                table.make_room(now_ms, ttl_ms, self.max_tracked);
                if issued_ms > table.floor_ms {
                    table.seen.insert(
                        key,
                        Seen {
                            nc: 0,
                            issued_ms,
                            user,
                            failures: 1,
                        },
                    );
                }
            }
            return Verdict::Invalid("wrong password");
        }
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
        table.seen.insert(
            key,
            Seen {
                nc,
                issued_ms,
                user,
                failures: 0,
            },
        );
        Verdict::Ok
    }
}
