//! The plugin's settings (capability `settings`).
//!
//! Settings are JSON, validated by the host against the manifest's
//! `[settings] schema` when an admin stores them. The host hands the plugin
//! the subject's settings merged over the tenant-wide ones, `{}` when none
//! were stored, so give every field a default:
//!
//! ```no_run
//! use serde::Deserialize;
//!
//! #[derive(Deserialize)]
//! #[serde(default)]
//! struct Settings {
//!     enabled: bool,
//! }
//!
//! impl Default for Settings {
//!     fn default() -> Self {
//!         Settings { enabled: true }
//!     }
//! }
//!
//! let settings: Settings = centrale_sdk::settings::get().unwrap_or_default();
//! # let _ = settings.enabled;
//! ```

use alloc::string::{String, ToString};
use core::fmt;

use serde::de::DeserializeOwned;

/// Settings that could not be read into the plugin's type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError {
    message: String,
}

impl SettingsError {
    /// What was wrong, as serde_json reported it (with line and column).
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid settings: {}", self.message)
    }
}

impl core::error::Error for SettingsError {}

/// The settings in effect as JSON text (`{}` when none were stored).
pub fn raw() -> String {
    crate::bindings::centrale::plugin::settings::get()
}

/// The settings in effect, deserialized into `T`.
pub fn get<T: DeserializeOwned>() -> Result<T, SettingsError> {
    parse(&raw())
}

/// Deserializes settings JSON text into `T` (what [`get`] does with the
/// host's text; public for plugins that post-process [`raw`]).
pub fn parse<T: DeserializeOwned>(json: &str) -> Result<T, SettingsError> {
    serde_json::from_str(json).map_err(|e| SettingsError {
        message: e.to_string(),
    })
}
