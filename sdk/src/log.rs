//! Logging into the host's structured log (capability `log`).
//!
//! Lines are tagged by the host with tenant, plugin and call; the host
//! rate-limits them and truncates each to 1024 bytes.
//!
//! ```no_run
//! use centrale_sdk::log;
//! log::info("forwarding to voicemail");
//! log::warn(format!("unknown schedule {}", "night"));
//! ```

use crate::bindings::centrale::plugin::log::{write, Level};

/// Fine-grained detail.
pub fn debug(message: impl AsRef<str>) {
    write(Level::Debug, message.as_ref());
}

/// A normal event.
pub fn info(message: impl AsRef<str>) {
    write(Level::Info, message.as_ref());
}

/// Something unexpected but handled.
pub fn warn(message: impl AsRef<str>) {
    write(Level::Warn, message.as_ref());
}

/// A failure.
pub fn error(message: impl AsRef<str>) {
    write(Level::Error, message.as_ref());
}
