//! Hostile: asks the directory for another tenant's user (extension 201,
//! number +31201234567, id 7). Rejects with 403 naming what it found, so a
//! leak is visible; proceeds when everything comes back `none`.

wit_bindgen::generate!({ path: "../../../../wit/v0.1", world: "plugin" });

use centrale::plugin::types::{Call, CallSummary, Decision};
use exports::centrale::plugin::hooks::Guest;

use centrale::plugin::directory;
use centrale::plugin::types::Rejection;

struct Snoop;

impl Guest for Snoop {
    fn on_originate(_call: Call) -> Decision {
        Decision::Proceed
    }

    fn on_terminate(_call: Call) -> Decision {
        let mut found = Vec::new();
        if let Some(s) = directory::by_extension("201") {
            found.push(format!("ext:{}", s.display_name));
        }
        if let Some(s) = directory::by_number("+31201234567") {
            found.push(format!("number:{}", s.display_name));
        }
        if let Some(s) = directory::by_number("31201234567") {
            found.push(format!("digits:{}", s.display_name));
        }
        if let Some(s) = directory::by_id(7) {
            found.push(format!("id:{}", s.display_name));
        }
        if directory::is_reachable(7) {
            found.push("reachable".to_string());
        }
        if found.is_empty() {
            Decision::Proceed
        } else {
            Decision::Reject(Rejection {
                code: 403,
                reason: found.join(" "),
                announcement: None,
            })
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

export!(Snoop);
