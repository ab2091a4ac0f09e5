//! Call admission per tenant: the operator's limits on concurrent calls
//! and on new calls per minute ([`TenantLimits`]). A call over a limit is
//! refused with 503 and Retry-After before any routing; an admitted call
//! holds an [`Admission`] until it ends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::Switch;
use crate::store::TenantLimits;

/// Calls of one tenant: in progress, and started in the current minute.
#[derive(Debug, Default)]
pub(crate) struct TenantUse {
    active: i64,
    window_start_ms: i64,
    started_in_window: i64,
}

/// Per-tenant counters.
pub(crate) type Counters = Mutex<HashMap<i64, TenantUse>>;

/// Why a call was not admitted: the reason phrase of the 503.
pub(crate) type Refusal = &'static str;

/// An admitted call; dropping it frees its place.
pub(crate) struct Admission {
    sw: Arc<Switch>,
    tenant_id: i64,
}

impl Drop for Admission {
    fn drop(&mut self) {
        if let Ok(mut m) = self.sw.admission.lock() {
            if let Some(u) = m.get_mut(&self.tenant_id) {
                u.active = (u.active - 1).max(0);
            }
        }
    }
}

/// Applies `limits` to `u` at `now_ms`: counts the call when admitted.
fn admit_with(u: &mut TenantUse, limits: &TenantLimits, now_ms: i64) -> Result<(), Refusal> {
    if limits.max_concurrent_calls > 0 && u.active >= limits.max_concurrent_calls {
        return Err("Tenant Call Limit Reached");
    }
    if u.started_in_window == 0 || now_ms - u.window_start_ms >= 60_000 {
        u.window_start_ms = now_ms;
        u.started_in_window = 0;
    }
    if limits.max_calls_per_minute > 0 && u.started_in_window >= limits.max_calls_per_minute {
        return Err("Tenant Call Rate Exceeded");
    }
    u.active += 1;
    u.started_in_window += 1;
    Ok(())
}

impl Switch {
    /// Admits a call of `tenant_id` under its limits (read from the store;
    /// a store error admits, the call then fails or succeeds on its own).
    pub(crate) async fn admit(self: &Arc<Self>, tenant_id: i64) -> Result<Admission, Refusal> {
        let limits = match self.store.tenant_limits(tenant_id).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(tenant_id, "reading tenant limits: {e}");
                TenantLimits::default()
            }
        };
        let now = crate::now_ms();
        {
            let mut m = self.admission.lock().map_err(|_| "Service Unavailable")?;
            admit_with(m.entry(tenant_id).or_default(), &limits, now)?;
        }
        Ok(Admission {
            sw: self.clone(),
            tenant_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_and_rate_limits() {
        let mut u = TenantUse::default();
        let none = TenantLimits::default();
        for _ in 0..100 {
            assert!(admit_with(&mut u, &none, 1_000).is_ok());
        }
        let mut u = TenantUse::default();
        let two = TenantLimits {
            max_concurrent_calls: 2,
            ..TenantLimits::default()
        };
        assert!(admit_with(&mut u, &two, 0).is_ok());
        assert!(admit_with(&mut u, &two, 0).is_ok());
        assert_eq!(
            admit_with(&mut u, &two, 0),
            Err("Tenant Call Limit Reached")
        );
        u.active -= 1;
        assert!(admit_with(&mut u, &two, 0).is_ok());

        let mut u = TenantUse::default();
        let rate = TenantLimits {
            max_calls_per_minute: 3,
            ..TenantLimits::default()
        };
        for _ in 0..3 {
            assert!(admit_with(&mut u, &rate, 10_000).is_ok());
        }
        assert_eq!(
            admit_with(&mut u, &rate, 69_999),
            Err("Tenant Call Rate Exceeded")
        );
        assert!(admit_with(&mut u, &rate, 70_000).is_ok(), "a new minute");
    }
}
