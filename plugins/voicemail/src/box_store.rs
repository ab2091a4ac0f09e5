//! The mailbox: messages as JSON in the key-value store, audio as blobs,
//! and the message-waiting state derived from them.

use centrale_sdk::prelude::*;
use serde::{Deserialize, Serialize};

/// One stored message.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Message {
    /// Unique in the box (the deposit time in ms, then a suffix).
    pub id: String,
    /// Caller number as presented ("" when anonymous).
    pub caller: String,
    /// Caller name, when known.
    pub caller_name: String,
    /// When it was left, unix ms.
    pub at: u64,
    /// Length, ms.
    pub duration_ms: u32,
    /// Still new (not yet listened to).
    pub new: bool,
}

impl Message {
    pub fn blob(&self) -> String {
        format!("msg-{}.wav", self.id)
    }

    fn key(&self) -> String {
        format!("msg/{}", self.id)
    }
}

/// Every message, new ones first, oldest first within each group.
pub(crate) fn all() -> Vec<Message> {
    let mut list: Vec<Message> = kv::list_keys("msg/")
        .iter()
        .filter_map(|k| kv::get_json::<Message>(k).ok().flatten())
        .collect();
    list.sort_by(|a, b| (!a.new, a.at, &a.id).cmp(&(!b.new, b.at, &b.id)));
    list
}

/// Stores a message's metadata (its audio is already a blob).
pub(crate) fn save(m: &Message) -> Result<(), kv::KvError> {
    kv::set_json(&m.key(), m)
}

/// Removes a message and its audio.
pub(crate) fn remove(m: &Message) {
    let _ = blobs::delete(&m.blob());
    let _ = kv::delete(&m.key());
}

/// Total recorded time in the box, ms.
pub(crate) fn used_ms() -> u64 {
    all().iter().map(|m| u64::from(m.duration_ms)).sum()
}

/// Removes messages left before `cutoff_ms`; how many.
pub(crate) fn expire(cutoff_ms: u64) -> usize {
    let old: Vec<Message> = all().into_iter().filter(|m| m.at < cutoff_ms).collect();
    for m in &old {
        remove(m);
    }
    old.len()
}

/// Tells the owner's phones how many messages wait.
pub(crate) fn update_mwi(subject: u64) {
    let list = all();
    let new = list.iter().filter(|m| m.new).count() as u32;
    let old = list.len() as u32 - new;
    mwi::set(subject, new, old);
}
