//! Anonymous call rejection (UF-22, BroadWorks ACR).
//!
//! A call from a caller who withheld their identity is rejected before the
//! user's phones ring: 433 "Anonymity Disallowed", after the announcement
//! `anonymous-not-accepted`. Internal (intra-group) calls are never
//! rejected.
//!
//! "Anonymous" is the caller's privacy request (`Privacy: id`/`header`, or an
//! anonymous From). A network-asserted identity (P-Asserted-Identity) does
//! not make the caller identified to the user — privacy still applies
//! towards the callee, who would see no number — so such calls are rejected
//! too.
#![no_std]

use centrale_sdk::prelude::*;

struct AnonymousCallRejection;

impl Plugin for AnonymousCallRejection {
    fn on_terminate(call: &Call) -> Decision {
        if call.caller().is_anonymous() && !call.is_internal() {
            return Decision::reject(433, "Anonymity Disallowed")
                .announce("anonymous-not-accepted");
        }
        Decision::Proceed
    }
}

export_plugin!(AnonymousCallRejection);
