//! Throttling of failed authentications: per source, per (source,
//! username) and per username, with exponential back-off. A success only
//! clears the counter of the (source, username) that succeeded: logging in
//! to one's own account never resets the count of guesses at another's.

use super::*;
use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

/// Failed attempts of one key.
#[derive(Debug, Clone, Copy)]
struct Failures {
    /// Start of the current counting window.
    since: SystemTime,
    /// Failures since `since`.
    count: u32,
    /// Blocked until then, if blocked.
    blocked_until: Option<SystemTime>,
    /// How many times this key was blocked (the back-off exponent).
    strikes: u32,
    /// Last failure, to forget quiet keys.
    last: SystemTime,
}

/// A throttle of failed attempts per key: after `max_failures` failures
/// within `window`, the key is blocked for `block`, doubled at every further
/// block up to `max_block`. A key that stays quiet for a day is forgotten.
/// Memory is bounded.
pub struct FailureThrottle<K = IpAddr> {
    max_failures: u32,
    window: Duration,
    block: Duration,
    max_block: Duration,
    max_tracked: usize,
    state: Mutex<HashMap<K, Failures>>,
}

impl<K> fmt::Debug for FailureThrottle<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FailureThrottle")
            .field("max_failures", &self.max_failures)
            .field("window", &self.window)
            .field("block", &self.block)
            .field("max_block", &self.max_block)
            .field("max_tracked", &self.max_tracked)
            .finish_non_exhaustive()
    }
}

/// A quiet key's strikes are forgotten after this long.
const FORGET_AFTER: Duration = Duration::from_secs(24 * 3600);

impl<K: Hash + Eq + Clone> FailureThrottle<K> {
    /// A throttle allowing `max_failures` failures per `window` and key
    /// (0 behaves as 1), blocking for `window` (no back-off), remembering up
    /// to [`DEFAULT_MAX_TRACKED_ADDRS`] keys.
    pub fn new(max_failures: u32, window: Duration) -> Self {
        Self::with_capacity(max_failures, window, DEFAULT_MAX_TRACKED_ADDRS)
    }

    /// Like [`FailureThrottle::new`], remembering at most `max_tracked`
    /// keys (at least 1). When full, keys whose window and block are over
    /// are forgotten first, then the unblocked ones with the fewest
    /// failures, then the blocked ones whose block ends soonest.
    pub fn with_capacity(max_failures: u32, window: Duration, max_tracked: usize) -> Self {
        Self::with_backoff(max_failures, window, window, window, max_tracked)
    }

