//! The RTP endpoint of a call leg the host terminates itself (IVR,
//! voicemail): it plays samples, collects digits and records.
//!
//! One [`MediaEndpoint`] owns a leased RTP/RTCP port pair and two tasks:
//! - the receive task (`recv.rs`) latches onto the peer's real address,
//!   detects RFC 4733 digits and feeds an active recording (`recorder.rs`);
//! - the send task (`send.rs`, from [`MediaEndpoint::start`]) sends one
//!   20 ms packet every 20 ms: the samples being played, else silence;
//! - bridge mode (`link.rs`, [`MediaEndpoint::bridge`]): the caller talks
//!   to another party through a [`PeerLink`] while the endpoint's own
//!   output pauses (a session's `dial`).
//!
//! Clones share the endpoint. [`MediaEndpoint::close`] ends every pending
//! call with `Closed` and stops the tasks; the sockets and ports are freed
//! when the last clone is dropped (dropping all clones also closes).

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::g711::Codec;
use super::latch::{Expect, Latch};
use super::relay::{MediaEngine, MediaError, SidePair};

mod link;
mod play;
mod record;
mod recorder;
mod recv;
mod send;
#[cfg(test)]
mod tests;
mod types;

pub use link::{LinkStats, PeerLink};
pub use types::{DigitWait, EndpointStats, PlayEnd, RecordEnd, RecordOptions, Recorded};

/// Digits kept at most; older ones are dropped first.
const MAX_DIGITS: usize = 64;
/// `te_pt` value meaning "no telephone-event payload type".
const NO_PT: u8 = 0xff;

/// State shared by the handle and the tasks.
struct Inner {
    pair: SidePair,
    remote: Mutex<Latch>,
    codec_pt: AtomicU8,
    te_pt: AtomicU8,
    closed: AtomicBool,
    close_notify: Notify,
    digits: Mutex<VecDeque<char>>,
    digit_notify: Notify,
    play: Mutex<play::PlayState>,
    /// The output stream's SSRC, sequence and timestamp.
    clock: Mutex<link::Clock>,
    /// The link the caller is bridged to, if any.
    link: Mutex<Option<Arc<link::LinkShared>>>,
    recording: Mutex<Option<recorder::Recorder>>,
    record_notify: Notify,
    packets_in: AtomicU64,
    packets_out: AtomicU64,
    late_dropped: AtomicU64,
    dtmf_events: AtomicU64,
}

/// Locks a mutex holding plain data; a poisoned lock is still usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Inner {
    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Resolves once the endpoint is closed.
    async fn wait_closed(&self) {
        loop {
            let n = self.close_notify.notified();
            tokio::pin!(n);
            n.as_mut().enable();
            if self.is_closed() {
                return;
            }
            n.await;
        }
    }

    fn codec(&self) -> Codec {
        Codec::from_payload_type(self.codec_pt.load(Ordering::Relaxed)).unwrap_or(Codec::Pcmu)
    }

    fn te_pt(&self) -> Option<u8> {
        Some(self.te_pt.load(Ordering::Relaxed)).filter(|pt| *pt != NO_PT)
    }

    /// Where to send: the latched source, else the SDP address.
    fn destination(&self) -> Option<SocketAddr> {
        lock(&self.remote).rtp_dest()
    }

    /// A digit arrived (`event_ts`: its RTP timestamp, for RFC 4733). It
    /// ends an active recording when it is a terminator, else is buffered.
    fn on_digit(&self, digit: char, event_ts: Option<u32>) {
        self.dtmf_events.fetch_add(1, Ordering::Relaxed);
        {
            let mut rec = lock(&self.recording);
            if let Some(r) = rec.as_mut().filter(|r| r.is_terminator(digit)) {
                r.terminate(digit, event_ts);
                drop(rec);
                self.record_notify.notify_one();
                return;
            }
        }
        {
            let mut d = lock(&self.digits);
            if d.len() >= MAX_DIGITS {
                d.pop_front();
            }
            d.push_back(digit);
        }
        self.digit_notify.notify_waiters();
    }

    /// Resolves once at least one digit is buffered.
    async fn digit_buffered(&self) {
        loop {
            let n = self.digit_notify.notified();
            tokio::pin!(n);
            n.as_mut().enable();
            if !lock(&self.digits).is_empty() {
                return;
            }
            n.await;
        }
    }
}

