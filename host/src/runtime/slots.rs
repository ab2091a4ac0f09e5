//! Instance admission: the pool's instances shared between tenants. An
//! invocation takes a slot before its instance is created; a tenant may
//! hold at most its share of the pool, so one tenant's sessions (or its
//! flood of calls) cannot leave another tenant without instances. No free
//! slot is the host's trouble, reported as `FaultKind::Unavailable`, which
//! never counts toward a plugin's suspension.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Debug, Default)]
struct Use {
    total: u32,
    per_tenant: HashMap<i64, u32>,
}

/// The pool's slots.
#[derive(Debug)]
pub(crate) struct Slots {
    max: u32,
    per_tenant_max: u32,
    inner: Mutex<Use>,
}

/// A taken slot, given back when dropped.
#[derive(Debug)]
pub(crate) struct Slot {
    slots: Arc<Slots>,
    tenant: i64,
}

impl Slots {
    /// `max` slots in all, at most `percent` % of them (rounded up, at least
    /// one) for one tenant.
    pub(crate) fn new(max: u32, percent: u32) -> Arc<Self> {
        let percent = u64::from(percent.clamp(1, 100));
        let share = (u64::from(max) * percent).div_ceil(100);
        let per_tenant_max = u32::try_from(share).unwrap_or(max).clamp(1, max.max(1));
        Arc::new(Slots {
            max,
            per_tenant_max,
            inner: Mutex::new(Use::default()),
        })
    }

    /// Takes a slot for `tenant`, or says why there is none.
    pub(crate) fn acquire(self: &Arc<Self>, tenant: i64) -> Result<Slot, String> {
        let mut u = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if u.total >= self.max {
            return Err(format!(
                "all {} plugin instances are in use (host busy)",
                self.max
            ));
        }
        let mine = u.per_tenant.get(&tenant).copied().unwrap_or(0);
        if mine >= self.per_tenant_max {
            return Err(format!(
                "the tenant holds its share of {} plugin instances",
                self.per_tenant_max
            ));
        }
        u.total += 1;
        u.per_tenant.insert(tenant, mine + 1);
        Ok(Slot {
            slots: self.clone(),
            tenant,
        })
    }

    /// Slots in use (all tenants).
    pub(crate) fn in_use(&self) -> u32 {
        self.inner.lock().map(|u| u.total).unwrap_or(0)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut u = self.slots.inner.lock().unwrap_or_else(|e| e.into_inner());
        u.total = u.total.saturating_sub(1);
        if let Some(n) = u.per_tenant.get_mut(&self.tenant) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                u.per_tenant.remove(&self.tenant);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_gets_its_share_and_no_more() {
        let s = Slots::new(10, 50);
        let a: Vec<Slot> = (0..5).filter_map(|_| s.acquire(1).ok()).collect();
        assert_eq!(a.len(), 5);
        assert!(s.acquire(1).is_err(), "over the share");
        let b: Vec<Slot> = (0..5).filter_map(|_| s.acquire(2).ok()).collect();
        assert_eq!(b.len(), 5, "another tenant still gets instances");
        assert!(s.acquire(3).is_err(), "the pool is full");
        drop(a);
        let again = s.acquire(1);
        assert!(again.is_ok());
        assert_eq!(s.in_use(), 6);
        drop(again);
        assert_eq!(s.in_use(), 5);
    }
}
