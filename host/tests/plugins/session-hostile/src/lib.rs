//! Hostile: takes every call over; its session answers, then spins forever
//! (`mode = "loop"`), traps (`mode = "trap"`) or waits ten minutes
//! (`mode = "sleepy"`). `polite` plays a beep and returns, as a control.
//! `dial` beeps, dials `to` (20 s), and after the dial beeps and returns.
#![no_std]

use centrale_sdk::prelude::*;
use serde::Deserialize;

#[derive(Deserialize, Default)]
struct Settings {
    #[serde(default)]
    mode: String,
    #[serde(default)]
    to: String,
}

struct Hostile;

impl Plugin for Hostile {
    fn on_terminate(_call: &Call) -> Decision {
        Decision::take_over()
    }

    fn run_session(_call: &Call) {
        let settings = settings::get::<Settings>().unwrap_or_default();
        let _ = session::answer();
        match settings.mode.as_str() {
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
            "dial" => {
                let beep = [session::Audio::Tone(session::Tone::Beep)];
                let _ = session::play_all(&beep);
                if session::dial(&settings.to, 20_000).is_ok() {
                    let _ = session::play_all(&beep);
                }
            }
            _ => {
                let _ = session::play_all(&[session::Audio::Tone(session::Tone::Beep)]);
            }
        }
    }
}

export_plugin!(Hostile);
