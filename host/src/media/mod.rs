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
//!   to the other. Destinations come from SDP; [`latch`] decides which
//!   sources a side accepts (the signalled address, or the peer behind NAT
//!   within a window after offer/answer; never a stranger).
//!   Dropping the bridge aborts the tasks, closes the sockets and frees the
//!   ports.
//!
//! Legs the host terminates itself (IVR, voicemail) get a [`MediaEndpoint`]
//! instead of a bridge half: it plays samples, collects digits and records.
//! Its building blocks:
//! - [`g711`]: PCMU/PCMA ([`Codec`]), payload types 0/8.
//! - [`rtp`]: RTP packet parsing and building.
//! - [`dtmf`]: RFC 4733 telephone-event payloads and a detector giving one
//!   digit per key press.
//! - [`tone`]: beep, busy, ringback and error tones as 8 kHz samples.
//! - [`wav`]: loading 8 kHz mono 16-bit WAV prompts and writing recordings
//!   incrementally ([`wav::WavSink`]).
//! - [`endpoint`]: the endpoint itself; [`sdp::negotiate`],
//!   [`sdp::endpoint_answer`] and [`sdp::endpoint_offer`] do its SDP.

pub mod dtmf;
pub mod endpoint;
pub mod g711;
pub mod latch;
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
pub use latch::{Expect, Latch};
pub use ports::{PortAllocator, PortLease};
pub use relay::{Bridge, BridgeStats, MediaEngine, MediaError, Side};
pub use sdp::{SdpError, SessionDescription};
