//! Message-waiting indication on a subject's phones (capability
//! `message-waiting`, WIT 0.2).

use crate::bindings::centrale::plugin::message_waiting as wit;

/// Sets the counts of `subject` (an id of the plugin's tenant); the host
/// sends NOTIFY message-summary to its phones when they change.
pub fn set(subject: u64, new_messages: u32, old_messages: u32) {
    wit::set(subject, new_messages, old_messages)
}
