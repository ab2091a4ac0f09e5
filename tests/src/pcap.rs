//! Audio for sipp to send: RTP (PCMU and RFC 4733 telephone-events) written
//! as a pcap file, which sipp's `play_pcap_audio` streams to the host from
//! its media port with the packets' original timing.
//!
//! ```no_run
//! # use centrale_tests::pcap::RtpScript;
//! let mut s = RtpScript::new();
//! s.dtmf(0.5, '#');          // at 0.5 s
//! s.tone(1.5, 3.0, 440.0);    // 3 s of 440 Hz from 1.5 s
//! s.write("/tmp/x.pcap");
//! ```

use std::path::Path;

/// Payload type of PCMU.
pub const PT_PCMU: u8 = 0;
/// Payload type of telephone-event in the scenarios' SDP.
pub const PT_EVENT: u8 = 101;

/// RTP packets on one SSRC with their send times.
#[derive(Debug, Default)]
pub struct RtpScript {
    /// (send time in µs, RTP packet).
    packets: Vec<(u64, Vec<u8>)>,
    seq: u16,
}

fn rtp(pt: u8, marker: bool, seq: u16, ts: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(12 + payload.len());
    p.push(0x80);
    p.push(pt | if marker { 0x80 } else { 0 });
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&0x5eed_1234u32.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// G.711 µ-law of one 16-bit sample.
pub fn ulaw(sample: i16) -> u8 {
    const BIAS: i32 = 0x84;
    const CLIP: i32 = 32635;
    let mut s = i32::from(sample);
    let sign = if s < 0 {
        s = -s;
        0x80
    } else {
        0
    };
    s = s.min(CLIP) + BIAS;
    let mut exponent = 7;
    let mut mask = 0x4000;
    while exponent > 0 && s & mask == 0 {
        exponent -= 1;
        mask >>= 1;
    }
    let mantissa = (s >> (exponent + 3)) & 0x0f;
    !(sign | (exponent << 4) | mantissa) as u8
}

impl RtpScript {
    /// An empty script.
    pub fn new() -> Self {
        Self::default()
    }

    fn next_seq(&mut self) -> u16 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    /// `secs` of a sine at `freq` Hz (PCMU, 20 ms packets) from `start` s.
    /// The RTP clock is the send time, so gaps between calls are gaps in
    /// the timestamps too.
    pub fn tone(&mut self, start: f64, secs: f64, freq: f64) {
        let frames = (secs * 50.0).round() as u64;
        let t0 = (start * 8000.0) as u64;
        for f in 0..frames {
            let mut payload = Vec::with_capacity(160);
            for i in 0..160u64 {
                let n = (f * 160 + i) as f64;
                let v = (n * freq * 2.0 * std::f64::consts::PI / 8000.0).sin() * 12000.0;
                payload.push(ulaw(v as i16));
            }
            let seq = self.next_seq();
            let ts = (t0 + f * 160) as u32;
            let at = (start * 1e6) as u64 + f * 20_000;
            self.packets
                .push((at, rtp(PT_PCMU, f == 0, seq, ts, &payload)));
        }
    }

    /// One key press as RFC 4733 events at `at` s: 100 ms of event
    /// packets, then three end packets.
    pub fn dtmf(&mut self, at: f64, digit: char) {
        let event = match digit {
            '0'..='9' => digit as u8 - b'0',
            '*' => 10,
            '#' => 11,
            'A'..='D' => digit as u8 - b'A' + 12,
            other => panic!("not a DTMF digit: {other}"),
        };
        let ts = (at * 8000.0) as u32;
        let start = (at * 1e6) as u64;
        for i in 0..8u64 {
            let end = i >= 5;
            let duration = (160 * (i.min(4) + 1)) as u16;
            let payload = [
                event,
                if end { 0x80 | 10 } else { 10 },
                (duration >> 8) as u8,
                duration as u8,
            ];
            let seq = self.next_seq();
            self.packets.push((
                start + i.min(5) * 20_000 + i.saturating_sub(5) * 5_000,
                rtp(PT_EVENT, i == 0, seq, ts, &payload),
            ));
        }
    }

    /// Presses each digit of `digits`, `gap` s apart, from `at` s.
    pub fn dtmf_string(&mut self, at: f64, gap: f64, digits: &str) {
        for (i, d) in digits.chars().enumerate() {
            self.dtmf(at + i as f64 * gap, d);
        }
    }

    /// Writes the packets (sorted by time) as Ethernet/IPv4/UDP frames.
    pub fn write(&self, path: impl AsRef<Path>) {
        let mut packets = self.packets.clone();
        packets.sort_by_key(|(t, _)| *t);
        let mut out = Vec::new();
        // pcap global header: magic, v2.4, tz 0, sigfigs 0, snaplen, Ethernet.
        out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        out.extend_from_slice(&2u16.to_le_bytes());
        out.extend_from_slice(&4u16.to_le_bytes());
        out.extend_from_slice(&0i32.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&65535u32.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
        for (at, payload) in packets {
            let udp_len = 8 + payload.len();
            let ip_len = 20 + udp_len;
            let frame_len = 14 + ip_len;
            let base = 1_700_000_000u64 * 1_000_000 + at;
            out.extend_from_slice(&((base / 1_000_000) as u32).to_le_bytes());
            out.extend_from_slice(&((base % 1_000_000) as u32).to_le_bytes());
            out.extend_from_slice(&(frame_len as u32).to_le_bytes());
            out.extend_from_slice(&(frame_len as u32).to_le_bytes());
            // Ethernet: dst, src, IPv4.
            out.extend_from_slice(&[0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 2, 0x08, 0x00]);
            // IPv4 header, no checksum (sipp does not check it).
            out.extend_from_slice(&[0x45, 0]);
            out.extend_from_slice(&(ip_len as u16).to_be_bytes());
            out.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0]);
            out.extend_from_slice(&[127, 0, 0, 1, 127, 0, 0, 1]);
            // UDP 6000 -> 6002, no checksum.
            out.extend_from_slice(&6000u16.to_be_bytes());
            out.extend_from_slice(&6002u16.to_be_bytes());
            out.extend_from_slice(&(udp_len as u16).to_be_bytes());
            out.extend_from_slice(&[0, 0]);
            out.extend_from_slice(&payload);
        }
        std::fs::write(path, out).expect("write the pcap file");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulaw_known_values() {
        assert_eq!(ulaw(0), 0xff);
        assert_eq!(ulaw(-1), 0x7f);
        assert_eq!(ulaw(32767), 0x80);
        assert_eq!(ulaw(-32768), 0x00);
    }

    #[test]
    fn script_lengths() {
        let mut s = RtpScript::new();
        s.tone(1.0, 2.0, 440.0);
        s.dtmf(0.5, '#');
        assert_eq!(s.packets.len(), 100 + 8);
    }
}
