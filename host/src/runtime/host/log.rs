//! `centrale:plugin/log`: lines into the host's log, tagged with tenant,
//! plugin and call. Granted to every plugin (declaring `log` is optional).
//! Each line is truncated to 1024 bytes; past 100 lines per invocation the
//! rest are dropped (and one notice says so).

use wasmtime::component::{HasSelf, Linker};

use super::{wit, Getter, HostState, Scope};
use crate::runtime::manifest::{Manifest, ManifestError};
use crate::runtime::outcome::truncate;
use crate::runtime::types::LogLevel;

/// Longest line kept, bytes.
pub const MAX_LINE: usize = 1024;
/// Lines kept per invocation.
pub const MAX_LINES: u32 = 100;

/// Adds `log` to the linker.
pub(crate) fn link<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: Getter<T>,
) -> wasmtime::Result<()> {
    wit::log::add_to_linker::<T, HasSelf<HostState>>(linker, get)
}

/// Nothing to check: every plugin may log.
pub(crate) fn check(_manifest: &Manifest) -> Result<(), ManifestError> {
    Ok(())
}

/// Lines written in this invocation.
pub(crate) struct State {
    lines: u32,
}

impl State {
    pub(crate) fn new(_scope: &Scope) -> Self {
        Self { lines: 0 }
    }
}

impl wit::log::Host for HostState {
    async fn write(&mut self, level: LogLevel, mut message: String) -> wasmtime::Result<()> {
        self.ctx.charge("log.write")?;
        self.log.lines += 1;
        if self.log.lines > MAX_LINES {
            if self.log.lines == MAX_LINES + 1 {
                let notice = format!(
                    "log: more than {MAX_LINES} lines in one invocation; dropping the rest"
                );
                self.ctx
                    .backend
                    .log(&self.ctx.scope, &self.ctx.call_id, LogLevel::Warn, &notice);
            }
            return Ok(());
        }
        truncate(&mut message, MAX_LINE);
        self.ctx
            .backend
            .log(&self.ctx.scope, &self.ctx.call_id, level, &message);
        Ok(())
    }
}
