//! G.711 µ-law (PCMU) and A-law (PCMA): the two codecs every SIP phone
//! speaks, at 8 kHz, one byte per sample.
//!
//! The companding itself comes from `audio-codec-algorithms`; this module
//! maps it to RTP payload types and offers allocation-free `*_into` variants
//! for the per-packet paths.

use audio_codec_algorithms::{decode_alaw, decode_ulaw, encode_alaw, encode_ulaw};

/// A G.711 variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// µ-law, static RTP payload type 0.
    Pcmu,
    /// A-law, static RTP payload type 8.
    Pcma,
}

impl Codec {
    /// The static RTP payload type (RFC 3551): 0 for PCMU, 8 for PCMA.
    pub fn payload_type(self) -> u8 {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 8,
        }
    }

    /// The codec of a static payload type (0 or 8), else `None`.
    pub fn from_payload_type(pt: u8) -> Option<Codec> {
        match pt {
            0 => Some(Codec::Pcmu),
            8 => Some(Codec::Pcma),
            _ => None,
        }
    }

    /// The SDP encoding name: `"PCMU"` or `"PCMA"`.
    pub fn name(self) -> &'static str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
        }
    }

    /// The codec with SDP encoding name `name` (case-insensitive).
    pub fn from_name(name: &str) -> Option<Codec> {
        [Codec::Pcmu, Codec::Pcma]
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(name))
    }

    /// Encodes one linear 16-bit sample.
    pub fn encode_sample(self, sample: i16) -> u8 {
        match self {
            Codec::Pcmu => encode_ulaw(sample),
            Codec::Pcma => encode_alaw(sample),
        }
    }

    /// Decodes one companded byte to a linear 16-bit sample.
    pub fn decode_sample(self, byte: u8) -> i16 {
        match self {
            Codec::Pcmu => decode_ulaw(byte),
            Codec::Pcma => decode_alaw(byte),
        }
    }

    /// Encodes linear samples, one byte each.
    pub fn encode(self, pcm: &[i16]) -> Vec<u8> {
        let mut out = Vec::with_capacity(pcm.len());
        self.encode_into(pcm, &mut out);
        out
    }

    /// Decodes companded bytes, one sample each.
    pub fn decode(self, data: &[u8]) -> Vec<i16> {
        let mut out = Vec::with_capacity(data.len());
        self.decode_into(data, &mut out);
        out
    }

    /// Appends the encoding of `pcm` to `out` (no allocation once `out` has
    /// the capacity).
    pub fn encode_into(self, pcm: &[i16], out: &mut Vec<u8>) {
        match self {
            Codec::Pcmu => out.extend(pcm.iter().map(|s| encode_ulaw(*s))),
            Codec::Pcma => out.extend(pcm.iter().map(|s| encode_alaw(*s))),
        }
    }

    /// Appends the decoding of `data` to `out`.
    pub fn decode_into(self, data: &[u8], out: &mut Vec<i16>) {
        match self {
            Codec::Pcmu => out.extend(data.iter().map(|b| decode_ulaw(*b))),
            Codec::Pcma => out.extend(data.iter().map(|b| decode_alaw(*b))),
        }
    }

    /// The byte that decodes to (near) zero: the payload of a silent packet.
    pub fn silence_byte(self) -> u8 {
        self.encode_sample(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_types_and_names() {
        assert_eq!(Codec::Pcmu.payload_type(), 0);
        assert_eq!(Codec::Pcma.payload_type(), 8);
        assert_eq!(Codec::from_payload_type(0), Some(Codec::Pcmu));
        assert_eq!(Codec::from_payload_type(8), Some(Codec::Pcma));
        assert_eq!(Codec::from_payload_type(101), None);
        assert_eq!(Codec::Pcmu.name(), "PCMU");
        assert_eq!(Codec::Pcma.name(), "PCMA");
        assert_eq!(Codec::from_name("pcma"), Some(Codec::Pcma));
        assert_eq!(Codec::from_name("G729"), None);
    }

    #[test]
    fn known_code_points() {
        // µ-law: 0 encodes to 0xFF; A-law: 0 encodes to 0xD5.
        assert_eq!(Codec::Pcmu.encode(&[0]), vec![0xFF]);
        assert_eq!(Codec::Pcma.encode(&[0]), vec![0xD5]);
        assert_eq!(Codec::Pcmu.silence_byte(), 0xFF);
        assert_eq!(Codec::Pcmu.decode(&[0xFF]), vec![0]);
        assert!(Codec::Pcma.decode(&[0xD5])[0].abs() <= 8);
        // Full scale keeps its sign.
        assert!(Codec::Pcmu.decode(&Codec::Pcmu.encode(&[i16::MAX]))[0] > 30000);
        assert!(Codec::Pcma.decode(&Codec::Pcma.encode(&[i16::MIN]))[0] < -30000);
    }

    #[test]
    fn round_trip_error_is_bounded() {
        for codec in [Codec::Pcmu, Codec::Pcma] {
            let pcm: Vec<i16> = (-32768..=32767).step_by(97).map(|v| v as i16).collect();
            let back = codec.decode(&codec.encode(&pcm));
            assert_eq!(back.len(), pcm.len());
            for (a, b) in pcm.iter().zip(&back) {
                let err = (i32::from(*a) - i32::from(*b)).abs();
                // Logarithmic quantisation: error grows with amplitude (≤ ~3 %).
                assert!(err <= 16 + i32::from(*a).abs() / 30, "{codec:?} {a} -> {b}");
            }
        }
    }

    #[test]
    fn into_variants_append() {
        let mut bytes = vec![1u8];
        Codec::Pcma.encode_into(&[0, 1000], &mut bytes);
        assert_eq!(bytes.len(), 3);
        let mut pcm = vec![7i16];
        Codec::Pcma.decode_into(&bytes[1..], &mut pcm);
        assert_eq!(pcm.len(), 3);
        assert_eq!(pcm[0], 7);
    }
}
