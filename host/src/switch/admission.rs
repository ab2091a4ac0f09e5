//! Call admission per tenant and per device: the operator's limits on
//! concurrent calls and on new calls per minute ([`TenantLimits`]), the
//! host's defaults where the operator set none ([`CallLimits`]), and a cap
//! on the calls one device places at once (one phone cannot hold every
//! port and plugin instance). A call over a limit is refused with 503 and
//! Retry-After before any routing; an admitted call holds an [`Admission`]
//! until it ends.

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

/// Per-tenant counters, and calls in progress per device.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    tenants: Mutex<HashMap<i64, TenantUse>>,
    devices: Mutex<HashMap<i64, i64>>,
}

/// The host's defaults (`[limits]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallLimits {
    /// Concurrent calls of a tenant whose operator limit is 0 (none set).
    pub tenant_max_calls: i64,
    /// Calls one device may place at once.
    pub device_max_calls: i64,
}

impl Default for CallLimits {
    fn default() -> Self {
        CallLimits {
            tenant_max_calls: 100,
            device_max_calls: 4,
        }
    }
}

/// Why a call was not admitted: the reason phrase of the 503.
pub(crate) type Refusal = &'static str;

/// An admitted call; dropping it frees its place.
pub(crate) struct Admission {
    sw: Arc<Switch>,
    tenant_id: i64,
    device_id: Option<i64>,
}

impl Drop for Admission {
    fn drop(&mut self) {
        if let Ok(mut m) = self.sw.admission.tenants.lock() {
            if let Some(u) = m.get_mut(&self.tenant_id) {
                u.active = (u.active - 1).max(0);
            }
        }
        if let Some(d) = self.device_id {
            if let Ok(mut m) = self.sw.admission.devices.lock() {
                if let Some(n) = m.get_mut(&d) {
                    *n -= 1;
                    if *n <= 0 {
                        m.remove(&d);
                    }
                }
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
    /// Admits a call of `tenant_id` placed by `device_id` (none: from the
    /// trunk) under the limits (the operator's, read from the store, else
    /// the host's defaults; a store error applies the defaults).
    pub(crate) async fn admit(
        self: &Arc<Self>,
        tenant_id: i64,
        device_id: Option<i64>,
    ) -> Result<Admission, Refusal> {
        let defaults = self.cfg.limits;
        let mut limits = match self.store.tenant_limits(tenant_id).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(tenant_id, "reading tenant limits: {e}");
                TenantLimits::default()
            }
        };
        if limits.max_concurrent_calls <= 0 {
            limits.max_concurrent_calls = defaults.tenant_max_calls;
        }
        let now = crate::now_ms();
        if let Some(d) = device_id {
            let m = self.admission.devices.lock();
            let mut m = m.map_err(|_| "Service Unavailable")?;
            let n = m.entry(d).or_insert(0);
            if defaults.device_max_calls > 0 && *n >= defaults.device_max_calls {
                return Err("Device Call Limit Reached");
            }
            *n += 1;
        }
        let admitted = match self.admission.tenants.lock() {
            Ok(mut m) => admit_with(m.entry(tenant_id).or_default(), &limits, now),
            Err(_) => Err("Service Unavailable"),
        };
        match admitted {
            Ok(()) => Ok(Admission {
                sw: self.clone(),
                tenant_id,
                device_id,
            }),
            Err(why) => {
                // Give the device's place back.
                if let (Some(d), Ok(mut m)) = (device_id, self.admission.devices.lock()) {
                    if let Some(n) = m.get_mut(&d) {
                        *n -= 1;
                        if *n <= 0 {
                            m.remove(&d);
                        }
                    }
                }
                Err(why)
            }
        }
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
