//! Voicemail (FEATURES.md UF-49, UF-54..58, SW-06, GO-04, GF-07).
//!
//! - Hooks: `busy`, `no-answer`, `unreachable` take the call over (each can
//!   be switched off in the settings); `originate` takes over calls to the
//!   voice portal code (1233).
//! - Session: either the deposit (greeting, beep, recording, mail, MWI) or
//!   the voice portal (PIN, new messages first, replay / save / delete,
//!   greeting, PIN change).
//! - Timer: retention (14 days by default) and the MWI state.
//!
//! Messages are kept in the plugin's key-value store (`msg/<id>`, JSON) and
//! blob store (`msg-<id>.wav`) of the mailbox owner's scope.
#![no_std]

mod box_store;
mod deposit;
mod portal;

use centrale_sdk::prelude::*;
use serde::Deserialize;

/// The settings, with BroadWorks-like defaults.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub(crate) struct Settings {
    pub mode: String,
    pub email: String,
    pub cc: String,
    pub attach_audio: bool,
    pub on_busy: bool,
    pub on_no_answer: bool,
    pub on_unreachable: bool,
    pub pin: String,
    pub portal_code: String,
    pub language: String,
    pub max_message_secs: u32,
    pub quota_minutes: u32,
    pub retention_days: u32,
    pub forward_to: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            mode: "box".into(),
            email: String::new(),
            cc: String::new(),
            attach_audio: true,
            on_busy: true,
            on_no_answer: true,
            on_unreachable: true,
            pin: "1234".into(),
            portal_code: "1233".into(),
            language: String::new(),
            max_message_secs: 120,
            quota_minutes: 60,
            retention_days: 14,
            forward_to: String::new(),
        }
    }
}

pub(crate) fn settings() -> Settings {
    settings::get::<Settings>().unwrap_or_default()
}

/// Why the box answers: stored by the hook for the session.
fn note_reason(call: &Call, reason: &str) {
    let _ = kv::set(&reason_key(call), reason.as_bytes());
}

pub(crate) fn reason_key(call: &Call) -> String {
    let id: String = call
        .id()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(64)
        .collect();
    format!("reason/{id}")
}

/// How a session ended (when it did not fail).
pub(crate) enum Ended {
    /// The caller was served; the session hangs up.
    Done,
    /// The call went on elsewhere (greeting-only with forwarding).
    Transferred,
}

struct Voicemail;

impl Plugin for Voicemail {
    fn on_originate(call: &Call) -> Decision {
        let s = settings();
        if call.dialled() == s.portal_code {
            return Decision::take_over();
        }
        Decision::Proceed
    }

    fn on_busy(call: &Call) -> Decision {
        if settings().on_busy {
            note_reason(call, "busy");
            return Decision::take_over();
        }
        Decision::Proceed
    }

    fn on_no_answer(call: &Call) -> Decision {
        if settings().on_no_answer {
            note_reason(call, "unavailable");
            return Decision::take_over();
        }
        Decision::Proceed
    }

    fn on_unreachable(call: &Call) -> Decision {
        if settings().on_unreachable {
            note_reason(call, "unavailable");
            return Decision::take_over();
        }
        Decision::Proceed
    }

    fn run_session(call: &Call) {
        let s = settings();
        if !s.language.is_empty() {
            let _ = session::set_language(&s.language);
        }
        let own = call.caller().subject().map(|c| c.id) == Some(call.subject().id);
        let result = if own && call.dialled() == s.portal_code {
            portal::run(call, &s).map(|()| Ended::Done)
        } else {
            deposit::run(call, &s)
        };
        match result {
            Ok(Ended::Transferred) => {}
            Ok(Ended::Done) => session::hangup(),
            Err(e) => {
                log::info(&format!("session ended: {e:?}"));
                session::hangup();
            }
        }
    }

    fn on_timer(subject: &Subject) {
        let s = settings();
        let now = schedule::now_ms();
        let keep_ms = u64::from(s.retention_days) * 24 * 3600 * 1000;
        let removed = box_store::expire(now.saturating_sub(keep_ms));
        if removed > 0 {
            log::info(&format!("retention: removed {removed} message(s)"));
        }
        box_store::update_mwi(subject.id);
    }
}

export_plugin!(Voicemail);
