//! Read-only directory of the current tenant (capability `directory`).
//! Nothing of another tenant is ever returned.

use crate::bindings::centrale::plugin::directory as wit;
use crate::types::Subject;

/// The subject with this extension.
pub fn by_extension(extension: &str) -> Option<Subject> {
    wit::by_extension(extension).map(Subject::from)
}

/// The subject owning this number (E.164, `+` optional).
pub fn by_number(number: &str) -> Option<Subject> {
    wit::by_number(number).map(Subject::from)
}

/// The subject with this id.
pub fn by_id(id: u64) -> Option<Subject> {
    wit::by_id(id).map(Subject::from)
}

/// Whether the subject has at least one registered device now.
pub fn is_reachable(id: u64) -> bool {
    wit::is_reachable(id)
}
