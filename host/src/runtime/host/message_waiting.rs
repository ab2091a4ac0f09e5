//! `centrale:plugin/message-waiting`: a subject's message counts, which the
//! host turns into SIP NOTIFY message-summary to its phones (RFC 3842).
//! The backend only accepts subjects of the invocation's tenant.

use wasmtime::component::{HasSelf, Linker};

use super::{wit, Getter, HostState};

/// Adds `message-waiting` to the linker.
pub(crate) fn link<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: Getter<T>,
) -> wasmtime::Result<()> {
    wit::message_waiting::add_to_linker::<T, HasSelf<HostState>>(linker, get)
}

impl wit::message_waiting::Host for HostState {
    async fn set(
        &mut self,
        subject: u64,
        new_messages: u32,
        old_messages: u32,
    ) -> wasmtime::Result<()> {
        self.ctx.charge("message-waiting.set")?;
        self.ctx
            .backend
            .mwi_set(&self.ctx.scope, subject, new_messages, old_messages)
            .await;
        Ok(())
    }
}
