//! A small key-value store scoped to (tenant, plugin, subject)
//! (capability `kv`).
//!
//! Quotas: key at most 256 bytes, value at most 64 KiB, at most 1000 keys
//! per scope. State lives here, never in the plugin's memory: every hook
//! runs in a fresh instance.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::bindings::centrale::plugin::kv as wit;

/// Why a write failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvError {
    /// The key is empty or longer than 256 bytes.
    InvalidKey,
    /// The value, the number of keys or the scope's size exceeds its quota.
    QuotaExceeded,
    /// The store is temporarily unavailable.
    Unavailable(String),
    /// A stored value was not the JSON expected by [`get_json`], or a value
    /// could not be encoded by [`set_json`].
    Json(String),
}

impl fmt::Display for KvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KvError::InvalidKey => f.write_str("invalid key (empty or over 256 bytes)"),
            KvError::QuotaExceeded => f.write_str("key-value quota exceeded"),
            KvError::Unavailable(why) => write!(f, "key-value store unavailable: {why}"),
            KvError::Json(why) => write!(f, "key-value JSON: {why}"),
        }
    }
}

impl core::error::Error for KvError {}

impl From<wit::KvError> for KvError {
    fn from(e: wit::KvError) -> Self {
        match e {
            wit::KvError::InvalidKey => KvError::InvalidKey,
            wit::KvError::QuotaExceeded => KvError::QuotaExceeded,
            wit::KvError::Unavailable(why) => KvError::Unavailable(why),
        }
    }
}

/// The value of `key`, if set.
pub fn get(key: &str) -> Option<Vec<u8>> {
    wit::get(key)
}

/// Sets `key` to `value`.
pub fn set(key: &str, value: &[u8]) -> Result<(), KvError> {
    wit::set(key, value).map_err(KvError::from)
}

/// Removes `key` (no error when absent).
pub fn delete(key: &str) -> Result<(), KvError> {
    wit::delete(key).map_err(KvError::from)
}

/// Keys starting with `prefix`, sorted, at most 1000.
pub fn list_keys(prefix: &str) -> Vec<String> {
    wit::list_keys(prefix)
}

/// The value of `key` decoded from JSON; `Ok(None)` when unset.
pub fn get_json<T: DeserializeOwned>(key: &str) -> Result<Option<T>, KvError> {
    match get(key) {
        None => Ok(None),
        Some(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| KvError::Json(e.to_string())),
    }
}

/// Sets `key` to `value` encoded as JSON.
pub fn set_json<T: Serialize + ?Sized>(key: &str, value: &T) -> Result<(), KvError> {
    let bytes = serde_json::to_vec(value).map_err(|e| KvError::Json(e.to_string()))?;
    set(key, &bytes)
}
