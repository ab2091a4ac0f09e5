//! `centrale:plugin/schedule`: the time and the invocation's own tenant's
//! schedules.

use wasmtime::component::{HasSelf, Linker};

use super::{wit, Getter, HostState, Scope};
use crate::runtime::manifest::{Manifest, ManifestError};
use crate::runtime::types::LocalTime;

/// Longest schedule name looked up, bytes.
pub const MAX_NAME: usize = 128;

/// Adds `schedule` to the linker.
pub(crate) fn link<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: Getter<T>,
) -> wasmtime::Result<()> {
    wit::schedule::add_to_linker::<T, HasSelf<HostState>>(linker, get)
}

/// Nothing beyond the capability itself.
pub(crate) fn check(_manifest: &Manifest) -> Result<(), ManifestError> {
    Ok(())
}

/// The tenant whose schedules and time zone apply.
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

impl wit::schedule::Host for HostState {
    async fn now(&mut self) -> wasmtime::Result<u64> {
        self.ctx.charge("schedule.now")?;
        Ok(self.ctx.backend.now_ms())
    }

    async fn local_now(&mut self) -> wasmtime::Result<LocalTime> {
        self.ctx.charge("schedule.local-now")?;
        let now = self.ctx.backend.now_ms();
        Ok(self.ctx.backend.local_time(self.schedule.tenant_id, now))
    }

    async fn is_open(&mut self, name: String) -> wasmtime::Result<Option<bool>> {
        self.ctx.charge("schedule.is-open")?;
        if name.is_empty() || name.len() > MAX_NAME {
            return Ok(None);
        }
        let now = self.ctx.backend.now_ms();
        Ok(self
            .ctx
            .backend
            .schedule_is_open(self.schedule.tenant_id, &name, now)
            .await)
    }
}
