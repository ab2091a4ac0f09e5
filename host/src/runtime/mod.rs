//! The WebAssembly plugin runtime (DESIGN.md §4).
//!
//! One [`Runtime`] holds one wasmtime engine (component model, async host
//! functions, fuel, epoch interruption, pooling allocator). [`Runtime::load`]
//! checks a component against its [`Manifest`] and compiles it once (cached on
//! disk); [`Runtime::invoke`] runs one hook in a fresh instance with a CPU,
//! wall-clock, memory and host-call budget and never fails the caller: every
//! problem is a [`HookOutcome::Fault`].
//!
//! Capabilities: a plugin may import a `centrale:plugin` interface only if its
//! manifest lists it in `capabilities` (`log` is implicit: every plugin may
//! log). Undeclared ones make `load` fail naming them, and are not linked.
//! Imports outside `centrale:plugin` (WASI, pulled in by a toolchain's
//! standard library) are linked to stubs that trap when called, and listed by
//! [`LoadedPlugin::foreign_imports`] for admins.
//!
//! `invoke` must run inside a Tokio runtime with the time driver enabled.
//! `load` compiles (100+ ms on a cache miss): call it from `spawn_blocking`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig};

pub mod bindings;
pub mod build;
mod cache;
pub mod error;
pub mod fault;
pub mod host;
mod invoke;
mod limits;
mod loader;
pub mod manifest;
pub mod memory_backend;
pub mod outcome;
pub mod schema;
mod slots;
pub mod types;

pub use cache::WASMTIME_VERSION;
pub use error::PluginError;
pub use fault::{FaultTracker, Suspension};
pub use host::{BoxFuture, HostBackend, Scope, SessionLeg};
pub use invoke::SessionOutcome;
pub use loader::LoadedPlugin;
pub use manifest::{Capability, Hook, LicenceScope, Manifest, ManifestError, WitLine};
pub use outcome::{FaultKind, HookCall, HookOutcome, PluginStats};

/// Epoch tick period of the wall-clock backstop.
pub const EPOCH_TICK: Duration = Duration::from_millis(1);

/// Limits and locations of a [`Runtime`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeConfig {
    /// Where compiled components are cached; `None` compiles on every load.
    pub cache_dir: Option<PathBuf>,
    /// Instruction budget (wasmtime fuel) of one hook invocation,
    /// instantiation included.
    pub fuel_per_hook: u64,
    /// Time one hook invocation may run on a CPU (guest code and the host
    /// functions it calls synchronously). Waiting — for a CPU when the
    /// machine is busy, for the database — does not count: a well-behaved
    /// plugin is not cut off because the host was slow.
    pub hook_timeout: Duration,
    /// Wall-clock backstop of one hook invocation, waiting included. A
    /// hook cut off here without having used its `hook_timeout` faults as
    /// `HostDelay` (the host's trouble).
    pub hook_wall_timeout: Duration,
    /// Cap on the total linear memory of one instance, bytes.
    pub memory_limit: usize,
    /// Cap on the total table elements of one instance.
    pub table_limit: u32,
    /// Instances alive at once (pool size); more concurrent invocations
    /// fault with `Instantiate`.
    pub max_instances: u32,
    /// Host calls allowed in one invocation; past it the guest traps (`Quota`).
    pub max_host_calls: u32,
    /// Instruction budget of a whole session (guest execution only:
    /// waiting for the caller costs nothing).
    pub fuel_per_session: u64,
    /// Wall-clock limit of a session.
    pub session_timeout: Duration,
    /// Host calls allowed in one session.
    pub max_host_calls_per_session: u32,
    /// The largest share of `max_instances` one tenant may hold at once, in
    /// percent (1..=100); past it its invocations fault with `Unavailable`
    /// (host-side).
    pub tenant_instance_percent: u32,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            cache_dir: None,
            fuel_per_hook: 50_000_000,
            hook_timeout: Duration::from_millis(50),
            hook_wall_timeout: Duration::from_secs(2),
            memory_limit: 16 << 20,
            table_limit: 20_000,
            max_instances: 1000,
            max_host_calls: 1000,
            fuel_per_session: 2_000_000_000,
            session_timeout: Duration::from_secs(3600),
            max_host_calls_per_session: 100_000,
            tenant_instance_percent: 50,
        }
    }
}

