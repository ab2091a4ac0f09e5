//! Call forwarding (UF-11..UF-15) with the diversion inhibitor (UF-33).
//!
//! - **Always** (CFU, `terminate`): every call is redirected.
//! - **Selective** (CFS, `terminate`, after *always*): rules by schedule
//!   (forward while a schedule is `open` or `closed`), by caller and by
//!   called number; exception rules stop selective forwarding.
//! - **Busy** (CFB, `busy`): every device busy, or busy treatment
//!   (do-not-disturb).
//! - **No answer** (CFNA, `no-answer`): the devices rang until the ring
//!   timeout. The timeout itself is the host's (see README).
//! - **Not reachable** (CFNR, `unreachable`): no device registered.
//!
//! Guards, in every hook: with `inhibit_if_diverted` a call that was already
//! diverted is not diverted again; a call whose diversion history shows it
//! already left this subject is not diverted again (a forwarding loop); a
//! destination that is the subject itself is ignored.
#![no_std]

use centrale_sdk::prelude::*;
use serde::Deserialize;

/// One unconditional-style forwarding: `{ "enabled": bool, "destination": "..." }`.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Forward {
    enabled: bool,
    destination: String,
}

/// Forward on no answer; `ring_timeout_secs` is read by the host, not here.
#[derive(Deserialize, Default)]
#[serde(default)]
struct NoAnswer {
    enabled: bool,
    destination: String,
    #[allow(dead_code)]
    ring_timeout_secs: Option<u32>,
}

/// Whether a selective rule applies while its schedule is open or closed.
#[derive(Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum When {
    Open,
    #[default]
    Closed,
}

/// A selective forwarding rule. Every criterion given must hold.
#[derive(Deserialize)]
#[serde(default)]
struct Rule {
    enabled: bool,
    /// Where to forward (ignored by exception rules).
    destination: String,
    /// A schedule of the tenant (e.g. "business-hours"); none: any time.
    schedule: Option<String>,
    /// Forward while the schedule is "open" or "closed" (default).
    when: When,
    /// Only calls from these numbers; none or empty: any caller.
    callers: Option<Vec<String>>,
    /// Only calls to these numbers of the subject; none or empty: any.
    dialled: Option<Vec<String>>,
    /// A matching exception rule means: no selective forwarding.
    exception: bool,
}

impl Default for Rule {
    fn default() -> Self {
        Rule {
            enabled: true,
            destination: String::new(),
            schedule: None,
            when: When::Closed,
            callers: None,
            dialled: None,
            exception: false,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Settings {
    always: Forward,
    busy: Forward,
    no_answer: NoAnswer,
    unreachable: Forward,
    selective: Vec<Rule>,
    inhibit_if_diverted: bool,
}

impl Settings {
    fn load() -> Option<Settings> {
        match settings::get::<Settings>() {
            Ok(s) => Some(s),
            Err(e) => {
                // The host validates settings against the schema; if they
                // still do not parse, forwarding nowhere is the safe choice.
                log::error(format!("call-forwarding: {e}; not forwarding"));
                None
            }
        }
    }
}

/// Whether this call may be diverted by this subject at all.
fn may_divert(call: &Call, settings: &Settings) -> bool {
    if settings.inhibit_if_diverted && call.was_diverted() {
        log::debug("call-forwarding: already diverted, diversion inhibited");
        return false;
    }
    let subject = call.subject();
    if call
        .diversions()
        .iter()
        .any(|d| subject.has_number(&d.diverted_from))
    {
        log::info("call-forwarding: call was already diverted by this subject (loop), not again");
        return false;
    }
    true
}

/// The destination as the host accepts it (no spaces or separators), or
/// `None` when it is empty or the subject itself.
fn destination(call: &Call, raw: &str) -> Option<String> {
    let dest: String = raw
        .chars()
        .filter(|c| {
            !(c.is_ascii_whitespace() || c.is_ascii_control() || matches!(c, '-' | '(' | ')' | '/'))
        })
        .collect();
    if dest.is_empty() {
        return None;
    }
    if call.subject().has_number(&dest) {
        log::warn(format!(
            "call-forwarding: destination {dest} is the subject itself; ignored"
        ));
        return None;
    }
    Some(dest)
}

fn forward(call: &Call, enabled: bool, raw: &str, reason: DiversionReason) -> Option<Decision> {
    if !enabled {
        return None;
    }
    destination(call, raw).map(|d| Decision::redirect(d, reason))
}

fn any_matches(list: &Option<Vec<String>>, matches: impl Fn(&str) -> bool) -> bool {
    match list {
        None => true,
        Some(numbers) if numbers.is_empty() => true,
        Some(numbers) => numbers.iter().any(|n| matches(n)),
    }
}

fn rule_matches(call: &Call, rule: &Rule) -> bool {
    if !rule.enabled {
        return false;
    }
    if !any_matches(&rule.callers, |n| call.caller().matches_number(n)) {
        return false;
    }
    if !any_matches(&rule.dialled, |n| {
        centrale_sdk::number::same(n, call.dialled())
    }) {
        return false;
    }
    match &rule.schedule {
        None => true,
        Some(name) => match schedule::is_open(name) {
            Some(open) => open == (rule.when == When::Open),
            None => {
                log::warn(format!(
                    "call-forwarding: the tenant has no schedule \"{name}\"; rule skipped"
                ));
                false
            }
        },
    }
}

fn selective(call: &Call, rules: &[Rule]) -> Option<Decision> {
    if rules.iter().any(|r| r.exception && rule_matches(call, r)) {
        return None;
    }
    rules
        .iter()
        .filter(|r| !r.exception)
        .filter(|r| rule_matches(call, r))
        .find_map(|r| destination(call, &r.destination))
        .map(|d| Decision::redirect(d, DiversionReason::TimeOfDay))
}

struct CallForwarding;

impl Plugin for CallForwarding {
    fn on_terminate(call: &Call) -> Decision {
        let Some(s) = Settings::load() else {
            return Decision::Proceed;
        };
        if !may_divert(call, &s) {
            return Decision::Proceed;
        }
        forward(
            call,
            s.always.enabled,
            &s.always.destination,
            DiversionReason::Unconditional,
        )
        .or_else(|| selective(call, &s.selective))
        .unwrap_or_default()
    }

    fn on_busy(call: &Call) -> Decision {
        let Some(s) = Settings::load() else {
            return Decision::Proceed;
        };
        if !may_divert(call, &s) {
            return Decision::Proceed;
        }
        forward(
            call,
            s.busy.enabled,
            &s.busy.destination,
            DiversionReason::UserBusy,
        )
        .unwrap_or_default()
    }

    fn on_no_answer(call: &Call) -> Decision {
        let Some(s) = Settings::load() else {
            return Decision::Proceed;
        };
        if !may_divert(call, &s) {
            return Decision::Proceed;
        }
        forward(
            call,
            s.no_answer.enabled,
            &s.no_answer.destination,
            DiversionReason::NoAnswer,
        )
        .unwrap_or_default()
    }

    fn on_unreachable(call: &Call) -> Decision {
        let Some(s) = Settings::load() else {
            return Decision::Proceed;
        };
        if !may_divert(call, &s) {
            return Decision::Proceed;
        }
        forward(
            call,
            s.unreachable.enabled,
            &s.unreachable.destination,
            DiversionReason::Unavailable,
        )
        .unwrap_or_default()
    }
}

export_plugin!(CallForwarding);
