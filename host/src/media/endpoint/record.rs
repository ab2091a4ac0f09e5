//! The future behind [`MediaEndpoint::record`](super::MediaEndpoint::record):
//! installs a [`Recorder`] for the receive task to feed, then waits for it
//! to end (or for close, the wall-clock limit, or a silent line).

use std::io;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::time::{Instant, MissedTickBehavior};

use super::recorder::Recorder;
use super::{lock, Inner, RecordEnd, RecordOptions, Recorded};
use crate::media::wav::WavSink;

/// Extra wall time after `max_duration` before a recording that is short of
/// samples (the peer stopped sending) is ended anyway.
const GRACE: Duration = Duration::from_millis(300);
/// How often a recording with a silence limit checks that audio arrives.
const STALL_CHECK: Duration = Duration::from_millis(250);

/// Completes the recording if the `record` future is dropped midway, so
/// the file is still valid and the endpoint can record again.
struct Guard<'a> {
    inner: &'a Inner,
    armed: bool,
}

impl Guard<'_> {
    fn take(mut self) -> Option<Recorder> {
        self.armed = false;
        lock(&self.inner.recording).take()
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        if self.armed {
            let rec = lock(&self.inner.recording).take();
            if let Some(r) = rec {
                if let Err(e) = r.finish(RecordEnd::Closed) {
                    tracing::warn!("cannot complete an abandoned recording: {e}");
                }
            }
        }
    }
}

pub(super) async fn record(
    inner: &Inner,
    path: &Path,
    opts: RecordOptions,
) -> io::Result<Recorded> {
    let busy = || io::Error::other("a recording is already running on this endpoint");
    if lock(&inner.recording).is_some() {
        return Err(busy());
    }
    let recorder = Recorder::new(WavSink::create(path)?, &opts);
    {
        let mut slot = lock(&inner.recording);
        if slot.is_some() {
            return Err(busy());
        }
        *slot = Some(recorder);
    }
    let guard = Guard { inner, armed: true };
    let deadline = Instant::now() + opts.max_duration + GRACE;
    let mut stall = tokio::time::interval(STALL_CHECK);
    stall.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut progress = (0u64, Instant::now());
    let end = loop {
        let notified = inner.record_notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if inner.is_closed() {
            break RecordEnd::Closed;
        }
        let written = {
            let rec = lock(&inner.recording);
            match rec.as_ref() {
                Some(r) => match r.end() {
                    Some(end) => break end,
                    None => r.written(),
                },
                None => break RecordEnd::Closed,
            }
        };
        tokio::select! {
            biased;
            _ = inner.wait_closed() => break RecordEnd::Closed,
            _ = &mut notified => {}
            _ = tokio::time::sleep_until(deadline) => break RecordEnd::MaxDuration,
            now = stall.tick(), if opts.silence.is_some() => {
                // No audio at all for the silence limit: the line is silent.
                if written != progress.0 {
                    progress = (written, now);
                } else if opts.silence.is_some_and(|s| now - progress.1 >= s) {
                    break RecordEnd::Silence;
                }
            }
        }
    };
    let done = match guard.take() {
        Some(r) => r.finish(end),
        None => Err(io::Error::other("the recording was lost")),
    };
    if let Ok(r) = &done {
        // One line per recording, for the voicemail bench (bench/voicemail.sh
        // sums these to check that no packet was lost in the host).
        tracing::info!(
            duration_ms = r.duration_ms,
            end = ?r.end,
            packets_in = inner.packets_in.load(Ordering::Relaxed),
            late_dropped = inner.late_dropped.load(Ordering::Relaxed),
            "recording finished"
        );
    }
    done
}
