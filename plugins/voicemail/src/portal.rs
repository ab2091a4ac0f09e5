//! The voice portal (UF-55, 1233): PIN, new messages first, replay / save
//! / delete, greeting, PIN change.

use centrale_sdk::prelude::*;
use centrale_sdk::session::{self, blob, prompt, say, Audio, CallError, RecordOptions};

use crate::box_store::{self, Message};
use crate::Settings;

const PIN_KEY: &str = "pin";
const PIN_TRIES: usize = 3;

pub(crate) fn run(call: &Call, s: &Settings) -> Result<(), CallError> {
    let owner = call.subject().id;
    session::answer()?;
    if !login(s)? {
        session::play_all(&[prompt("vm-pin-wrong"), prompt("vm-goodbye")])?;
        return Ok(());
    }
    let lang = session::language();
    summary(&lang)?;
    let mut idle = 0;
    loop {
        match session::digit(&[prompt("vm-main-menu")], 8_000)? {
            Some('1') => {
                idle = 0;
                listen(&lang, owner)?;
            }
            Some('3') => {
                idle = 0;
                record_greeting()?;
            }
            Some('4') => {
                idle = 0;
                change_pin()?;
            }
            Some('#') => break,
            Some(_) => {
                idle = 0;
                session::play(&[prompt("vm-invalid")])?;
            }
            None => {
                idle += 1;
                if idle >= 2 {
                    break;
                }
            }
        }
    }
    session::play_all(&[prompt("vm-goodbye")])?;
    Ok(())
}

/// The PIN in force: the one the user set in the portal, else the
/// setting. (Stored in the plugin's own key-value namespace, which only
/// this plugin for this user can read.)
fn current_pin(s: &Settings) -> String {
    kv::get(PIN_KEY)
        .and_then(|v| String::from_utf8(v).ok())
        .unwrap_or_else(|| s.pin.clone())
}

fn login(s: &Settings) -> Result<bool, CallError> {
    let pin = current_pin(s);
    for attempt in 0..PIN_TRIES {
        let prompt_items = if attempt == 0 {
            vec![prompt("vm-enter-pin")]
        } else {
            vec![prompt("vm-pin-wrong"), prompt("vm-enter-pin")]
        };
        let entered = session::gather(&prompt_items, 8, 10_000, 5_000, "#")?;
        if !entered.is_empty() && entered == pin {
            return Ok(true);
        }
    }
    Ok(false)
}

fn summary(lang: &str) -> Result<(), CallError> {
    let list = box_store::all();
    let new = list.iter().filter(|m| m.new).count() as u64;
    let saved = list.len() as u64 - new;
    if list.is_empty() {
        session::play(&[prompt("vm-no-messages")])?;
        return Ok(());
    }
    let mut items = vec![prompt("vm-you-have")];
    items.extend(say::number(lang, new));
    items.push(prompt(if new == 1 {
        "vm-new-message"
    } else {
        "vm-new-messages"
    }));
    if saved > 0 {
        items.extend(say::number(lang, saved));
        items.push(prompt(if saved == 1 {
            "vm-saved-message"
        } else {
            "vm-saved-messages"
        }));
    }
    session::play(&items)?;
    Ok(())
}

/// The envelope (number, time, caller) and the message itself.
fn announce(lang: &str, index: usize, m: &Message) -> Vec<Audio> {
    let mut items = vec![prompt("vm-message")];
    items.extend(say::number(lang, index as u64 + 1));
    items.push(prompt("vm-received"));
    items.extend(say::datetime(lang, m.at));
    if m.caller.is_empty() {
        items.push(prompt("unknown-caller"));
    } else {
        items.push(prompt("vm-from"));
        items.extend(say::digits(lang, &m.caller));
    }
    items.push(blob(&m.blob()));
    items
}

fn listen(lang: &str, owner: u64) -> Result<(), CallError> {
    let list = box_store::all();
    if list.is_empty() {
        session::play(&[prompt("vm-no-messages")])?;
        return Ok(());
    }
    let mut index = 0;
    while index < list.len() {
        let mut m = list[index].clone();
        let mut items = announce(lang, index, &m);
        loop {
            let choice = session::digit(
                &{
                    let mut v = items.clone();
                    v.push(prompt("vm-message-menu"));
                    v
                },
                10_000,
            )?;
            // Heard (or skipped): no longer new.
            if m.new {
                m.new = false;
                let _ = box_store::save(&m);
                box_store::update_mwi(owner);
            }
            match choice {
                Some('1') => {
                    items = vec![blob(&m.blob())];
                    continue;
                }
                Some('7') => {
                    box_store::remove(&m);
                    box_store::update_mwi(owner);
                    session::play(&[prompt("vm-message-deleted")])?;
                }
                Some('*') => return Ok(()),
                // 2 (save), 9 (next), silence: on to the next message.
                _ => {}
            }
            break;
        }
        index += 1;
    }
    session::play(&[prompt("vm-no-more-messages")])?;
    Ok(())
}

fn record_greeting() -> Result<(), CallError> {
    session::play_all(&[prompt("vm-greeting-record")])?;
    let options = RecordOptions {
        beep: true,
        max_ms: 60_000,
        silence_ms: Some(4_000),
        terminators: "#".to_string(),
    };
    let rec = session::record("greeting-new.wav", &options)?;
    if rec.duration_ms < 500 {
        let _ = blobs::delete("greeting-new.wav");
        session::play(&[prompt("vm-invalid")])?;
        return Ok(());
    }
    if blobs::copy("greeting-new.wav", "greeting.wav").is_ok() {
        let _ = blobs::delete("greeting-new.wav");
        session::play(&[prompt("vm-greeting-saved")])?;
    }
    Ok(())
}

fn change_pin() -> Result<(), CallError> {
    let pin = session::gather(&[prompt("vm-enter-new-pin")], 8, 10_000, 5_000, "#")?;
    // Digits only (the keypad's * and A-D are not PIN digits).
    if pin.len() < 4 || !pin.chars().all(|c| c.is_ascii_digit()) {
        session::play(&[prompt("vm-invalid")])?;
        return Ok(());
    }
    match kv::set(PIN_KEY, pin.as_bytes()) {
        Ok(()) => {
            session::play(&[prompt("vm-pin-changed")])?;
        }
        Err(e) => log::error(&format!("storing the PIN: {e}")),
    }
    Ok(())
}
