//! RTP/RTCP port pair allocation over a configured UDP port range.
//!
//! Pairs are (even RTP port, RTP + 1 for RTCP), both inside `lo..=hi`. The
//! allocator hands them out round-robin from a cursor so a port released a
//! moment ago is not reused at once (late packets of the old call would land
//! in the new one). A [`PortLease`] returns its pair when dropped. A tenant
//! may hold at most its share of the pairs
//! ([`PortAllocator::with_tenant_percent`]), so one tenant cannot take every
//! port.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Debug)]
struct State {
    leased: Vec<bool>,
    cursor: usize,
    /// Pairs leased per tenant.
    per_tenant: HashMap<i64, usize>,
}

#[derive(Debug)]
struct Inner {
    /// First (even) RTP port.
    first: u16,
    /// Most pairs one tenant may hold.
    tenant_max: usize,
    state: Mutex<State>,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is a plain bitmap: a panic elsewhere cannot corrupt it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A thread-safe allocator of RTP/RTCP port pairs; clones share the state.
#[derive(Debug, Clone)]
pub struct PortAllocator {
    inner: Arc<Inner>,
}

impl PortAllocator {
    /// An allocator over the UDP ports `lo..=hi`. Only pairs lying fully in
    /// the range are used; an empty or inverted range yields no pairs.
    pub fn new(lo: u16, hi: u16) -> Self {
        let first = lo.saturating_add(lo % 2);
        let pairs = if hi > first {
            usize::from(hi - first).div_ceil(2)
        } else {
            0
        };
        // Start at a random pair so a restarted host does not immediately
        // reuse the ports of the calls it just dropped.
        let cursor = if pairs > 0 {
            rand::random_range(0..pairs)
        } else {
            0
        };
        PortAllocator {
            inner: Arc::new(Inner {
                first,
                tenant_max: pairs,
                state: Mutex::new(State {
                    leased: vec![false; pairs],
                    cursor,
                    per_tenant: HashMap::new(),
                }),
            }),
        }
    }

    /// Limits one tenant to `percent` % of the pairs (rounded up, at least
    /// one). Call before sharing the allocator.
    pub fn with_tenant_percent(self, percent: u32) -> Self {
        let pairs = self.capacity();
        let max = (pairs * (percent.clamp(1, 100) as usize))
            .div_ceil(100)
            .max(1);
        let state = std::mem::replace(
            &mut *self.inner.lock(),
            State {
                leased: Vec::new(),
                cursor: 0,
                per_tenant: HashMap::new(),
            },
        );
        PortAllocator {
            inner: Arc::new(Inner {
                first: self.inner.first,
                tenant_max: max,
                state: Mutex::new(state),
            }),
        }
    }

    /// Pairs `tenant` holds now.
    pub fn in_use_by(&self, tenant: i64) -> usize {
        self.inner
            .lock()
            .per_tenant
            .get(&tenant)
            .copied()
            .unwrap_or(0)
    }

    /// How many pairs the range holds.
    pub fn capacity(&self) -> usize {
        self.inner.lock().leased.len()
    }

    /// How many pairs are currently leased.
    pub fn in_use(&self) -> usize {
        self.inner.lock().leased.iter().filter(|l| **l).count()
    }

    /// Leases the next free pair after the cursor, or `None` when all are
    /// leased. The caller may still fail to bind it (another process holds
    /// the port): drop the lease and ask again, which moves on.
    pub fn allocate_pair(&self) -> Option<PortLease> {
        self.allocate_pair_for(None)
    }

    /// [`PortAllocator::allocate_pair`] for `tenant`: `None` also when the
    /// tenant holds its share.
    pub fn allocate_pair_for(&self, tenant: Option<i64>) -> Option<PortLease> {
        let mut st = self.inner.lock();
        if let Some(t) = tenant {
            if st.per_tenant.get(&t).copied().unwrap_or(0) >= self.inner.tenant_max {
                return None;
            }
        }
        let n = st.leased.len();
        let start = st.cursor;
        let index = (0..n).map(|k| (start + k) % n).find(|i| !st.leased[*i])?;
        let rtp = u16::try_from(index * 2)
            .ok()
            .and_then(|off| self.inner.first.checked_add(off))?;
        st.leased[index] = true;
        st.cursor = (index + 1) % n;
        if let Some(t) = tenant {
            *st.per_tenant.entry(t).or_insert(0) += 1;
        }
        drop(st);
        Some(PortLease {
            inner: self.inner.clone(),
            index,
            rtp,
            tenant,
        })
    }
}

/// A leased RTP/RTCP port pair, released when dropped.
#[derive(Debug)]
pub struct PortLease {
    inner: Arc<Inner>,
    index: usize,
    rtp: u16,
    tenant: Option<i64>,
}

impl PortLease {
    /// The (even) RTP port.
    pub fn rtp_port(&self) -> u16 {
        self.rtp
    }

