use super::*;

/// An offer as sent by a desktop softphone (Linphone-like): audio + video,
/// ICE candidates, explicit RTCP ports, LF line endings.
const SOFTPHONE: &str = "v=0
o=alice 1837 2934 IN IP4 192.168.1.23
s=Talk
c=IN IP4 192.168.1.23
t=0 0
a=ice-pwd:2b4a2f8c5d1e7a9f0b3c6d8e
a=ice-ufrag:8f1c2a3b
a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics
m=audio 7078 RTP/AVP 96 97 98 0 8 18 101 99 100
a=rtpmap:96 opus/48000/2
a=fmtp:96 useinbandfec=1
a=rtpmap:97 speex/16000
a=fmtp:97 vbr=on
a=rtpmap:98 speex/8000
a=rtpmap:101 telephone-event/48000
a=rtpmap:99 telephone-event/16000
a=rtpmap:100 telephone-event/8000
a=fmtp:18 annexb=yes
a=rtcp:7079
a=candidate:1 1 UDP 2130706431 192.168.1.23 7078 typ host
a=candidate:1 2 UDP 2130706430 192.168.1.23 7079 typ host
a=candidate:2 1 UDP 1694498815 203.0.113.7 41092 typ srflx raddr 192.168.1.23 rport 7078
a=candidate:2 2 UDP 1694498814 203.0.113.7 41093 typ srflx raddr 192.168.1.23 rport 7079
m=video 9078 RTP/AVP 96 97
a=rtpmap:96 VP8/90000
a=rtpmap:97 H264/90000
a=fmtp:97 profile-level-id=42801F
a=rtcp-fb:* nack pli
a=rtcp:9079
a=candidate:1 1 UDP 2130706431 192.168.1.23 9078 typ host
a=candidate:1 2 UDP 2130706430 192.168.1.23 9079 typ host
";

/// A re-INVITE putting the call on hold, RFC 3264 style, CRLF endings.
const HOLD_SENDONLY: &str = "v=0\r\no=- 3890 3891 IN IP4 10.0.0.5\r\ns=-\r\n\
c=IN IP4 10.0.0.5\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 101\r\n\
a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=sendonly\r\n";

/// An old-style (RFC 2543) hold: connection address 0.0.0.0.
const HOLD_ZERO: &str = "v=0\r\no=- 1 2 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 0.0.0.0\r\n\
t=0 0\r\nm=audio 4000 RTP/AVP 8\r\n";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn parses_a_softphone_offer() {
    let sd = parse(SOFTPHONE).unwrap();
    let o = sd.origin().unwrap();
    assert_eq!((o.session_id.as_str(), o.version), ("1837", 2934));
    assert_eq!(sd.connection().unwrap().ip(), Some(ip("192.168.1.23")));
    assert_eq!(sd.media().len(), 2);
    let audio = sd.audio().unwrap();
    assert_eq!(
        (audio.media(), audio.port(), audio.proto()),
        ("audio", 7078, "RTP/AVP")
    );
    assert!(audio.connection().is_none());
    assert_eq!(audio.rtpmaps().count(), 6);
    assert_eq!(audio.attribute("rtcp"), Some("7079"));
    assert_eq!(audio.encoding(0), Some(("PCMU".to_string(), 8000)));
    assert_eq!(audio.encoding(96), Some(("opus".to_string(), 48000)));
    let video = &sd.media()[1];
    assert_eq!((video.media(), video.port()), ("video", 9078));
    assert_eq!(video.formats(), ["96", "97"]);
    assert_eq!(sd.audio_direction(), Direction::SendRecv);
    assert!(!sd.is_on_hold());
    assert_eq!(sd.attributes().len(), 3);
}

