//! VIP routing: during business hours, calls from VIP callers go straight to
//! the user's mobile.
#![no_std]

use centrale_sdk::prelude::*;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(default)]
struct Settings {
    /// Numbers of the VIP callers.
    vip_callers: Vec<String>,
    /// Where VIP calls go.
    mobile: String,
    /// The tenant schedule that says when to do it.
    schedule: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            vip_callers: Vec::new(),
            mobile: String::new(),
            schedule: "business-hours".to_string(),
        }
    }
}

struct VipRouting;

impl Plugin for VipRouting {
    fn on_terminate(call: &Call) -> Decision {
        let settings: Settings = match settings::get() {
            Ok(s) => s,
            Err(e) => {
                log::error(format!("vip-routing: {e}"));
                return Decision::Proceed;
            }
        };
        if settings.mobile.is_empty() {
            return Decision::Proceed;
        }
        let is_vip = settings
            .vip_callers
            .iter()
            .any(|vip| call.caller().matches_number(vip));
        if !is_vip {
            return Decision::Proceed;
        }
        match schedule::is_open(&settings.schedule) {
            Some(true) => {
                log::info("vip-routing: VIP caller during business hours, to the mobile");
                Decision::redirect(settings.mobile, DiversionReason::TimeOfDay)
            }
            Some(false) => Decision::Proceed,
            None => {
                log::warn(format!(
                    "vip-routing: no schedule named {}",
                    settings.schedule
                ));
                Decision::Proceed
            }
        }
    }
}

export_plugin!(VipRouting);
