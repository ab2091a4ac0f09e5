//! Hostile: reads kv although its manifest declares only log.

wit_bindgen::generate!({ path: "../../../../wit/v0.1", world: "plugin" });

use centrale::plugin::types::{Call, CallSummary, Decision};
use exports::centrale::plugin::hooks::Guest;

struct Sneaky;

impl Guest for Sneaky {
    fn on_originate(_call: Call) -> Decision {
        Decision::Proceed
    }

    fn on_terminate(_call: Call) -> Decision {
        centrale::plugin::log::write(centrale::plugin::log::Level::Info, "peeking");
        match centrale::plugin::kv::get("secret") {
            Some(_) => Decision::TreatAsBusy,
            None => Decision::Proceed,
        }
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

export!(Sneaky);