#[test]
fn remote_audio_uses_session_or_media_connection() {
    let sd = parse(SOFTPHONE).unwrap();
    assert_eq!(
        sd.remote_audio(),
        Some("192.168.1.23:7078".parse().unwrap())
    );
    let media_level = "v=0\no=- 1 1 IN IP4 10.0.0.1\ns=-\nc=IN IP4 10.0.0.1\nt=0 0\n\
        m=audio 5004 RTP/AVP 0\nc=IN IP4 198.51.100.9\n";
    let sd = parse(media_level).unwrap();
    assert_eq!(
        sd.remote_audio(),
        Some("198.51.100.9:5004".parse().unwrap())
    );
    let v6 = "v=0\no=- 1 1 IN IP6 ::1\ns=-\nt=0 0\nm=audio 6000 RTP/AVP 8\nc=IN IP6 2001:db8::7\n";
    let sd = parse(v6).unwrap();
    assert_eq!(
        sd.remote_audio(),
        Some("[2001:db8::7]:6000".parse().unwrap())
    );
    let host =
        "v=0\no=- 1 1 IN IP4 h\ns=-\nc=IN IP4 pbx.example.com\nt=0 0\nm=audio 6000 RTP/AVP 8\n";
    assert_eq!(parse(host).unwrap().remote_audio(), None);
    assert!(!parse(host).unwrap().is_on_hold());
    let no_c = "v=0\no=- 1 1 IN IP4 h\ns=-\nt=0 0\nm=audio 6000 RTP/AVP 8\n";
    assert_eq!(parse(no_c).unwrap().remote_audio(), None);
}

#[test]
fn hold_forms() {
    let sd = parse(HOLD_SENDONLY).unwrap();
    assert_eq!(sd.remote_audio(), Some("10.0.0.5:4000".parse().unwrap()));
    assert_eq!(sd.audio_direction(), Direction::SendOnly);
    assert!(sd.is_on_hold());

    let sd = parse(HOLD_ZERO).unwrap();
    assert_eq!(sd.remote_audio(), None);
    assert!(sd.is_on_hold());
    assert_eq!(sd.audio_formats(), [8]);

    let session_inactive = "v=0\no=- 1 1 IN IP4 h\ns=-\nc=IN IP4 10.1.1.1\nt=0 0\na=inactive\n\
        m=audio 6000 RTP/AVP 8\n";
    let sd = parse(session_inactive).unwrap();
    assert_eq!(sd.audio_direction(), Direction::Inactive);

    let disabled = "v=0\no=- 1 1 IN IP4 h\ns=-\nc=IN IP4 10.1.1.1\nt=0 0\nm=audio 0 RTP/AVP 0\n";
    let sd = parse(disabled).unwrap();
    assert_eq!(sd.remote_audio(), None);
    assert!(!sd.is_on_hold());
}

#[test]
fn parse_errors() {
    assert_eq!(parse(""), Err(SdpError::MissingVersion));
    assert_eq!(
        parse("o=- 1 1 IN IP4 h\nv=0\nm=audio 1 RTP/AVP 0\n"),
        Err(SdpError::MissingVersion)
    );
    assert_eq!(
        parse("v=1\nm=audio 1 RTP/AVP 0\n"),
        Err(SdpError::MissingVersion)
    );
    assert_eq!(
        parse("v=0\no=- 1 1 IN IP4 h\ns=-\n"),
        Err(SdpError::NoMedia)
    );
    assert!(matches!(
        parse("v=0\nm=audio 70000 RTP/AVP 0\n"),
        Err(SdpError::BadPort(_))
    ));
    assert!(matches!(
        parse("v=0\nm=audio x RTP/AVP 0\n"),
        Err(SdpError::BadPort(_))
    ));
    assert!(matches!(
        parse("v=0\nm=audio 5/x RTP/AVP 0\n"),
        Err(SdpError::BadPort(_))
    ));
    assert!(matches!(
        parse("v=0\nm=audio 5\n"),
        Err(SdpError::BadMedia(_))
    ));
    assert!(matches!(
        parse("v=0\nc=IN IP4\nm=audio 5 RTP/AVP 0\n"),
        Err(SdpError::BadConnection(_))
    ));
    assert_eq!(
        parse("v=0\nhello\nm=audio 5 RTP/AVP 0\n"),
        Err(SdpError::BadLine(2))
    );
    assert_eq!(
        parse("v=0\nX=1\nm=audio 5 RTP/AVP 0\n"),
        Err(SdpError::BadLine(2))
    );
    // Non-ASCII and odd bytes never panic.
    assert!(parse("v=0\né=1\n").is_err());
    assert!(parse("\u{0}\u{0}").is_err());
    let sd = parse("v=0\r\n\r\nm=audio 5/2 RTP/AVP 0 \r\n\r\n").unwrap();
    assert_eq!(sd.audio().unwrap().port_count(), Some(2));
}

