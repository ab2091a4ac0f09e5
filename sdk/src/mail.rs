//! Mail through the host's outbox (capability `mail`, WIT 0.2): stored
//! durably when `send` returns, then delivered and retried by the host.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::bindings::centrale::plugin::mail as wit;

pub use wit::{Attachment, AttachmentData, MailError};

/// A message to send.
#[derive(Debug, Clone, Default)]
pub struct Message {
    /// Recipients.
    pub to: Vec<String>,
    /// Copy recipients.
    pub cc: Vec<String>,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// Attachments.
    pub attachments: Vec<Attachment>,
}

impl Message {
    /// Attaches a blob of this plugin.
    pub fn attach_blob(mut self, filename: &str, content_type: &str, blob: &str) -> Self {
        self.attachments.push(Attachment {
            filename: filename.to_string(),
            content_type: content_type.to_string(),
            data: AttachmentData::Blob(blob.to_string()),
        });
        self
    }
}

/// Queues the message; the outbox id.
pub fn send(message: &Message) -> Result<u64, MailError> {
    wit::send(&wit::Message {
        to: message.to.clone(),
        cc: message.cc.clone(),
        subject: message.subject.clone(),
        text: message.text.clone(),
        attachments: message.attachments.clone(),
    })
}
