//! The on-disk cache of compiled components.
//!
//! A file name is `<sha256 of the wasm>-wasmtime<version>-<engine hash>.cwasm`:
//! a precompiled artefact only loads into an engine of the same wasmtime
//! version configured the same way (`Engine::precompile_compatibility_hash`),
//! so any change of either simply misses the cache. Files are written to a
//! temporary name and renamed, so a crash never leaves a torn artefact.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use wasmtime::component::Component;
use wasmtime::Engine;

/// The wasmtime version the host is pinned to (`=48.0.8` in Cargo.toml).
pub const WASMTIME_VERSION: &str = "48.0.8";

/// Serialized components in one directory, for one engine configuration.
#[derive(Debug)]
pub(crate) struct ComponentCache {
    dir: PathBuf,
    engine_tag: String,
}

impl ComponentCache {
    /// A cache in `dir` (created if missing) for `engine`.
    pub(crate) fn new(dir: &Path, engine: &Engine) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Ok(Self {
            dir: dir.to_path_buf(),
            engine_tag: format!("{:016x}", hasher.finish()),
        })
    }

    /// Where the artefact of the wasm with this sha256 (hex) lives.
    pub(crate) fn path_for(&self, sha256: &str) -> PathBuf {
        self.dir.join(format!(
            "{sha256}-wasmtime{WASMTIME_VERSION}-{}.cwasm",
            self.engine_tag
        ))
    }

    /// The cached component, when present and loadable.
    ///
    /// The file is read into memory rather than mapped with
    /// `Component::deserialize_file`: a mapped artefact that anyone truncates
    /// or rewrites in place (an admin clearing the cache, a second host on a
    /// shared volume) would crash the whole process with SIGBUS.
    pub(crate) fn load(&self, engine: &Engine, sha256: &str) -> Option<Component> {
        let path = self.path_for(sha256);
        let bytes = std::fs::read(&path).ok()?;
        // SAFETY: `deserialize` trusts the bytes to be an artefact that
        // wasmtime produced. The cache directory belongs to the host (only it
        // writes there, via `store` below); the name binds the content hash,
        // the wasmtime version and the engine configuration, and wasmtime
        // itself re-checks version and configuration in the header.
        match unsafe { Component::deserialize(engine, &bytes) } {
            Ok(component) => Some(component),
            Err(e) => {
                tracing::warn!(path = %path.display(), "discarding unloadable cached component: {e}");
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    /// Stores a compiled component; failures are logged, never fatal.
    pub(crate) fn store(&self, sha256: &str, component: &Component) {
        let path = self.path_for(sha256);
        let result = component
            .serialize()
            .map_err(|e| e.to_string())
            .and_then(|bytes| write_atomically(&path, &bytes).map_err(|e| e.to_string()));
        if let Err(e) = result {
            tracing::warn!(path = %path.display(), "could not cache compiled component: {e}");
        }
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let tmp = path.with_extension(format!(
        "tmp{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    let result = write();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
