//! RTP packets (RFC 3550): parsing without copying and building into a
//! reusable buffer.
//!
//! Parsing accepts version 2 only and skips CSRCs and a header extension;
//! padding is removed from the payload. Anything inconsistent (too short,
//! padding longer than the payload, extension past the end) yields `None`.

/// The fixed RTP header length (no CSRC, no extension).
pub const HEADER_LEN: usize = 12;

/// The fields of an RTP header we read and write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RtpHeader {
    /// The marker bit (first packet of a talkspurt, first packet of an event).
    pub marker: bool,
    /// The payload type (7 bits).
    pub payload_type: u8,
    /// The sequence number.
    pub sequence: u16,
    /// The media timestamp (8 kHz units for G.711 and telephone-event/8000).
    pub timestamp: u32,
    /// The synchronisation source.
    pub ssrc: u32,
}

/// A parsed packet borrowing its payload from the datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    /// The header fields.
    pub header: RtpHeader,
    /// The payload, without CSRCs, extension and padding.
    pub payload: &'a [u8],
}

/// Parses an RTP datagram; `None` when it is not a well-formed version 2
/// packet. Never panics.
pub fn parse(buf: &[u8]) -> Option<RtpPacket<'_>> {
    let fixed = buf.get(..HEADER_LEN)?;
    if fixed[0] >> 6 != 2 {
        return None;
    }
    let padding = fixed[0] & 0x20 != 0;
    let extension = fixed[0] & 0x10 != 0;
    let csrc_count = usize::from(fixed[0] & 0x0f);
    let header = RtpHeader {
        marker: fixed[1] & 0x80 != 0,
        payload_type: fixed[1] & 0x7f,
        sequence: u16::from_be_bytes([fixed[2], fixed[3]]),
        timestamp: u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]),
        ssrc: u32::from_be_bytes([fixed[8], fixed[9], fixed[10], fixed[11]]),
    };
    let mut start = HEADER_LEN + 4 * csrc_count;
    if extension {
        let ext = buf.get(start..start + 4)?;
        let words = usize::from(u16::from_be_bytes([ext[2], ext[3]]));
        start += 4 + 4 * words;
    }
    let mut end = buf.len();
    if start > end {
        return None;
    }
    if padding {
        let count = usize::from(*buf.last()?);
        if count == 0 || count > end - start {
            return None;
        }
        end -= count;
    }
    Some(RtpPacket {
        header,
        payload: buf.get(start..end)?,
    })
}

/// Writes the 12-byte header (version 2, no padding/extension/CSRC).
pub fn write_header(h: &RtpHeader, out: &mut [u8; HEADER_LEN]) {
    out[0] = 0x80;
    out[1] = (u8::from(h.marker) << 7) | (h.payload_type & 0x7f);
    out[2..4].copy_from_slice(&h.sequence.to_be_bytes());
    out[4..8].copy_from_slice(&h.timestamp.to_be_bytes());
    out[8..12].copy_from_slice(&h.ssrc.to_be_bytes());
}

/// Clears `out` and writes a complete packet into it (no allocation once
/// `out` has the capacity).
pub fn build_into(h: &RtpHeader, payload: &[u8], out: &mut Vec<u8>) {
    let mut head = [0u8; HEADER_LEN];
    write_header(h, &mut head);
    out.clear();
    out.extend_from_slice(&head);
    out.extend_from_slice(payload);
}

/// A complete packet as a new vector.
pub fn build(h: &RtpHeader, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    build_into(h, payload, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> RtpHeader {
        RtpHeader {
            marker: true,
            payload_type: 8,
            sequence: 0xfffe,
            timestamp: 0xdead_beef,
            ssrc: 0x0102_0304,
        }
    }

    #[test]
    fn build_then_parse() {
        let pkt = build(&header(), &[1, 2, 3]);
        assert_eq!(pkt.len(), 15);
        assert_eq!(pkt[0], 0x80);
        assert_eq!(pkt[1], 0x88);
        let p = parse(&pkt).unwrap();
        assert_eq!(p.header, header());
        assert_eq!(p.payload, &[1, 2, 3]);
        let mut reused = Vec::new();
        build_into(&RtpHeader::default(), &[], &mut reused);
        assert_eq!(parse(&reused).unwrap().payload, &[] as &[u8]);
    }

    #[test]
    fn skips_csrc_extension_and_padding() {
        let mut pkt = build(&header(), &[]);
        pkt[0] |= 0x20 | 0x10 | 2; // padding, extension, two CSRCs
        pkt.extend_from_slice(&[0xaa; 8]); // CSRCs
        pkt.extend_from_slice(&[0xbe, 0xde, 0, 1, 9, 9, 9, 9]); // one-word extension
        pkt.extend_from_slice(&[5, 6, 7]); // payload
        pkt.extend_from_slice(&[0, 0, 3]); // three bytes of padding
        let p = parse(&pkt).unwrap();
        assert_eq!(p.payload, &[5, 6, 7]);
        assert_eq!(p.header.ssrc, 0x0102_0304);
    }

    #[test]
    fn malformed_input_is_rejected() {
        assert!(parse(&[]).is_none());
        assert!(parse(&[0x80; 11]).is_none());
        let good = build(&header(), &[1, 2]);
        let mut v1 = good.clone();
        v1[0] = 0x40; // version 1
        assert!(parse(&v1).is_none());
        let mut csrc = good.clone();
        csrc[0] |= 0x0f; // 15 CSRCs announced, none present
        assert!(parse(&csrc).is_none());
        let mut ext = good.clone();
        ext[0] |= 0x10; // extension header cut short
        assert!(parse(&ext).is_none());
        let mut ext_len = build(&header(), &[0xbe, 0xde, 0xff, 0xff]);
        ext_len[0] |= 0x10; // extension longer than the datagram
        assert!(parse(&ext_len).is_none());
        let mut pad = good.clone();
        pad[0] |= 0x20;
        *pad.last_mut().unwrap() = 3; // more padding than payload
        assert!(parse(&pad).is_none());
        let mut zero_pad = good;
        zero_pad[0] |= 0x20;
        *zero_pad.last_mut().unwrap() = 0;
        assert!(parse(&zero_pad).is_none());
    }

    #[test]
    fn never_panics_on_noise() {
        let mut seed = 0x1234_5678u32;
        for len in 0..200 {
            let buf: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 17;
                    seed ^= seed << 5;
                    (seed & 0xff) as u8 | 0x80
                })
                .collect();
            let _ = parse(&buf);
        }
    }
}
