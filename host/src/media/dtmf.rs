//! RFC 4733 telephone events: the 4-byte payload and a detector that turns
//! the packet stream of key presses into one digit per press.
//!
//! A sender reports one key press as many packets sharing one RTP
//! timestamp (the event start): updates with a growing duration, then the
//! end bit, usually sent three times. Very long presses are split into
//! segments with new timestamps. The detector reports the digit on the first
//! packet it sees of a press and ignores the rest.

/// The digits of events 0..=15, in event-code order.
const DIGITS: &[u8; 16] = b"0123456789*#ABCD";

/// The digit of an event code (0-9, `*`, `#`, A-D), `None` for other
/// events (e.g. 16, flash).
pub fn event_to_digit(event: u8) -> Option<char> {
    DIGITS.get(usize::from(event)).map(|b| char::from(*b))
}

/// The event code of a digit (case-insensitive for A-D).
pub fn digit_to_event(digit: char) -> Option<u8> {
    let d = digit.to_ascii_uppercase();
    DIGITS
        .iter()
        .position(|b| char::from(*b) == d)
        .and_then(|i| u8::try_from(i).ok())
}

/// One telephone-event payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// The event code (0-15 for DTMF).
    pub event: u8,
    /// The end bit: the press is over.
    pub end: bool,
    /// The power level as -dBm0 (0..=63).
    pub volume: u8,
    /// The duration so far, in timestamp units (8 kHz).
    pub duration: u16,
}

impl TelephoneEvent {
    /// Parses the first 4 bytes of a payload (RFC 4733 §2.3); `None` when
    /// shorter. Redundant trailing blocks are ignored.
    pub fn parse(payload: &[u8]) -> Option<TelephoneEvent> {
        let b = payload.get(..4)?;
        Some(TelephoneEvent {
            event: b[0],
            end: b[1] & 0x80 != 0,
            volume: b[1] & 0x3f,
            duration: u16::from_be_bytes([b[2], b[3]]),
        })
    }

    /// The 4-byte payload.
    pub fn to_bytes(&self) -> [u8; 4] {
        let d = self.duration.to_be_bytes();
        [
            self.event,
            (u8::from(self.end) << 7) | (self.volume & 0x3f),
            d[0],
            d[1],
        ]
    }

    /// The digit this event stands for, if it is DTMF.
    pub fn digit(&self) -> Option<char> {
        event_to_digit(self.event)
    }
}

/// The press currently (or last) being reported.
#[derive(Debug, Clone, Copy)]
struct Press {
    timestamp: u32,
    event: u8,
    ended: bool,
    duration: u16,
}

/// Turns telephone-event packets into one digit per key press.
#[derive(Debug, Default, Clone)]
pub struct DtmfDetector {
    last: Option<Press>,
}

/// Slack (timestamp units) allowed between the end of one segment of a
/// long press and the start of the next.
const SEGMENT_SLACK: u32 = 1600;

impl DtmfDetector {
    /// A detector that has seen nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets the current press (e.g. on a new SSRC).
    pub fn reset(&mut self) {
        self.last = None;
    }