    /// A throttle whose blocks last `block`, doubling with each further
    /// block of the same key up to `max_block`.
    pub fn with_backoff(
        max_failures: u32,
        window: Duration,
        block: Duration,
        max_block: Duration,
        max_tracked: usize,
    ) -> Self {
        Self {
            max_failures: max_failures.max(1),
            window,
            block,
            max_block: max_block.max(block),
            max_tracked: max_tracked.max(1),
            state: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `key` is currently blocked.
    pub fn is_blocked(&self, key: &K, now: SystemTime) -> bool {
        self.blocked_until(key, now).is_some()
    }

    /// Until when `key` is blocked, if it is.
    pub fn blocked_until(&self, key: &K, now: SystemTime) -> Option<SystemTime> {
        let mut state = lock(&self.state);
        let f = state.get_mut(key)?;
        match f.blocked_until {
            Some(until) if now < until => Some(until),
            Some(_) => {
                // The block is over: count afresh, remember the strikes.
                f.blocked_until = None;
                f.count = 0;
                f.since = now;
                None
            }
            None => None,
        }
    }

    /// Records a failed attempt of `key` at `now`; true when this failure
    /// blocked the key.
    pub fn record_failure(&self, key: &K, now: SystemTime) -> bool {
        let mut state = lock(&self.state);
        if !state.contains_key(key) && state.len() >= self.max_tracked {
            self.make_room(&mut state, now);
        }
        let f = state.entry(key.clone()).or_insert(Failures {
            since: now,
            count: 0,
            blocked_until: None,
            strikes: 0,
            last: now,
        });
        if now.duration_since(f.last).unwrap_or(Duration::ZERO) >= FORGET_AFTER {
            f.strikes = 0;
        }
        f.last = now;
        if f.blocked_until.is_some_and(|u| now < u) {
            return false;
        }
        if now.duration_since(f.since).unwrap_or(Duration::ZERO) >= self.window {
            f.since = now;
            f.count = 0;
        }
        f.count = f.count.saturating_add(1);
        if f.count < self.max_failures {
            return false;
        }
        let factor = 1u32 << f.strikes.min(16);
        let block = self.block.saturating_mul(factor).min(self.max_block);
        f.strikes = f.strikes.saturating_add(1);
        f.blocked_until = Some(now.checked_add(block).unwrap_or(now));
        true
    }

    /// Records a successful authentication of `key`: forgets its failures
    /// and strikes.
    pub fn record_success(&self, key: &K) {
        lock(&self.state).remove(key);
    }

    /// Evicts entries down to 90% of capacity (see
    /// [`FailureThrottle::with_capacity`]).
    fn make_room(&self, state: &mut HashMap<K, Failures>, now: SystemTime) {
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
        let mut order: Vec<((bool, SystemTime, u32, SystemTime), K)> = state
            .iter()
            .map(|(k, f)| {
                let until = f.blocked_until.filter(|u| now < *u);
                (
                    (
                        until.is_some(),
                        until.unwrap_or(UNIX_EPOCH),
                        f.count,
                        f.since,
                    ),
                    k.clone(),
                )
            })
            .collect();
        order.select_nth_unstable_by(excess - 1, |a, b| a.0.cmp(&b.0));
        for (_, k) in order.iter().take(excess) {
            state.remove(k);
        }
    }

    /// Number of keys currently remembered.
    pub fn tracked(&self) -> usize {
        lock(&self.state).len()
    }
}

/// The source a failure is counted against: an IPv4 address, or the /64
/// of an IPv6 address (one subscriber's prefix).
pub fn source_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let mut o = v6.octets();
            o[8..].fill(0);
            IpAddr::from(o)
        }
    }
}

/// Limits of [`AuthThrottle`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthLimits {
    /// Failures of one username from one source before that pair is
    /// blocked.
    pub per_user_source: u32,
    /// Failures from one source, whatever the username, before the source
    /// is blocked.
    pub per_source: u32,
    /// Failures of one username from all sources before the username is
    /// blocked for every source that has not logged in as it recently.
    pub per_user: u32,
    /// The counting window.
    pub window: Duration,
    /// The first block; each further block of the same key doubles it.
    pub block: Duration,
    /// The longest block.
    pub max_block: Duration,
    /// How long a source that logged in as a username stays trusted for
    /// it (exempt from that username's block).
    pub trust: Duration,
}

