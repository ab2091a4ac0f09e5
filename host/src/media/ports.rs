//! RTP/RTCP port pair allocation over a configured UDP port range.
//!
//! Pairs are (even RTP port, RTP + 1 for RTCP), both inside `lo..=hi`. The
//! allocator hands them out round-robin from a cursor so a port released a
//! moment ago is not reused at once (late packets of the old call would land
//! in the new one). A [`PortLease`] returns its pair when dropped.

use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Debug)]
struct State {
    leased: Vec<bool>,
    cursor: usize,
}

#[derive(Debug)]
struct Inner {
    /// First (even) RTP port.
    first: u16,
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
                state: Mutex::new(State {
                    leased: vec![false; pairs],
                    cursor,
                }),
            }),
        }
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
        let mut st = self.inner.lock();
        let n = st.leased.len();
        let start = st.cursor;
        let index = (0..n).map(|k| (start + k) % n).find(|i| !st.leased[*i])?;
        st.leased[index] = true;
        st.cursor = (index + 1) % n;
        drop(st);
        let rtp = u16::try_from(index * 2)
            .ok()
            .and_then(|off| self.inner.first.checked_add(off))?;
        Some(PortLease {
            inner: self.inner.clone(),
            index,
            rtp,
        })
    }
}

/// A leased RTP/RTCP port pair, released when dropped.
#[derive(Debug)]
pub struct PortLease {
    inner: Arc<Inner>,
    index: usize,
    rtp: u16,
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
        if let Some(l) = self.inner.lock().leased.get_mut(self.index) {
            *l = false;
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
