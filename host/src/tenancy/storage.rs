//! Blobs and mail for plugins, over the store: what [`DbBackend`]
//! (`backend.rs`) answers `blobs.*` and `mail.send` with.
//!
//! A plugin blob is a name in `plugin_blobs` (per tenant, plugin and
//! subject) pointing at content in the [`BlobStore`]; content no name
//! points at any more is removed. Mail goes to the [`Mailer`]'s outbox,
//! blob attachments read from the sending plugin's own scope.
//!
//! [`DbBackend`]: super::backend::DbBackend

use std::path::Path;

use crate::mail::{Attachment as OutAttachment, Mail, Mailer};
use crate::runtime::host::blobs::DEFAULT_QUOTA;
use crate::runtime::host::mail::{AttachmentData, MailMessage};
use crate::runtime::host::{BlobError, BlobInfo, MailError, Scope};
use crate::store::{BlobStore, Store};
use crate::tenancy::plugins::KvScope;

/// Total attachment bytes of one mail.
pub const MAX_ATTACHMENT_BYTES: usize = 20 << 20;

/// Blob store, outbox and quota.
#[derive(Clone)]
pub struct Storage {
    /// Content-addressed blobs.
    pub blobs: BlobStore,
    /// The outbox (`None`: mail is refused as unavailable).
    pub mailer: Option<Mailer>,
    /// Bytes per (tenant, plugin, subject).
    pub quota: u64,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage")
            .field("blobs", &self.blobs.dir())
            .field("quota", &self.quota)
            .finish_non_exhaustive()
    }
}

fn scope_of(scope: &Scope) -> KvScope {
    KvScope {
        tenant_id: scope.tenant_id,
        plugin_id: scope.plugin_id.clone(),
        subject_id: scope.subject_id,
    }
}

fn unavailable(e: impl std::fmt::Display) -> BlobError {
    BlobError::Unavailable(e.to_string())
}

impl Storage {
    /// Storage with the default quota.
    pub fn new(blobs: BlobStore, mailer: Option<Mailer>) -> Self {
        Self {
            blobs,
            mailer,
            quota: DEFAULT_QUOTA,
        }
    }

    async fn check_quota(
        &self,
        store: &Store,
        scope: &KvScope,
        name: &str,
        size: u64,
    ) -> Result<(), BlobError> {
        let used = store.plugin_blob_usage(scope).await.map_err(unavailable)?;
        let replaced = store
            .plugin_blob_get(scope, name)
            .await
            .map_err(unavailable)?
            .map(|r| r.size)
            .unwrap_or(0);
        if used.saturating_sub(replaced).saturating_add(size) > self.quota {
            return Err(BlobError::QuotaExceeded);
        }
        // The operator's storage limit for the whole tenant.
        let limit = store
            .tenant_limits(scope.tenant_id)
            .await
            .map_err(unavailable)?
            .max_storage_bytes;
        if limit > 0 {
            let tenant_used = store
                .tenant_storage_usage(scope.tenant_id)
                .await
                .map_err(unavailable)?
                .total();
            let after = tenant_used.saturating_sub(replaced).saturating_add(size);
            if after > u64::try_from(limit).unwrap_or(u64::MAX) {
                return Err(BlobError::QuotaExceeded);
            }
        }
        Ok(())
    }

    /// Removes content no name points at any more.
    async fn collect(&self, store: &Store, sha: Option<String>) {
        if let Some(sha) = sha {
            if let Ok(false) = store.blob_is_referenced(&sha).await {
                if let Err(e) = self.blobs.remove(&sha).await {
                    tracing::warn!("removing blob {sha}: {e}");
                }
            }
        }
    }

    /// Stores bytes under `name`.
    pub async fn put(
        &self,
        store: &Store,
        scope: &Scope,
        name: &str,
        data: Vec<u8>,
    ) -> Result<(), BlobError> {
        let scope = scope_of(scope);
        self.check_quota(store, &scope, name, data.len() as u64)
            .await?;
        let sha = self.blobs.put(&data).await.map_err(unavailable)?;
        let old = store
            .plugin_blob_put(&scope, name, &sha, data.len() as u64)
            .await
            .map_err(unavailable)?;
        self.collect(store, old).await;
        Ok(())
    }

