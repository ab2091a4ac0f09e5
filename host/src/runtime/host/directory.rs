//! `centrale:plugin/directory`: read-only lookups in the invocation's own
//! tenant. The tenant comes from the scope, never from the guest, so nothing
//! of another tenant can be returned.

use wasmtime::component::{HasSelf, Linker};

use super::{wit, Getter, HostState, Scope};
use crate::runtime::manifest::{Manifest, ManifestError};
use crate::runtime::types::Subject;

/// Longest extension or number looked up, bytes (longer ones match nothing).
pub const MAX_QUERY: usize = 64;

/// Adds `directory` to the linker.
pub(crate) fn link<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: Getter<T>,
) -> wasmtime::Result<()> {
    wit::directory::add_to_linker::<T, HasSelf<HostState>>(linker, get)
}

/// Nothing beyond the capability itself.
pub(crate) fn check(_manifest: &Manifest) -> Result<(), ManifestError> {
    Ok(())
}

/// The only tenant this instance may read.
pub(crate) struct State {
    tenant_id: i64,
}

impl State {
    pub(crate) fn new(scope: &Scope) -> Self {
        Self {
            tenant_id: scope.tenant_id,
        }
    }
}

impl wit::directory::Host for HostState {
    async fn by_extension(&mut self, extension: String) -> wasmtime::Result<Option<Subject>> {
        self.ctx.charge("directory.by-extension")?;
        if extension.is_empty() || extension.len() > MAX_QUERY {
            return Ok(None);
        }
        let tenant = self.directory.tenant_id;
        Ok(self
            .ctx
            .backend
            .directory_by_extension(tenant, &extension)
            .await)
    }

    async fn by_number(&mut self, number: String) -> wasmtime::Result<Option<Subject>> {
        self.ctx.charge("directory.by-number")?;
        if number.is_empty() || number.len() > MAX_QUERY {
            return Ok(None);
        }
        let tenant = self.directory.tenant_id;
        Ok(self.ctx.backend.directory_by_number(tenant, &number).await)
    }

    async fn by_id(&mut self, id: u64) -> wasmtime::Result<Option<Subject>> {
        self.ctx.charge("directory.by-id")?;
        let tenant = self.directory.tenant_id;
        Ok(self.ctx.backend.directory_by_id(tenant, id).await)
    }

    async fn is_reachable(&mut self, id: u64) -> wasmtime::Result<bool> {
        self.ctx.charge("directory.is-reachable")?;
        let tenant = self.directory.tenant_id;
        Ok(self.ctx.backend.is_reachable(tenant, id).await)
    }
}
