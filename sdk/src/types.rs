//! Typed views of what the host passes to hooks: calls, parties, subjects,
//! diversions and call summaries.
//!
//! These are plain Rust values converted from the generated WIT bindings, so
//! a plugin never touches the bindings directly.

use alloc::string::String;
use alloc::vec::Vec;

use crate::bindings::centrale::plugin::types as wit;
use crate::number;

/// Where a call comes from and goes to, relative to the tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Between two subjects of the same tenant.
    Internal,
    /// From outside the tenant (trunk, another tenant) to a subject.
    Inbound,
    /// From a subject of the tenant to a number outside it.
    Outbound,
}

/// What kind of routable thing a subject is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubjectKind {
    /// A person with devices.
    User,
    /// A service owned by a plugin (hunt group, auto attendant, ...).
    Service,
}

/// Why a call was diverted (RFC 5806 Diversion reasons).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DiversionReason {
    /// Forwarding always (call forwarding unconditional).
    Unconditional,
    /// The subject was busy (including do-not-disturb).
    UserBusy,
    /// The subject did not answer in time.
    NoAnswer,
    /// The subject's devices could not be reached.
    Unavailable,
    /// A time-of-day or schedule rule (selective forwarding, night service).
    TimeOfDay,
    /// The subject chose to send the call elsewhere.
    Deflection,
    /// Any other reason.
    Unknown,
}

/// How a call ended, for [`Plugin::on_call_ended`](crate::Plugin::on_call_ended).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallResult {
    /// Answered and later hung up.
    Answered,
    /// Everyone was busy.
    Busy,
    /// Nobody answered in time.
    NoAnswer,
    /// No device could be reached.
    Unavailable,
    /// A hook or a device rejected it.
    Rejected,
    /// The caller hung up before an answer.
    Cancelled,
    /// Anything else (no route, errors).
    Failed,
}

/// A routable subject of the tenant: a user or a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// Stable identifier of the subject within its tenant.
    pub id: u64,
    /// User or service.
    pub kind: SubjectKind,
    /// Internal extension, when it has one (e.g. `"201"`).
    pub extension: Option<String>,
    /// Public numbers (E.164 with leading `+`), primary first.
    pub numbers: Vec<String>,
    /// Display name.
    pub display_name: String,
}

impl Subject {
    /// Whether the subject is a user (a person with devices).
    pub fn is_user(&self) -> bool {
        self.kind == SubjectKind::User
    }

    /// Whether the subject is a plugin-owned service.
    pub fn is_service(&self) -> bool {
        self.kind == SubjectKind::Service
    }

    /// The primary public number, when the subject has one.
    pub fn primary_number(&self) -> Option<&str> {
        self.numbers.first().map(String::as_str)
    }

    /// Whether `number` is the subject's extension or one of its numbers
    /// (compared with [`number::same`]).
    pub fn has_number(&self, number: &str) -> bool {
        self.extension
            .as_deref()
            .is_some_and(|e| number::same(e, number))
            || self.numbers.iter().any(|n| number::same(n, number))
    }
}

/// One side of a call as the callee would see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Party {
    number: String,
    display_name: Option<String>,
    anonymous: bool,
    asserted_identity: Option<String>,
    subject: Option<Subject>,
}

impl Party {
    /// The number or extension presented (the From user part, or the
    /// asserted number). Empty when the party withheld it and nothing else is
    /// known. For an anonymous party this may still hold a number the network
    /// asserted: check [`Party::is_anonymous`] before showing it to anyone.
    pub fn number(&self) -> &str {
        &self.number
    }

    /// Display name, when sent.
    pub fn display_name(&self) -> Option<&str> {
        self.display_name.as_deref()
    }

    /// The party asked not to be identified (RFC 3323 `Privacy: id` or
    /// `header`, or an anonymous From such as `anonymous@anonymous.invalid`).
    /// True even when the network asserted an identity: privacy still applies
    /// towards the called user.
    pub fn is_anonymous(&self) -> bool {
        self.anonymous
    }

    /// Network-asserted identity (RFC 3325 P-Asserted-Identity), when a
    /// trusted source sent one.
    pub fn asserted_identity(&self) -> Option<&str> {
        self.asserted_identity.as_deref()
    }

