//! A small SDP (RFC 4566) model for offer/answer in a B2BUA.
//!
//! The description keeps every line it was parsed from so it can be
//! re-emitted faithfully; on top of that it knows the origin (`o=`), the
//! session-level connection (`c=`) and every media section (`m=` with its own
//! `c=` and `a=` lines). [`SessionDescription::rewrite_for_relay`] produces the
//! description we hand to the other leg once media is anchored in the host.

use std::fmt::{self, Write as _};
use std::net::{IpAddr, SocketAddr};

mod endpoint;
#[cfg(test)]
mod tests;
mod types;

pub use endpoint::{codec_offer, endpoint_answer, endpoint_offer, negotiate};
use types::{find_direction, is_transport_attribute};
pub use types::{Connection, Direction, Line, MediaSection, Origin, RtpMap, SdpError};

/// A parsed session description that can be re-emitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    lines: Vec<Line>,
    origin: Option<Origin>,
    synthetic_version: Option<u64>,
    connection: Option<Connection>,
    attributes: Vec<String>,
    media: Vec<MediaSection>,
}

/// Parses an SDP body (CRLF or LF line endings; empty lines ignored).
pub fn parse(text: &str) -> Result<SessionDescription, SdpError> {
    let mut lines = Vec::new();
    for (n, raw) in text.split('\n').enumerate() {
        let raw = raw.trim_end_matches(['\r', ' ', '\t']);
        if raw.is_empty() {
            continue;
        }
        let mut chars = raw.chars();
        match (chars.next(), chars.next()) {
            (Some(kind), Some('=')) if kind.is_ascii_lowercase() => lines.push(Line {
                kind,
                value: chars.as_str().to_string(),
            }),
            _ => return Err(SdpError::BadLine(n + 1)),
        }
    }
    match lines.first() {
        Some(l) if l.kind == 'v' && l.value.trim() == "0" => {}
        _ => return Err(SdpError::MissingVersion),
    }
    let mut sd = SessionDescription {
        lines: Vec::new(),
        origin: None,
        synthetic_version: None,
        connection: None,
        attributes: Vec::new(),
        media: Vec::new(),
    };
    for line in &lines {
        let v = line.value.as_str();
        match (line.kind, sd.media.last_mut()) {
            ('m', _) => sd.media.push(MediaSection::parse(v)?),
            ('o', None) if sd.origin.is_none() => sd.origin = Origin::parse(v),
            ('c', None) => sd.connection = Some(Connection::parse(v)?),
            ('c', Some(m)) => m.connection = Some(Connection::parse(v)?),
            ('a', None) => sd.attributes.push(v.to_string()),
            ('a', Some(m)) => m.attributes.push(v.to_string()),
            _ => {}
        }
    }
    if sd.media.is_empty() {
        return Err(SdpError::NoMedia);
    }
    sd.lines = lines;
    Ok(sd)
}

impl SessionDescription {
    /// Every line as parsed (the `o=` line before any version change).
    pub fn lines(&self) -> &[Line] {
        &self.lines
    }

    /// The origin, if the `o=` line is present and well-formed.
    pub fn origin(&self) -> Option<&Origin> {
        self.origin.as_ref()
    }

    /// Sets the `o=` session version emitted from now on (RFC 3264 wants it
    /// bumped whenever the description we send on a dialog changes).
    pub fn set_origin_version(&mut self, version: u64) {
        match &mut self.origin {
            Some(o) => o.version = version,
            None => self.synthetic_version = Some(version),
        }
    }

    /// The session-level `c=` line, if any.
    pub fn connection(&self) -> Option<&Connection> {
        self.connection.as_ref()
    }

    /// The raw values of the session-level `a=` lines.
    pub fn attributes(&self) -> &[String] {
        &self.attributes
    }

    /// All media sections, in order.
    pub fn media(&self) -> &[MediaSection] {
        &self.media
    }

    fn audio_index(&self) -> Option<usize> {
        self.media
            .iter()
            .position(|m| m.media.eq_ignore_ascii_case("audio"))
    }

    /// The first `m=audio` section: the one stream we relay.
    pub fn audio(&self) -> Option<&MediaSection> {
        self.media.get(self.audio_index()?)
    }

    /// Where the peer wants to receive audio; `None` when the stream is
    /// disabled (port 0), on hold with `c=0.0.0.0`, or has no literal address.
    pub fn remote_audio(&self) -> Option<SocketAddr> {
        let m = self.audio()?;
        if m.port == 0 {
            return None;
        }
        let ip = m.connection.as_ref().or(self.connection.as_ref())?.ip()?;
        (!ip.is_unspecified()).then_some(SocketAddr::new(ip, m.port))
    }

