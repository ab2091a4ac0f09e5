//! What the switch asks a plugin (`HookCall`) and what it gets back
//! (`HookOutcome`), with the host-side validation of decisions.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use super::manifest::Hook;
use super::types::{Call, CallSummary, Decision};

/// Longest accepted rejection reason phrase, bytes.
pub const MAX_REASON_LEN: usize = 1024;
/// Longest accepted announcement (prompt) name, bytes.
pub const MAX_ANNOUNCEMENT_LEN: usize = 128;
/// Longest accepted destination (redirect or added target), bytes.
pub const MAX_DESTINATION_LEN: usize = 256;
/// Most targets one `add-targets` decision may add.
pub const MAX_TARGETS: usize = 32;

/// One hook invocation with its input.
#[derive(Debug, Clone, PartialEq)]
pub enum HookCall {
    /// `on-originate`.
    Originate(Call),
    /// `on-terminate`.
    Terminate(Call),
    /// `on-no-answer`.
    NoAnswer(Call),
    /// `on-busy`.
    Busy(Call),
    /// `on-unreachable`.
    Unreachable(Call),
    /// `on-call-ended`.
    CallEnded(CallSummary),
}

impl HookCall {
    /// Which hook this calls.
    pub fn hook(&self) -> Hook {
        match self {
            HookCall::Originate(_) => Hook::Originate,
            HookCall::Terminate(_) => Hook::Terminate,
            HookCall::NoAnswer(_) => Hook::NoAnswer,
            HookCall::Busy(_) => Hook::Busy,
            HookCall::Unreachable(_) => Hook::Unreachable,
            HookCall::CallEnded(_) => Hook::CallEnded,
        }
    }

    /// The call the hook is about.
    pub fn call(&self) -> &Call {
        match self {
            HookCall::Originate(c)
            | HookCall::Terminate(c)
            | HookCall::NoAnswer(c)
            | HookCall::Busy(c)
            | HookCall::Unreachable(c) => c,
            HookCall::CallEnded(s) => &s.call,
        }
    }
}

/// Why an invocation failed. Any fault counts as `proceed` for the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultKind {
    /// The guest trapped (panic, `unreachable`, stack overflow, a WASI stub).
    Trap,
    /// The invocation ran longer than it may: `hook_timeout` of CPU for a
    /// hook or timer, `session_timeout` for a session.
    Timeout,
    /// The instruction budget (`fuel_per_hook`) ran out.
    OutOfFuel,
    /// The instance hit its memory or table cap.
    Memory,
    /// The hook returned a decision the host refuses (too large, bad code).
    InvalidResult,
    /// The instance could not be created (pool exhausted, start trap).
    Instantiate,
    /// The guest exceeded the host-call quota of one invocation.
    Quota,
    /// The host had no instance to give (the pool, or the tenant's share of
    /// it, is in use). Host-side: never counts toward a suspension.
    Unavailable,
    /// The deadline passed while the guest was mostly waiting (for a CPU,
    /// for the database), not running. Host-side: never counts toward a
    /// suspension.
    HostDelay,
}

impl FaultKind {
    /// All kinds, in `PluginStats::faults_by_kind` order.
    pub const ALL: [FaultKind; 9] = [
        FaultKind::Trap,
        FaultKind::Timeout,
        FaultKind::OutOfFuel,
        FaultKind::Memory,
        FaultKind::InvalidResult,
        FaultKind::Instantiate,
        FaultKind::Quota,
        FaultKind::Unavailable,
        FaultKind::HostDelay,
    ];

    /// Whether the host, not the plugin, is to blame: such faults neither
    /// count toward nor reset a suspension streak.
    pub fn is_host_side(self) -> bool {
        matches!(self, FaultKind::Unavailable | FaultKind::HostDelay)
    }

    /// A short stable name (`trap`, `timeout`, `out-of-fuel`, ...).
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Trap => "trap",
            FaultKind::Timeout => "timeout",
            FaultKind::OutOfFuel => "out-of-fuel",
            FaultKind::Memory => "memory",
            FaultKind::InvalidResult => "invalid-result",
            FaultKind::Instantiate => "instantiate",
            FaultKind::Quota => "quota",
            FaultKind::Unavailable => "unavailable",
            FaultKind::HostDelay => "host-delay",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The result of one invocation.
#[derive(Debug, Clone, PartialEq)]
pub enum HookOutcome {
    /// A decision hook returned a valid decision. `take-over` is passed
    /// through as returned; a 0.1 switch treats it as `proceed`.
    Decision(Decision),
    /// `on-call-ended` completed.
    Done,
    /// The invocation failed; the switch proceeds as if `proceed` was returned.
    Fault {
        /// What went wrong.
        kind: FaultKind,
        /// Detail for logs and the admin (truncated).
        message: String,
    },
}

impl HookOutcome {
    /// The decision to apply: the returned one, or `proceed` for a fault or
    /// `Done`.
    pub fn decision(&self) -> Decision {
        match self {
            HookOutcome::Decision(d) => d.clone(),
            _ => Decision::Proceed,
        }
    }

    /// Whether this is a fault.
    pub fn is_fault(&self) -> bool {
        matches!(self, HookOutcome::Fault { .. })
    }

