//! Turning a [`Mail`] into the raw RFC 5322 bytes and the SMTP envelope,
//! checking every address on the way.

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::Message;

use super::{Mail, MailError};

/// A built message: what the outbox stores.
#[derive(Debug)]
pub(crate) struct Built {
    /// The envelope sender (bare address).
    pub from: String,
    /// The envelope recipients (bare addresses, To then Cc).
    pub recipients: Vec<String>,
    /// The message, as sent.
    pub raw: Vec<u8>,
}

/// Parses one address (`a@b.example` or `Name <a@b.example>`).
fn mailbox(role: &str, s: &str) -> Result<Mailbox, MailError> {
    s.trim()
        .parse::<Mailbox>()
        .map_err(|e| MailError::Invalid(format!("{role} address {s:?} is not valid: {e}")))
}

/// Replaces control characters (line breaks included) by spaces, so a value
/// stays one header line.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Builds the message of `mail`, sent from `mail.from` or else
/// `default_from`.
pub(crate) fn build(mail: Mail, default_from: &str) -> Result<Built, MailError> {
    let from = match &mail.from {
        Some(f) => mailbox("sender", f)?,
        None => mailbox("sender (mail.from)", default_from)?,
    };
    if mail.to.is_empty() && mail.cc.is_empty() {
        return Err(MailError::Invalid(
            "the mail has no recipient: give at least one To or Cc address".into(),
        ));
    }
    let mut builder = Message::builder()
        .from(from.clone())
        .subject(one_line(&mail.subject))
        .message_id(None)
        .date_now();
    let mut recipients = Vec::with_capacity(mail.to.len() + mail.cc.len());
    for t in &mail.to {
        let m = mailbox("recipient", t)?;
        recipients.push(m.email.to_string());
        builder = builder.to(m);
    }
    for c in &mail.cc {
        let m = mailbox("Cc recipient", c)?;
        recipients.push(m.email.to_string());
        builder = builder.cc(m);
    }
    let text = SinglePart::plain(mail.text);
    let message = if mail.attachments.is_empty() {
        builder.singlepart(text)
    } else {
        let mut parts = MultiPart::mixed().singlepart(text);
        for a in mail.attachments {
            let content_type = ContentType::parse(&a.content_type).map_err(|e| {
                MailError::Invalid(format!(
                    "attachment {:?}: content type {:?} is not valid: {e}",
                    a.filename, a.content_type
                ))
            })?;
            let filename = one_line(&a.filename);
            parts = parts
                .singlepart(lettre::message::Attachment::new(filename).body(a.data, content_type));
        }
        builder.multipart(parts)
    }
    .map_err(|e| MailError::Invalid(format!("cannot build the mail: {e}")))?;
    Ok(Built {
        from: from.email.to_string(),
        recipients,
        raw: message.formatted(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::Attachment;

    fn mail() -> Mail {
        Mail {
            tenant_id: 1,
            from: None,
            to: vec!["Anna <anna@a.test>".into()],
            cc: vec!["bob@a.test".into()],
            subject: "Voicemail\r\nBcc: evil@x.test".into(),
            text: "Hello".into(),
            attachments: vec![Attachment {
                filename: "msg.wav".into(),
                content_type: "audio/wav".into(),
                data: vec![0, 1, 2, 255],
            }],
        }
    }

    #[test]
    fn builds_with_envelope() {
        let b = build(mail(), "pbx@a.test").unwrap();
        assert_eq!(b.from, "pbx@a.test");
        assert_eq!(b.recipients, ["anna@a.test", "bob@a.test"]);
        let raw = String::from_utf8_lossy(&b.raw);
        assert!(raw.contains("Content-Type: multipart/mixed"), "{raw}");
        assert!(raw.contains("msg.wav"), "{raw}");
        // the line break of the subject did not become a header
        assert!(!raw.contains("\r\nBcc:"), "{raw}");
    }

    #[test]
    fn bad_addresses_are_named() {
        let mut m = mail();
        m.cc = vec!["not an address".into()];
        match build(m, "pbx@a.test") {
            Err(MailError::Invalid(msg)) => assert!(msg.contains("not an address"), "{msg}"),
            other => panic!("{other:?}"),
        }
        let mut m = mail();
        m.to.clear();
        m.cc.clear();
        assert!(matches!(build(m, "pbx@a.test"), Err(MailError::Invalid(_))));
        assert!(matches!(build(mail(), "nope"), Err(MailError::Invalid(m)) if m.contains("nope")));
        let mut m = mail();
        m.attachments[0].content_type = "no type".into();
        assert!(matches!(build(m, "pbx@a.test"), Err(MailError::Invalid(_))));
    }
}
