//! The recorder behind [`MediaEndpoint::record`](super::MediaEndpoint::record):
//! a small reorder window in RTP-timestamp order, gap filling, silence
//! detection and trimming, written incrementally to a [`WavSink`].
//!
//! It is plain synchronous state, fed by the receive task under the
//! endpoint's recording lock (never held across an await).

use std::io;

use super::{RecordEnd, RecordOptions, Recorded};
use crate::media::g711::Codec;
use crate::media::tone::samples_for;
use crate::media::wav::WavSink;

/// How far (in samples) the newest buffered packet may run ahead of the
/// write position before the oldest one is written regardless of gaps.
pub(super) const WINDOW: u32 = 800; // 100 ms
/// Buffered packets at most (100 ms of 20 ms packets, with headroom).
const SLOTS: usize = 8;
/// A packet more than this far behind the write position is a new timeline
/// (the sender restarted its clock), not a late packet.
const RESYNC: i32 = 8000;
/// Mean absolute amplitude under which a packet counts as silence
/// (about -42 dBFS).
const SILENCE_LEVEL: u64 = 256;

#[derive(Debug, Default)]
struct Slot {
    used: bool,
    ts: u32,
    codec: Option<Codec>,
    data: Vec<u8>,
}

/// What became of one pushed packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Pushed {
    /// Buffered or written.
    Taken,
    /// Too late for the window: dropped.
    Late,
    /// Ignored (duplicate, recording over).
    Ignored,
}

/// An active recording.
#[derive(Debug)]
pub(super) struct Recorder {
    sink: WavSink,
    max_samples: u64,
    silence_samples: Option<u64>,
    terminators: String,
    /// SSRC and the RTP timestamp of the next sample to write.
    timeline: Option<(u32, u32)>,
    slots: Vec<Slot>,
    scratch: Vec<i16>,
    /// The write position just after the last non-silent packet.
    voice_end: u64,
    /// Samples to keep when a terminator ended the recording.
    cut: Option<u64>,
    end: Option<RecordEnd>,
    error: Option<io::Error>,
}

impl Recorder {
    /// A recorder writing to `sink` under `opts`.
    pub(super) fn new(sink: WavSink, opts: &RecordOptions) -> Recorder {
        Recorder {
            sink,
            max_samples: samples_for(opts.max_duration) as u64,
            silence_samples: opts.silence.map(|d| samples_for(d) as u64),
            terminators: opts.terminators.clone(),
            timeline: None,
            slots: (0..SLOTS)
                .map(|_| Slot {
                    data: Vec::with_capacity(160),
                    ..Slot::default()
                })
                .collect(),
            scratch: Vec::with_capacity(320),
            voice_end: 0,
            cut: None,
            end: None,
            error: None,
        }
    }

    /// Why the recording ended, once it has.
    pub(super) fn end(&self) -> Option<RecordEnd> {
        self.end
    }

    /// Samples written so far.
    pub(super) fn written(&self) -> u64 {
        self.sink.samples()
    }

    /// True when `digit` ends this recording.
    pub(super) fn is_terminator(&self, digit: char) -> bool {
        self.end.is_none() && self.terminators.contains(digit)
    }

    /// Feeds one audio packet (PCMU/PCMA by payload type).
    pub(super) fn push(&mut self, ssrc: u32, ts: u32, pt: u8, payload: &[u8]) -> Pushed {
        let Some(codec) = Codec::from_payload_type(pt) else {
            return Pushed::Ignored;
        };
        if self.end.is_some() || payload.is_empty() {
            return Pushed::Ignored;
        }
        let next = match self.timeline {
            Some((s, next)) if s == ssrc => next,
            Some(_) => {
                self.drain();
                ts
            }
            None => ts,
        };
        self.timeline = Some((ssrc, next));
        let offset = ts.wrapping_sub(next) as i32;
        if offset < -RESYNC {
            self.drain();
            self.timeline = Some((ssrc, ts));
        } else if offset < 0 {
            return Pushed::Late;
        }
        if self.slots.iter().any(|s| s.used && s.ts == ts) {
            return Pushed::Ignored;
        }
        if !self.slots.iter().any(|s| !s.used) {
            self.release(true);
        }
        if let Some(slot) = self.slots.iter_mut().find(|s| !s.used) {
            slot.used = true;
            slot.ts = ts;
            slot.codec = Some(codec);
            slot.data.clear();
            slot.data.extend_from_slice(payload);
        }
        self.release(false);
        Pushed::Taken
    }

