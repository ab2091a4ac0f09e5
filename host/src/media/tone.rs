//! Call-progress tones as 8 kHz 16-bit sample buffers.
//!
//! [`tone`] sums sines at a given level; [`cadence`] repeats on/off periods.
//! The presets follow the European (ETSI / Dutch) conventions: 425 Hz
//! ringback and busy, the three-step special information tone for errors,
//! and a short 1 kHz beep before recording.

use std::f64::consts::TAU;
use std::time::Duration;

/// The sample rate of every buffer made here.
pub const SAMPLE_RATE: u32 = 8000;

/// The default level of a preset tone: -13 dBFS per frequency component
/// (about 7300 peak), loud enough on a phone, far from clipping.
pub const DEFAULT_AMPLITUDE: f64 = 0.224;

/// Length of the raised-cosine fade at both ends of a burst (no clicks).
const FADE: usize = 40; // 5 ms

/// The number of samples in `d` at 8 kHz.
pub fn samples_for(d: Duration) -> usize {
    let n = d.as_micros() * u128::from(SAMPLE_RATE) / 1_000_000;
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// `d` of silence.
pub fn silence(d: Duration) -> Vec<i16> {
    vec![0; samples_for(d)]
}

/// A burst of `d` summing sines at `freqs` (Hz), each with peak `amplitude`
/// (fraction of full scale, the sum is clamped), faded in and out over 5 ms.
pub fn tone(freqs: &[f64], d: Duration, amplitude: f64) -> Vec<i16> {
    let n = samples_for(d);
    let fade = FADE.min(n / 2);
    let rate = f64::from(SAMPLE_RATE);
    (0..n)
        .map(|i| {
            let t = i as f64 / rate;
            let v: f64 = freqs.iter().map(|f| (TAU * f * t).sin()).sum::<f64>() * amplitude;
            let edge = i.min(n - 1 - i);
            let gain = if edge < fade {
                0.5 - 0.5 * (std::f64::consts::PI * edge as f64 / fade as f64).cos()
            } else {
                1.0
            };
            (v * gain * 32767.0).clamp(-32768.0, 32767.0) as i16
        })
        .collect()
}

/// `repeats` periods of `on` tone (at the default level) then `off` silence.
pub fn cadence(freqs: &[f64], on: Duration, off: Duration, repeats: usize) -> Vec<i16> {
    let burst = tone(freqs, on, DEFAULT_AMPLITUDE);
    let gap = silence(off);
    let mut out = Vec::with_capacity((burst.len() + gap.len()) * repeats);
    for _ in 0..repeats {
        out.extend_from_slice(&burst);
        out.extend_from_slice(&gap);
    }
    out
}

/// The beep before a recording: 1000 Hz for 300 ms.
pub fn beep() -> Vec<i16> {
    tone(&[1000.0], Duration::from_millis(300), DEFAULT_AMPLITUDE)
}

/// Busy: 425 Hz, 500 ms on / 500 ms off, four periods (4 s).
pub fn busy() -> Vec<i16> {
    let half = Duration::from_millis(500);
    cadence(&[425.0], half, half, 4)
}

/// Ringback: 425 Hz, 1 s on / 4 s off, one period (5 s); loop it.
pub fn ringback() -> Vec<i16> {
    cadence(&[425.0], Duration::from_secs(1), Duration::from_secs(4), 1)
}

/// Error (special information tone): 950, 1400 and 1800 Hz for 330 ms
/// each, then 1 s of silence.
pub fn error() -> Vec<i16> {
    let step = Duration::from_millis(330);
    let mut out = Vec::new();
    for f in [950.0, 1400.0, 1800.0] {
        out.extend(tone(&[f], step, DEFAULT_AMPLITUDE));
    }
    out.extend(silence(Duration::from_secs(1)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goertzel power of `f` in `x`, normalised by the length.
    fn power(x: &[i16], f: f64) -> f64 {
        let w = TAU * f / f64::from(SAMPLE_RATE);
        let c = 2.0 * w.cos();
        let (mut s1, mut s2) = (0.0, 0.0);
        for v in x {
            let s = f64::from(*v) + c * s1 - s2;
            s2 = s1;
            s1 = s;
        }
        (s1 * s1 + s2 * s2 - c * s1 * s2) / (x.len() as f64).powi(2)
    }

    fn peak(x: &[i16]) -> i16 {
        x.iter().map(|v| v.saturating_abs()).max().unwrap_or(0)
    }

    #[test]
    fn beep_is_300ms_of_1khz() {
        let b = beep();
        assert_eq!(b.len(), 2400);
        assert!(power(&b, 1000.0) > 100.0 * power(&b, 1400.0));
        let p = peak(&b);
        assert!((7000..=7400).contains(&p), "peak {p}");
        // Faded edges.
        assert!(b[0].abs() < 100 && b[2399].abs() < 200);
    }

    #[test]
    fn dual_tone_has_both_components() {
        let t = tone(&[350.0, 440.0], Duration::from_millis(200), 0.4);
        let (a, b, off) = (power(&t, 350.0), power(&t, 440.0), power(&t, 1000.0));
        assert!(a > 100.0 * off && b > 100.0 * off);
        assert!((a / b - 1.0).abs() < 0.2);
        // The sum is clamped, never wraps.
        let loud = tone(&[500.0, 500.0], Duration::from_millis(20), 0.9);
        assert_eq!(peak(&loud), i16::MAX);
    }

    #[test]
    fn cadences() {
        let busy = busy();
        assert_eq!(busy.len(), 4 * 8000);
        // On in the first half second, off in the second.
        assert!(peak(&busy[..4000]) > 5000);
        assert_eq!(peak(&busy[4000..8000]), 0);
        assert!(power(&busy[..4000], 425.0) > 100.0 * power(&busy[..4000], 1000.0));
        let ring = ringback();
        assert_eq!(ring.len(), 5 * 8000);
        assert!(peak(&ring[..8000]) > 5000);
        assert_eq!(peak(&ring[8000..]), 0);
        let err = error();
        assert_eq!(err.len(), 3 * 2640 + 8000);
        assert!(power(&err[2640..5280], 1400.0) > 100.0 * power(&err[2640..5280], 950.0));
        assert_eq!(silence(Duration::from_millis(20)).len(), 160);
        assert!(tone(&[1000.0], Duration::ZERO, 0.5).is_empty());
    }
}
