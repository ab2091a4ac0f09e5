//! Host interfaces, one module per WIT interface, each in three steps
//! (DESIGN.md §4 "Host interfaces, one pattern"):
//!
//! 1. `link(linker)` adds the interface's functions to a linker;
//! 2. `check(manifest)` validates what the manifest asks of it;
//! 3. `State::new(scope)` builds the instance state for one
//!    (tenant, plugin, subject): only what that instance may touch.
//!
//! The runtime links only the interfaces a manifest declares; an undeclared
//! interface is simply absent from the plugin's linker. Every host function
//! first charges the per-invocation host-call budget, then enforces its own
//! quotas, and only then calls the [`HostBackend`] with the scope's tenant.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use wasmtime::component::{HasSelf, Linker};

use super::bindings::centrale::plugin as wit;
use super::manifest::{Capability, Manifest, ManifestError, WitLine};
use super::types::{KvError, LocalTime, LogLevel, Subject};

pub mod blobs;
pub mod call_control;
mod compat;
pub mod directory;
pub mod kv;
pub mod log;
pub mod mail;
pub mod message_waiting;
pub mod prompts;
pub mod schedule;
pub mod settings;

pub use blobs::{BlobError, BlobInfo};
pub use call_control::{CallError, PlayItem, RecordedFile, SessionLeg};
pub use mail::{MailError, MailMessage};

/// A boxed, `Send` future, as returned by [`HostBackend`].
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Who an invocation runs for: it sees only this tenant, this plugin's state
/// and this subject's keys.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scope {
    /// The tenant.
    pub tenant_id: i64,
    /// The tenant's SIP domain.
    pub tenant_domain: String,
    /// The plugin (manifest id).
    pub plugin_id: String,
    /// The subject the hook runs for (`None` for tenant-wide work).
    pub subject_id: Option<i64>,
}

