//! The hook points of a call and what the switch does with a decision.
//!
//! The switch knows *when* features may act (terminating, busy, no-answer,
//! unreachable, ended) and *how* to apply a decision (reject, redirect with a
//! diversion record, add targets, busy treatment); it does not know any
//! feature. A [`HookRunner`] — the plugin runtime in production — decides.

use super::call::Call;
use crate::sip::Request;
use crate::tenancy::{Tenant, User};
use std::future::Future;
use std::pin::Pin;

/// Most diversions one call may take (forward to forward to ...).
pub const MAX_DIVERSIONS: usize = 5;

/// Where in a call's life hooks run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HookPoint {
    /// The calling subject places a call (its own plugins run).
    Originate,
    /// The call arrives for a subject, before its devices ring.
    Terminate,
    /// Every device was busy (or busy treatment was asked).
    Busy,
    /// Nobody answered within the ring timeout.
    NoAnswer,
    /// No device could be reached.
    Unreachable,
}

/// Why a call was diverted (RFC 5806 reasons).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiversionReason {
    Unconditional,
    UserBusy,
    NoAnswer,
    Unavailable,
    TimeOfDay,
    Deflection,
    Unknown,
}

impl DiversionReason {
    /// The `reason` token of the Diversion header (RFC 5806).
    pub fn token(self) -> &'static str {
        match self {
            DiversionReason::Unconditional => "unconditional",
            DiversionReason::UserBusy => "user-busy",
            DiversionReason::NoAnswer => "no-answer",
            DiversionReason::Unavailable => "unavailable",
            DiversionReason::TimeOfDay => "time-of-day",
            DiversionReason::Deflection => "deflection",
            DiversionReason::Unknown => "unknown",
        }
    }

    /// The History-Info `cause` (RFC 4458) for this reason.
    pub fn cause(self) -> u16 {
        match self {
            DiversionReason::Unconditional | DiversionReason::TimeOfDay => 302,
            DiversionReason::UserBusy => 486,
            DiversionReason::NoAnswer => 408,
            DiversionReason::Unavailable => 503,
            DiversionReason::Deflection => 480,
            DiversionReason::Unknown => 404,
        }
    }
}

/// One diversion applied to the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiversionStep {
    /// Extension of the subject that diverted.
    pub from: String,
    /// Its user id (loop detection).
    pub from_id: Option<i64>,
    /// Where the call went (extension or number).
    pub to: String,
    pub reason: DiversionReason,
}

/// A decision the switch applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookDecision {
    /// End the call with this status.
    Reject {
        code: u16,
        reason: Option<String>,
        announcement: Option<String>,
    },
    /// Divert to another destination.
    Redirect {
        destination: String,
        reason: DiversionReason,
    },
    /// Ring these too.
    AddTargets(Vec<String>),
    /// Behave as if every device were busy.
    TreatAsBusy,
    /// The deciding plugin runs a session for the call.
    TakeOver(SessionRef),
}

/// Which plugin (and which version of it) takes a call over. The session
/// runs on exactly this version, even if a newer one is installed while it
/// runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRef {
    /// The plugin id.
    pub plugin_id: String,
    /// Its component's content hash.
    pub sha256: String,
    /// The settings in effect when it decided.
    pub settings: String,
}

/// The caller as hooks see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerInfo {
    /// Number or extension presented (empty when withheld and unknown).
    pub number: String,
    pub display_name: Option<String>,
    /// Privacy asked for (Privacy: id/header, or an anonymous From).
    pub anonymous: bool,
    /// P-Asserted-Identity from a trusted source.
    pub asserted_identity: Option<String>,
    /// The calling user when it is a user of the tenant.
    pub user: Option<User>,
}

/// Where a call goes relative to the tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallDirection {
    /// Between subjects of the tenant.
    Internal,
    /// From outside (the trunk) to a subject.
    Inbound,
    /// From a subject to an outside number.
    Outbound,
}

/// What a hook runner is told about the call.
#[derive(Debug, Clone)]
pub struct HookCall {
    pub id: String,
    pub tenant: Tenant,
    /// The subject the hook runs for.
    pub subject: User,
    pub caller: CallerInfo,
    /// Internal, inbound or outbound, relative to the tenant.
    pub direction: CallDirection,
    pub dialled: String,
    pub diversions: Vec<DiversionStep>,
    pub started_at: i64,
}