    /// The subject of this tenant behind the party, when there is one (an
    /// internal caller).
    pub fn subject(&self) -> Option<&Subject> {
        self.subject.as_ref()
    }

    /// The number the called user may be shown: `None` when the party is
    /// anonymous or presented nothing.
    pub fn presented_number(&self) -> Option<&str> {
        if self.anonymous || self.number.is_empty() {
            None
        } else {
            Some(&self.number)
        }
    }

    /// Whether the party is identified by `number`: its presented number, its
    /// asserted identity or its subject's extension and numbers, compared
    /// with [`number::same`]. Used for routing (VIP lists, selective
    /// forwarding by caller); it matches anonymous parties too when their
    /// identity is known to the host.
    pub fn matches_number(&self, number: &str) -> bool {
        (!self.number.is_empty() && number::same(&self.number, number))
            || self
                .asserted_identity
                .as_deref()
                .is_some_and(|a| number::same(a, number))
            || self.subject.as_ref().is_some_and(|s| s.has_number(number))
    }
}

/// One step of the call's diversion history, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diversion {
    /// Who diverted the call (number or extension).
    pub diverted_from: String,
    /// Where it was sent.
    pub diverted_to: String,
    /// Why.
    pub reason: DiversionReason,
}

/// A call as a hook sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    id: String,
    tenant: String,
    direction: Direction,
    caller: Party,
    subject: Subject,
    dialled: String,
    diversions: Vec<Diversion>,
    started_at: u64,
}

impl Call {
    /// The host's identifier of this call (the caller leg's Call-ID).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The tenant's SIP domain.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// Internal, inbound or outbound.
    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// Whether the call is between two subjects of the same tenant
    /// (an intra-group call).
    pub fn is_internal(&self) -> bool {
        self.direction == Direction::Internal
    }

    /// Whether the call comes from outside the tenant.
    pub fn is_inbound(&self) -> bool {
        self.direction == Direction::Inbound
    }

    /// Whether the call goes to a number outside the tenant.
    pub fn is_outbound(&self) -> bool {
        self.direction == Direction::Outbound
    }

    /// Who calls.
    pub fn caller(&self) -> &Party {
        &self.caller
    }

    /// The subject the hook runs for: the caller's subject in
    /// `on_originate`, the called subject in terminating and outcome hooks.
    pub fn subject(&self) -> &Subject {
        &self.subject
    }

    /// What was dialled or called (after normalisation), e.g. `"202"`,
    /// `"+31201234567"`, `"0612345678"`.
    pub fn dialled(&self) -> &str {
        &self.dialled
    }

    /// Earlier diversions of this call, oldest first.
    pub fn diversions(&self) -> &[Diversion] {
        &self.diversions
    }

    /// Whether the call was already diverted (forwarded) at least once.
    pub fn was_diverted(&self) -> bool {
        !self.diversions.is_empty()
    }

    /// The most recent diversion, when there was one.
    pub fn last_diversion(&self) -> Option<&Diversion> {
        self.diversions.last()
    }

    /// Unix time of the call's start, milliseconds.
    pub fn started_at(&self) -> u64 {
        self.started_at
    }
}

/// A finished call, for [`Plugin::on_call_ended`](crate::Plugin::on_call_ended).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallSummary {
    call: Call,
    result: CallResult,
    sip_code: u16,
    answered_at: Option<u64>,
    ended_at: u64,
}

impl CallSummary {
    /// The call as it was when it ended.
    pub fn call(&self) -> &Call {
        &self.call
    }

    /// How it ended.
    pub fn result(&self) -> CallResult {
        self.result
    }

    /// Whether the call was answered.
    pub fn was_answered(&self) -> bool {
        self.result == CallResult::Answered
    }

    /// Final SIP status sent to the caller (200 when answered).
    pub fn sip_code(&self) -> u16 {
        self.sip_code
    }

    /// Unix ms of the answer, when answered.
    pub fn answered_at(&self) -> Option<u64> {
        self.answered_at
    }

    /// Unix ms of the end.
    pub fn ended_at(&self) -> u64 {
        self.ended_at
    }

