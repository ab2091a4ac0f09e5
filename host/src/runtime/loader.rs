//! Loading a plugin: validate, compile (or load from the cache), check the
//! component's imports against the manifest's capabilities and its exports,
//! and pre-link it against only the host interfaces it may use.

use std::collections::BTreeSet;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker};

use super::bindings::{v0_1, PluginPre};
use super::invoke::StoreState;
use super::manifest::{Capability, Manifest, WitLine};
use super::outcome::{PluginStats, StatsCounters};
use super::{host, PluginError, Runtime};

/// The WIT package this host serves.
pub const PACKAGE: &str = "centrale:plugin";

/// A component pre-linked against the host interfaces of its line.
pub(crate) enum Pre {
    /// Built against 0.1: hooks only.
    V0_1(v0_1::PluginPre<StoreState>),
    /// Built against 0.2: hooks, session, timers.
    V0_2(PluginPre<StoreState>),
}

/// A plugin ready to invoke: its manifest and pre-linked component.
pub struct LoadedPlugin {
    pub(crate) manifest: Manifest,
    pub(crate) pre: Pre,
    line: WitLine,
    sha256: String,
    imported: Vec<Capability>,
    foreign_imports: Vec<String>,
    from_cache: bool,
    pub(crate) stats: StatsCounters,
}

impl std::fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPlugin")
            .field("id", &self.manifest.id)
            .field("version", &self.manifest.version)
            .field("sha256", &self.sha256)
            .field("imported", &self.imported)
            .field("foreign_imports", &self.foreign_imports)
            .finish_non_exhaustive()
    }
}

impl LoadedPlugin {
    /// The manifest it was loaded with.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The manifest id.
    pub fn id(&self) -> &str {
        &self.manifest.id
    }

    /// sha256 of the component bytes, hex.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// The `centrale:plugin` interfaces the component actually imports.
    pub fn imported_capabilities(&self) -> &[Capability] {
        &self.imported
    }

    /// Imports outside `centrale:plugin` (e.g. `wasi:cli/stderr@0.2.6`),
    /// satisfied by stubs that trap when called. Shown to admins.
    pub fn foreign_imports(&self) -> &[String] {
        &self.foreign_imports
    }

    /// The `centrale:plugin` line the component was built against.
    pub fn wit_line(&self) -> WitLine {
        self.line
    }

    /// Whether the plugin can run sessions (`take-over`): built against 0.2.
    pub fn has_session(&self) -> bool {
        self.line >= WitLine::V0_2
    }

    /// Whether the compiled artefact came from the disk cache.
    pub fn from_cache(&self) -> bool {
        self.from_cache
    }

    /// Invocation and fault counters.
    pub fn stats(&self) -> PluginStats {
        self.stats.snapshot()
    }
}

impl Runtime {
    /// Checks `wasm` against `manifest` and prepares it for invocation.
    ///
    /// Fails when the manifest is invalid, the bytes are not a component, the
    /// component imports a `centrale:plugin` interface the manifest does not
    /// declare (`UndeclaredImports`, naming them all), imports a version of
    /// the package this host does not serve or mixes lines, or does not
    /// export `centrale:plugin/hooks` (`NotAPlugin`). Blocking (compiles on
    /// a cache miss).
    pub fn load(&self, manifest: &Manifest, wasm: &[u8]) -> Result<Arc<LoadedPlugin>, PluginError> {
        manifest.validate()?;
        host::check(manifest)?;
        check_header(wasm)?;
        let sha256 = hex::encode(Sha256::digest(wasm));
        let (component, from_cache) = self.compile(&sha256, wasm)?;
        let line = self.check_exports(&component)?;
        if line != manifest.wit_line() {
            return Err(PluginError::IncompatibleWit(format!(
                "the component was built against centrale:plugin {} but plugin.toml says wit = \"{}\"",
                line.name(),
                manifest.wit
            )));
        }
        let (imported, foreign_imports) = self.check_imports(&component, manifest, line)?;

        let mut linker: Linker<StoreState> = Linker::new(&self.engine);
        host::link_granted(&mut linker, manifest, line, |s: &mut StoreState| {
            &mut s.host
        })
        .map_err(|e| PluginError::Link(format!("{e:#}")))?;
        linker
            .define_unknown_imports_as_traps(&component)
            .map_err(|e| PluginError::Link(format!("{e:#}")))?;
        let pre = linker
            .instantiate_pre(&component)
            .map_err(|e| PluginError::Link(format!("{e:#}")))?;
        let not_a_plugin = |e: wasmtime::Error| PluginError::NotAPlugin(format!("{e:#}"));
        let pre = match line {
            WitLine::V0_1 => Pre::V0_1(v0_1::PluginPre::new(pre).map_err(not_a_plugin)?),
            WitLine::V0_2 => Pre::V0_2(PluginPre::new(pre).map_err(not_a_plugin)?),
        };
        Ok(Arc::new(LoadedPlugin {
            manifest: manifest.clone(),
            pre,
            line,
            sha256,
            imported,
            foreign_imports,
            from_cache,
            stats: StatsCounters::default(),
        }))
    }