    /// Moves a finished file in under `name`; its size.
    pub async fn put_file(
        &self,
        store: &Store,
        scope: &Scope,
        name: &str,
        path: &Path,
    ) -> Result<u64, BlobError> {
        let scope = scope_of(scope);
        let size = tokio::fs::metadata(path).await.map_err(unavailable)?.len();
        self.check_quota(store, &scope, name, size).await?;
        let (sha, size) = self.blobs.put_file(path).await.map_err(unavailable)?;
        let old = store
            .plugin_blob_put(&scope, name, &sha, size)
            .await
            .map_err(unavailable)?;
        self.collect(store, old).await;
        Ok(size)
    }

    /// Reads `name`.
    pub async fn get(
        &self,
        store: &Store,
        scope: &Scope,
        name: &str,
    ) -> Result<Vec<u8>, BlobError> {
        let r = store
            .plugin_blob_get(&scope_of(scope), name)
            .await
            .map_err(unavailable)?
            .ok_or(BlobError::NotFound)?;
        self.blobs.get(&r.sha256).await.map_err(unavailable)
    }

    /// Points `to` at the content of `from`.
    pub async fn copy(
        &self,
        store: &Store,
        scope: &Scope,
        from: &str,
        to: &str,
    ) -> Result<(), BlobError> {
        let scope = scope_of(scope);
        let r = store
            .plugin_blob_get(&scope, from)
            .await
            .map_err(unavailable)?
            .ok_or(BlobError::NotFound)?;
        self.check_quota(store, &scope, to, r.size).await?;
        let old = store
            .plugin_blob_put(&scope, to, &r.sha256, r.size)
            .await
            .map_err(unavailable)?;
        self.collect(store, old).await;
        Ok(())
    }

    /// Removes `name`.
    pub async fn delete(&self, store: &Store, scope: &Scope, name: &str) -> Result<(), BlobError> {
        let old = store
            .plugin_blob_delete(&scope_of(scope), name)
            .await
            .map_err(unavailable)?
            .ok_or(BlobError::NotFound)?;
        self.collect(store, Some(old)).await;
        Ok(())
    }

    /// Names with the prefix.
    pub async fn list(&self, store: &Store, scope: &Scope, prefix: &str) -> Vec<BlobInfo> {
        match store.plugin_blob_list(&scope_of(scope), prefix).await {
            Ok(list) => list
                .into_iter()
                .map(|(name, r)| BlobInfo {
                    name,
                    size: r.size,
                    created_at: u64::try_from(r.created_at).unwrap_or(0),
                })
                .collect(),
            Err(e) => {
                tracing::warn!("listing blobs: {e}");
                Vec::new()
            }
        }
    }

    /// Bytes used.
    pub async fn usage(&self, store: &Store, scope: &Scope) -> u64 {
        store.plugin_blob_usage(&scope_of(scope)).await.unwrap_or(0)
    }