/// Owns the tasks; dropping the last clone's handle closes the endpoint.
struct Handle {
    inner: Arc<Inner>,
    port: u16,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    started: AtomicBool,
}

impl Handle {
    fn close(&self) {
        if !self.inner.closed.swap(true, Ordering::AcqRel) {
            tracing::debug!(port = self.port, "media endpoint closed");
        }
        self.inner.close_notify.notify_waiters();
        self.inner.digit_notify.notify_waiters();
        self.inner.record_notify.notify_one();
        for t in lock(&self.tasks).iter() {
            t.abort();
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.close();
    }
}

/// The RTP endpoint of one call leg terminated by the host. Cheap to clone.
#[derive(Clone)]
pub struct MediaEndpoint {
    handle: Arc<Handle>,
}

impl std::fmt::Debug for MediaEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaEndpoint")
            .field("port", &self.handle.port)
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl MediaEndpoint {
    /// Leases an RTP/RTCP port pair from the engine and binds it on
    /// `engine.bind_ip()`; the receive task starts at once. The codec
    /// defaults to PCMU with telephone-event payload type 101.
    pub async fn open(engine: &MediaEngine) -> Result<MediaEndpoint, MediaError> {
        Self::open_for(engine, None).await
    }

    /// [`MediaEndpoint::open`] on `tenant`'s share of the ports.
    pub async fn open_for(
        engine: &MediaEngine,
        tenant: Option<i64>,
    ) -> Result<MediaEndpoint, MediaError> {
        let pair = engine.bind_pair(tenant)?;
        let port = pair.lease.rtp_port();
        let inner = Arc::new(Inner {
            pair,
            remote: Mutex::new(Latch::new(engine.latch_window())),
            codec_pt: AtomicU8::new(Codec::Pcmu.payload_type()),
            te_pt: AtomicU8::new(101),
            closed: AtomicBool::new(false),
            close_notify: Notify::new(),
            digits: Mutex::default(),
            digit_notify: Notify::new(),
            play: Mutex::default(),
            clock: Mutex::new(link::Clock::new()),
            link: Mutex::new(None),
            recording: Mutex::new(None),
            record_notify: Notify::new(),
            packets_in: AtomicU64::new(0),
            packets_out: AtomicU64::new(0),
            late_dropped: AtomicU64::new(0),
            dtmf_events: AtomicU64::new(0),
        });
        let recv = tokio::spawn(recv::run(inner.clone()));
        tracing::debug!(port, "media endpoint opened");
        Ok(MediaEndpoint {
            handle: Arc::new(Handle {
                inner,
                port,
                tasks: Mutex::new(vec![recv]),
                started: AtomicBool::new(false),
            }),
        })
    }

    fn inner(&self) -> &Inner {
        &self.handle.inner
    }

    /// The local RTP port (RTCP is the next one), to put in our SDP.
    pub fn port(&self) -> u16 {
        self.handle.port
    }

    /// What the peer signalled (its SDP address, its SIP source): packets
    /// are accepted and followed by the rules of [`crate::media::latch`].
    /// A changed address (re-INVITE) forgets the latch.
    pub fn set_remote(&self, expect: Expect) {
        lock(&self.inner().remote).expect(expect);
    }

    /// Starts the latching window again (the leg was answered: the peer
    /// starts sending now).
    pub fn rearm(&self) {
        lock(&self.inner().remote).rearm();
    }

    /// Packets refused as not coming from the peer.
    pub fn refused(&self) -> u64 {
        lock(&self.inner().remote).refused()
    }

    /// The codec to send with, and the telephone-event payload type to
    /// detect digits on (`None`: no RFC 4733). Received audio is decoded by
    /// its own payload type (0 or 8) whatever is set here.
    pub fn set_codec(&self, codec: Codec, telephone_event_pt: Option<u8>) {
        let i = self.inner();
        i.codec_pt.store(codec.payload_type(), Ordering::Relaxed);
        let te = telephone_event_pt.filter(|pt| *pt < 128).unwrap_or(NO_PT);
        i.te_pt.store(te, Ordering::Relaxed);
    }

    /// Starts the send task (once; later calls do nothing): one packet
    /// every 20 ms (160 samples), silence when nothing plays, one SSRC,
    /// sequence and timestamp continuous across plays, marker bit on the
    /// first packet.
    pub fn start(&self) {
        if self.is_closed() || self.handle.started.swap(true, Ordering::AcqRel) {
            return;
        }
        let task = tokio::spawn(send::run(self.handle.inner.clone()));
        lock(&self.handle.tasks).push(task);
    }

    /// Pops the oldest buffered digit, waiting up to `timeout`.
    pub async fn next_digit(&self, timeout: Duration) -> DigitWait {
        let i = self.inner();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if i.is_closed() {
                return DigitWait::Closed;
            }
            if let Some(d) = lock(&i.digits).pop_front() {
                return DigitWait::Digit(d);
            }
            tokio::select! {
                biased;
                _ = i.wait_closed() => return DigitWait::Closed,
                _ = i.digit_buffered() => {}
                _ = tokio::time::sleep_until(deadline) => return DigitWait::Timeout,
            }
        }
    }

