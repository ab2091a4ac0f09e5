//! Do not disturb (UF-34).
//!
//! While enabled, every incoming call gets busy treatment: the user's phones
//! do not ring and the call continues as if every device were busy, so busy
//! forwarding and voicemail still apply (they run in the `busy` hooks after
//! this decision).
//!
//! Settings: `{ "enabled": bool }`, default `true` — assigning the plugin
//! to a user turns DND on; the toggle (one button press, the apps) stores
//! `false` to turn it off without unassigning.
#![no_std]

use centrale_sdk::prelude::*;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(default)]
struct Settings {
    enabled: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { enabled: true }
    }
}

struct DoNotDisturb;

impl Plugin for DoNotDisturb {
    fn on_terminate(_call: &Call) -> Decision {
        let settings = match settings::get::<Settings>() {
            Ok(s) => s,
            Err(e) => {
                // The host validates settings against the schema, so this is
                // a host/plugin version mismatch: stay on the safe side (DND
                // is what the user asked for by being assigned the plugin).
                log::warn(format!("do-not-disturb: {e}; treating as enabled"));
                Settings::default()
            }
        };
        if settings.enabled {
            Decision::treat_as_busy()
        } else {
            Decision::Proceed
        }
    }
}

export_plugin!(DoNotDisturb);
