//! Per-key token buckets: `rate` events per second, bursts of `burst`.
//! Memory is bounded: when full, buckets that have refilled completely
//! (their keys are quiet) are forgotten first, then the fullest.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::Instant;

/// Token buckets by key.
#[derive(Debug)]
pub struct RateLimiter<K> {
    rate: f64,
    burst: f64,
    max_keys: usize,
    buckets: Mutex<HashMap<K, (f64, Instant)>>,
}

impl<K: Hash + Eq + Clone> RateLimiter<K> {
    /// `rate` per second (> 0), bursts of `burst` (at least 1), at most
    /// `max_keys` keys remembered.
    pub fn new(rate: f64, burst: f64, max_keys: usize) -> Self {
        Self {
            rate: rate.max(f64::MIN_POSITIVE),
            burst: burst.max(1.0),
            max_keys: max_keys.max(1),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token of `key`'s bucket: false when it is empty.
    pub fn allow(&self, key: &K) -> bool {
        self.allow_at(key, Instant::now())
    }

    /// [`RateLimiter::allow`] at a given time (tests).
    pub fn allow_at(&self, key: &K, now: Instant) -> bool {
        let mut b = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if !b.contains_key(key) && b.len() >= self.max_keys {
            self.make_room(&mut b, now);
        }
        let (tokens, last) = b.entry(key.clone()).or_insert((self.burst, now));
        let elapsed = now.saturating_duration_since(*last).as_secs_f64();
        *tokens = (*tokens + elapsed * self.rate).min(self.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }

    fn make_room(&self, b: &mut HashMap<K, (f64, Instant)>, now: Instant) {
        let (rate, burst) = (self.rate, self.burst);
        let level = |t: f64, last: Instant| {
            (t + now.saturating_duration_since(last).as_secs_f64() * rate).min(burst)
        };
        b.retain(|_, (t, last)| level(*t, *last) < burst);
        if b.len() < self.max_keys {
            return;
        }
        // Forget the tenth with the most tokens left (the least active).
        let mut levels: Vec<(f64, K)> = b
            .iter()
            .map(|(k, (t, last))| (level(*t, *last), k.clone()))
            .collect();
        levels.sort_by(|x, y| y.0.total_cmp(&x.0));
        for (_, k) in levels.into_iter().take((self.max_keys / 10).max(1)) {
            b.remove(&k);
        }
    }

    /// Keys remembered.
    pub fn tracked(&self) -> usize {
        self.buckets.lock().map(|b| b.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bursts_then_the_rate() {
        let l = RateLimiter::new(10.0, 5.0, 100);
        let t0 = Instant::now();
        let allowed = (0..20).filter(|_| l.allow_at(&1, t0)).count();
        assert_eq!(allowed, 5);
        assert!(l.allow_at(&2, t0), "another key has its own bucket");
        let t1 = t0 + Duration::from_millis(300);
        let more = (0..20).filter(|_| l.allow_at(&1, t1)).count();
        assert_eq!(more, 3);
    }

    #[test]
    fn memory_is_bounded() {
        let l = RateLimiter::new(1.0, 1.0, 50);
        let t0 = Instant::now();
        for k in 0..1000 {
            l.allow_at(&k, t0);
        }
        assert!(l.tracked() <= 50);
    }
}