/// A boxed future (the runner is a trait object).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Runs the hooks of a subject; the plugin runtime implements it.
pub trait HookRunner: Send + Sync + 'static {
    /// The first decision other than "proceed" of the subject's enabled
    /// plugins at `point`, in priority order; `None` when all proceed.
    fn decide<'a>(
        &'a self,
        point: HookPoint,
        call: &'a HookCall,
    ) -> BoxFuture<'a, Option<HookDecision>>;
    /// Runs the session of the plugin that took the call over, on `leg`.
    fn run_session<'a>(
        &'a self,
        call: &'a HookCall,
        session: &'a SessionRef,
        leg: std::sync::Arc<dyn crate::runtime::SessionLeg>,
    ) -> BoxFuture<'a, crate::runtime::SessionOutcome>;
    /// Tells the subject's plugins how the call ended.
    fn ended<'a>(
        &'a self,
        call: &'a HookCall,
        result: &'a str,
        sip_code: u16,
        answered_at: Option<i64>,
        ended_at: i64,
    ) -> BoxFuture<'a, ()>;
}

/// Longest display name the host passes on from outside, characters.
pub const MAX_DISPLAY_NAME: usize = 64;

/// A display name that came from the network, made safe to show and to put
/// in headers, mails and phone displays: control characters and quotes
/// dropped, whitespace collapsed, at most [`MAX_DISPLAY_NAME`] characters.
pub fn display_name_from_network(s: &str) -> String {
    let cleaned: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .filter(|c| !matches!(c, '"' | '\\' | '<' | '>'))
        .collect();
    cleaned
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(MAX_DISPLAY_NAME)
        .collect()
}

/// Who calls, as hooks see it: for a device the authenticated user (its
/// number, and an asserted identity the host vouches for: whatever
/// P-Asserted-Identity the device sent is ignored, RFC 3325 trusts it only
/// from a trusted network element); from the trunk the From and its
/// P-Asserted-Identity. Anonymity as asked (RFC 3323 / RFC 3325).
pub fn caller_info(req: &Request, user: Option<&User>, domain: &str) -> CallerInfo {
    let from = req
        .headers
        .get("From")
        .and_then(|f| crate::sip::uri::NameAddr::parse(f).ok());
    let from_uri = from.as_ref().and_then(|f| f.sip_uri().ok());
    let from_user = from_uri
        .as_ref()
        .and_then(|u| u.user_unescaped())
        .unwrap_or_default();
    let from_host = from_uri
        .as_ref()
        .map(|u| u.host.to_ascii_lowercase())
        .unwrap_or_default();
    let privacy = req
        .headers
        .get_all("Privacy")
        .flat_map(|v| v.split(';'))
        .map(|p| p.trim().to_ascii_lowercase())
        .any(|p| p == "id" || p == "header" || p == "user");
    let anonymous_from = from_user.eq_ignore_ascii_case("anonymous")
        || from_host == "anonymous.invalid"
        || from
            .as_ref()
            .and_then(|f| f.display.as_deref())
            .map(|d| d.eq_ignore_ascii_case("anonymous"))
            .unwrap_or(false);
    let asserted = match user {
        Some(u) => Some(format!(
            "sip:{}@{domain}",
            u.numbers.first().unwrap_or(&u.extension)
        )),
        None => req
            .headers
            .get("P-Asserted-Identity")
            .and_then(|v| crate::sip::uri::NameAddr::parse(v).ok())
            .map(|n| n.uri),
    };
    let number = match user {
        Some(u) => u.extension.clone(),
        None if anonymous_from => String::new(),
        None => from_user,
    };
    let display_name = match user {
        Some(u) if !u.display_name.is_empty() => Some(u.display_name.clone()),
        Some(_) => None,
        None => from
            .and_then(|f| f.display)
            .map(|d| display_name_from_network(&d))
            .filter(|d| !d.is_empty()),
    };
    CallerInfo {
        number,
        display_name,
        anonymous: privacy || anonymous_from,
        asserted_identity: asserted,
        user: user.cloned(),
    }
}

impl Call {
    /// Runs the subject's hooks at `point`.
    pub(super) async fn hook(&mut self, point: HookPoint, subject: &User) -> Option<HookDecision> {
        self.hook_as(point, subject, false).await
    }

