//! `centrale:plugin/mail`: mail through the host's outbox. Limits are
//! enforced here (recipients, sizes, mails per invocation); the backend
//! resolves blob attachments in the plugin's scope and stores the mail
//! durably before answering.

use wasmtime::component::{HasSelf, Linker};

use super::{wit, Getter, HostState, Scope};

pub use wit::mail::{Attachment, AttachmentData, MailError, Message as MailMessage};

/// Most recipients (to + cc).
pub const MAX_RECIPIENTS: usize = 10;
/// Longest subject, bytes.
pub const MAX_SUBJECT: usize = 256;
/// Longest text body, bytes.
pub const MAX_TEXT: usize = 64 << 10;
/// Most attachments.
pub const MAX_ATTACHMENTS: usize = 5;
/// Largest inline attachment, bytes.
pub const MAX_INLINE: usize = 1 << 20;
/// Mails one invocation may send.
pub const MAX_PER_INVOCATION: u32 = 10;

/// Adds `mail` to the linker.
pub(crate) fn link<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: Getter<T>,
) -> wasmtime::Result<()> {
    wit::mail::add_to_linker::<T, HasSelf<HostState>>(linker, get)
}

/// Mails sent in this invocation.
pub(crate) struct State {
    sent: u32,
}

impl State {
    pub(crate) fn new(_scope: &Scope) -> Self {
        Self { sent: 0 }
    }
}

/// The first limit `m` breaks, as a message for the plugin author.
pub fn check_message(m: &MailMessage) -> Result<(), String> {
    let recipients = m.to.len() + m.cc.len();
    if m.to.is_empty() {
        return Err("no recipient in `to`".to_string());
    }
    if recipients > MAX_RECIPIENTS {
        return Err(format!(
            "{recipients} recipients (at most {MAX_RECIPIENTS})"
        ));
    }
    if let Some(bad) = m.to.iter().chain(&m.cc).find(|a| !plausible_address(a)) {
        return Err(format!("`{bad}` is not a mail address"));
    }
    if m.subject.len() > MAX_SUBJECT || m.subject.contains(['\r', '\n']) {
        return Err(format!(
            "subject longer than {MAX_SUBJECT} bytes or with a line break"
        ));
    }
    if m.text.len() > MAX_TEXT {
        return Err(format!("text longer than {MAX_TEXT} bytes"));
    }
    if m.attachments.len() > MAX_ATTACHMENTS {
        return Err(format!("more than {MAX_ATTACHMENTS} attachments"));
    }
    for a in &m.attachments {
        if a.filename.is_empty() || a.filename.len() > 128 || a.filename.contains(['/', '\\']) {
            return Err(format!("attachment file name `{}` refused", a.filename));
        }
        if !a.content_type.contains('/') || a.content_type.len() > 100 {
            return Err(format!("content type `{}` refused", a.content_type));
        }
        if let AttachmentData::Bytes(b) = &a.data {
            if b.len() > MAX_INLINE {
                return Err(format!("inline attachment larger than {MAX_INLINE} bytes"));
            }
        }
    }
    Ok(())
}

/// `local@domain` with no spaces or angle brackets; the outbox parses it
/// properly.
fn plausible_address(a: &str) -> bool {
    let Some((local, domain)) = a.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && a.len() <= 254
        && !a.contains(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | ',' | '"'))
}

impl wit::mail::Host for HostState {
    async fn send(&mut self, message: MailMessage) -> wasmtime::Result<Result<u64, MailError>> {
        self.ctx.charge("mail.send")?;
        if self.mail.sent >= MAX_PER_INVOCATION {
            return Ok(Err(MailError::Invalid(format!(
                "more than {MAX_PER_INVOCATION} mails in one invocation"
            ))));
        }
        if let Err(why) = check_message(&message) {
            return Ok(Err(MailError::Invalid(why)));
        }
        let result = self.ctx.backend.mail_send(&self.ctx.scope, message).await;
        if result.is_ok() {
            self.mail.sent += 1;
        }
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg() -> MailMessage {
        MailMessage {
            to: vec!["anna@example.com".into()],
            cc: vec![],
            subject: "Voicemail".into(),
            text: "hi".into(),
            attachments: vec![],
        }
    }

    #[test]
    fn limits() {
        assert!(check_message(&msg()).is_ok());
        let mut m = msg();
        m.to = vec!["not an address".into()];
        assert!(check_message(&m).unwrap_err().contains("not an address"));
        let mut m = msg();
        m.subject = "a\r\nBcc: x@y".into();
        assert!(check_message(&m).is_err());
        let mut m = msg();
        m.to.clear();
        assert!(check_message(&m).is_err());
        let mut m = msg();
        m.attachments.push(Attachment {
            filename: "../x.wav".into(),
            content_type: "audio/wav".into(),
            data: AttachmentData::Blob("x".into()),
        });
        assert!(check_message(&m).is_err());
    }
}