    /// The component from the cache, or compiled (and then cached).
    fn compile(&self, sha256: &str, wasm: &[u8]) -> Result<(Component, bool), PluginError> {
        if let Some(cache) = &self.cache {
            if let Some(component) = cache.load(&self.engine, sha256) {
                return Ok((component, true));
            }
        }
        let component = Component::new(&self.engine, wasm)
            .map_err(|e| PluginError::Compile(format!("{e:#}")))?;
        if let Some(cache) = &self.cache {
            cache.store(sha256, &component);
        }
        Ok((component, false))
    }

    /// Sorts the imports into `centrale:plugin` capabilities (which must be
    /// declared) and foreign ones (stubbed).
    fn check_imports(
        &self,
        component: &Component,
        manifest: &Manifest,
        line: WitLine,
    ) -> Result<(Vec<Capability>, Vec<String>), PluginError> {
        let ty = component.component_type();
        let granted = manifest.granted();
        let mut imported = BTreeSet::new();
        let mut undeclared = BTreeSet::new();
        let mut foreign = Vec::new();
        for (name, _) in ty.imports(&self.engine) {
            let Some((interface, version)) = split_plugin_import(name) else {
                foreign.push(name.to_string());
                continue;
            };
            if check_version(name, version)? != line {
                return Err(PluginError::IncompatibleWit(format!(
                    "imports `{name}` but exports centrale:plugin {}: one line per component",
                    line.name()
                )));
            }
            if interface == "types" || interface == "audio" {
                continue;
            }
            match Capability::from_name(interface) {
                Some(cap) if granted.contains(&cap) => {
                    imported.insert(cap);
                }
                Some(_) => {
                    undeclared.insert(interface.to_string());
                }
                None => {
                    return Err(PluginError::IncompatibleWit(format!(
                        "imports `{name}`, which this host does not serve"
                    )))
                }
            }
        }
        if !undeclared.is_empty() {
            return Err(PluginError::UndeclaredImports(
                undeclared.into_iter().collect(),
            ));
        }
        foreign.sort();
        Ok((imported.into_iter().collect(), foreign))
    }

    /// The line of the `hooks` export, which every plugin has.
    fn check_exports(&self, component: &Component) -> Result<WitLine, PluginError> {
        let ty = component.component_type();
        let exports: Vec<&str> = ty.exports(&self.engine).map(|(name, _)| name).collect();
        let hooks = exports
            .iter()
            .find_map(|name| match split_plugin_import(name) {
                Some(("hooks", version)) => Some((name, version)),
                _ => None,
            });
        match hooks {
            Some((name, version)) => check_version(name, version),
            None => Err(PluginError::NotAPlugin(format!(
                "it does not export `{PACKAGE}/hooks@0.2.x` or `@0.1.x` (exports: {})",
                if exports.is_empty() {
                    "none".to_string()
                } else {
                    exports.join(", ")
                }
            ))),
        }
    }
}

/// `centrale:plugin/kv@0.1.0` -> `("kv", "0.1.0")`; `None` for other packages.
fn split_plugin_import(name: &str) -> Option<(&str, &str)> {
    let rest = name.strip_prefix(PACKAGE)?.strip_prefix('/')?;
    Some(match rest.split_once('@') {
        Some((interface, version)) => (interface, version),
        None => (rest, ""),
    })
}

/// The line of `0.1.x` or `0.2.x` (any patch, pre-release or build).
fn check_version(name: &str, version: &str) -> Result<WitLine, PluginError> {
    semver::Version::parse(version)
        .ok()
        .and_then(|v| WitLine::from_parts(v.major, v.minor))
        .ok_or_else(|| {
            PluginError::IncompatibleWit(format!(
                "`{name}`: this host serves {PACKAGE}@0.1.x and @0.2.x"
            ))
        })
}

/// Components start with the wasm magic and the component layer/version
/// (`0d 00 01 00`); core modules have `01 00 00 00`.
fn check_header(wasm: &[u8]) -> Result<(), PluginError> {
    const MAGIC: &[u8] = b"\0asm";
    if wasm.len() < 8 || &wasm[..4] != MAGIC {
        return Err(PluginError::NotAComponent(
            "not a WebAssembly binary".to_string(),
        ));
    }
    match &wasm[4..8] {
        [0x0d, 0x00, 0x01, 0x00] => Ok(()),
        [0x01, 0x00, 0x00, 0x00] => Err(PluginError::NotAComponent(
            "a core module, not a component: build for wasm32-wasip2 (or wrap it with `wasm-tools component new`)"
                .to_string(),
        )),
        other => Err(PluginError::NotAComponent(format!(
            "unsupported binary version {other:02x?}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_names() {
        assert_eq!(
            split_plugin_import("centrale:plugin/kv@0.1.0"),
            Some(("kv", "0.1.0"))
        );
        assert_eq!(split_plugin_import("wasi:cli/stderr@0.2.6"), None);
        assert_eq!(split_plugin_import("centrale:pluginx/kv@0.1.0"), None);
        assert_eq!(check_version("x", "0.1.7"), Ok(WitLine::V0_1));
        assert_eq!(check_version("x", "0.2.0"), Ok(WitLine::V0_2));
        assert!(check_version("x", "0.3.0").is_err());
        assert!(check_version("x", "").is_err());
    }

    #[test]
    fn headers() {
        assert!(check_header(b"\0asm\x0d\x00\x01\x00").is_ok());
        assert!(
            matches!(check_header(b"\0asm\x01\x00\x00\x00"), Err(PluginError::NotAComponent(m)) if m.contains("core module"))
        );
        assert!(check_header(b"hello").is_err());
    }
}
