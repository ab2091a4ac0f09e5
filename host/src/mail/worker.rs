//! The delivery worker: claims due outbox rows, sends them over SMTP (or
//! writes `.eml` files without SMTP) and records the outcome.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::address::{Address, Envelope};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::Mailer;
use crate::config::SmtpConfig;
use crate::store::OutboxMail;

/// Rows taken per query.
const BATCH: u32 = 32;
/// Longest sleep after a database error before trying again.
const ERROR_PAUSE: Duration = Duration::from_secs(5);

type Transport = AsyncSmtpTransport<Tokio1Executor>;

/// Builds the SMTP transport of `[mail.smtp]`; the error is recorded on each
/// mail (so a fixed configuration and a restart deliver them).
fn transport(s: &SmtpConfig) -> Result<Transport, String> {
    let params = || {
        TlsParameters::new(s.host.clone())
            .map_err(|e| format!("[mail.smtp] TLS setup for {:?} failed: {e}", s.host))
    };
    let tls = match s.tls.as_str() {
        "none" => Tls::None,
        "starttls" => Tls::Required(params()?),
        "tls" => Tls::Wrapper(params()?),
        other => {
            return Err(format!(
                "[mail.smtp] tls {other:?} is not none, starttls or tls"
            ))
        }
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&s.host)
        .port(s.port())
        .tls(tls)
        .timeout(Some(Duration::from_secs(s.timeout_secs)));
    if let (Some(user), Some(pass)) = (&s.username, &s.password) {
        builder = builder.credentials(Credentials::new(user.clone(), pass.clone()));
    }
    Ok(builder.build())
}

/// Wait before the attempt after `attempts` failed ones.
fn backoff(base_secs: u64, max_secs: u64, attempts: i64) -> Duration {
    let exp = u32::try_from(attempts.saturating_sub(1).clamp(0, 63)).unwrap_or(63);
    let factor = 1u64.checked_shl(exp).unwrap_or(u64::MAX);
    Duration::from_secs(base_secs.saturating_mul(factor).min(max_secs))
}

