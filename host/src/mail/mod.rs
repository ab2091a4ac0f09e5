//! Outgoing mail (voicemail to e-mail, faxes, notifications) through a
//! durable outbox.
//!
//! [`Mailer::enqueue`] builds the RFC 5322 message, stores its bytes in the
//! [`BlobStore`] and a row in the `outbox` table, and returns only once both
//! are durable (DESIGN principle 4, "nothing is lost"). The delivery worker
//! ([`Mailer::spawn_worker`]) sends due mail over SMTP (lettre), retries with
//! exponential back-off and gives up after `max_attempts`. Rows survive
//! restarts: a new worker on the same database resumes. Delivery is
//! at-least-once: a worker that dies after the server accepted a mail but
//! before recording it sends it again.
//!
//! Without `[mail.smtp]` (the demo) each mail is written to
//! `<data_dir>/outbox/<id>-<unix ms>.eml` instead and marked sent.
//!
//! Files: `message.rs` builds messages, `worker.rs` delivers them.

mod message;
mod worker;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::Notify;

pub use crate::config::{MailConfig, SmtpConfig};
use crate::store::{BlobStore, OutboxMail, Store, StoreError};

/// A file attached to a [`Mail`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// File name shown to the reader (e.g. `voicemail-201.wav`).
    pub filename: String,
    /// MIME type (e.g. `audio/wav`, `application/pdf`).
    pub content_type: String,
    /// The bytes.
    pub data: Vec<u8>,
}

/// A mail to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// The tenant it is sent for (0 = the operator).
    pub tenant_id: i64,
    /// Sender (`a@b` or `Name <a@b>`); `None` = `[mail] from`.
    pub from: Option<String>,
    /// Recipients (`a@b` or `Name <a@b>`).
    pub to: Vec<String>,
    /// Copy recipients.
    pub cc: Vec<String>,
    /// Subject (control characters become spaces).
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// Attached files.
    pub attachments: Vec<Attachment>,
}

/// Why a mail could not be queued.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The mail is malformed: the message names the bad address or part.
    #[error("{0}")]
    Invalid(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The blob store (or the outbox directory) failed.
    #[error("mail storage failed: {0}")]
    Io(#[from] std::io::Error),
}

/// The outbox and its delivery worker. Cheap to clone: clones share one
/// queue and wake the same worker.
#[derive(Clone)]
pub struct Mailer {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    blobs: BlobStore,
    cfg: MailConfig,
    /// `<data_dir>/outbox`: where mail goes without SMTP.
    outbox_dir: PathBuf,
    /// Wakes the worker when a mail is queued.
    wake: Notify,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("smtp", &self.inner.cfg.smtp.as_ref().map(|s| &s.host))
            .field("outbox_dir", &self.inner.outbox_dir)
            .finish()
    }
}

impl Mailer {
    /// A mailer over `store` and `blobs`; without SMTP in `cfg`, mail is
    /// written below `data_dir/outbox`. Nothing is sent until
    /// [`spawn_worker`](Mailer::spawn_worker).
    pub fn new(store: Store, blobs: BlobStore, cfg: MailConfig, data_dir: &Path) -> Mailer {
        Mailer {
            inner: Arc::new(Inner {
                store,
                blobs,
                cfg,
                outbox_dir: data_dir.join("outbox"),
                wake: Notify::new(),
            }),
        }
    }

    /// The host's sender address (`[mail] from`).
    pub fn default_from(&self) -> &str {
        &self.inner.cfg.from
    }

    /// Mails one tenant's plugins may queue per hour (0: no limit).
    pub fn tenant_mails_per_hour(&self) -> u32 {
        self.inner.cfg.tenant_mails_per_hour
    }

    /// Builds the message (multipart when it has attachments), stores its
    /// raw bytes as a blob and the outbox row, and returns the row's id once
    /// both are durable. Wakes the worker. A bad address or content type is
    /// [`MailError::Invalid`] naming it, and nothing is stored.
    pub async fn enqueue(&self, mail: Mail) -> Result<i64, MailError> {
        let tenant_id = mail.tenant_id;
        let built = message::build(mail, &self.inner.cfg.from)?;
        let sha = self.inner.blobs.put(&built.raw).await?;
        let id = self
            .inner
            .store
            .outbox_insert(
                tenant_id,
                &built.from,
                &built.recipients,
                &sha,
                built.raw.len() as u64,
            )
            .await?;
        tracing::debug!(
            id,
            tenant_id,
            recipients = built.recipients.len(),
            "mail queued"
        );
        self.inner.wake.notify_one();
        Ok(id)
    }

    /// The outbox row of mail `id` (status, attempts, last error).
    pub async fn get(&self, id: i64) -> Result<Option<OutboxMail>, MailError> {
        Ok(self.inner.store.outbox_get(id).await?)
    }

    /// How many mails are queued (for `/metrics`).
    pub async fn depth(&self) -> Result<u64, MailError> {
        Ok(self.inner.store.outbox_depth().await?)
    }

    /// The directory where mail goes without SMTP (`<data_dir>/outbox`).
    pub fn outbox_dir(&self) -> &Path {
        &self.inner.outbox_dir
    }

    /// Starts the delivery worker on the current tokio runtime: it sends
    /// due mail (queued, `next_attempt_at` reached), marks it sent, or
    /// records the error and backs off exponentially from
    /// `retry_base_secs` to `retry_max_secs`, and gives up (status failed)
    /// after `max_attempts`. It wakes on [`enqueue`](Mailer::enqueue), when
    /// the next retry is due, and every `poll_secs`. Abort the handle to
    /// stop it.
    pub fn spawn_worker(&self) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move { worker::run(this).await })
    }
}