    /// Milliseconds between the answer and the end, when answered.
    pub fn talk_time_ms(&self) -> Option<u64> {
        self.answered_at.map(|a| self.ended_at.saturating_sub(a))
    }
}

// ---- conversions from and to the generated bindings ----

impl From<wit::Direction> for Direction {
    fn from(d: wit::Direction) -> Self {
        match d {
            wit::Direction::Internal => Direction::Internal,
            wit::Direction::Inbound => Direction::Inbound,
            wit::Direction::Outbound => Direction::Outbound,
        }
    }
}

impl From<wit::SubjectKind> for SubjectKind {
    fn from(k: wit::SubjectKind) -> Self {
        match k {
            wit::SubjectKind::User => SubjectKind::User,
            wit::SubjectKind::Service => SubjectKind::Service,
        }
    }
}

impl From<wit::DiversionReason> for DiversionReason {
    fn from(r: wit::DiversionReason) -> Self {
        match r {
            wit::DiversionReason::Unconditional => DiversionReason::Unconditional,
            wit::DiversionReason::UserBusy => DiversionReason::UserBusy,
            wit::DiversionReason::NoAnswer => DiversionReason::NoAnswer,
            wit::DiversionReason::Unavailable => DiversionReason::Unavailable,
            wit::DiversionReason::TimeOfDay => DiversionReason::TimeOfDay,
            wit::DiversionReason::Deflection => DiversionReason::Deflection,
            wit::DiversionReason::Unknown => DiversionReason::Unknown,
        }
    }
}

impl From<DiversionReason> for wit::DiversionReason {
    fn from(r: DiversionReason) -> Self {
        match r {
            DiversionReason::Unconditional => wit::DiversionReason::Unconditional,
            DiversionReason::UserBusy => wit::DiversionReason::UserBusy,
            DiversionReason::NoAnswer => wit::DiversionReason::NoAnswer,
            DiversionReason::Unavailable => wit::DiversionReason::Unavailable,
            DiversionReason::TimeOfDay => wit::DiversionReason::TimeOfDay,
            DiversionReason::Deflection => wit::DiversionReason::Deflection,
            DiversionReason::Unknown => wit::DiversionReason::Unknown,
        }
    }
}

impl From<wit::CallResult> for CallResult {
    fn from(r: wit::CallResult) -> Self {
        match r {
            wit::CallResult::Answered => CallResult::Answered,
            wit::CallResult::Busy => CallResult::Busy,
            wit::CallResult::NoAnswer => CallResult::NoAnswer,
            wit::CallResult::Unavailable => CallResult::Unavailable,
            wit::CallResult::Rejected => CallResult::Rejected,
            wit::CallResult::Cancelled => CallResult::Cancelled,
            wit::CallResult::Failed => CallResult::Failed,
        }
    }
}

impl From<wit::Subject> for Subject {
    fn from(s: wit::Subject) -> Self {
        Subject {
            id: s.id,
            kind: s.kind.into(),
            extension: s.extension,
            numbers: s.numbers,
            display_name: s.display_name,
        }
    }
}

impl From<wit::Party> for Party {
    fn from(p: wit::Party) -> Self {
        Party {
            number: p.number,
            display_name: p.display_name,
            anonymous: p.anonymous,
            asserted_identity: p.asserted_identity,
            subject: p.subject.map(Subject::from),
        }
    }
}

impl From<wit::Diversion> for Diversion {
    fn from(d: wit::Diversion) -> Self {
        Diversion {
            diverted_from: d.diverted_from,
            diverted_to: d.diverted_to,
            reason: d.reason.into(),
        }
    }
}

impl From<wit::Call> for Call {
    fn from(c: wit::Call) -> Self {
        Call {
            id: c.id,
            tenant: c.tenant,
            direction: c.direction.into(),
            caller: c.caller.into(),
            subject: c.subject.into(),
            dialled: c.dialled,
            diversions: c.diversions.into_iter().map(Diversion::from).collect(),
            started_at: c.started_at,
        }
    }
}

impl From<wit::CallSummary> for CallSummary {
    fn from(s: wit::CallSummary) -> Self {
        CallSummary {
            call: s.call.into(),
            result: s.result.into(),
            sip_code: s.sip_code,
            answered_at: s.answered_at,
            ended_at: s.ended_at,
        }
    }
}
