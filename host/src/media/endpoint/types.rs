//! The values [`MediaEndpoint`](super::MediaEndpoint) calls return.

use std::time::Duration;

/// How a [`MediaEndpoint::play`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlayEnd {
    /// Every sample was sent (or another play replaced this one).
    Finished,
    /// Interrupted: a digit is waiting in the buffer (not consumed).
    Digit,
    /// The endpoint was closed.
    Closed,
}

/// The result of [`MediaEndpoint::next_digit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigitWait {
    /// The oldest buffered digit (now consumed).
    Digit(char),
    /// No digit arrived in time.
    Timeout,
    /// The endpoint was closed.
    Closed,
}

/// Why a recording ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordEnd {
    /// A terminator digit was pressed (consumed, not buffered).
    Terminator(char),
    /// The configured stretch of silence was heard (and trimmed).
    Silence,
    /// The maximum duration was reached.
    MaxDuration,
    /// The endpoint was closed.
    Closed,
}

/// How to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordOptions {
    /// The longest recording.
    pub max_duration: Duration,
    /// End after this much silence (trimmed from the file); `None`: never.
    pub silence: Option<Duration>,
    /// Digits that end the recording, e.g. `"#"`.
    pub terminators: String,
}

/// A finished recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    /// The length of the WAV file written.
    pub duration_ms: u64,
    /// Why it ended.
    pub end: RecordEnd,
}

/// Packet counters of an endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EndpointStats {
    /// Accepted RTP packets (audio and telephone events).
    pub packets_in: u64,
    /// RTP packets sent.
    pub packets_out: u64,
    /// Audio packets too late for a recording's reorder window.
    pub late_dropped: u64,
    /// Digits detected (RFC 4733 presses and injected SIP INFO digits).
    pub dtmf_events: u64,
}