    /// Feeds one packet (its RTP timestamp and payload); returns the digit
    /// when this packet starts a new press. Repeats, end-bit retransmissions,
    /// stale packets of an earlier press and continuation segments of a long
    /// press return `None`, as do non-DTMF events.
    pub fn push(&mut self, timestamp: u32, ev: &TelephoneEvent) -> Option<char> {
        if let Some(last) = &mut self.last {
            let delta = timestamp.wrapping_sub(last.timestamp);
            if delta == 0 && ev.event == last.event {
                last.ended |= ev.end;
                last.duration = last.duration.max(ev.duration);
                return None;
            }
            if (delta as i32) < 0 {
                return None; // a late packet of an earlier press
            }
            let continues = ev.event == last.event
                && !last.ended
                && delta <= u32::from(last.duration) + SEGMENT_SLACK;
            if continues {
                *last = Press {
                    timestamp,
                    event: ev.event,
                    ended: ev.end,
                    duration: ev.duration,
                };
                return None;
            }
        }
        self.last = Some(Press {
            timestamp,
            event: ev.event,
            ended: ev.end,
            duration: ev.duration,
        });
        ev.digit()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(event: u8, end: bool, duration: u16) -> TelephoneEvent {
        TelephoneEvent {
            event,
            end,
            volume: 10,
            duration,
        }
    }

    #[test]
    fn digits_and_codes() {
        let all: String = (0..16).filter_map(event_to_digit).collect();
        assert_eq!(all, "0123456789*#ABCD");
        assert_eq!(event_to_digit(16), None);
        assert_eq!(digit_to_event('#'), Some(11));
        assert_eq!(digit_to_event('*'), Some(10));
        assert_eq!(digit_to_event('d'), Some(15));
        assert_eq!(digit_to_event('x'), None);
    }

    #[test]
    fn payload_round_trip() {
        let e = ev(11, true, 1600);
        let b = e.to_bytes();
        assert_eq!(b, [11, 0x80 | 10, 0x06, 0x40]);
        assert_eq!(TelephoneEvent::parse(&b), Some(e));
        assert_eq!(TelephoneEvent::parse(&b[..3]), None);
        assert_eq!(e.digit(), Some('#'));
        // The reserved bit is ignored.
        assert_eq!(
            TelephoneEvent::parse(&[5, 0x40 | 7, 0, 160])
                .unwrap()
                .volume,
            7
        );
    }

    #[test]
    fn one_digit_per_press() {
        let mut d = DtmfDetector::new();
        let mut got = String::new();
        // "1": start, updates, end ×3; then "1" again (new timestamp), "#".
        let stream = [
            (1000, ev(1, false, 160)),
            (1000, ev(1, false, 320)),
            (1000, ev(1, false, 480)),
            (1000, ev(1, true, 640)),
            (1000, ev(1, true, 640)),
            (1000, ev(1, true, 640)),
            (3000, ev(1, false, 160)),
            (3000, ev(1, true, 480)),
            (3000, ev(1, true, 480)),
            (5000, ev(11, false, 160)),
            (5000, ev(11, true, 320)),
        ];
        for (ts, e) in stream {
            got.extend(d.push(ts, &e));
        }
        assert_eq!(got, "11#");
    }

    #[test]
    fn lost_start_and_stale_packets() {
        let mut d = DtmfDetector::new();
        // Only the end packets of a press arrive: still one digit.
        assert_eq!(d.push(800, &ev(7, true, 800)), Some('7'));
        assert_eq!(d.push(800, &ev(7, true, 800)), None);
        assert_eq!(d.push(4000, &ev(8, false, 160)), Some('8'));
        // A retransmitted end of the earlier press arrives late.
        assert_eq!(d.push(800, &ev(7, true, 800)), None);
        assert_eq!(d.push(4000, &ev(8, true, 400)), None);
        // Timestamps wrap around.
        assert_eq!(d.push(u32::MAX - 100, &ev(9, false, 160)), None); // looks stale
        d.reset();
        assert_eq!(d.push(u32::MAX - 100, &ev(9, true, 160)), Some('9'));
        assert_eq!(d.push(200, &ev(3, false, 160)), Some('3'));
        // Non-DTMF events (flash) are not digits.
        assert_eq!(d.push(9000, &ev(16, false, 160)), None);
    }

    #[test]
    fn long_press_segments_are_one_digit() {
        let mut d = DtmfDetector::new();
        assert_eq!(d.push(0, &ev(5, false, 65535)), Some('5'));
        // Second segment starts where the first one's duration ran out.
        assert_eq!(d.push(65535, &ev(5, false, 800)), None);
        assert_eq!(d.push(65535, &ev(5, true, 1600)), None);
        // After the end, the same key again is a new press.
        assert_eq!(d.push(70000, &ev(5, false, 160)), Some('5'));
    }
}
