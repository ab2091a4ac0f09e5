//! Hostile: takes every call over; its session answers, then spins forever
//! (`mode = "loop"`), traps (`mode = "trap"`) or waits ten minutes
//! (`mode = "sleepy"`). `polite` plays a beep and returns, as a control.
#![no_std]

use centrale_sdk::prelude::*;
use serde::Deserialize;

#[derive(Deserialize, Default)]
struct Settings {
    #[serde(default)]
    mode: String,
}

struct Hostile;

impl Plugin for Hostile {
    fn on_terminate(_call: &Call) -> Decision {
        Decision::take_over()
    }

    fn run_session(_call: &Call) {
        let mode = settings::get::<Settings>().unwrap_or_default().mode;
        let _ = session::answer();
        match mode.as_str() {
            "loop" => {
                let mut i = 0u64;
                loop {
                    i = core::hint::black_box(i.wrapping_add(1));
                }
            }
            "trap" => core::arch::wasm32::unreachable(),
            "sleepy" => {
                let _ = session::sleep(600_000);
            }
            "slow" => {
                let _ = session::play_all(&[session::Audio::Tone(session::Tone::Beep)]);
                let _ = session::sleep(4_000);
            }
            _ => {
                let _ = session::play_all(&[session::Audio::Tone(session::Tone::Beep)]);
            }
        }
    }
}

export_plugin!(Hostile);