    /// The RTCP port (RTP + 1).
    pub fn rtcp_port(&self) -> u16 {
        self.rtp + 1
    }
}

impl Drop for PortLease {
    fn drop(&mut self) {
        let mut st = self.inner.lock();
        if let Some(l) = st.leased.get_mut(self.index) {
            *l = false;
        }
        if let Some(t) = self.tenant {
            if let Some(n) = st.per_tenant.get_mut(&t) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    st.per_tenant.remove(&t);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn pairs_are_even_and_inside_the_range() {
        let a = PortAllocator::new(10001, 10010);
        assert_eq!(a.capacity(), 4); // 10002, 10004, 10006, 10008 (10010 has no +1)
        let leases: Vec<_> = (0..4).filter_map(|_| a.allocate_pair()).collect();
        assert_eq!(leases.len(), 4);
        let ports: HashSet<u16> = leases.iter().map(PortLease::rtp_port).collect();
        assert_eq!(ports, HashSet::from([10002, 10004, 10006, 10008]));
        for l in &leases {
            assert_eq!(l.rtp_port() % 2, 0);
            assert_eq!(l.rtcp_port(), l.rtp_port() + 1);
        }
        assert!(a.allocate_pair().is_none());
        assert_eq!(a.in_use(), 4);
        drop(leases);
        assert_eq!(a.in_use(), 0);
    }

    #[test]
    fn range_edges() {
        assert_eq!(PortAllocator::new(10000, 10001).capacity(), 1);
        assert_eq!(PortAllocator::new(10000, 10000).capacity(), 0);
        assert_eq!(PortAllocator::new(10001, 10002).capacity(), 0);
        assert_eq!(PortAllocator::new(20, 10).capacity(), 0);
        assert!(PortAllocator::new(20, 10).allocate_pair().is_none());
        let top = PortAllocator::new(65530, 65535);
        assert_eq!(top.capacity(), 3);
        let leases: Vec<_> = (0..3).filter_map(|_| top.allocate_pair()).collect();
        assert!(leases.iter().any(|l| l.rtcp_port() == 65535));
        let odd_top = PortAllocator::new(65535, 65535);
        assert_eq!(odd_top.capacity(), 0);
    }

    #[test]
    fn released_port_is_not_reused_immediately() {
        let a = PortAllocator::new(30000, 30009);
        let first = a.allocate_pair().map(|l| l.rtp_port());
        let second = a.allocate_pair().map(|l| l.rtp_port());
        assert_ne!(first, second);
        // Each lease above was dropped at once; the cursor still rotates
        // through all five pairs before coming back.
        let mut seen = vec![first, second];
        for _ in 0..3 {
            seen.push(a.allocate_pair().map(|l| l.rtp_port()));
        }
        let distinct: HashSet<_> = seen.iter().flatten().collect();
        assert_eq!(distinct.len(), 5);
        assert_eq!(a.allocate_pair().map(|l| l.rtp_port()), first);
    }

    #[test]
    fn a_tenant_holds_at_most_its_share() {
        let a = PortAllocator::new(30000, 30019).with_tenant_percent(50); // 10 pairs
        let mine: Vec<_> = (0..10)
            .filter_map(|_| a.allocate_pair_for(Some(1)))
            .collect();
        assert_eq!(mine.len(), 5);
        assert_eq!(a.in_use_by(1), 5);
        let theirs: Vec<_> = (0..10)
            .filter_map(|_| a.allocate_pair_for(Some(2)))
            .collect();
        assert_eq!(theirs.len(), 5, "the other tenant still gets ports");
        drop(mine);
        assert_eq!(a.in_use_by(1), 0);
        assert!(a.allocate_pair_for(Some(1)).is_some());
    }

    #[test]
    fn clones_share_state_across_threads() {
        let a = PortAllocator::new(40000, 40199);
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let a = a.clone();
                std::thread::spawn(move || {
                    (0..25)
                        .filter_map(|_| a.allocate_pair())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all = Vec::new();
        for h in handles {
            all.extend(h.join().unwrap());
        }
        let distinct: HashSet<u16> = all.iter().map(PortLease::rtp_port).collect();
        assert_eq!(distinct.len(), 100);
        assert!(a.allocate_pair().is_none());
    }
}
