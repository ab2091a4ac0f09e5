//! Takes every call over, answers and plays `test-hello`, a prompt this
//! plugin ships in prompts/en/ (2 s of 600 Hz), then returns.
#![no_std]

use centrale_sdk::prelude::*;

struct OwnPrompt;

impl Plugin for OwnPrompt {
    fn on_terminate(_call: &Call) -> Decision {
        Decision::take_over()
    }

    fn run_session(_call: &Call) {
        let _ = session::answer();
        if let Err(e) = session::play_all(&[session::prompt("test-hello")]) {
            log::error(&format!("test-hello: {e:?}"));
        }
    }
}

export_plugin!(OwnPrompt);
