//! Suspension policy: a plugin that keeps faulting for a tenant is suspended
//! for that tenant, with the last reason, until an admin resumes it. The
//! tracker only decides; the caller persists the suspension.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::outcome::{FaultKind, HookOutcome};

/// Default consecutive faults that suspend a plugin.
pub const DEFAULT_THRESHOLD: u32 = 5;
/// Default window: a fault older than this no longer counts toward a streak.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(300);

/// Why a plugin is suspended for a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suspension {
    /// Consecutive faults that led to it.
    pub faults: u32,
    /// Kind of the last fault.
    pub kind: FaultKind,
    /// Message of the last fault.
    pub reason: String,
}

#[derive(Debug, Default)]
struct Entry {
    streak: u32,
    last_fault: Option<Instant>,
    suspended: Option<Suspension>,
}

/// Per (tenant id, plugin id) consecutive-fault counter.
#[derive(Debug)]
pub struct FaultTracker {
    threshold: u32,
    window: Duration,
    entries: Mutex<HashMap<(i64, String), Entry>>,
}

impl Default for FaultTracker {
    fn default() -> Self {
        Self::new(DEFAULT_THRESHOLD, DEFAULT_WINDOW)
    }
}

impl FaultTracker {
    /// Suspends after `threshold` consecutive faults, each within `window`
    /// of the previous one.
    pub fn new(threshold: u32, window: Duration) -> Self {
        Self {
            threshold: threshold.max(1),
            window,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Records an outcome: a fault extends the streak, anything else ends it.
    /// Returns the suspension when this outcome caused it.
    pub fn record(
        &self,
        tenant_id: i64,
        plugin_id: &str,
        outcome: &HookOutcome,
    ) -> Option<Suspension> {
        match outcome {
            // The host's own trouble (no instance free, starved of CPU or
            // waiting for the database) says nothing about the plugin.
            HookOutcome::Fault { kind, .. } if kind.is_host_side() => None,
            HookOutcome::Fault { kind, message } => {
                self.record_fault(tenant_id, plugin_id, *kind, message, Instant::now())
            }
            _ => {
                self.record_success(tenant_id, plugin_id);
                None
            }
        }
    }

    /// Records a fault at `now`; returns the suspension when it starts now.
    pub fn record_fault(
        &self,
        tenant_id: i64,
        plugin_id: &str,
        kind: FaultKind,
        message: &str,
        now: Instant,
    ) -> Option<Suspension> {
        let mut entries = self.lock();
        let entry = entries
            .entry((tenant_id, plugin_id.to_string()))
            .or_default();
        if entry.suspended.is_some() {
            return None;
        }
        let recent = entry
            .last_fault
            .is_some_and(|t| now.saturating_duration_since(t) <= self.window);
        entry.streak = if recent { entry.streak + 1 } else { 1 };
        entry.last_fault = Some(now);
        if entry.streak >= self.threshold {
            let suspension = Suspension {
                faults: entry.streak,
                kind,
                reason: message.to_string(),
            };
            entry.suspended = Some(suspension.clone());
            return Some(suspension);
        }
        None
    }

    /// Records a successful invocation: the streak starts over.
    pub fn record_success(&self, tenant_id: i64, plugin_id: &str) {
        let mut entries = self.lock();
        if let Some(entry) = entries.get_mut(&(tenant_id, plugin_id.to_string())) {
            if entry.suspended.is_none() {
                entry.streak = 0;
                entry.last_fault = None;
            }
        }
    }

    /// Whether the plugin is suspended for the tenant.
    pub fn is_suspended(&self, tenant_id: i64, plugin_id: &str) -> bool {
        self.suspension(tenant_id, plugin_id).is_some()
    }

    /// The suspension and its reason, when suspended.
    pub fn suspension(&self, tenant_id: i64, plugin_id: &str) -> Option<Suspension> {
        self.lock()
            .get(&(tenant_id, plugin_id.to_string()))
            .and_then(|e| e.suspended.clone())
    }

    /// Lifts a suspension (an admin resumed the plugin) and clears the streak.
    pub fn resume(&self, tenant_id: i64, plugin_id: &str) {
        self.lock().remove(&(tenant_id, plugin_id.to_string()));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(i64, String), Entry>> {
        // A poisoned lock only means another thread panicked mid-update of a
        // counter; the counters stay usable.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streak_window_and_resume() {
        let t = FaultTracker::new(3, Duration::from_secs(10));
        let t0 = Instant::now();
        assert!(t.record_fault(1, "p", FaultKind::Trap, "a", t0).is_none());
        assert!(t.record_fault(1, "p", FaultKind::Trap, "b", t0).is_none());
        t.record_success(1, "p");
        assert!(t.record_fault(1, "p", FaultKind::Trap, "c", t0).is_none());
        // Too old: the streak restarts.
        let late = t0 + Duration::from_secs(60);
        assert!(t.record_fault(1, "p", FaultKind::Trap, "d", late).is_none());
        assert!(t.record_fault(1, "p", FaultKind::Trap, "e", late).is_none());
        assert!(!t.is_suspended(1, "p"));
        let s = t
            .record_fault(1, "p", FaultKind::Timeout, "f", late)
            .unwrap();
        assert_eq!(
            (s.faults, s.kind, s.reason.as_str()),
            (3, FaultKind::Timeout, "f")
        );
        assert!(t.is_suspended(1, "p"));
        assert!(!t.is_suspended(2, "p"));
        t.resume(1, "p");
        assert!(!t.is_suspended(1, "p"));
    }

    #[test]
    fn host_side_faults_never_suspend_nor_reset() {
        let t = FaultTracker::new(3, Duration::from_secs(600));
        let host = |kind| HookOutcome::Fault {
            kind,
            message: "host".into(),
        };
        for _ in 0..20 {
            assert!(t.record(1, "p", &host(FaultKind::Unavailable)).is_none());
            assert!(t.record(1, "p", &host(FaultKind::HostDelay)).is_none());
        }
        assert!(!t.is_suspended(1, "p"));
        // Nor do they break a streak of the plugin's own faults.
        let own = HookOutcome::Fault {
            kind: FaultKind::Trap,
            message: "panic".into(),
        };
        t.record(1, "p", &own);
        t.record(1, "p", &host(FaultKind::Unavailable));
        t.record(1, "p", &own);
        assert!(t.record(1, "p", &own).is_some());
    }
}
