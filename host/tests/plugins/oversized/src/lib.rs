//! Hostile: returns a 1 MiB reject reason from on-terminate and 10,000
//! targets from on-originate.

wit_bindgen::generate!({ path: "../../../../wit/v0.1", world: "plugin" });

use centrale::plugin::types::{Call, CallSummary, Decision};
use exports::centrale::plugin::hooks::Guest;

use centrale::plugin::types::Rejection;

struct Oversized;

impl Guest for Oversized {
    fn on_originate(_call: Call) -> Decision {
        Decision::AddTargets((0..10_000).map(|i| format!("{}", 1000 + i)).collect())
    }

    fn on_terminate(_call: Call) -> Decision {
        Decision::Reject(Rejection {
            code: 486,
            reason: "x".repeat(1 << 20),
            announcement: None,
        })
    }

    fn on_no_answer(_call: Call) -> Decision {
        Decision::Proceed
    }

    fn on_busy(_call: Call) -> Decision {
        Decision::Proceed
    }

    fn on_unreachable(_call: Call) -> Decision {
        Decision::Proceed
    }

    fn on_call_ended(_summary: CallSummary) {}
}

export!(Oversized);