/// The plugin runtime: one engine, its epoch ticker, the disk cache and the
/// backend host functions read state from.
pub struct Runtime {
    engine: Engine,
    config: RuntimeConfig,
    backend: Arc<dyn HostBackend>,
    cache: Option<cache::ComponentCache>,
    ticker: EpochTicker,
    slots: Arc<slots::Slots>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// Builds the engine for `config` and starts its epoch ticker thread.
    pub fn new(
        config: RuntimeConfig,
        backend: Arc<dyn HostBackend>,
    ) -> Result<Runtime, PluginError> {
        if config.max_instances == 0 || config.memory_limit < (64 << 10) {
            return Err(PluginError::Config(
                "max_instances must be > 0 and memory_limit at least 64 KiB".to_string(),
            ));
        }
        let engine = Engine::new(&engine_config(&config))
            .map_err(|e| PluginError::Config(format!("{e:#}")))?;
        let cache =
            match &config.cache_dir {
                None => None,
                Some(dir) => Some(cache::ComponentCache::new(dir, &engine).map_err(|e| {
                    PluginError::Config(format!("cache_dir {}: {e}", dir.display()))
                })?),
            };
        let ticker = EpochTicker::start(&engine)
            .map_err(|e| PluginError::Config(format!("epoch ticker: {e}")))?;
        let slots = slots::Slots::new(config.max_instances, config.tenant_instance_percent);
        Ok(Runtime {
            engine,
            config,
            backend,
            cache,
            ticker,
            slots,
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &RuntimeConfig {
        &self.config
    }

    /// The backend host functions read from.
    pub fn backend(&self) -> &Arc<dyn HostBackend> {
        &self.backend
    }

    /// Plugin instances alive now.
    pub fn instances_in_use(&self) -> u32 {
        self.slots.in_use()
    }

    /// The wasmtime engine (for tools that precompile).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }
}

/// Checks a component against its manifest in a throwaway runtime (default
/// limits, one instance, an in-memory backend), as an install does:
/// undeclared imports, a foreign WIT line, a manifest that does not match
/// the component. Returns the loaded plugin (for its imports). Compiles:
/// blocking.
pub fn validate_component(
    manifest: &Manifest,
    wasm: &[u8],
) -> Result<Arc<LoadedPlugin>, PluginError> {
    let config = RuntimeConfig {
        max_instances: 1,
        ..RuntimeConfig::default()
    };
    let runtime = Runtime::new(config, Arc::new(memory_backend::MemoryBackend::new()))?;
    runtime.load(manifest, wasm)
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.ticker.stop.store(true, Ordering::Relaxed);
    }
}

fn engine_config(config: &RuntimeConfig) -> Config {
    let mut cfg = Config::new();
    cfg.wasm_component_model(true);
    cfg.consume_fuel(true);
    cfg.epoch_interruption(true);
    cfg.cranelift_opt_level(OptLevel::Speed);
    // Linear memories are reserved at their cap (not 4 GiB each): bounded
    // address space for the whole pool, explicit bounds checks in code.
    let page = 64u64 << 10;
    let reservation = (config.memory_limit as u64).div_ceil(page) * page;
    cfg.memory_reservation(reservation);
    cfg.memory_guard_size(page);
    cfg.memory_reservation_for_growth(0);

    let n = config.max_instances;
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(n);
    pool.total_core_instances(n.saturating_mul(4));
    pool.total_memories(n.saturating_mul(2));
    pool.total_tables(n.saturating_mul(4));
    pool.total_stacks(n);
    pool.max_core_instances_per_component(32);
    pool.max_memories_per_component(8);
    pool.max_tables_per_component(32);
    pool.max_memory_size(reservation as usize);
    pool.table_elements(config.table_limit as usize);
    // Teardown: where the kernel has the PAGEMAP_SCAN ioctl (Linux 6.7+),
    // wasmtime resets only the pages an instance dirtied, by memset, and
    // keeps them resident: no madvise, no page faults in the next instance
    // (measured: call 15 -> 4 us, teardown 12 -> 6 us). Elsewhere a fallback
    // memsets everything up to `keep_resident`, so keep that small.
    if pagemap_scan_available() {
        pool.pagemap_scan(wasmtime::Enabled::Auto);
        pool.linear_memory_keep_resident(config.memory_limit.min(4 << 20));
    } else {
        pool.linear_memory_keep_resident(64 << 10);
    }
    pool.table_keep_resident(16 << 10);
    cfg.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    cfg
}

/// Whether Linux's `PAGEMAP_SCAN` ioctl is there: kernel 6.7 or later and
/// `/proc/self/pagemap` readable.
fn pagemap_scan_available() -> bool {
    if !cfg!(target_os = "linux") || std::fs::File::open("/proc/self/pagemap").is_err() {
        return false;
    }
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut parts = release.trim().split(|c: char| !c.is_ascii_digit());
    let major: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let minor: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (major, minor) >= (6, 7)
}

/// A thread that increments the engine's epoch every [`EPOCH_TICK`]; it stops
/// when the runtime is dropped.
struct EpochTicker {
    stop: Arc<AtomicBool>,
}

impl EpochTicker {
    fn start(engine: &Engine) -> std::io::Result<EpochTicker> {
        let stop = Arc::new(AtomicBool::new(false));
        let weak = engine.weak();
        let flag = stop.clone();
        std::thread::Builder::new()
            .name("centrale-epoch".to_string())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    match weak.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            })?;
        Ok(EpochTicker { stop })
    }
}