    /// Ends the recording on a terminator digit. With the event's RTP
    /// timestamp, audio from that instant on (the tone) is cut.
    pub(super) fn terminate(&mut self, digit: char, event_ts: Option<u32>) {
        if self.end.is_some() {
            return;
        }
        let keep = match (event_ts, self.timeline) {
            (Some(ts), Some((_, next))) => {
                let delta = i64::from(ts.wrapping_sub(next) as i32);
                u64::try_from(self.written() as i64 + delta).unwrap_or(0)
            }
            // A digit without timing (SIP INFO): keep what arrived.
            _ => u64::MAX,
        };
        if keep > self.written() {
            self.drain();
        }
        self.cut = Some(keep.min(self.written()));
        self.end = Some(RecordEnd::Terminator(digit));
    }

    /// Writes every buffered packet, oldest first.
    fn drain(&mut self) {
        for _ in 0..SLOTS {
            if self.end.is_some() || !self.slots.iter().any(|s| s.used) {
                break;
            }
            self.release(true);
        }
        for s in &mut self.slots {
            s.used = false;
        }
    }

    /// Writes buffered packets that are due: the one at the write position,
    /// or (when the window is exceeded or `force`) the oldest after filling
    /// its gap with silence. `force` writes exactly one packet.
    fn release(&mut self, mut force: bool) {
        while let Some((_, next)) = self.timeline {
            let rel = |s: &Slot| s.ts.wrapping_sub(next);
            let Some(i) = (0..SLOTS)
                .filter(|i| self.slots[*i].used)
                .min_by_key(|i| rel(&self.slots[*i]))
            else {
                return;
            };
            let span = self.slots.iter().filter(|s| s.used);
            let ahead = span
                .map(|s| rel(s) + s.data.len() as u32)
                .max()
                .unwrap_or(0);
            let gap = rel(&self.slots[i]);
            if gap != 0 && ahead <= WINDOW && !force {
                return;
            }
            force = false;
            self.emit(i, gap);
            if self.end.is_some() {
                return;
            }
        }
    }

    /// Writes slot `i` after `gap` samples of silence.
    fn emit(&mut self, i: usize, gap: u32) {
        let slot = &mut self.slots[i];
        slot.used = false;
        let len = slot.data.len() as u32;
        self.timeline = self
            .timeline
            .map(|(ssrc, _)| (ssrc, slot.ts.wrapping_add(len)));
        self.scratch.clear();
        if let Some(codec) = slot.codec {
            codec.decode_into(&slot.data, &mut self.scratch);
        }
        let room = self.max_samples.saturating_sub(self.written());
        let gap = u64::from(gap).min(room);
        if let Err(e) = self.sink.write_silence(gap) {
            return self.fail(e);
        }
        let room = room - gap;
        let take = self
            .scratch
            .len()
            .min(usize::try_from(room).unwrap_or(usize::MAX));
        let chunk = &self.scratch[..take];
        let level = chunk
            .iter()
            .map(|s| u64::from(s.unsigned_abs()))
            .sum::<u64>();
        if let Err(e) = self.sink.write(chunk) {
            return self.fail(e);
        }
        if take > 0 && level / take as u64 >= SILENCE_LEVEL {
            self.voice_end = self.written();
        }
        if self.written() >= self.max_samples {
            self.end = Some(RecordEnd::MaxDuration);
        } else if let Some(s) = self.silence_samples {
            if self.written() - self.voice_end >= s {
                self.end = Some(RecordEnd::Silence);
            }
        }
    }

    fn fail(&mut self, e: io::Error) {
        self.error = Some(e);
        self.end = Some(RecordEnd::Closed);
    }