#[test]
fn audio_formats_and_acceptability() {
    let sd = parse(SOFTPHONE).unwrap();
    assert_eq!(sd.audio_formats(), [96, 97, 98, 0, 8, 18, 101, 99, 100]);
    assert!(sd.has_acceptable_audio());

    let only_opus = "v=0\nc=IN IP4 1.2.3.4\nm=audio 5 RTP/AVP 111 101\n\
        a=rtpmap:111 opus/48000/2\na=rtpmap:101 telephone-event/8000\n";
    let sd = parse(only_opus).unwrap();
    assert_eq!(sd.audio_formats(), [111, 101]);
    assert!(!sd.has_acceptable_audio());

    let dynamic_pcma = "v=0\nc=IN IP4 1.2.3.4\nm=audio 5 RTP/AVP 120\na=rtpmap:120 pcma/8000\n";
    assert!(parse(dynamic_pcma).unwrap().has_acceptable_audio());
    let wideband = "v=0\nc=IN IP4 1.2.3.4\nm=audio 5 RTP/AVP 120\na=rtpmap:120 PCMU/16000\n";
    assert!(!parse(wideband).unwrap().has_acceptable_audio());
    let static_only = "v=0\nc=IN IP4 1.2.3.4\nm=audio 5 RTP/AVP 8\n";
    assert!(parse(static_only).unwrap().has_acceptable_audio());
    let g729 = "v=0\nc=IN IP4 1.2.3.4\nm=audio 5 RTP/AVP 18\n";
    assert!(!parse(g729).unwrap().has_acceptable_audio());
    let video_only = "v=0\nc=IN IP4 1.2.3.4\nm=video 5 RTP/AVP 0\n";
    let sd = parse(video_only).unwrap();
    assert!(!sd.has_acceptable_audio());
    assert!(sd.audio_formats().is_empty());
    assert_eq!(sd.remote_audio(), None);
}

#[test]
fn rewrite_softphone_offer_for_relay() {
    let sd = parse(SOFTPHONE).unwrap();
    let out = sd.rewrite_for_relay(ip("203.0.113.1"), 20000, 42);
    assert!(out.ends_with("\r\n"));
    assert!(!out.replace("\r\n", "").contains('\n'));
    let lines: Vec<&str> = out.split_terminator("\r\n").collect();
    assert_eq!(lines[0], "v=0");
    assert_eq!(lines[1], "o=alice 1837 2934 IN IP4 203.0.113.1");
    assert!(lines.contains(&"c=IN IP4 203.0.113.1"));
    assert!(lines.contains(&"m=audio 20000 RTP/AVP 96 97 98 0 8 18 101 99 100"));
    assert!(lines.contains(&"m=video 0 RTP/AVP 96 97"));
    assert!(lines.contains(&"a=rtpmap:101 telephone-event/48000"));
    assert!(lines.contains(&"a=rtcp-fb:* nack pli"));
    assert!(
        lines.contains(&"a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics")
    );
    assert!(!out.contains("192.168.1.23"));
    assert!(!out.contains("a=rtcp:"));
    assert!(!out.contains("candidate"));
    assert!(!out.contains("ice-"));
    // The rewritten text parses back to what we advertise.
    let back = parse(&out).unwrap();
    assert_eq!(
        back.remote_audio(),
        Some("203.0.113.1:20000".parse().unwrap())
    );
    assert_eq!(back.media()[1].port(), 0);
    assert_eq!(back.media().len(), 2);
}