/// How long a claimed attempt may take before another worker may retry the
/// mail (a worker that died while sending).
fn lease(smtp: Option<&SmtpConfig>) -> Duration {
    match smtp {
        Some(s) => Duration::from_secs(s.timeout_secs.saturating_mul(5).saturating_add(30)),
        None => Duration::from_secs(60),
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The worker loop (see [`Mailer::spawn_worker`]).
pub(super) async fn run(mailer: Mailer) {
    let inner = &mailer.inner;
    let transport = inner.cfg.smtp.as_ref().map(transport);
    if let Some(Err(e)) = &transport {
        tracing::error!("{e}: mail stays queued");
    }
    let poll = Duration::from_secs(inner.cfg.poll_secs.max(1));
    loop {
        let pause = match deliver_due(&mailer, transport.as_ref()).await {
            Ok(()) => match inner.store.outbox_next_due().await {
                Ok(Some(at)) => {
                    let wait = u64::try_from(at - crate::now_ms()).unwrap_or(0);
                    poll.min(Duration::from_millis(wait))
                }
                Ok(None) => poll,
                Err(e) => {
                    tracing::warn!("mail outbox: {e}");
                    poll.min(ERROR_PAUSE)
                }
            },
            Err(e) => {
                tracing::warn!("mail outbox: {e}");
                poll.min(ERROR_PAUSE)
            }
        };
        tokio::select! {
            _ = inner.wake.notified() => {}
            _ = tokio::time::sleep(pause) => {}
        }
    }
}

/// Delivers every mail due now.
async fn deliver_due(
    mailer: &Mailer,
    transport: Option<&Result<Transport, String>>,
) -> Result<(), crate::store::StoreError> {
    let inner = &mailer.inner;
    let lease = ms(lease(inner.cfg.smtp.as_ref()));
    loop {
        let due = inner.store.outbox_due(crate::now_ms(), BATCH).await?;
        if due.is_empty() {
            return Ok(());
        }
        let mut claimed_any = false;
        for mail in due {
            if !inner
                .store
                .outbox_claim(&mail, crate::now_ms().saturating_add(lease))
                .await?
            {
                continue; // another worker has it
            }
            claimed_any = true;
            let attempts = mail.attempts + 1;
            match deliver(mailer, transport, &mail).await {
                Ok(done) => {
                    inner.store.outbox_mark_sent(mail.id).await?;
                    tracing::info!(
                        id = mail.id,
                        tenant_id = mail.tenant_id,
                        attempts,
                        "mail {done}"
                    );
                }
                Err(e) => {
                    let retry_at = if attempts >= i64::from(inner.cfg.max_attempts) {
                        tracing::warn!(
                            id = mail.id,
                            tenant_id = mail.tenant_id,
                            attempts,
                            "mail given up: {e}"
                        );
                        None
                    } else {
                        let wait = backoff(
                            inner.cfg.retry_base_secs,
                            inner.cfg.retry_max_secs,
                            attempts,
                        );
                        tracing::warn!(
                            id = mail.id,
                            tenant_id = mail.tenant_id,
                            attempts,
                            retry_in_secs = wait.as_secs(),
                            "mail not delivered: {e}"
                        );
                        Some(crate::now_ms().saturating_add(ms(wait)))
                    };
                    inner
                        .store
                        .outbox_mark_failed(mail.id, &e, retry_at)
                        .await?;
                }
            }
        }
        if !claimed_any {
            return Ok(());
        }
    }
}

/// One attempt; on success a description of where the mail went.
async fn deliver(
    mailer: &Mailer,
    transport: Option<&Result<Transport, String>>,
    mail: &OutboxMail,
) -> Result<String, String> {
    let inner = &mailer.inner;
    let raw = inner
        .blobs
        .get(&mail.sha256)
        .await
        .map_err(|e| format!("cannot read the message (blob {}): {e}", mail.sha256))?;
    match transport {
        None => {
            let dir = inner.outbox_dir.clone();
            let id = mail.id;
            let path = tokio::task::spawn_blocking(move || write_eml(&dir, id, &raw))
                .await
                .map_err(|e| format!("writing the .eml failed: {e}"))?
                .map_err(|e| format!("cannot write the .eml file: {e}"))?;
            Ok(format!("written to {}", path.display()))
        }
        Some(Err(e)) => Err(e.clone()),
        Some(Ok(t)) => {
            let parse = |a: &str| {
                a.parse::<Address>()
                    .map_err(|e| format!("address {a:?} is not valid: {e}"))
            };
            let to = mail
                .recipients
                .iter()
                .map(|r| parse(r))
                .collect::<Result<Vec<_>, _>>()?;
            let envelope = Envelope::new(Some(parse(&mail.mail_from)?), to)
                .map_err(|e| format!("bad envelope: {e}"))?;
            t.send_raw(&envelope, &raw)
                .await
                .map_err(|e| format!("SMTP: {e}"))?;
            Ok(format!("sent to {} recipient(s)", mail.recipients.len()))
        }
    }
}

/// Writes `raw` as `<dir>/<id>-<unix ms>.eml`, durably and atomically
/// (temporary file, fsync, rename, fsync of the directory).
fn write_eml(dir: &Path, id: i64, raw: &[u8]) -> std::io::Result<PathBuf> {
    fs::create_dir_all(dir)?;
    let path = dir.join(format!("{id}-{}.eml", crate::now_ms()));
    let tmp = dir.join(format!(".{id}-{:016x}.tmp", rand::random::<u64>()));
    let written = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(raw)?;
        f.sync_all()?;
        fs::rename(&tmp, &path)?;
        File::open(dir)?.sync_all()
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_max() {
        let s = |n| backoff(30, 3600, n).as_secs();
        assert_eq!([s(1), s(2), s(3), s(4)], [30, 60, 120, 240]);
        assert_eq!(s(8), 3600);
        assert_eq!(s(1000), 3600);
        assert_eq!(s(0), 30);
    }

    #[test]
    fn eml_files_are_written_whole() {
        let dir = tempfile::tempdir().unwrap();
        let p = write_eml(&dir.path().join("outbox"), 7, b"Subject: x\r\n\r\nhi").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"Subject: x\r\n\r\nhi");
        let name = p.file_name().unwrap().to_str().unwrap().to_string();
        assert!(name.starts_with("7-") && name.ends_with(".eml"), "{name}");
        assert_eq!(fs::read_dir(dir.path().join("outbox")).unwrap().count(), 1);
    }
}