    /// Completes the file. `end` applies when the recording had not ended by
    /// itself (close, wall-clock limits). Trailing silence is trimmed on
    /// [`RecordEnd::Silence`], the terminator's tone on `Terminator`.
    pub(super) fn finish(mut self, end: RecordEnd) -> io::Result<Recorded> {
        if self.end.is_none() {
            self.drain();
            if self.end.is_none() {
                self.end = Some(end);
            }
        }
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let end = self.end.unwrap_or(end);
        let keep = match end {
            RecordEnd::Silence => self.voice_end,
            RecordEnd::Terminator(_) => self.cut.unwrap_or(u64::MAX),
            RecordEnd::MaxDuration | RecordEnd::Closed => u64::MAX,
        };
        let duration_ms = self.sink.finish_truncated(keep)?;
        Ok(Recorded { duration_ms, end })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::media::wav::load_wav;

    const LOUD: u8 = 0x80; // µ-law: about +32000
    const QUIET: u8 = 0xFF; // µ-law: 0

    fn recorder(dir: &tempfile::TempDir, silence: Option<u64>, max_ms: u64) -> Recorder {
        let sink = WavSink::create(&dir.path().join("r.wav")).unwrap();
        let opts = RecordOptions {
            max_duration: Duration::from_millis(max_ms),
            silence: silence.map(Duration::from_millis),
            terminators: "#".into(),
        };
        Recorder::new(sink, &opts)
    }

    fn samples(dir: &tempfile::TempDir) -> Vec<i16> {
        load_wav(&dir.path().join("r.wav")).unwrap()
    }

    #[test]
    fn reorders_fills_gaps_and_drops_late_packets() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = recorder(&dir, None, 60_000);
        let frame = |v: u8| vec![v; 160];
        assert_eq!(r.push(7, 1000, 0, &frame(LOUD)), Pushed::Taken);
        // 1320 arrives before 1160 (swapped): both end up in order.
        assert_eq!(r.push(7, 1320, 0, &frame(QUIET)), Pushed::Taken);
        assert_eq!(r.push(7, 1160, 0, &frame(LOUD)), Pushed::Taken);
        // A duplicate of a written packet is late; of a buffered one, ignored.
        assert_eq!(r.push(7, 1160, 0, &frame(LOUD)), Pushed::Late);
        assert_eq!(r.push(7, 1640, 0, &frame(LOUD)), Pushed::Taken);
        assert_eq!(r.push(7, 1640, 0, &frame(LOUD)), Pushed::Ignored);
        // 1480 is lost; later packets push the window past it.
        for k in 5..12u32 {
            r.push(7, 1000 + 160 * k, 0, &frame(LOUD));
        }
        assert_eq!(r.push(7, 1480, 0, &frame(LOUD)), Pushed::Late);
        let rec = r.finish(RecordEnd::Closed).unwrap();
        assert_eq!(rec.end, RecordEnd::Closed);
        let s = samples(&dir);
        assert_eq!(s.len(), 12 * 160);
        assert_eq!(rec.duration_ms, 240);
        assert!(s[..320].iter().all(|v| *v > 30000));
        assert!(s[320..640].iter().all(|v| *v == 0)); // the quiet packet
        assert!(s[480..640].iter().all(|v| *v == 0)); // the gap
        assert!(s[640..].iter().all(|v| *v > 30000));
    }

    #[test]
    fn silence_ends_and_is_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = recorder(&dir, Some(500), 60_000);
        let mut ts = 0u32;
        for k in 0..200 {
            let v = if k < 10 { LOUD } else { QUIET };
            r.push(1, ts, 0, &[v; 160]);
            ts += 160;
            if r.end().is_some() {
                break;
            }
        }
        assert_eq!(r.end(), Some(RecordEnd::Silence));
        let rec = r.finish(RecordEnd::Closed).unwrap();
        assert_eq!((rec.end, rec.duration_ms), (RecordEnd::Silence, 200));
        assert_eq!(samples(&dir).len(), 1600);
    }

    #[test]
    fn max_duration_and_terminator_cut() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = recorder(&dir, None, 100);
        for k in 0..20u32 {
            r.push(1, k * 160, 8, &[0x55; 160]);
        }
        assert_eq!(r.end(), Some(RecordEnd::MaxDuration));
        let rec = r.finish(RecordEnd::Closed).unwrap();
        assert_eq!((rec.end, rec.duration_ms), (RecordEnd::MaxDuration, 100));

        let dir = tempfile::tempdir().unwrap();
        let mut r = recorder(&dir, None, 60_000);
        for k in 0..10u32 {
            r.push(1, k * 160, 0, &[LOUD; 160]);
        }
        assert!(r.is_terminator('#') && !r.is_terminator('1'));
        // The key went down at 1200: samples from there on are the tone.
        r.terminate('#', Some(1200));
        assert!(!r.is_terminator('#'));
        let rec = r.finish(RecordEnd::Closed).unwrap();
        assert_eq!(rec.end, RecordEnd::Terminator('#'));
        assert_eq!(samples(&dir).len(), 1200);
        assert_eq!(rec.duration_ms, 150);
    }

    #[test]
    fn new_ssrc_and_clock_restart_continue_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = recorder(&dir, None, 60_000);
        r.push(1, 50_000, 0, &[LOUD; 160]);
        r.push(2, 9, 0, &[LOUD; 160]); // new SSRC, unrelated clock
        r.push(2, 169, 0, &[LOUD; 160]);
        r.push(2, 100_000, 0, &[LOUD; 160]); // far jump forward: gap filled...
        let rec = r.finish(RecordEnd::Closed).unwrap();
        // 3 packets, then the gap from 329 to 100000, then the last packet.
        assert_eq!(samples(&dir).len(), 3 * 160 + 99_671 + 160);
        assert_eq!(rec.duration_ms, 100_311 * 1000 / 8000);
    }
}
