//! A well-behaved plugin: rejects anonymous callers with 433 and proves the
//! happy paths of settings, kv and log, and that no state survives between
//! invocations.

wit_bindgen::generate!({ path: "../../../../wit/v0.1", world: "plugin" });

use std::sync::atomic::{AtomicU32, Ordering};

use centrale::plugin::types::{
    Call, CallSummary, Decision, DiversionReason, Redirection, Rejection,
};
use centrale::plugin::{kv, log, settings};
use exports::centrale::plugin::hooks::Guest;

/// Incremented by every `on-originate`: a fresh instance always starts at 0.
static INVOCATIONS: AtomicU32 = AtomicU32::new(0);

struct Good;

fn redirect(destination: String) -> Decision {
    Decision::Redirect(Redirection {
        destination,
        reason: DiversionReason::Unknown,
    })
}

impl Guest for Good {
    fn on_originate(_call: Call) -> Decision {
        let n = INVOCATIONS.fetch_add(1, Ordering::SeqCst) + 1;
        redirect(format!("count-{n}"))
    }

    fn on_terminate(call: Call) -> Decision {
        if call.caller.anonymous {
            log::write(
                log::Level::Info,
                &format!("rejecting anonymous call {}", call.id),
            );
            return Decision::Reject(Rejection {
                code: 433,
                reason: "Anonymity Disallowed".to_string(),
                announcement: Some("anonymous-not-accepted".to_string()),
            });
        }
        Decision::Proceed
    }

    fn on_no_answer(_call: Call) -> Decision {
        Decision::Reject(Rejection {
            code: 480,
            reason: settings::get(),
            announcement: None,
        })
    }

    fn on_busy(call: Call) -> Decision {
        // Key-value round trip and quota answers, reported as a redirect.
        let set = kv::set("last-caller", call.caller.number.as_bytes());
        let got = kv::get("last-caller").map(|v| String::from_utf8_lossy(&v).into_owned());
        let long_key = kv::set(&"k".repeat(300), b"x");
        let big_value = kv::set("big", &vec![0u8; 70 * 1024]);
        let keys = kv::list_keys("last").join(",");
        let report = format!(
            "set={}|get={}|longkey={}|bigvalue={}|keys={keys}",
            set.is_ok(),
            got.unwrap_or_default(),
            matches!(long_key, Err(kv::KvError::InvalidKey)),
            matches!(big_value, Err(kv::KvError::QuotaExceeded)),
        );
        redirect(report)
    }

    fn on_unreachable(_call: Call) -> Decision {
        Decision::TreatAsBusy
    }

    fn on_call_ended(summary: CallSummary) {
        log::write(log::Level::Debug, &format!("ended {}", summary.call.id));
    }
}

export!(Good);