/// Where host state comes from: the database in the real host, memory in
/// tests ([`crate::runtime::memory_backend::MemoryBackend`]). Arguments are
/// already checked against the quotas; directory and schedule calls always
/// receive the invocation's own tenant.
pub trait HostBackend: Send + Sync + 'static {
    /// The settings in effect for the scope (subject's merged over the
    /// tenant's), as a JSON object; `{}` when none.
    fn settings<'a>(&'a self, scope: &'a Scope) -> BoxFuture<'a, String>;
    /// A value of the scope's key-value namespace.
    fn kv_get<'a>(
        &'a self,
        scope: &'a Scope,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, KvError>>;
    /// Sets a value (the backend enforces the per-scope key count).
    fn kv_set<'a>(
        &'a self,
        scope: &'a Scope,
        key: &'a str,
        value: Vec<u8>,
    ) -> BoxFuture<'a, Result<(), KvError>>;
    /// Removes a key.
    fn kv_delete<'a>(
        &'a self,
        scope: &'a Scope,
        key: &'a str,
    ) -> BoxFuture<'a, Result<(), KvError>>;
    /// Keys with the prefix, sorted.
    fn kv_list<'a>(&'a self, scope: &'a Scope, prefix: &'a str) -> BoxFuture<'a, Vec<String>>;
    /// The tenant's subject with this extension.
    fn directory_by_extension<'a>(
        &'a self,
        tenant_id: i64,
        extension: &'a str,
    ) -> BoxFuture<'a, Option<Subject>>;
    /// The tenant's subject owning this number.
    fn directory_by_number<'a>(
        &'a self,
        tenant_id: i64,
        number: &'a str,
    ) -> BoxFuture<'a, Option<Subject>>;
    /// The tenant's subject with this id.
    fn directory_by_id(&self, tenant_id: i64, id: u64) -> BoxFuture<'_, Option<Subject>>;
    /// Whether the tenant's subject has a registered device now.
    fn is_reachable(&self, tenant_id: i64, id: u64) -> BoxFuture<'_, bool>;
    /// Whether the tenant's named schedule is open at `now_ms`.
    fn schedule_is_open<'a>(
        &'a self,
        tenant_id: i64,
        name: &'a str,
        now_ms: u64,
    ) -> BoxFuture<'a, Option<bool>>;
    /// The tenant's local time at `now_ms`.
    fn local_time(&self, tenant_id: i64, now_ms: u64) -> LocalTime;
    /// Unix time now, milliseconds.
    fn now_ms(&self) -> u64;
    /// Hands the backend the settings the caller already read for `scope`
    /// (the switch gets them with the list of active plugins), so that the
    /// plugin's `settings.get` needs no second database round-trip inside
    /// its deadline. The default ignores it.
    fn prime_settings(&self, _scope: &Scope, _json: &str) {}
    /// Stores a blob of the scope (names and sizes already checked).
    fn blob_put<'a>(
        &'a self,
        _scope: &'a Scope,
        _name: &'a str,
        _data: Vec<u8>,
    ) -> BoxFuture<'a, Result<(), BlobError>> {
        Box::pin(async { Err(BlobError::Unavailable("no blob store".to_string())) })
    }
    /// Moves a finished file (a recording) into the scope's blobs under
    /// `name`; returns its size.
    fn blob_put_file<'a>(
        &'a self,
        _scope: &'a Scope,
        _name: &'a str,
        _path: &'a std::path::Path,
    ) -> BoxFuture<'a, Result<u64, BlobError>> {
        Box::pin(async { Err(BlobError::Unavailable("no blob store".to_string())) })
    }
    /// Reads a blob of the scope.
    fn blob_get<'a>(
        &'a self,
        _scope: &'a Scope,
        _name: &'a str,
    ) -> BoxFuture<'a, Result<Vec<u8>, BlobError>> {
        Box::pin(async { Err(BlobError::NotFound) })
    }
    /// Copies a blob of the scope to another name.
    fn blob_copy<'a>(
        &'a self,
        _scope: &'a Scope,
        _from: &'a str,
        _to: &'a str,
    ) -> BoxFuture<'a, Result<(), BlobError>> {
        Box::pin(async { Err(BlobError::NotFound) })
    }
    /// Removes a blob of the scope.
    fn blob_delete<'a>(
        &'a self,
        _scope: &'a Scope,
        _name: &'a str,
    ) -> BoxFuture<'a, Result<(), BlobError>> {
        Box::pin(async { Err(BlobError::NotFound) })
    }
    /// The scope's blobs with the prefix, sorted by name.
    fn blob_list<'a>(
        &'a self,
        _scope: &'a Scope,
        _prefix: &'a str,
    ) -> BoxFuture<'a, Vec<BlobInfo>> {
        Box::pin(async { Vec::new() })
    }
    /// Bytes the scope's blobs use.
    fn blob_usage<'a>(&'a self, _scope: &'a Scope) -> BoxFuture<'a, u64> {
        Box::pin(async { 0 })
    }
    /// Queues a mail in the outbox (limits already checked); the id of
    /// the outbox row.
    fn mail_send<'a>(
        &'a self,
        _scope: &'a Scope,
        _message: MailMessage,
    ) -> BoxFuture<'a, Result<u64, MailError>> {
        Box::pin(async { Err(MailError::Unavailable("no outbox".to_string())) })
    }
    /// Sets a subject's message-waiting counts (the subject is the
    /// scope's tenant's: the backend checks it) and notifies its phones.
    fn mwi_set<'a>(
        &'a self,
        _scope: &'a Scope,
        _subject: u64,
        _new: u32,
        _old: u32,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }
    /// A log line of the plugin (already truncated and rate-limited). The
    /// default writes it to `tracing` with tenant, plugin and call.
    fn log(&self, scope: &Scope, call_id: &str, level: LogLevel, message: &str) {
        let (tenant, plugin) = (scope.tenant_id, scope.plugin_id.as_str());
        match level {
            LogLevel::Debug => tracing::debug!(tenant, plugin, call_id, "{message}"),
            LogLevel::Info => tracing::info!(tenant, plugin, call_id, "{message}"),
            LogLevel::Warn => tracing::warn!(tenant, plugin, call_id, "{message}"),
            LogLevel::Error => tracing::error!(tenant, plugin, call_id, "{message}"),
        }
    }
}

