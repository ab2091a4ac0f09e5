//! Media anchoring: every call's RTP flows through the host.
//!
//! - [`sdp`]: parse the SDP each leg sends, learn where it wants audio
//!   ([`SessionDescription::remote_audio`]) and rewrite it for the other leg so
//!   that leg sends its media to us ([`SessionDescription::rewrite_for_relay`]:
//!   our address, our port, audio only, no RTCP/ICE attributes).
//! - [`ports`]: lease even RTP/RTCP port pairs round-robin from the configured
//!   range ([`PortAllocator`]); a lease frees its pair when dropped.
//! - [`relay`]: a [`MediaEngine`] creates one [`Bridge`] per call: two bound
//!   pairs (side A faces the caller, side B the callee) and four tasks, one per
//!   direction for RTP and for RTCP, copying datagrams unchanged from one side
//!   to the other. Destinations come from SDP and follow symmetric-RTP latching
//!   (the real source of a side's packets wins, NAT rebinding included).
//!   Dropping the bridge aborts the tasks, closes the sockets and frees the
//!   ports.

pub mod dtmf;
pub mod endpoint;
pub mod g711;
pub mod ports;
pub mod prompts;
pub mod relay;
pub mod rtp;
pub mod sdp;
pub mod tone;
pub mod wav;

pub use endpoint::{
    DigitWait, EndpointStats, MediaEndpoint, PlayEnd, RecordEnd, RecordOptions, Recorded,
};
pub use g711::Codec;
pub use ports::{PortAllocator, PortLease};
pub use relay::{Bridge, BridgeStats, MediaEngine, MediaError, Side};
pub use sdp::{SdpError, SessionDescription};
