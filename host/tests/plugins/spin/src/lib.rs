//! Hostile: spins forever in on-terminate; floods host calls in on-originate.

wit_bindgen::generate!({ path: "../../../../wit/v0.1", world: "plugin" });

use centrale::plugin::types::{Call, CallSummary, Decision};
use exports::centrale::plugin::hooks::Guest;

struct Spin;

impl Guest for Spin {
    fn on_originate(_call: Call) -> Decision {
        let mut sum = 0u64;
        for _ in 0..1_000_000 {
            sum = sum.wrapping_add(centrale::plugin::schedule::now());
        }
        std::hint::black_box(sum);
        Decision::Proceed
    }

    fn on_terminate(_call: Call) -> Decision {
        let mut i = 0u64;
        loop {
            i = std::hint::black_box(i.wrapping_add(1));
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

export!(Spin);