    /// Queues a plugin's mail, reading blob attachments from its scope.
    /// Checks `m` against the tenant's mail policy and quota; returns the
    /// sender to use. Recipients must be addresses of the tenant's users, in
    /// the tenant's own domain, or in a domain the operator allowed for it; a tenant sends at
    /// most `[mail] tenant_mails_per_hour`; the sender is the tenant's (the
    /// operator's setting) or the host's address under the tenant's name.
    async fn mail_policy(
        &self,
        store: &Store,
        tenant_id: i64,
        tenant_domain: &str,
        m: &MailMessage,
        mailer: &Mailer,
    ) -> Result<String, MailError> {
        let unavailable = |e: crate::store::StoreError| MailError::Unavailable(e.to_string());
        let policy = store
            .tenant_mail_policy(tenant_id)
            .await
            .map_err(unavailable)?;
        let scope_domain = tenant_domain.to_ascii_lowercase();
        for rcpt in m.to.iter().chain(&m.cc) {
            let domain = rcpt
                .rsplit_once('@')
                .map(|(_, d)| d.to_ascii_lowercase())
                .unwrap_or_default();
            let allowed = domain == scope_domain
                || policy.allowed_domains.contains(&domain)
                || store
                    .tenant_has_user_email(tenant_id, rcpt)
                    .await
                    .map_err(unavailable)?;
            if !allowed {
                return Err(MailError::Invalid(format!(
                    "`{rcpt}` is neither a user of this tenant nor in a domain the operator allowed"
                )));
            }
        }
        let per_hour = mailer.tenant_mails_per_hour();
        if per_hour > 0 {
            let since = crate::now_ms() - 3_600_000;
            let sent = store
                .outbox_count_since(tenant_id, since)
                .await
                .map_err(unavailable)?;
            if sent >= i64::from(per_hour) {
                return Err(MailError::Unavailable(format!(
                    "the tenant sent its {per_hour} mails of this hour"
                )));
            }
        }
        if !policy.from_address.is_empty() {
            return Ok(policy.from_address);
        }
        let name = store
            .tenant(tenant_id)
            .await
            .map_err(unavailable)?
            .map(|t| t.name)
            .unwrap_or_default();
        let name: String = name
            .chars()
            .filter(|c| !c.is_control() && !matches!(c, '"' | '\\' | '<' | '>'))
            .take(64)
            .collect();
        let host_from = mailer.default_from();
        Ok(if name.trim().is_empty() {
            host_from.to_string()
        } else {
            format!("\"{}\" <{}>", name.trim(), bare_address(host_from))
        })
    }

    pub async fn send_mail(
        &self,
        store: &Store,
        scope: &Scope,
        m: MailMessage,
    ) -> Result<u64, MailError> {
        let Some(mailer) = &self.mailer else {
            return Err(MailError::Unavailable("no outbox configured".into()));
        };
        let from = self
            .mail_policy(store, scope.tenant_id, &scope.tenant_domain, &m, mailer)
            .await?;
        let mut attachments = Vec::with_capacity(m.attachments.len());
        let mut total = 0usize;
        for a in m.attachments {
            let data = match a.data {
                AttachmentData::Bytes(b) => b,
                AttachmentData::Blob(name) => match self.get(store, scope, &name).await {
                    Ok(b) => b,
                    Err(BlobError::NotFound) => {
                        return Err(MailError::Invalid(format!("no blob `{name}` to attach")))
                    }
                    Err(e) => return Err(MailError::Unavailable(format!("blob `{name}`: {e:?}"))),
                },
            };
            total += data.len();
            if total > MAX_ATTACHMENT_BYTES {
                return Err(MailError::Invalid(format!(
                    "attachments larger than {MAX_ATTACHMENT_BYTES} bytes"
                )));
            }
            attachments.push(OutAttachment {
                filename: a.filename,
                content_type: a.content_type,
                data,
            });
        }
        // Queued mail counts toward the tenant's storage limit (base64
        // makes attachments a third larger).
        let size = (total as u64).saturating_mul(4) / 3 + m.text.len() as u64;
        match store.tenant_storage_allows(scope.tenant_id, size).await {
            Ok(true) => {}
            Ok(false) => {
                return Err(MailError::Unavailable(
                    "the tenant's storage limit is reached".into(),
                ))
            }
            Err(e) => return Err(MailError::Unavailable(e.to_string())),
        }
        let mail = Mail {
            tenant_id: scope.tenant_id,
            from: Some(from),
            to: m.to,
            cc: m.cc,
            subject: m.subject,
            text: m.text,
            attachments,
        };
        match mailer.enqueue(mail).await {
            Ok(id) => Ok(u64::try_from(id).unwrap_or(0)),
            Err(crate::mail::MailError::Invalid(why)) => Err(MailError::Invalid(why)),
            Err(e) => Err(MailError::Unavailable(e.to_string())),
        }
    }
}

/// `a@b` of `Name <a@b>` (or the string itself).
fn bare_address(s: &str) -> &str {
    match (s.find('<'), s.rfind('>')) {
        (Some(i), Some(j)) if i < j => &s[i + 1..j],
        _ => s.trim(),
    }
}
