//! Per-source-IP throttling of failed authentications.

use super::*;
use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

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
