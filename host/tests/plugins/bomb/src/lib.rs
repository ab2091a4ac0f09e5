//! Hostile: allocates until allocation fails in on-terminate; recurses
//! without bound in on-originate.

wit_bindgen::generate!({ path: "../../../../wit/v0.1", world: "plugin" });

use centrale::plugin::types::{Call, CallSummary, Decision};
use exports::centrale::plugin::hooks::Guest;

struct Bomb;

#[inline(never)]
fn recurse(depth: u64, pad: [u64; 16]) -> u64 {
    let pad = std::hint::black_box(pad);
    if std::hint::black_box(depth) == u64::MAX {
        return 0;
    }
    std::hint::black_box(recurse(depth + 1, pad)) + pad[(depth % 16) as usize]
}

impl Guest for Bomb {
    fn on_originate(_call: Call) -> Decision {
        std::hint::black_box(recurse(0, [1; 16]));
        Decision::Proceed
    }

    fn on_terminate(_call: Call) -> Decision {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        loop {
            let mut chunk = vec![0u8; 1 << 20];
            chunk[0] = 1;
            hoard.push(std::hint::black_box(chunk));
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

export!(Bomb);
