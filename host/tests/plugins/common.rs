//! Helpers shared by the runtime tests: build the test plugins once, make
//! runtimes, scopes and calls.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use centrale_host::runtime::build::build_component;
use centrale_host::runtime::memory_backend::MemoryBackend;
use centrale_host::runtime::types::{Call, Direction, Party, Subject, SubjectKind};
use centrale_host::runtime::{LoadedPlugin, Manifest, Runtime, RuntimeConfig, Scope};

/// Tenant A (1) owns Alice: extension 201, number +31201234567, id 7.
pub const TENANT_A: i64 = 1;
/// Tenant B (2) owns Bob: extension 301, id 9.
pub const TENANT_B: i64 = 2;

/// The directory of a test plugin crate.
pub fn plugin_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/plugins")
        .join(name)
}

/// The manifest and component bytes of a test plugin, built once per process.
pub fn plugin(name: &str) -> (Manifest, Arc<Vec<u8>>) {
    static BUILT: OnceLock<Mutex<HashMap<String, Arc<Vec<u8>>>>> = OnceLock::new();
    let dir = plugin_dir(name);
    let text = std::fs::read_to_string(dir.join("plugin.toml")).unwrap();
    let manifest = Manifest::from_toml(&text).unwrap();
    let built = BUILT.get_or_init(Default::default);
    // Building under the lock serialises the cargo runs (they share a target dir).
    let mut built = built.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(bytes) = built.get(name) {
        return (manifest, bytes.clone());
    }
    let wasm = build_component(&dir).unwrap_or_else(|e| panic!("building {name}: {e}"));
    let bytes = Arc::new(std::fs::read(wasm).unwrap());
    built.insert(name.to_string(), bytes.clone());
    (manifest, bytes)
}

/// A cache directory shared by the whole test process, so each plugin is
/// compiled once.
pub fn shared_cache_dir() -> PathBuf {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().unwrap())
        .path()
        .to_path_buf()
}

/// A backend with tenants A and B populated.
pub fn backend() -> Arc<MemoryBackend> {
    let backend = Arc::new(MemoryBackend::new());
    backend.add_subject(TENANT_A, subject(7, "201", "+31201234567", "Alice"));
    backend.set_reachable(TENANT_A, 7, true);
    backend.add_subject(TENANT_B, subject(9, "301", "+31301234567", "Bob"));
    backend
}

/// A user subject.
pub fn subject(id: u64, extension: &str, number: &str, name: &str) -> Subject {
    Subject {
        id,
        kind: SubjectKind::User,
        extension: Some(extension.to_string()),
        numbers: vec![number.to_string()],
        display_name: name.to_string(),
    }
}

/// A runtime over `backend` with a generous deadline (tests run on busy
/// machines) and a moderate fuel budget.
pub fn runtime(backend: Arc<MemoryBackend>) -> Runtime {
    runtime_with(
        backend,
        RuntimeConfig {
            cache_dir: Some(shared_cache_dir()),
            fuel_per_hook: 20_000_000,
            hook_timeout: Duration::from_millis(500),
            max_instances: 64,
            ..RuntimeConfig::default()
        },
    )
}

/// A runtime with an explicit configuration.
pub fn runtime_with(backend: Arc<MemoryBackend>, config: RuntimeConfig) -> Runtime {
    Runtime::new(config, backend).unwrap()
}

/// Loads a test plugin into `rt`.
pub fn load(rt: &Runtime, name: &str) -> Arc<LoadedPlugin> {
    let (manifest, wasm) = plugin(name);
    rt.load(&manifest, &wasm)
        .unwrap_or_else(|e| panic!("loading {name}: {e}"))
}

/// The scope of `plugin` for a tenant's subject.
pub fn scope(tenant_id: i64, plugin: &LoadedPlugin, subject_id: Option<i64>) -> Scope {
    Scope {
        tenant_id,
        tenant_domain: format!("tenant{tenant_id}.example"),
        plugin_id: plugin.id().to_string(),
        subject_id,
    }
}

/// An inbound call to subject 1 of `tenant_id`.
pub fn call(tenant_id: i64, id: &str, anonymous: bool) -> Call {
    Call {
        id: id.to_string(),
        tenant: format!("tenant{tenant_id}.example"),
        direction: Direction::Inbound,
        caller: Party {
            number: if anonymous {
                String::new()
            } else {
                "+31612345678".to_string()
            },
            display_name: None,
            anonymous,
            asserted_identity: None,
            subject: None,
        },
        subject: subject(1, "200", "+31200000000", "Callee"),
        dialled: "200".to_string(),
        diversions: Vec::new(),
        started_at: 1_772_460_300_000,
    }
}
