//! SIP: message model and strict parser, UDP/TCP transports with a bounded
//! ingress queue, RFC 3261 transactions, digest authentication (RFC 7616 /
//! RFC 8760) and the registrar.
//!
//! This is Centrale's own SIP layer. The rest of the host talks to it through
//! [`transaction::Endpoint`] (send requests, answer [`transaction::ServerTx`]s)
//! and the [`transaction::Handler`] trait, a seam narrow enough to swap the
//! implementation.

pub mod auth;
pub mod digest;
pub mod framer;
pub mod message;
pub mod parse;
pub mod registrar;
pub mod transaction;
pub mod transport;
pub mod uri;

pub use message::{Headers, Message, Request, Response};
pub use transaction::{ClientTx, Endpoint, Handler, ServerTx, TuEvent};
pub use transport::{Peer, Transport, Transports};
