//! One side of a B2BUA call as a SIP dialog (RFC 3261 §12): enough state to
//! build in-dialog requests (BYE, re-INVITE, INFO) and ACKs.

use crate::sip::message::Request;
use crate::sip::transaction::ServerTx;
use crate::sip::uri::NameAddr;
use crate::sip::{Peer, Response};

/// Dialog state of one leg.
#[derive(Debug, Clone)]
pub struct Dialog {
    pub call_id: String,
    /// Our tag.
    pub local_tag: String,
    /// Our address header value, with our tag.
    pub local: String,
    /// The peer's address header value, with its tag.
    pub remote: String,
    /// Where in-dialog requests go (the peer's Contact URI).
    pub remote_target: String,
    /// Route set, in the order to put in Route headers.
    pub route_set: Vec<String>,
    /// Our next CSeq is this plus one.
    pub local_cseq: u32,
    /// Highest CSeq the peer used.
    pub remote_cseq: u32,
    /// Transport address we exchange messages with.
    pub peer: Peer,
}

fn contact_uri(h: Option<&str>) -> Option<String> {
    h.and_then(|c| NameAddr::parse(c).ok()).map(|n| n.uri)
}

impl Dialog {
    /// The dialog we hold as UAS with the caller, after answering `tx` with
    /// our tag `local_tag`.
    pub fn as_uas(tx: &ServerTx, local_tag: &str) -> Self {
        let req = tx.request();
        let to = req.headers.get("To").unwrap_or("");
        Self {
            call_id: req.call_id().to_string(),
            local_tag: local_tag.to_string(),
            local: format!("{to};tag={local_tag}"),
            remote: req.headers.get("From").unwrap_or("").to_string(),
            remote_target: contact_uri(req.headers.get("Contact"))
                .unwrap_or_else(|| req.uri.clone()),
            route_set: req
                .headers
                .get_all("Record-Route")
                .map(str::to_string)
                .collect(),
            local_cseq: 0,
            remote_cseq: req.cseq().0,
            peer: tx.peer(),
        }
    }

    /// The dialog we hold as UAC after `resp` (a 2xx, or a 1xx with a tag)
    /// to our `req` sent to `peer`.
    pub fn as_uac(req: &Request, resp: &Response, peer: Peer) -> Self {
        let from = req.headers.get("From").unwrap_or("");
        let mut route_set: Vec<String> = resp
            .headers
            .get_all("Record-Route")
            .map(str::to_string)
            .collect();
        route_set.reverse();
        Self {
            call_id: req.call_id().to_string(),
            local_tag: crate::sip::uri::header_tag(from).unwrap_or_default(),
            local: from.to_string(),
            remote: resp.headers.get("To").unwrap_or("").to_string(),
            remote_target: contact_uri(resp.headers.get("Contact"))
                .unwrap_or_else(|| req.uri.clone()),
            route_set,
            local_cseq: req.cseq().0,
            remote_cseq: 0,
            peer,
        }
    }

    /// A new in-dialog request (CSeq incremented). The transaction layer
    /// adds Via and Max-Forwards.
    pub fn request(&mut self, method: &str, contact: &str) -> Request {
        self.local_cseq += 1;
        let mut r = Request::new(method, &self.remote_target);
        for route in &self.route_set {
            r.headers.push("Route", route.clone());
        }
        r.headers.push("From", self.local.clone());
        r.headers.push("To", self.remote.clone());
        r.headers.push("Call-ID", self.call_id.clone());
        r.headers
            .push("CSeq", format!("{} {method}", self.local_cseq));
        if method == "INVITE" || method == "UPDATE" {
            r.headers.push("Contact", format!("<{contact}>"));
        }
        r
    }

    /// The ACK for a 2xx to our INVITE with CSeq `cseq`.
    pub fn ack(&self, cseq: u32) -> Request {
        let mut r = Request::new("ACK", &self.remote_target);
        for route in &self.route_set {
            r.headers.push("Route", route.clone());
        }
        r.headers.push("Max-Forwards", "70");
        r.headers.push("From", self.local.clone());
        r.headers.push("To", self.remote.clone());
        r.headers.push("Call-ID", self.call_id.clone());
        r.headers.push("CSeq", format!("{cseq} ACK"));
        r
    }
}