    /// Runs the subject's hooks at `point`; `outbound` when the call leaves
    /// the tenant.
    pub(super) async fn hook_as(
        &mut self,
        point: HookPoint,
        subject: &User,
        outbound: bool,
    ) -> Option<HookDecision> {
        let runner = self.sw.hooks.clone()?;
        let mut call = self.hook_call(subject);
        if outbound {
            call.direction = CallDirection::Outbound;
        }
        let decision = runner.decide(point, &call).await;
        if let Some(d) = &decision {
            tracing::info!(call_id = %self.cdr.call_id, subject = %subject.extension, ?point, decision = ?d, "hook decision");
        }
        decision
    }

    pub(super) fn hook_call(&self, subject: &User) -> HookCall {
        HookCall {
            id: self.cdr.call_id.clone(),
            tenant: self.origin.tenant.clone(),
            subject: subject.clone(),
            caller: caller_info(
                self.a_tx.request(),
                self.origin.user.as_ref(),
                &self.origin.tenant.domain,
            ),
            direction: if self.origin.user.is_some() {
                CallDirection::Internal
            } else {
                CallDirection::Inbound
            },
            dialled: self.cdr.callee.clone(),
            diversions: self.diversions.clone(),
            started_at: self.cdr.started_at,
        }
    }

    /// Adds Diversion (RFC 5806, newest first) and History-Info (RFC 7044)
    /// headers describing the diversions so far to a B-leg INVITE.
    pub(super) fn add_diversion_headers(&self, req: &mut Request) {
        let domain = &self.origin.tenant.domain;
        for (i, d) in self.diversions.iter().enumerate().rev() {
            req.headers.push(
                "Diversion",
                format!(
                    "<sip:{}@{domain}>;reason={};counter={}",
                    d.from,
                    d.reason.token(),
                    i + 1
                ),
            );
        }
        if let Some(first) = self.diversions.first() {
            let mut index = String::from("1");
            req.headers.push(
                "History-Info",
                format!("<sip:{}@{domain}>;index={index}", first.from),
            );
            for d in &self.diversions {
                index.push_str(".1");
                req.headers.push(
                    "History-Info",
                    format!(
                        "<sip:{}@{domain};cause={}>;index={index}",
                        d.to,
                        d.reason.cause()
                    ),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(from: &str, extra: &[(&str, &str)]) -> Request {
        let mut r = Request::new("INVITE", "sip:202@d");
        r.headers.push("From", from);
        for (k, v) in extra {
            r.headers.push(k, *v);
        }
        r
    }

    #[test]
    fn anonymity_is_detected_from_privacy_and_from() {
        assert!(caller_info(&req("<sip:0612@x>;tag=1", &[("Privacy", "id")]), None, "d").anonymous);
        assert!(
            caller_info(
                &req("\"Anonymous\" <sip:anonymous@anonymous.invalid>;tag=1", &[]),
                None,
                "d"
            )
            .anonymous
        );
        let plain = caller_info(&req("<sip:0612345678@x>;tag=1", &[]), None, "d");
        assert!(!plain.anonymous);
        assert_eq!(plain.number, "0612345678");
    }

    #[test]
    fn a_device_cannot_assert_an_identity_or_a_name() {
        let boss = "\"The Boss\" <sip:+31611111111@carrier.test>";
        let r = req(
            "\"The Boss\" <sip:+31611111111@x>;tag=1",
            &[("P-Asserted-Identity", boss)],
        );
        let user = User {
            id: 1,
            tenant_id: 1,
            extension: "201".into(),
            display_name: "Ann".into(),
            email: String::new(),
            numbers: vec!["+31205552010".into()],
        };
        let c = caller_info(&r, Some(&user), "d.test");
        assert_eq!(c.number, "201");
        assert_eq!(
            c.asserted_identity.as_deref(),
            Some("sip:+31205552010@d.test")
        );
        assert_eq!(c.display_name.as_deref(), Some("Ann"));
        // From the trunk, the network's assertion is kept.
        let c = caller_info(&r, None, "d.test");
        assert_eq!(
            c.asserted_identity.as_deref(),
            Some("sip:+31611111111@carrier.test")
        );
    }

    #[test]
    fn network_display_names_are_bounded_and_plain() {
        let long = format!("\"{}\" <sip:0612@x>;tag=1", "A".repeat(250));
        let c = caller_info(&req(&long, &[]), None, "d");
        assert_eq!(c.display_name.map(|d| d.len()), Some(MAX_DISPLAY_NAME));
        assert_eq!(
            display_name_from_network("  Jan \t de  <Vries>  "),
            "Jan de Vries"
        );
    }
}