#[test]
fn rewrite_keeps_disabled_audio_and_hold_attributes() {
    let disabled =
        "v=0\no=- 5 6 IN IP4 10.1.1.1\ns=-\nc=IN IP4 10.1.1.1\nt=0 0\nm=audio 0 RTP/AVP 0\n";
    let out = parse(disabled)
        .unwrap()
        .rewrite_for_relay(ip("192.0.2.1"), 30000, 1);
    assert!(out.contains("m=audio 0 RTP/AVP 0\r\n"));

    let out = parse(HOLD_SENDONLY)
        .unwrap()
        .rewrite_for_relay(ip("192.0.2.1"), 30000, 1);
    let back = parse(&out).unwrap();
    assert_eq!(back.audio_direction(), Direction::SendOnly);
    assert_eq!(
        back.remote_audio(),
        Some("192.0.2.1:30000".parse().unwrap())
    );

    // c=0.0.0.0 hold: the other leg gets our address and can keep sending.
    let out = parse(HOLD_ZERO)
        .unwrap()
        .rewrite_for_relay(ip("192.0.2.1"), 30002, 1);
    assert!(out.contains("c=IN IP4 192.0.2.1\r\n"));
    assert!(out.contains("m=audio 30002 RTP/AVP 8\r\n"));
}

#[test]
fn rewrite_origin_version_and_ipv6() {
    let mut sd = parse(HOLD_SENDONLY).unwrap();
    sd.set_origin_version(3892);
    let out = sd.rewrite_for_relay(ip("2001:db8::1"), 40000, 9);
    assert!(out.contains("o=- 3890 3892 IN IP6 2001:db8::1\r\n"));
    assert!(out.contains("c=IN IP6 2001:db8::1\r\n"));
    assert_eq!(sd.origin().map(|o| o.version), Some(3892));
    assert!(sd.to_string().contains("o=- 3890 3892 IN IP4 10.0.0.5\r\n"));
}

#[test]
fn rewrite_synthesises_missing_origin_and_connection() {
    // No o= and no c= anywhere: both are created.
    let bare = "v=0\ns=-\nt=0 0\nm=audio 7000 RTP/AVP 0\ni=voice\na=ptime:20\n";
    let out = parse(bare)
        .unwrap()
        .rewrite_for_relay(ip("192.0.2.1"), 30000, 77);
    let lines: Vec<&str> = out.split_terminator("\r\n").collect();
    assert_eq!(
        lines,
        [
            "v=0",
            "o=- 77 77 IN IP4 192.0.2.1",
            "s=-",
            "t=0 0",
            "m=audio 30000 RTP/AVP 0",
            "i=voice",
            "c=IN IP4 192.0.2.1",
            "a=ptime:20",
        ]
    );
    // A malformed o= is replaced in place; the caller's version wins.
    let mut sd = parse("v=0\no=garbage\ns=-\nm=audio 7000 RTP/AVP 0\n").unwrap();
    assert!(sd.origin().is_none());
    sd.set_origin_version(5);
    let out = sd.rewrite_for_relay(ip("192.0.2.1"), 30000, 77);
    assert!(out.starts_with("v=0\r\no=- 77 5 IN IP4 192.0.2.1\r\ns=-\r\n"));
    assert!(out.ends_with("m=audio 30000 RTP/AVP 0\r\nc=IN IP4 192.0.2.1\r\n"));
}

#[test]
fn reemits_all_lines_with_crlf() {
    let sd = parse(SOFTPHONE).unwrap();
    assert_eq!(sd.to_string(), SOFTPHONE.replace('\n', "\r\n"));
    assert_eq!(sd.lines().len(), SOFTPHONE.lines().count());
}
