//! SDP for legs the host terminates itself ([`MediaEndpoint`]): choosing a
//! codec from an offer, answering it, and offering.
//!
//! [`MediaEndpoint`]: crate::media::MediaEndpoint

use std::fmt::Write as _;
use std::net::IpAddr;

use super::{Direction, SessionDescription};
use crate::media::g711::Codec;

/// Picks the first of PCMU/PCMA in the offer's audio format order, and the
/// payload type of `telephone-event/8000` if offered. Only the static
/// payload types 0 and 8 count (with or without an `rtpmap`, which must then
/// agree). `None` when the audio stream is missing, disabled (port 0) or
/// offers no G.711.
pub fn negotiate(offer: &SessionDescription) -> Option<(Codec, Option<u8>)> {
    let audio = offer.audio().filter(|m| m.port() != 0)?;
    let pts = audio.payload_types();
    let codec = pts.iter().find_map(|pt| {
        let codec = Codec::from_payload_type(*pt)?;
        let (name, rate) = audio.encoding(*pt)?;
        (rate == 8000 && name.eq_ignore_ascii_case(codec.name())).then_some(codec)
    })?;
    let te = audio
        .rtpmaps()
        .find(|m| {
            m.encoding.eq_ignore_ascii_case("telephone-event")
                && m.clock_rate == 8000
                && pts.contains(&m.payload_type)
        })
        .map(|m| m.payload_type);
    Some((codec, te))
}

/// `IP4` or `IP6`.
fn addr_type(ip: IpAddr) -> &'static str {
    if ip.is_ipv4() {
        "IP4"
    } else {
        "IP6"
    }
}

/// Writes the lines shared by answers and offers, up to the `m=` line.
fn head(out: &mut String, ip: IpAddr, session_id: u64) {
    let t = addr_type(ip);
    let _ = write!(
        out,
        "v=0\r\no=- {session_id} {session_id} IN {t} {ip}\r\ns=-\r\nc=IN {t} {ip}\r\nt=0 0\r\n"
    );
}

fn telephone_event(out: &mut String, pt: u8) {
    let _ = write!(
        out,
        "a=rtpmap:{pt} telephone-event/8000\r\na=fmtp:{pt} 0-16\r\n"
    );
}

/// A complete answer to `offer` for an endpoint at `ip:port`: the chosen
/// codec (its static payload type) and `te_pt`, their `rtpmap` lines,
/// `a=fmtp:<te> 0-16`, `a=ptime:20` and the direction mirroring the offer's
/// (`a=sendrecv` normally; `recvonly` to a `sendonly` offer, and so on).
/// Lines end with CRLF.
pub fn endpoint_answer(
    offer: &SessionDescription,
    ip: IpAddr,
    port: u16,
    codec: Codec,
    te_pt: Option<u8>,
    session_id: u64,
) -> String {
    let mut out = String::with_capacity(300);
    head(&mut out, ip, session_id);
    let pt = codec.payload_type();
    let _ = write!(out, "m=audio {port} RTP/AVP {pt}");
    if let Some(te) = te_pt {
        let _ = write!(out, " {te}");
    }
    let _ = write!(out, "\r\na=rtpmap:{pt} {}/8000\r\n", codec.name());
    if let Some(te) = te_pt {
        telephone_event(&mut out, te);
    }
    let direction = match offer.audio_direction() {
        Direction::SendRecv => "sendrecv",
        Direction::SendOnly => "recvonly",
        Direction::RecvOnly => "sendonly",
        Direction::Inactive => "inactive",
    };
    let _ = write!(out, "a=ptime:20\r\na={direction}\r\n");
    out
}

/// An offer for an endpoint at `ip:port`: PCMU, PCMA and telephone-event
/// on payload type 101, 20 ms packets, sendrecv. Lines end with CRLF.
pub fn endpoint_offer(ip: IpAddr, port: u16, session_id: u64) -> String {
    let mut out = String::with_capacity(300);
    head(&mut out, ip, session_id);
    let _ = write!(
        out,
        "m=audio {port} RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
    );
    telephone_event(&mut out, 101);
    out.push_str("a=ptime:20\r\na=sendrecv\r\n");
    out
}