    /// Forgets every buffered digit.
    pub fn clear_digits(&self) {
        lock(&self.inner().digits).clear();
    }

    /// SIP INFO fallback (application/dtmf-relay): pushes a digit into the
    /// buffer (or ends a recording it terminates). Unknown characters are
    /// ignored.
    pub fn inject_digit(&self, digit: char) {
        if let Some(ev) = super::dtmf::digit_to_event(digit) {
            if let Some(d) = super::dtmf::event_to_digit(ev) {
                self.inner().on_digit(d, None);
            }
        }
    }

    /// Ends the leg: pending play/next_digit/record return `Closed`, tasks
    /// stop; ports are freed when the last clone drops.
    pub fn close(&self) {
        self.handle.close();
    }

    /// True once [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.inner().is_closed()
    }

    /// The counters so far.
    pub fn stats(&self) -> EndpointStats {
        let i = self.inner();
        EndpointStats {
            packets_in: i.packets_in.load(Ordering::Relaxed),
            packets_out: i.packets_out.load(Ordering::Relaxed),
            late_dropped: i.late_dropped.load(Ordering::Relaxed),
            dtmf_events: i.dtmf_events.load(Ordering::Relaxed),
        }
    }

    /// Records received audio to a WAV file (8 kHz mono 16-bit) at `path`
    /// until a terminator digit, `silence` of silence (trailing silence
    /// trimmed), `max_duration`, or close. The length follows RTP
    /// timestamps (gaps filled with silence); packets are reordered within
    /// about 100 ms and counted in `late_dropped` when later. A
    /// terminator's own audio is not kept. Digits that are not terminators
    /// stay buffered. The file is complete and valid on return (also on
    /// `Closed`). One recording at a time per endpoint.
    pub async fn record(&self, path: &Path, opts: RecordOptions) -> io::Result<Recorded> {
        record::record(&self.handle.inner, path, opts).await
    }

    /// Plays `samples` (8 kHz i16), starting the send task if needed. With
    /// `interruptible`, ends as soon as a digit is buffered (a digit already
    /// waiting ends it at once). A new play replaces the current one, which
    /// returns `Finished`.
    pub async fn play(&self, samples: Arc<[i16]>, interruptible: bool) -> PlayEnd {
        self.start();
        play::play(&self.handle.inner, samples, interruptible).await
    }
}