    /// The audio direction: media-level, else session-level, else sendrecv.
    pub fn audio_direction(&self) -> Direction {
        self.audio()
            .and_then(MediaSection::direction)
            .or_else(|| find_direction(&self.attributes))
            .unwrap_or(Direction::SendRecv)
    }

    /// True when the peer holds the call: sendonly/inactive audio or an
    /// unspecified (`0.0.0.0`) audio address.
    pub fn is_on_hold(&self) -> bool {
        let unspecified = self.audio().is_some_and(|m| {
            let c = m.connection.as_ref().or(self.connection.as_ref());
            m.port != 0
                && c.and_then(Connection::ip)
                    .is_some_and(|ip| ip.is_unspecified())
        });
        matches!(
            self.audio_direction(),
            Direction::SendOnly | Direction::Inactive
        ) || unspecified
    }

    /// The numeric payload types offered on the audio stream.
    pub fn audio_formats(&self) -> Vec<u8> {
        self.audio()
            .map(MediaSection::payload_types)
            .unwrap_or_default()
    }

    /// True when the audio stream offers G.711 (PCMU or PCMA at 8 kHz),
    /// either as static payload type 0/8 or as a dynamic rtpmap.
    pub fn has_acceptable_audio(&self) -> bool {
        let Some(m) = self.audio() else { return false };
        m.payload_types().into_iter().any(|pt| {
            m.encoding(pt).is_some_and(|(enc, rate)| {
                rate == 8000
                    && (enc.eq_ignore_ascii_case("PCMU") || enc.eq_ignore_ascii_case("PCMA"))
            })
        })
    }

    /// The description to send to the other leg once media is anchored at
    /// `ip:port`: the `o=` and every `c=` address become `ip` (a `c=` is added
    /// to the audio section if none applied), the audio port becomes `port`
    /// (0 stays 0), every other `m=` line is rejected with port 0, and
    /// `a=rtcp:` and ICE attributes are dropped. A missing or malformed `o=`
    /// is synthesised with `session_id_hint` as session id (and version,
    /// unless [`set_origin_version`](Self::set_origin_version) was called).
    /// Lines end with CRLF.
    pub fn rewrite_for_relay(&self, ip: IpAddr, port: u16, session_id_hint: u64) -> String {
        let addr_type = if ip.is_ipv4() { "IP4" } else { "IP6" };
        let origin = match &self.origin {
            Some(o) => Origin {
                addr_type: addr_type.to_string(),
                address: ip.to_string(),
                ..o.clone()
            },
            None => Origin {
                username: "-".to_string(),
                session_id: session_id_hint.to_string(),
                version: self.synthetic_version.unwrap_or(session_id_hint),
                net_type: "IN".to_string(),
                addr_type: addr_type.to_string(),
                address: ip.to_string(),
            },
        };
        let audio = self.audio_index();
        let conn = format!("c=IN {addr_type} {ip}\r\n");
        let mut out = String::with_capacity(self.lines.len() * 40);
        let mut section: Option<usize> = None;
        let mut origin_done = false;
        let mut pending_conn = false;
        for line in &self.lines {
            if pending_conn && line.kind != 'i' {
                out.push_str(&conn);
                pending_conn = false;
            }
            match line.kind {
                'o' => {
                    if !origin_done {
                        let _ = write!(out, "o={origin}\r\n");
                    }
                    origin_done = true;
                }
                'c' => out.push_str(&conn),
                'm' => {
                    let idx = section.map_or(0, |s| s + 1);
                    section = Some(idx);
                    let Some(m) = self.media.get(idx) else {
                        continue;
                    };
                    let p = if Some(idx) == audio && m.port != 0 {
                        port
                    } else {
                        0
                    };
                    let _ = write!(out, "m={} {p} {}", m.media, m.proto);
                    for f in &m.formats {
                        let _ = write!(out, " {f}");
                    }
                    out.push_str("\r\n");
                    pending_conn = m.connection.is_none() && self.connection.is_none();
                }
                'a' if is_transport_attribute(&line.value) => {}
                kind => {
                    let _ = write!(out, "{kind}={}\r\n", line.value);
                    if kind == 'v' && !self.lines.iter().any(|l| l.kind == 'o') {
                        let _ = write!(out, "o={origin}\r\n");
                        origin_done = true;
                    }
                }
            }
        }
        if pending_conn {
            out.push_str(&conn);
        }
        out
    }
}

impl fmt::Display for SessionDescription {
    /// Re-emits the description (with any new origin version), CRLF-terminated.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut origin_done = false;
        for line in &self.lines {
            match (&self.origin, line.kind) {
                (Some(o), 'o') if !origin_done => {
                    origin_done = true;
                    write!(f, "o={o}\r\n")?;
                }
                (_, kind) => write!(f, "{kind}={}\r\n", line.value)?,
            }
        }
        Ok(())
    }
}