    pub(crate) fn fault(kind: FaultKind, message: impl Into<String>) -> Self {
        let mut message = message.into();
        truncate(&mut message, 2048);
        HookOutcome::Fault { kind, message }
    }
}

/// Truncates at a char boundary at most `max` bytes.
pub(crate) fn truncate(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
}

/// Checks a decision against the host's limits.
pub(crate) fn validate_decision(decision: &Decision) -> Result<(), String> {
    match decision {
        Decision::Proceed | Decision::TreatAsBusy | Decision::TakeOver => Ok(()),
        Decision::Reject(r) => {
            if !(400..=699).contains(&r.code) {
                return Err(format!("reject code {} is not in 400-699", r.code));
            }
            if r.reason.len() > MAX_REASON_LEN {
                return Err(format!(
                    "reject reason of {} bytes exceeds {MAX_REASON_LEN}",
                    r.reason.len()
                ));
            }
            if r.reason.chars().any(char::is_control) {
                return Err("reject reason contains control characters".to_string());
            }
            match &r.announcement {
                Some(a) if a.is_empty() || a.len() > MAX_ANNOUNCEMENT_LEN => Err(format!(
                    "announcement name must be 1 to {MAX_ANNOUNCEMENT_LEN} bytes"
                )),
                _ => Ok(()),
            }
        }
        Decision::Redirect(r) => check_destination(&r.destination),
        Decision::AddTargets(targets) => {
            if targets.is_empty() || targets.len() > MAX_TARGETS {
                return Err(format!(
                    "add-targets with {} entries (1 to {MAX_TARGETS} allowed)",
                    targets.len()
                ));
            }
            targets.iter().try_for_each(|t| check_destination(t))
        }
    }
}

fn check_destination(d: &str) -> Result<(), String> {
    if d.is_empty() || d.len() > MAX_DESTINATION_LEN {
        return Err(format!(
            "destination of {} bytes (1 to {MAX_DESTINATION_LEN} allowed)",
            d.len()
        ));
    }
    if d.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("destination contains whitespace or control characters".to_string());
    }
    Ok(())
}

/// Invocation counters of one plugin (a snapshot).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PluginStats {
    /// Invocations started (hooks the manifest does not list are not counted).
    pub invocations: u64,
    /// Invocations that ended in a fault.
    pub faults: u64,
    /// Faults per kind, in `FaultKind::ALL` order.
    pub faults_by_kind: [u64; FaultKind::ALL.len()],
}

impl PluginStats {
    /// Faults of one kind.
    pub fn faults_of(&self, kind: FaultKind) -> u64 {
        self.faults_by_kind[kind.index()]
    }
}

/// The live counters behind `PluginStats`.
#[derive(Debug, Default)]
pub(crate) struct StatsCounters {
    invocations: AtomicU64,
    faults: AtomicU64,
    by_kind: [AtomicU64; FaultKind::ALL.len()],
}

impl StatsCounters {
    pub(crate) fn record(&self, outcome: &HookOutcome) {
        self.invocations.fetch_add(1, Ordering::Relaxed);
        if let HookOutcome::Fault { kind, .. } = outcome {
            self.faults.fetch_add(1, Ordering::Relaxed);
            self.by_kind[kind.index()].fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn snapshot(&self) -> PluginStats {
        let mut faults_by_kind = [0; FaultKind::ALL.len()];
        for (slot, counter) in faults_by_kind.iter_mut().zip(&self.by_kind) {
            *slot = counter.load(Ordering::Relaxed);
        }
        PluginStats {
            invocations: self.invocations.load(Ordering::Relaxed),
            faults: self.faults.load(Ordering::Relaxed),
            faults_by_kind,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::types::{DiversionReason, Redirection, Rejection};

    fn reject(code: u16, reason: &str) -> Decision {
        Decision::Reject(Rejection {
            code,
            reason: reason.to_string(),
            announcement: None,
        })
    }

    #[test]
    fn decisions() {
        assert!(validate_decision(&reject(433, "Anonymity Disallowed")).is_ok());
        assert!(validate_decision(&reject(200, "")).is_err());
        assert!(validate_decision(&reject(486, &"x".repeat(1025))).is_err());
        assert!(validate_decision(&reject(486, "a\r\nX-Evil: 1")).is_err());
        let redirect = |d: &str| {
            Decision::Redirect(Redirection {
                destination: d.to_string(),
                reason: DiversionReason::Unconditional,
            })
        };
        assert!(validate_decision(&redirect("+31201234567")).is_ok());
        assert!(validate_decision(&redirect("")).is_err());
        assert!(validate_decision(&redirect("a b")).is_err());
        let targets = |n: usize| Decision::AddTargets(vec!["201".to_string(); n]);
        assert!(validate_decision(&targets(32)).is_ok());
        assert!(validate_decision(&targets(33)).is_err());
        assert!(validate_decision(&targets(0)).is_err());
    }

    #[test]
    fn truncates_on_char_boundary() {
        let mut s = "é".repeat(10);
        truncate(&mut s, 5);
        assert_eq!(s, "éé");
    }
}
