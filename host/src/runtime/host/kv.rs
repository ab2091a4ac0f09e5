//! `centrale:plugin/kv`: the (tenant, plugin, subject) key-value namespace.
//! Quotas enforced here, before the backend: key 1..=256 bytes, value at most
//! 64 KiB, at most 1000 keys listed. The backend enforces the key count per
//! scope (1000).

use wasmtime::component::{HasSelf, Linker};

use super::{wit, Getter, HostState, Scope};
use crate::runtime::manifest::{Manifest, ManifestError};
use crate::runtime::types::KvError;

/// Longest key, bytes.
pub const MAX_KEY: usize = 256;
/// Largest value, bytes.
pub const MAX_VALUE: usize = 64 * 1024;
/// Most keys per scope (enforced by the backend) and per `list-keys` answer.
pub const MAX_KEYS: usize = 1000;

/// Adds `kv` to the linker.
pub(crate) fn link<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: Getter<T>,
) -> wasmtime::Result<()> {
    wit::kv::add_to_linker::<T, HasSelf<HostState>>(linker, get)
}

/// Nothing beyond the capability itself.
pub(crate) fn check(_manifest: &Manifest) -> Result<(), ManifestError> {
    Ok(())
}

/// The namespace: the backend keys data by the scope itself, this is its
/// printable name for logs.
pub(crate) struct State {
    namespace: String,
}

impl State {
    pub(crate) fn new(scope: &Scope) -> Self {
        let subject = scope
            .subject_id
            .map(|s| s.to_string())
            .unwrap_or_else(|| "-".to_string());
        Self {
            namespace: format!("{}/{}/{subject}", scope.tenant_id, scope.plugin_id),
        }
    }
}

fn valid_key(key: &str) -> bool {
    !key.is_empty() && key.len() <= MAX_KEY
}

impl wit::kv::Host for HostState {
    async fn get(&mut self, key: String) -> wasmtime::Result<Option<Vec<u8>>> {
        self.ctx.charge("kv.get")?;
        if !valid_key(&key) {
            return Ok(None);
        }
        match self.ctx.backend.kv_get(&self.ctx.scope, &key).await {
            Ok(value) => Ok(value),
            Err(e) => {
                tracing::warn!(namespace = %self.kv.namespace, "kv.get failed: {e:?}");
                Ok(None)
            }
        }
    }

    async fn set(&mut self, key: String, value: Vec<u8>) -> wasmtime::Result<Result<(), KvError>> {
        self.ctx.charge("kv.set")?;
        if !valid_key(&key) {
            return Ok(Err(KvError::InvalidKey));
        }
        if value.len() > MAX_VALUE {
            return Ok(Err(KvError::QuotaExceeded));
        }
        Ok(self.ctx.backend.kv_set(&self.ctx.scope, &key, value).await)
    }

    async fn delete(&mut self, key: String) -> wasmtime::Result<Result<(), KvError>> {
        self.ctx.charge("kv.delete")?;
        if !valid_key(&key) {
            return Ok(Err(KvError::InvalidKey));
        }
        Ok(self.ctx.backend.kv_delete(&self.ctx.scope, &key).await)
    }

    async fn list_keys(&mut self, prefix: String) -> wasmtime::Result<Vec<String>> {
        self.ctx.charge("kv.list-keys")?;
        if prefix.len() > MAX_KEY {
            return Ok(Vec::new());
        }
        let mut keys = self.ctx.backend.kv_list(&self.ctx.scope, &prefix).await;
        keys.retain(|k| k.starts_with(&prefix));
        keys.sort();
        keys.truncate(MAX_KEYS);
        Ok(keys)
    }
}
