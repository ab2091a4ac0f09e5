//! `centrale:plugin/blobs`: durable binary objects (recordings, greetings)
//! of the (tenant, plugin, subject) scope. Names are checked here; sizes
//! and the per-scope quota are enforced here and in the backend.

use wasmtime::component::{HasSelf, Linker};

use super::{wit, Getter, HostState};

pub use wit::blobs::{BlobError, BlobInfo};

/// Longest blob name, bytes.
pub const MAX_NAME: usize = 128;
/// Largest blob a plugin may read into or write from its instance.
pub const MAX_INSTANCE_BLOB: usize = 16 << 20;
/// Default bytes per scope.
pub const DEFAULT_QUOTA: u64 = 64 << 20;
/// Most entries one `list` returns.
pub const MAX_LIST: usize = 1000;

/// Adds `blobs` to the linker.
pub(crate) fn link<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: Getter<T>,
) -> wasmtime::Result<()> {
    wit::blobs::add_to_linker::<T, HasSelf<HostState>>(linker, get)
}

/// `[A-Za-z0-9._-]{1,128}`, not starting with a dot.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

impl wit::blobs::Host for HostState {
    async fn put(
        &mut self,
        name: String,
        data: Vec<u8>,
    ) -> wasmtime::Result<Result<(), BlobError>> {
        self.ctx.charge("blobs.put")?;
        if !valid_name(&name) {
            return Ok(Err(BlobError::InvalidName));
        }
        if data.len() > MAX_INSTANCE_BLOB {
            return Ok(Err(BlobError::QuotaExceeded));
        }
        Ok(self
            .ctx
            .backend
            .blob_put(&self.ctx.scope, &name, data)
            .await)
    }

    async fn get(&mut self, name: String) -> wasmtime::Result<Result<Vec<u8>, BlobError>> {
        self.ctx.charge("blobs.get")?;
        if !valid_name(&name) {
            return Ok(Err(BlobError::InvalidName));
        }
        Ok(
            match self.ctx.backend.blob_get(&self.ctx.scope, &name).await {
                Ok(data) if data.len() > MAX_INSTANCE_BLOB => Err(BlobError::QuotaExceeded),
                other => other,
            },
        )
    }

    async fn copy(
        &mut self,
        source: String,
        destination: String,
    ) -> wasmtime::Result<Result<(), BlobError>> {
        self.ctx.charge("blobs.copy")?;
        if !valid_name(&source) || !valid_name(&destination) {
            return Ok(Err(BlobError::InvalidName));
        }
        Ok(self
            .ctx
            .backend
            .blob_copy(&self.ctx.scope, &source, &destination)
            .await)
    }

    async fn delete(&mut self, name: String) -> wasmtime::Result<Result<(), BlobError>> {
        self.ctx.charge("blobs.delete")?;
        if !valid_name(&name) {
            return Ok(Err(BlobError::InvalidName));
        }
        Ok(self.ctx.backend.blob_delete(&self.ctx.scope, &name).await)
    }

    async fn list(&mut self, prefix: String) -> wasmtime::Result<Vec<BlobInfo>> {
        self.ctx.charge("blobs.list")?;
        if prefix.len() > MAX_NAME {
            return Ok(Vec::new());
        }
        let mut list = self.ctx.backend.blob_list(&self.ctx.scope, &prefix).await;
        list.retain(|b| b.name.starts_with(&prefix));
        list.sort_by(|a, b| a.name.cmp(&b.name));
        list.truncate(MAX_LIST);
        Ok(list)
    }

    async fn usage(&mut self) -> wasmtime::Result<u64> {
        self.ctx.charge("blobs.usage")?;
        Ok(self.ctx.backend.blob_usage(&self.ctx.scope).await)
    }
}

#[cfg(test)]
mod tests {
    use super::valid_name;

    #[test]
    fn names() {
        assert!(valid_name("msg-1700000000.wav"));
        assert!(valid_name("greeting_busy"));
        assert!(!valid_name(""));
        assert!(!valid_name("../etc/passwd"));
        assert!(!valid_name("a/b"));
        assert!(!valid_name(".hidden"));
        assert!(!valid_name(&"x".repeat(129)));
    }
}
