//! Driving a call the plugin took over (capability `call-control`, WIT 0.2).
//!
//! A hook returns [`Decision::take_over`](crate::Decision::take_over); the
//! host then calls [`Plugin::run_session`](crate::Plugin::run_session) with
//! the same call, in one instance that lives as long as the session. Each
//! function here waits for the caller (playing, collecting digits,
//! recording) and returns [`CallError::HungUp`] once the caller has gone:
//! store what you have and return.
//!
//! ```no_run
//! # use centrale_sdk::prelude::*;
//! # fn demo() -> Result<(), session::CallError> {
//! session::answer()?;
//! session::play(&[session::prompt("vm-enter-pin")])?;
//! let pin = session::gather(&[], 8, 5000, 3000, "#")?;
//! # Ok(()) }
//! ```

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::bindings::centrale::plugin::call_control as wit;

pub use crate::bindings::centrale::plugin::audio::{AudioItem as Audio, Tone};
pub use wit::{CallError, DialOutcome, PlayEnd, RecordEnd, Recording};

/// A standard (or the plugin's own) prompt by name.
pub fn prompt(name: &str) -> Audio {
    Audio::Prompt(name.to_string())
}

/// A stored blob of this plugin (a recording, a greeting).
pub fn blob(name: &str) -> Audio {
    Audio::Blob(name.to_string())
}

/// Silence, milliseconds.
pub fn silence(ms: u32) -> Audio {
    Audio::Silence(ms)
}

/// Answers the call. Idempotent.
pub fn answer() -> Result<(), CallError> {
    wit::answer()
}

/// Ends the call; return from the session afterwards.
pub fn hangup() {
    wit::hangup()
}

/// Plays items; a digit pressed stops it (the digit stays buffered for the
/// next [`gather`]).
pub fn play(items: &[Audio]) -> Result<PlayEnd, CallError> {
    wit::play(items, true)
}

/// Plays items to the end, whatever the caller presses.
pub fn play_all(items: &[Audio]) -> Result<(), CallError> {
    wit::play(items, false).map(|_| ())
}

/// Plays `prompt` (interruptible), then collects up to `max_digits`
/// digits, waiting `first_ms` for the first and `inter_ms` between digits;
/// a digit of `terminators` ends the input and is not returned. Empty when
/// nothing was pressed in time.
pub fn gather(
    prompt: &[Audio],
    max_digits: u8,
    first_ms: u32,
    inter_ms: u32,
    terminators: &str,
) -> Result<String, CallError> {
    wit::gather(&wit::GatherOptions {
        prompt: prompt.to_vec(),
        max_digits,
        first_digit_timeout_ms: first_ms,
        inter_digit_timeout_ms: inter_ms,
        terminators: terminators.to_string(),
    })
}

/// One digit (`None` when nothing was pressed in `timeout_ms`).
pub fn digit(prompt: &[Audio], timeout_ms: u32) -> Result<Option<char>, CallError> {
    Ok(gather(prompt, 1, timeout_ms, timeout_ms, "")?
        .chars()
        .next())
}

/// How to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordOptions {
    /// Beep first.
    pub beep: bool,
    /// Longest recording, milliseconds.
    pub max_ms: u32,
    /// Stop after this much silence.
    pub silence_ms: Option<u32>,
    /// Digits that stop the recording.
    pub terminators: String,
}

impl Default for RecordOptions {
    fn default() -> Self {
        Self {
            beep: true,
            max_ms: 120_000,
            silence_ms: Some(5_000),
            terminators: "#".to_string(),
        }
    }
}

/// Records the caller into the blob `name` (durable on return).
pub fn record(name: &str, options: &RecordOptions) -> Result<Recording, CallError> {
    wit::record(
        name,
        &wit::RecordOptions {
            beep: options.beep,
            max_duration_ms: options.max_ms,
            silence_timeout_ms: options.silence_ms,
            terminators: options.terminators.clone(),
        },
    )
}

/// Rings `destination` and connects it.
pub fn dial(destination: &str, timeout_ms: u32) -> Result<DialOutcome, CallError> {
    wit::dial(destination, timeout_ms)
}

/// Blind transfer before answering: the call goes on to `destination`.
pub fn transfer(destination: &str) -> Result<(), CallError> {
    wit::transfer(destination)
}

/// Waits.
pub fn sleep(ms: u32) -> Result<(), CallError> {
    wit::sleep(ms)
}

/// The session's language ("en", "nl").
pub fn language() -> String {
    wit::language()
}

/// Switches the prompt language.
pub fn set_language(tag: &str) -> Result<(), CallError> {
    wit::set_language(tag)
}

/// Spoken digits, numbers and dates (capability `prompts`).
pub mod say {
    use super::Audio;
    use alloc::vec::Vec;

    use crate::bindings::centrale::plugin::prompts as wit;

    /// Each digit.
    pub fn digits(language: &str, digits: &str) -> Vec<Audio> {
        wit::say_digits(language, digits)
    }

    /// A number.
    pub fn number(language: &str, n: u64) -> Vec<Audio> {
        wit::say_number(language, n)
    }

    /// A moment (unix milliseconds) in the tenant's local time.
    pub fn datetime(language: &str, unix_ms: u64) -> Vec<Audio> {
        wit::say_datetime(language, unix_ms)
    }
}

/// Joins lists of items.
pub fn concat(parts: &[&[Audio]]) -> Vec<Audio> {
    parts.iter().flat_map(|p| p.iter().cloned()).collect()
}
