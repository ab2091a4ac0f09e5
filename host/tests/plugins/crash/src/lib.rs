//! Hostile: panics in on-terminate; executes `unreachable` in on-originate.

wit_bindgen::generate!({ path: "../../../../wit/v0.1", world: "plugin" });

use centrale::plugin::types::{Call, CallSummary, Decision};
use exports::centrale::plugin::hooks::Guest;

struct Crash;

impl Guest for Crash {
    fn on_originate(_call: Call) -> Decision {
        core::arch::wasm32::unreachable()
    }

    fn on_terminate(call: Call) -> Decision {
        panic!("boom on {}", call.id)
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

export!(Crash);