/// What every host function shares in one invocation: the scope, the
/// backend and the host-call budget.
pub(crate) struct HostCtx {
    pub(crate) scope: Scope,
    pub(crate) backend: Arc<dyn HostBackend>,
    pub(crate) call_id: String,
    calls_left: u32,
    /// Set when the guest exceeded the host-call budget.
    pub(crate) quota_exceeded: bool,
}

impl HostCtx {
    /// Charges one host call; past the budget the call traps.
    pub(crate) fn charge(&mut self, function: &str) -> wasmtime::Result<()> {
        if self.calls_left == 0 {
            self.quota_exceeded = true;
            return Err(wasmtime::format_err!(
                "host-call quota exceeded (at `{function}`)"
            ));
        }
        self.calls_left -= 1;
        Ok(())
    }
}

/// The state of one plugin instance: the shared context and each
/// interface's own state.
pub(crate) struct HostState {
    pub(crate) ctx: HostCtx,
    pub(crate) log: log::State,
    pub(crate) kv: kv::State,
    pub(crate) directory: directory::State,
    pub(crate) schedule: schedule::State,
    pub(crate) settings: settings::State,
    pub(crate) mail: mail::State,
    /// The call of a session (`None` in hooks and timers).
    pub(crate) leg: Option<Arc<dyn SessionLeg>>,
}

impl HostState {
    /// State for one invocation in `scope`.
    pub(crate) fn new(
        scope: Scope,
        backend: Arc<dyn HostBackend>,
        call_id: String,
        max_host_calls: u32,
    ) -> Self {
        Self {
            log: log::State::new(&scope),
            kv: kv::State::new(&scope),
            directory: directory::State::new(&scope),
            schedule: schedule::State::new(&scope),
            settings: settings::State::new(&scope),
            mail: mail::State::new(&scope),
            leg: None,
            ctx: HostCtx {
                scope,
                backend,
                call_id,
                calls_left: max_host_calls,
                quota_exceeded: false,
            },
        }
    }
}

/// `types` has no functions; linking it only declares the instance.
impl wit::types::Host for HostState {}
/// `audio` has no functions either.
impl wit::audio::Host for HostState {}

/// The host-state accessor every `link` takes.
pub(crate) type Getter<T> = fn(&mut T) -> &mut HostState;

/// Links the shared type-only interfaces and every capability `manifest`
/// grants, in the version of `line` (what the component was built against).
pub(crate) fn link_granted<T: Send + 'static>(
    linker: &mut Linker<T>,
    manifest: &Manifest,
    line: WitLine,
    get: Getter<T>,
) -> wasmtime::Result<()> {
    if line == WitLine::V0_1 {
        // 0.1's `types` are 0.2's Rust types (see bindings.rs): only the
        // instance name differs.
        linker.instance("centrale:plugin/types@0.1.0")?;
        for cap in manifest.granted() {
            compat::link(linker, cap, get)?;
        }
        return Ok(());
    }
    wit::types::add_to_linker::<T, HasSelf<HostState>>(linker, get)?;
    wit::audio::add_to_linker::<T, HasSelf<HostState>>(linker, get)?;
    for cap in manifest.granted() {
        match cap {
            Capability::Log => log::link(linker, get)?,
            Capability::Settings => settings::link(linker, get)?,
            Capability::Kv => kv::link(linker, get)?,
            Capability::Directory => directory::link(linker, get)?,
            Capability::Schedule => schedule::link(linker, get)?,
            Capability::CallControl => call_control::link(linker, get)?,
            Capability::Prompts => prompts::link(linker, get)?,
            Capability::Blobs => blobs::link(linker, get)?,
            Capability::Mail => mail::link(linker, get)?,
            Capability::MessageWaiting => message_waiting::link(linker, get)?,
        }
    }
    Ok(())
}

/// Runs every interface's install-time check.
pub(crate) fn check(manifest: &Manifest) -> Result<(), ManifestError> {
    log::check(manifest)?;
    settings::check(manifest)?;
    kv::check(manifest)?;
    directory::check(manifest)?;
    schedule::check(manifest)
}
