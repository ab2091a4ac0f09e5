//! `centrale:plugin/settings`: the plugin's settings for the current subject,
//! as JSON. Fetched once per invocation and cached.

use wasmtime::component::{HasSelf, Linker};

use super::{wit, Getter, HostState, Scope};
use crate::runtime::manifest::{Capability, Manifest, ManifestError};

/// Adds `settings` to the linker.
pub(crate) fn link<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: Getter<T>,
) -> wasmtime::Result<()> {
    wit::settings::add_to_linker::<T, HasSelf<HostState>>(linker, get)
}

/// A settings schema is only useful with the `settings` capability (the
/// schema itself is checked by `Manifest::validate`).
pub(crate) fn check(manifest: &Manifest) -> Result<(), ManifestError> {
    if manifest.settings.is_some() && !manifest.grants(Capability::Settings) {
        return Err(ManifestError {
            field: "capabilities".to_string(),
            message: "a [settings] schema is given but `settings` is not declared, so the plugin could never read them".to_string(),
        });
    }
    Ok(())
}

/// The settings, once read.
pub(crate) struct State {
    cached: Option<String>,
}

impl State {
    pub(crate) fn new(_scope: &Scope) -> Self {
        Self { cached: None }
    }
}

impl wit::settings::Host for HostState {
    async fn get(&mut self) -> wasmtime::Result<String> {
        self.ctx.charge("settings.get")?;
        if let Some(json) = &self.settings.cached {
            return Ok(json.clone());
        }
        let json = self.ctx.backend.settings(&self.ctx.scope).await;
        self.settings.cached = Some(json.clone());
        Ok(json)
    }
}
