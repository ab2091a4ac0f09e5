//! The building blocks of a [`SessionDescription`](super::SessionDescription).

use std::fmt;
use std::net::IpAddr;

/// Why a body could not be parsed as SDP.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    /// A non-empty line is not of the form `x=value` (1-based line number).
    #[error("SDP line {0} is not of the form x=value")]
    BadLine(usize),
    /// The description does not start with `v=0`.
    #[error("SDP does not start with v=0")]
    MissingVersion,
    /// The description has no `m=` line.
    #[error("SDP has no m= line")]
    NoMedia,
    /// An `m=` line carries a port (or port count) that is not a 16-bit number.
    #[error("bad port in m= line {0:?}")]
    BadPort(String),
    /// An `m=` line has fewer than three fields.
    #[error("malformed m= line {0:?}")]
    BadMedia(String),
    /// A `c=` line is not `<nettype> <addrtype> <address>`.
    #[error("malformed c= line {0:?}")]
    BadConnection(String),
}

/// One `x=value` line of a description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The type letter (`v`, `o`, `c`, `m`, `a`, ...).
    pub kind: char,
    /// Everything after the `=`.
    pub value: String,
}

/// The parsed `o=` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// `<username>` (often `-`).
    pub username: String,
    /// `<sess-id>`, kept verbatim.
    pub session_id: String,
    /// `<sess-version>`, bumped whenever the description changes.
    pub version: u64,
    /// `<nettype>` (normally `IN`).
    pub net_type: String,
    /// `<addrtype>` (`IP4` or `IP6`).
    pub addr_type: String,
    /// `<unicast-address>`.
    pub address: String,
}

impl Origin {
    pub(super) fn parse(v: &str) -> Option<Self> {
        let f: Vec<&str> = v.split_ascii_whitespace().collect();
        let [user, id, version, net, addr_type, address] = f.as_slice() else {
            return None;
        };
        Some(Origin {
            username: (*user).to_string(),
            session_id: (*id).to_string(),
            version: version.parse().ok()?,
            net_type: (*net).to_string(),
            addr_type: (*addr_type).to_string(),
            address: (*address).to_string(),
        })
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = self;
        write!(f, "{} {} {} ", o.username, o.session_id, o.version)?;
        write!(f, "{} {} {}", o.net_type, o.addr_type, o.address)
    }
}

/// A parsed `c=` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    /// `<nettype>` (normally `IN`).
    pub net_type: String,
    /// `<addrtype>` (`IP4` or `IP6`).
    pub addr_type: String,
    /// `<connection-address>`, possibly with a `/ttl` suffix or a host name.
    pub address: String,
}

impl Connection {
    pub(super) fn parse(v: &str) -> Result<Self, SdpError> {
        let f: Vec<&str> = v.split_ascii_whitespace().collect();
        let [net, addr_type, address] = f.as_slice() else {
            return Err(SdpError::BadConnection(v.to_string()));
        };
        Ok(Connection {
            net_type: (*net).to_string(),
            addr_type: (*addr_type).to_string(),
            address: (*address).to_string(),
        })
    }

    /// The IP address, if the address is a literal (any `/ttl` suffix ignored).
    pub fn ip(&self) -> Option<IpAddr> {
        let a = self.address.split('/').next().unwrap_or_default();
        a.parse().ok()
    }
}

/// The media direction attribute (RFC 3264).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `a=sendrecv` (the default).
    SendRecv,
    /// `a=sendonly` (typically: the peer puts us on hold).
    SendOnly,
    /// `a=recvonly`.
    RecvOnly,
    /// `a=inactive`.
    Inactive,
}

impl Direction {
    pub(super) fn from_attr(a: &str) -> Option<Self> {
        match a {
            "sendrecv" => Some(Direction::SendRecv),
            "sendonly" => Some(Direction::SendOnly),
            "recvonly" => Some(Direction::RecvOnly),
            "inactive" => Some(Direction::Inactive),
            _ => None,
        }
    }
}

/// A parsed `a=rtpmap:<pt> <encoding>/<clock>[/<params>]` attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpMap {
    /// The RTP payload type.
    pub payload_type: u8,
    /// The encoding name as written (e.g. `PCMU`, `opus`, `telephone-event`).
    pub encoding: String,
    /// The clock rate in Hz.
    pub clock_rate: u32,
    /// Encoding parameters (channel count for audio), if any.
    pub params: Option<String>,
}

impl RtpMap {
    pub(super) fn parse(v: &str) -> Option<Self> {
        let (pt, rest) = v.trim().split_once(' ')?;
        let mut parts = rest.trim().split('/');
        let encoding = parts.next()?.to_string();
        let clock_rate = parts.next()?.trim().parse().ok()?;
        Some(RtpMap {
            payload_type: pt.parse().ok()?,
            encoding,
            clock_rate,
            params: parts.next().map(str::to_string),
        })
    }
}