impl Default for AuthLimits {
    fn default() -> Self {
        AuthLimits {
            per_user_source: 5,
            per_source: 20,
            per_user: 50,
            window: Duration::from_secs(600),
            block: Duration::from_secs(60),
            max_block: Duration::from_secs(3600),
            trust: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// Why an attempt is refused before its credentials are even checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blocked {
    /// Too many failures from this source.
    Source,
    /// Too many failures for this username from this source.
    UserFromSource,
    /// Too many failures for this username, and this source is not one it
    /// logged in from.
    User,
}

/// Throttles password guessing for SIP digest: per source (IPv6 per /64),
/// per (source, username) and per username, with back-off (see
/// [`AuthLimits`]). Usernames are keyed with the realm.
pub struct AuthThrottle {
    limits: AuthLimits,
    by_source: FailureThrottle<IpAddr>,
    by_user_source: FailureThrottle<(IpAddr, String)>,
    by_user: FailureThrottle<String>,
    /// (source, user) → last successful login.
    trusted: Mutex<HashMap<(IpAddr, String), SystemTime>>,
}

impl fmt::Debug for AuthThrottle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthThrottle")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// Most (source, username) pairs remembered as trusted.
const MAX_TRUSTED: usize = 100_000;

impl AuthThrottle {
    /// A throttle with these limits.
    pub fn new(limits: AuthLimits) -> Self {
        fn t<K: Hash + Eq + Clone>(limits: &AuthLimits, max: u32) -> FailureThrottle<K> {
            FailureThrottle::with_backoff(
                max,
                limits.window,
                limits.block,
                limits.max_block,
                DEFAULT_MAX_TRACKED_ADDRS,
            )
        }
        AuthThrottle {
            limits,
            by_source: t(&limits, limits.per_source),
            by_user_source: t(&limits, limits.per_user_source),
            by_user: t(&limits, limits.per_user),
            trusted: Mutex::new(HashMap::new()),
        }
    }

    /// The limits in effect.
    pub fn limits(&self) -> AuthLimits {
        self.limits
    }

    fn is_trusted(&self, source: IpAddr, user: &str, now: SystemTime) -> bool {
        lock(&self.trusted)
            .get(&(source, user.to_string()))
            .is_some_and(|t| now.duration_since(*t).unwrap_or(Duration::ZERO) < self.limits.trust)
    }

    /// Whether the source `ip` is blocked altogether.
    pub fn source_blocked(&self, ip: IpAddr, now: SystemTime) -> bool {
        self.by_source.is_blocked(&source_key(ip), now)
    }

    /// Whether an attempt of `user` from `ip` is refused now.
    pub fn check(&self, ip: IpAddr, user: &str, now: SystemTime) -> Option<Blocked> {
        let src = source_key(ip);
        if self.by_source.is_blocked(&src, now) {
            return Some(Blocked::Source);
        }
        if self
            .by_user_source
            .is_blocked(&(src, user.to_string()), now)
        {
            return Some(Blocked::UserFromSource);
        }
        if self.by_user.is_blocked(&user.to_string(), now) && !self.is_trusted(src, user, now) {
            return Some(Blocked::User);
        }
        None
    }

    /// A failed attempt of `user` (`None`: no usable username) from `ip`.
    pub fn failure(&self, ip: IpAddr, user: Option<&str>, now: SystemTime) {
        let src = source_key(ip);
        if self.by_source.record_failure(&src, now) {
            tracing::warn!(source = %src, "authentication: source blocked after repeated failures");
        }
        if let Some(user) = user {
            if self
                .by_user_source
                .record_failure(&(src, user.to_string()), now)
            {
                tracing::warn!(source = %src, %user, "authentication: user blocked from this source");
            }
            // Failures from a source the user logs in from (a phone with an
            // old password) do not lock the user out elsewhere.
            if !self.is_trusted(src, user, now)
                && self.by_user.record_failure(&user.to_string(), now)
            {
                tracing::warn!(%user, "authentication: user blocked for untrusted sources");
            }
        }
    }

    /// A successful login of `user` from `ip`: clears that pair's failures
    /// (only that pair's) and trusts the source for the user.
    pub fn success(&self, ip: IpAddr, user: &str, now: SystemTime) {
        let src = source_key(ip);
        self.by_user_source.record_success(&(src, user.to_string()));
        let mut trusted = lock(&self.trusted);
        if trusted.len() >= MAX_TRUSTED {
            let trust = self.limits.trust;
            trusted.retain(|_, t| now.duration_since(*t).unwrap_or(Duration::ZERO) < trust);
            if trusted.len() >= MAX_TRUSTED {
                // Forget the oldest tenth.
                let mut times: Vec<SystemTime> = trusted.values().copied().collect();
                let cut = times.len() / 10;
                let (_, nth, _) = times.select_nth_unstable(cut);
                let nth = *nth;
                trusted.retain(|_, t| *t > nth);
            }
        }
        trusted.insert((src, user.to_string()), now);
    }
}
