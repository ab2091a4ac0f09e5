//! The WIT types the switch builds calls from and gets decisions in: the
//! `bindgen!`-generated types of `centrale:plugin@0.1.0`, re-exported.

pub use super::bindings::centrale::plugin::kv::KvError;
pub use super::bindings::centrale::plugin::log::Level as LogLevel;
pub use super::bindings::centrale::plugin::schedule::LocalTime;
pub use super::bindings::centrale::plugin::types::{
    Call, CallResult, CallSummary, Decision, Direction, Diversion, DiversionReason, Party,
    Redirection, Rejection, Subject, SubjectKind,
};