/// The static audio payload types of RFC 3551 we may need to recognise.
fn static_encoding(pt: u8) -> Option<(&'static str, u32)> {
    match pt {
        0 => Some(("PCMU", 8000)),
        3 => Some(("GSM", 8000)),
        4 => Some(("G723", 8000)),
        8 => Some(("PCMA", 8000)),
        9 => Some(("G722", 8000)),
        18 => Some(("G729", 8000)),
        _ => None,
    }
}

/// One `m=` section: the media line and the lines that follow it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaSection {
    pub(super) media: String,
    pub(super) port: u16,
    pub(super) port_count: Option<u16>,
    pub(super) proto: String,
    pub(super) formats: Vec<String>,
    pub(super) connection: Option<Connection>,
    pub(super) attributes: Vec<String>,
}

impl MediaSection {
    pub(super) fn parse(v: &str) -> Result<Self, SdpError> {
        let f: Vec<&str> = v.split_ascii_whitespace().collect();
        let [media, port, proto, formats @ ..] = f.as_slice() else {
            return Err(SdpError::BadMedia(v.to_string()));
        };
        let bad_port = || SdpError::BadPort(v.to_string());
        let (port, count) = match port.split_once('/') {
            Some((p, c)) => (p, Some(c.parse().map_err(|_| bad_port())?)),
            None => (*port, None),
        };
        Ok(MediaSection {
            media: (*media).to_string(),
            port: port.parse().map_err(|_| bad_port())?,
            port_count: count,
            proto: (*proto).to_string(),
            formats: formats.iter().map(|s| (*s).to_string()).collect(),
            connection: None,
            attributes: Vec::new(),
        })
    }

    /// The media type (`audio`, `video`, `application`, ...).
    pub fn media(&self) -> &str {
        &self.media
    }

    /// The transport port (0 = stream rejected/disabled).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The `/<number of ports>` suffix of the port, if present.
    pub fn port_count(&self) -> Option<u16> {
        self.port_count
    }

    /// The transport protocol (`RTP/AVP`, `RTP/SAVPF`, ...).
    pub fn proto(&self) -> &str {
        &self.proto
    }

    /// The format list as written (payload types for RTP).
    pub fn formats(&self) -> &[String] {
        &self.formats
    }

    /// The media-level `c=` line, if any.
    pub fn connection(&self) -> Option<&Connection> {
        self.connection.as_ref()
    }

    /// The raw values of the section's `a=` lines, in order.
    pub fn attributes(&self) -> &[String] {
        &self.attributes
    }

    /// The value of the first attribute `name` (`""` for a flag attribute).
    pub fn attribute(&self, name: &str) -> Option<&str> {
        find_attribute(&self.attributes, name)
    }

    /// The direction attribute of this section, if it has one.
    pub fn direction(&self) -> Option<Direction> {
        find_direction(&self.attributes)
    }

    /// All parseable `a=rtpmap` attributes of this section.
    pub fn rtpmaps(&self) -> impl Iterator<Item = RtpMap> + '_ {
        self.attributes
            .iter()
            .filter_map(|a| a.strip_prefix("rtpmap:"))
            .filter_map(RtpMap::parse)
    }

    /// The numeric payload types of the format list (non-RTP formats skipped).
    pub fn payload_types(&self) -> Vec<u8> {
        let pts = self.formats.iter().filter_map(|f| f.parse::<u8>().ok());
        pts.filter(|pt| *pt < 128).collect()
    }

    /// The encoding name and clock rate of `pt`: its rtpmap, else the
    /// RFC 3551 static table.
    pub fn encoding(&self, pt: u8) -> Option<(String, u32)> {
        match self.rtpmaps().find(|m| m.payload_type == pt) {
            Some(m) => Some((m.encoding, m.clock_rate)),
            None => static_encoding(pt).map(|(e, r)| (e.to_string(), r)),
        }
    }
}

fn find_attribute<'a>(attrs: &'a [String], name: &str) -> Option<&'a str> {
    attrs.iter().find_map(|a| match a.split_once(':') {
        Some((n, v)) if n == name => Some(v),
        None if a == name => Some(""),
        _ => None,
    })
}

pub(super) fn find_direction(attrs: &[String]) -> Option<Direction> {
    attrs.iter().find_map(|a| Direction::from_attr(a.trim()))
}

/// Attributes that describe transport addresses we replace, so they must not
/// leak to the other leg: RTCP ports and ICE.
pub(super) fn is_transport_attribute(a: &str) -> bool {
    let name = a.split(':').next().unwrap_or_default();
    name == "rtcp"
        || name == "candidate"
        || name == "remote-candidates"
        || name == "end-of-candidates"
        || name.starts_with("ice-")
}