/// An offer of exactly `codec` (and `te_pt` when set), 20 ms packets,
/// sendrecv: what an endpoint bridged to a caller offers the other party,
/// so that both sides send the same payload types. Lines end with CRLF.
pub fn codec_offer(
    ip: IpAddr,
    port: u16,
    codec: Codec,
    te_pt: Option<u8>,
    session_id: u64,
) -> String {
    let mut out = String::with_capacity(300);
    head(&mut out, ip, session_id);
    let pt = codec.payload_type();
    let _ = write!(out, "m=audio {port} RTP/AVP {pt}");
    if let Some(te) = te_pt {
        let _ = write!(out, " {te}");
    }
    let _ = write!(out, "\r\na=rtpmap:{pt} {}/8000\r\n", codec.name());
    if let Some(te) = te_pt {
        telephone_event(&mut out, te);
    }
    out.push_str("a=ptime:20\r\na=sendrecv\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::*;

    fn offer(m: &str, attrs: &str) -> SessionDescription {
        let text = format!(
            "v=0\r\no=- 1 1 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\n{m}\r\n{attrs}"
        );
        parse(&text).unwrap()
    }

    #[test]
    fn negotiate_follows_the_offer_order() {
        let o = offer(
            "m=audio 4000 RTP/AVP 96 8 0 100 101",
            "a=rtpmap:96 opus/48000/2\r\na=rtpmap:100 telephone-event/48000\r\n\
             a=rtpmap:101 telephone-event/8000\r\n",
        );
        assert_eq!(negotiate(&o), Some((Codec::Pcma, Some(101))));
        let o = offer("m=audio 4000 RTP/AVP 0 8", "");
        assert_eq!(negotiate(&o), Some((Codec::Pcmu, None)));
        // The telephone-event payload type must be in the format list.
        let o = offer(
            "m=audio 4000 RTP/AVP 0",
            "a=rtpmap:101 telephone-event/8000\r\n",
        );
        assert_eq!(negotiate(&o), Some((Codec::Pcmu, None)));
    }

    #[test]
    fn negotiate_refuses_what_we_cannot_do() {
        assert_eq!(negotiate(&offer("m=audio 4000 RTP/AVP 18 9", "")), None);
        assert_eq!(negotiate(&offer("m=audio 0 RTP/AVP 0", "")), None);
        // A dynamic PCMU is not the static one we send.
        let o = offer("m=audio 4000 RTP/AVP 96", "a=rtpmap:96 PCMU/8000\r\n");
        assert_eq!(negotiate(&o), None);
        // An rtpmap contradicting the static meaning is not trusted.
        let o = offer("m=audio 4000 RTP/AVP 0 8", "a=rtpmap:0 G729/8000\r\n");
        assert_eq!(negotiate(&o), Some((Codec::Pcma, None)));
        assert_eq!(negotiate(&offer("m=video 4000 RTP/AVP 0", "")), None);
    }

    #[test]
    fn answer_is_complete_and_parses() {
        let o = offer(
            "m=audio 4000 RTP/AVP 8 0 101",
            "a=rtpmap:101 telephone-event/8000\r\n",
        );
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let text = endpoint_answer(&o, ip, 30000, Codec::Pcma, Some(101), 42);
        assert_eq!(
            text,
            "v=0\r\no=- 42 42 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
             m=audio 30000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\n\
             a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n\
             a=ptime:20\r\na=sendrecv\r\n"
        );
        let back = parse(&text).unwrap();
        assert_eq!(negotiate(&back), Some((Codec::Pcma, Some(101))));
        assert_eq!(
            back.remote_audio(),
            Some("192.0.2.1:30000".parse().unwrap())
        );

        let hold = offer("m=audio 4000 RTP/AVP 0", "a=sendonly\r\n");
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        let text = endpoint_answer(&hold, v6, 30002, Codec::Pcmu, None, 7);
        assert!(text.contains("c=IN IP6 2001:db8::1\r\n"));
        assert!(text.contains("m=audio 30002 RTP/AVP 0\r\n"));
        assert!(text.contains("a=recvonly\r\n"));
        assert!(!text.contains("telephone-event"));
    }

    #[test]
    fn offer_lists_both_codecs_and_events() {
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let text = endpoint_offer(ip, 30004, 9);
        let sd = parse(&text).unwrap();
        assert_eq!(sd.audio_formats(), vec![0, 8, 101]);
        assert_eq!(negotiate(&sd), Some((Codec::Pcmu, Some(101))));
        assert!(text.contains("a=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n"));
        assert!(text.ends_with("\r\n"));
    }
}
