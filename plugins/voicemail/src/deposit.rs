//! Leaving a message: greeting, beep, recording until #, silence or the
//! maximum length; then the mail with the recording and the MWI update.

use centrale_sdk::prelude::*;
use centrale_sdk::session::{self, blob, prompt, CallError, RecordEnd, RecordOptions};

use crate::box_store::{self, Message};
use crate::{Ended, Settings};

/// Recordings shorter than this are dropped (a caller who hung up at the beep).
const MIN_MESSAGE_MS: u32 = 500;

pub(crate) fn run(call: &Call, s: &Settings) -> Result<Ended, CallError> {
    let key = crate::reason_key(call);
    let reason = kv::get(&key)
        .and_then(|v| String::from_utf8(v).ok())
        .unwrap_or_else(|| "unavailable".to_string());
    let _ = kv::delete(&key);
    let owner = call.subject().id;

    let greeting = greeting(&reason, s);
    if s.mode == "greeting-only" {
        session::play_all(&greeting)?;
        if !s.forward_to.is_empty() {
            session::transfer(&s.forward_to)?;
            return Ok(Ended::Transferred);
        }
        return Ok(Ended::Done);
    }
    let quota_ms = u64::from(s.quota_minutes) * 60_000;
    if s.mode == "box" && box_store::used_ms() >= quota_ms {
        session::answer()?;
        session::play_all(&[prompt("vm-box-full")])?;
        return Ok(Ended::Done);
    }
    session::answer()?;
    // The caller may skip the greeting with #.
    let _ = session::play(&greeting)?;
    let now = schedule::now_ms();
    // Time first (messages sort by it), then the call, so two messages
    // left in the same millisecond keep separate names.
    let call_tag: String = call
        .id()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(24)
        .collect();
    let m = Message {
        id: format!("{now}-{call_tag}"),
        caller: call.caller().presented_number().unwrap_or("").to_string(),
        caller_name: call.caller().display_name().unwrap_or("").to_string(),
        at: now,
        duration_ms: 0,
        new: true,
    };
    let options = RecordOptions {
        beep: true,
        max_ms: s.max_message_secs.saturating_mul(1000),
        silence_ms: Some(5_000),
        terminators: "#".to_string(),
    };
    let rec = session::record(&m.blob(), &options)?;
    if rec.duration_ms < MIN_MESSAGE_MS {
        let _ = blobs::delete(&m.blob());
        return Ok(Ended::Done);
    }
    let m = Message {
        duration_ms: rec.duration_ms,
        ..m
    };
    let mailed = mail(call, s, &m);
    // A mail-only box keeps a message only when it could not be mailed, so
    // nothing is lost.
    if s.mode == "box" || !mailed {
        if let Err(e) = box_store::save(&m) {
            log::error(&format!("storing message {}: {e}", m.id));
        }
        box_store::update_mwi(owner);
    } else {
        let _ = blobs::delete(&m.blob());
    }
    if rec.ended_by != RecordEnd::HungUp {
        session::play_all(&[prompt("vm-message-saved"), prompt("vm-goodbye")])?;
    }
    Ok(Ended::Done)
}

/// The owner's greeting for `reason` if recorded, else the standard one.
fn greeting(reason: &str, s: &Settings) -> Vec<session::Audio> {
    let own = format!("greeting-{reason}.wav");
    if !blobs::list(&own).is_empty() {
        return vec![blob(&own)];
    }
    if !blobs::list("greeting.wav").is_empty() {
        return vec![blob("greeting.wav")];
    }
    match (s.mode.as_str(), reason) {
        ("greeting-only", _) if s.forward_to.is_empty() => vec![prompt("vm-greeting-closed")],
        ("greeting-only", _) => vec![prompt("vm-greeting-info")],
        ("box", "busy") => vec![prompt("vm-greeting-busy")],
        ("box", _) => vec![prompt("vm-greeting-unavailable")],
        _ => vec![prompt("vm-greeting-default-company")],
    }
}

/// Voicemail-to-email with the recording attached; whether the outbox
/// took it.
fn mail(call: &Call, s: &Settings, m: &Message) -> bool {
    if s.email.is_empty() {
        return false;
    }
    let who = if m.caller.is_empty() {
        "an anonymous caller".to_string()
    } else if m.caller_name.is_empty() {
        m.caller.clone()
    } else {
        format!("{} ({})", m.caller_name, m.caller)
    };
    let secs = m.duration_ms.div_ceil(1000);
    let mut message = mail::Message {
        to: vec![s.email.clone()],
        cc: if s.cc.is_empty() {
            vec![]
        } else {
            vec![s.cc.clone()]
        },
        subject: format!("Voicemail from {who} ({secs} s)"),
        text: if s.mode == "box" {
            format!(
                "You have a new voicemail message for {} from {who}, {secs} seconds long.\n\
                 Listen to it by calling {} from your phone.\n",
                call.subject().display_name,
                s.portal_code
            )
        } else {
            format!(
                "A voicemail message for {} from {who}, {secs} seconds long, is attached.\n",
                call.subject().display_name
            )
        },
        attachments: vec![],
    };
    if s.attach_audio {
        message = message.attach_blob(&format!("voicemail-{}.wav", m.id), "audio/wav", &m.blob());
    }
    match mail::send(&message) {
        Ok(id) => {
            log::info(&format!("voicemail mail queued (outbox {id})"));
            true
        }
        Err(e) => {
            log::error(&format!("voicemail mail refused: {e:?}"));
            false
        }
    }
}
