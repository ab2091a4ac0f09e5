//! # centrale-testbench
//!
//! Runs a built Centrale plugin in the **real** host runtime
//! (`centrale_host::runtime`: the same wasmtime engine, budgets, capability
//! checks and decision validation as the switch) against scripted calls and
//! fake host state, without SIP. A case takes milliseconds.
//!
//! Use it as a dev-dependency of the plugin crate:
//!
//! ```toml
//! [dev-dependencies]
//! centrale-testbench = { path = "../../sdk/testbench" }
//! tokio = { version = "1", features = ["macros", "rt"] }
//! ```
//!
//! ```no_run
//! use centrale_testbench::{Decision, TestBench};
//!
//! #[tokio::test]
//! async fn rejects_anonymous_callers() {
//!     let bench = TestBench::for_plugin(env!("CARGO_MANIFEST_DIR"));
//!     let call = bench.call().from("0612345678").anonymous().to_user(201, "201").internal(false);
//!     assert_eq!(
//!         bench.terminate(call).await,
//!         Decision::reject(433, "Anonymity Disallowed").announce("anonymous-not-accepted"),
//!     );
//! }
//! # fn main() {}
//! ```
//!
//! [`TestBench::for_plugin`] builds the crate with
//! `cargo build --release --target wasm32-wasip2` (into
//! `$CARGO_TARGET_DIR/plugins`, see `centrale_host::runtime::build`), reads
//! its `plugin.toml` and loads the component — once per test process; every
//! bench then gets a tenant of its own, so tests running in parallel never
//! see each other's state.
//!
//! Hooks are invoked the way the switch invokes them: a hook the manifest
//! does not list is not called (it yields `Proceed`); settings, key-value
//! data and capability checks are scoped to (tenant, plugin, subject). The
//! decision helpers ([`TestBench::terminate`] and friends) panic when the
//! invocation faults (trap, budget overrun, invalid decision) — in
//! production that fault would silently count as `proceed`, which a test
//! must not mistake for a decision. Use [`TestBench::invoke`] to assert on
//! faults.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use centrale_host::runtime::memory_backend::MemoryBackend;
use centrale_host::runtime::types as host;
use centrale_host::runtime::{build, LoadedPlugin, Manifest, Runtime, RuntimeConfig, Scope};

pub use centrale_host::runtime::memory_backend::LogRecord;
pub use centrale_host::runtime::types::LogLevel;
pub use centrale_host::runtime::{FaultKind, HookCall, HookOutcome, PluginStats};
pub use centrale_sdk::{CallResult, Decision, Direction, DiversionReason, SubjectKind};
pub use serde_json::{json, Value};

/// The tenant domain calls of a bench carry.
pub const TENANT_DOMAIN: &str = "demo.centrale.test";

/// Why a bench could not be set up.
#[derive(Debug, Clone)]
pub struct BenchError(pub String);

impl std::fmt::Display for BenchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BenchError {}

/// The runtime and backend every bench of the process shares.
struct Shared {
    runtime: Runtime,
    backend: Arc<MemoryBackend>,
}

fn shared() -> Result<&'static Shared, BenchError> {
    static SHARED: OnceLock<Result<Shared, BenchError>> = OnceLock::new();
    SHARED
        .get_or_init(|| {
            let backend = Arc::new(MemoryBackend::new());
            let config = RuntimeConfig {
                cache_dir: Some(build::plugin_target_dir().join("bench-cache")),
                // Production fuel and memory caps; a generous wall clock, as
                // test machines are noisy (fuel is the deterministic budget).
                hook_timeout: Duration::from_secs(2),
                max_instances: 64,
                ..RuntimeConfig::default()
            };
            let runtime = Runtime::new(config, backend.clone())
                .map_err(|e| BenchError(format!("starting the plugin runtime: {e}")))?;
            Ok(Shared { runtime, backend })
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Built and loaded plugins of the process, by crate directory.
fn load_plugin(crate_dir: &Path) -> Result<Arc<LoadedPlugin>, BenchError> {
    static LOADED: OnceLock<Mutex<HashMap<PathBuf, Arc<LoadedPlugin>>>> = OnceLock::new();
    let map = LOADED.get_or_init(Default::default);
    // One build at a time: tests of one crate all want the same component.
    let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(plugin) = map.get(crate_dir) {
        return Ok(plugin.clone());
    }
    let manifest_path = crate_dir.join("plugin.toml");
    let text = std::fs::read_to_string(&manifest_path)
        .map_err(|e| BenchError(format!("reading {}: {e}", manifest_path.display())))?;
    let manifest = Manifest::from_toml(&text)
        .map_err(|e| BenchError(format!("{}: {e}", manifest_path.display())))?;
    let wasm_path = build::build_component(crate_dir).map_err(BenchError)?;
    let wasm = std::fs::read(&wasm_path)
        .map_err(|e| BenchError(format!("reading {}: {e}", wasm_path.display())))?;
    let plugin = shared()?
        .runtime
        .load(&manifest, &wasm)
        .map_err(|e| BenchError(format!("loading {}: {e}", wasm_path.display())))?;
    map.insert(crate_dir.to_path_buf(), plugin.clone());
    Ok(plugin)
}

/// A plugin loaded in the real runtime with a tenant of fake host state.
pub struct TestBench {
    plugin: Arc<LoadedPlugin>,
    tenant_id: i64,
    call_seq: AtomicU64,
}

impl std::fmt::Debug for TestBench {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestBench")
            .field("plugin", &self.plugin.id())
            .field("tenant_id", &self.tenant_id)
            .finish()
    }
}

impl TestBench {
    /// Builds the plugin crate in `crate_dir` (pass
    /// `env!("CARGO_MANIFEST_DIR")`), reads its `plugin.toml` and loads it.
    ///
    /// # Panics
    ///
    /// When the build, the manifest or the load fails (the message says
    /// why: e.g. imports the manifest does not declare as capabilities).
    pub fn for_plugin(crate_dir: impl AsRef<Path>) -> TestBench {
        match Self::try_for_plugin(crate_dir) {
            Ok(bench) => bench,
            Err(e) => panic!("centrale-testbench: {e}"),
        }
    }

    /// Like [`TestBench::for_plugin`], returning the error.
    pub fn try_for_plugin(crate_dir: impl AsRef<Path>) -> Result<TestBench, BenchError> {
        static NEXT_TENANT: AtomicI64 = AtomicI64::new(1);
        let plugin = load_plugin(crate_dir.as_ref())?;
        Ok(TestBench {
            plugin,
            tenant_id: NEXT_TENANT.fetch_add(1, Ordering::Relaxed),
            call_seq: AtomicU64::new(1),
        })
    }

    fn backend(&self) -> &MemoryBackend {
        // `shared()` succeeded when the plugin was loaded.
        match shared() {
            Ok(s) => &s.backend,
            Err(e) => panic!("centrale-testbench: {e}"),
        }
    }

    fn runtime(&self) -> &Runtime {
        match shared() {
            Ok(s) => &s.runtime,
            Err(e) => panic!("centrale-testbench: {e}"),
        }
    }

    /// The loaded plugin (manifest, imported capabilities, WASI imports, stats).
    pub fn plugin(&self) -> &LoadedPlugin {
        &self.plugin
    }

    /// The plugin's manifest.
    pub fn manifest(&self) -> &Manifest {
        self.plugin.manifest()
    }

    /// This bench's tenant id in the shared backend.
    pub fn tenant_id(&self) -> i64 {
        self.tenant_id
    }

    // ---- fake host state ----

    /// Sets the plugin's tenant-wide settings (a JSON object). Like the
    /// real host, the bench validates them against the manifest's schema.
    ///
    /// # Panics
    ///
    /// When the settings do not satisfy the schema.
    pub fn set_settings(&self, settings: Value) -> &Self {
        self.check_settings(&settings);
        self.backend()
            .set_tenant_settings(self.tenant_id, self.plugin.id(), settings);
        self
    }

    /// Sets a subject's own settings, merged over the tenant-wide ones.
    ///
    /// # Panics
    ///
    /// When the settings do not satisfy the schema.
    pub fn set_user_settings(&self, subject_id: u64, settings: Value) -> &Self {
        self.check_settings(&settings);
        self.backend().set_subject_settings(
            self.tenant_id,
            self.plugin.id(),
            subject_id as i64,
            settings,
        );
        self
    }

    fn check_settings(&self, settings: &Value) {
        if let Err(e) = self.manifest().validate_settings(settings) {
            panic!(
                "centrale-testbench: settings rejected by the schema of {}: {e}",
                self.plugin.id()
            );
        }
    }

    /// Adds (or replaces) a user subject with an extension; refine it with
    /// the returned handle (numbers, name, reachability).
    pub fn add_user(&self, id: u64, extension: &str) -> SubjectHandle<'_> {
        self.add_subject(host::Subject {
            id,
            kind: host::SubjectKind::User,
            extension: Some(extension.to_string()),
            numbers: Vec::new(),
            display_name: format!("User {extension}"),
        })
    }

    /// Adds (or replaces) a service subject (hunt group, attendant, ...).
    pub fn add_service(&self, id: u64, extension: &str, name: &str) -> SubjectHandle<'_> {
        self.add_subject(host::Subject {
            id,
            kind: host::SubjectKind::Service,
            extension: Some(extension.to_string()),
            numbers: Vec::new(),
            display_name: name.to_string(),
        })
    }

    fn add_subject(&self, subject: host::Subject) -> SubjectHandle<'_> {
        self.backend().add_subject(self.tenant_id, subject.clone());
        SubjectHandle {
            bench: self,
            subject,
        }
    }

    fn subject(&self, id: u64) -> Option<host::Subject> {
        // Through the backend's directory, as the plugin would see it.
        let fut = centrale_host::runtime::HostBackend::directory_by_id(
            self.backend(),
            self.tenant_id,
            id,
        );
        poll_ready(fut)
    }

    /// Marks a subject reachable (a registered device) or not.
    pub fn set_reachable(&self, subject_id: u64, reachable: bool) -> &Self {
        self.backend()
            .set_reachable(self.tenant_id, subject_id, reachable);
        self
    }

    /// Opens or closes a named schedule of the tenant (e.g. `"business-hours"`).
    /// A schedule never set does not exist (`schedule::is_open` gives `None`).
    pub fn set_schedule(&self, name: &str, open: bool) -> &Self {
        self.backend().set_schedule_open(self.tenant_id, name, open);
        self
    }

    /// Freezes the host clock (shared by every bench of the process: tests
    /// that depend on it should not run beside others that do).
    pub fn set_now_ms(&self, now_ms: u64) -> &Self {
        self.backend().set_now_ms(Some(now_ms));
        self
    }

    /// The tenant's offset from UTC in minutes (for `schedule::local_now`).
    pub fn set_utc_offset_minutes(&self, minutes: i32) -> &Self {
        self.backend()
            .set_utc_offset_minutes(self.tenant_id, minutes);
        self
    }

    fn scope(&self, subject_id: Option<u64>) -> Scope {
        Scope {
            tenant_id: self.tenant_id,
            tenant_domain: TENANT_DOMAIN.to_string(),
            plugin_id: self.plugin.id().to_string(),
            subject_id: subject_id.map(|id| id as i64),
        }
    }

    /// The key-value data of a subject's scope (`None`: tenant-wide).
    pub fn kv(&self, subject_id: Option<u64>) -> BTreeMap<String, Vec<u8>> {
        self.backend().kv_entries(&self.scope(subject_id))
    }

    /// Sets a key-value entry of a subject's scope directly.
    pub fn kv_insert(&self, subject_id: Option<u64>, key: &str, value: &[u8]) -> &Self {
        self.backend()
            .kv_insert(&self.scope(subject_id), key, value);
        self
    }

    /// Log lines the plugin wrote in this bench's tenant, oldest first.
    pub fn logs(&self) -> Vec<LogRecord> {
        self.backend()
            .logs()
            .into_iter()
            .filter(|r| r.tenant_id == self.tenant_id)
            .collect()
    }

    /// Whether a log line containing `text` was written.
    pub fn logged(&self, text: &str) -> bool {
        self.logs().iter().any(|r| r.message.contains(text))
    }

    // ---- calls ----

    /// Starts a scripted call: by default an inbound call from
    /// `+31201234567` to subject 1 (extension `"1"`); refine it with the
    /// builder methods, then pass it to a hook ([`TestBench::terminate`]
    /// etc.) or call the hook on the builder.
    pub fn call(&self) -> CallBuilder<'_> {
        let seq = self.call_seq.fetch_add(1, Ordering::Relaxed);
        CallBuilder {
            bench: self,
            call: host::Call {
                id: format!("bench-{}-{seq}", self.tenant_id),
                tenant: TENANT_DOMAIN.to_string(),
                direction: host::Direction::Inbound,
                caller: host::Party {
                    number: "+31201234567".to_string(),
                    display_name: None,
                    anonymous: false,
                    asserted_identity: None,
                    subject: None,
                },
                subject: host::Subject {
                    id: 1,
                    kind: host::SubjectKind::User,
                    extension: Some("1".to_string()),
                    numbers: Vec::new(),
                    display_name: "User 1".to_string(),
                },
                dialled: "1".to_string(),
                diversions: Vec::new(),
                started_at: 1_767_225_600_000,
            },
            dialled_set: false,
        }
    }

    /// Runs a hook and returns the runtime's raw outcome (decision, done or
    /// fault).
    pub async fn invoke(&self, call: HookCall) -> HookOutcome {
        let subject = call.call().subject.id;
        self.runtime()
            .invoke(&self.plugin, self.scope(Some(subject)), call)
            .await
    }

    /// `timers.on-timer` for the subject `subject_id` (added with
    /// [`TestBench::add_user`] or a call's `to_user`); panics on a fault.
    pub async fn timer(&self, subject_id: u64) {
        let subject = centrale_host::runtime::types::Subject {
            id: subject_id,
            kind: centrale_host::runtime::types::SubjectKind::User,
            extension: None,
            numbers: Vec::new(),
            display_name: String::new(),
        };
        let outcome = self
            .runtime()
            .run_timer(&self.plugin, self.scope(Some(subject_id)), subject)
            .await;
        if let HookOutcome::Fault { kind, message } = outcome {
            panic!(
                "centrale-testbench: {} `on-timer` faulted ({kind}): {message}",
                self.plugin.id()
            );
        }
    }

    async fn decide(&self, call: HookCall) -> Decision {
        let hook = call.hook();
        match self.invoke(call).await {
            HookOutcome::Decision(d) => decision_from_host(d),
            HookOutcome::Done => Decision::Proceed,
            HookOutcome::Fault { kind, message } => panic!(
                "centrale-testbench: {} `{}` faulted ({kind}): {message}",
                self.plugin.id(),
                hook.name()
            ),
        }
    }

    /// `on-originate`: the caller's subject places the call.
    pub async fn originate(&self, call: CallBuilder<'_>) -> Decision {
        self.decide(HookCall::Originate(call.build())).await
    }

    /// `on-terminate`: the call arrives for the subject.
    pub async fn terminate(&self, call: CallBuilder<'_>) -> Decision {
        self.decide(HookCall::Terminate(call.build())).await
    }

    /// `on-busy`: every device was busy (or busy treatment).
    pub async fn busy(&self, call: CallBuilder<'_>) -> Decision {
        self.decide(HookCall::Busy(call.build())).await
    }

    /// `on-no-answer`: the devices rang until the ring timeout.
    pub async fn no_answer(&self, call: CallBuilder<'_>) -> Decision {
        self.decide(HookCall::NoAnswer(call.build())).await
    }

    /// `on-unreachable`: no device of the subject is reachable.
    pub async fn unreachable(&self, call: CallBuilder<'_>) -> Decision {
        self.decide(HookCall::Unreachable(call.build())).await
    }

    /// `on-call-ended` with the result; `answered_at`/`ended_at` are derived
    /// from the call's start (answered after 5 s, ended after 65 s).
    ///
    /// # Panics
    ///
    /// When the invocation faults.
    pub async fn call_ended(&self, call: CallBuilder<'_>, result: CallResult) {
        let call = call.build();
        let start = call.started_at;
        let answered = result == CallResult::Answered;
        let summary = host::CallSummary {
            call,
            result: call_result_to_host(result),
            sip_code: match result {
                CallResult::Answered => 200,
                CallResult::Busy => 486,
                CallResult::NoAnswer => 480,
                CallResult::Unavailable => 480,
                CallResult::Rejected => 603,
                CallResult::Cancelled => 487,
                CallResult::Failed => 500,
            },
            answered_at: answered.then_some(start + 5_000),
            ended_at: start + 65_000,
        };
        self.decide(HookCall::CallEnded(summary)).await;
    }
}

/// A subject just added to a bench; each method updates the fake directory.
pub struct SubjectHandle<'a> {
    bench: &'a TestBench,
    subject: host::Subject,
}

impl SubjectHandle<'_> {
    fn save(self) -> Self {
        self.bench
            .backend()
            .add_subject(self.bench.tenant_id, self.subject.clone());
        self
    }

    /// Adds a public number (E.164).
    pub fn number(mut self, number: &str) -> Self {
        self.subject.numbers.push(number.to_string());
        self.save()
    }

    /// Sets the display name.
    pub fn name(mut self, name: &str) -> Self {
        self.subject.display_name = name.to_string();
        self.save()
    }

    /// Marks the subject reachable (a registered device) or not.
    pub fn reachable(self, reachable: bool) -> Self {
        self.bench.set_reachable(self.subject.id, reachable);
        self
    }

    /// The subject's id.
    pub fn id(&self) -> u64 {
        self.subject.id
    }
}

/// A scripted call, built step by step.
pub struct CallBuilder<'a> {
    bench: &'a TestBench,
    call: host::Call,
    dialled_set: bool,
}

impl<'a> CallBuilder<'a> {
    /// The caller presents `number` (From user part or asserted number).
    pub fn from(mut self, number: &str) -> Self {
        self.call.caller.number = number.to_string();
        self
    }

    /// The caller withheld their identity (`Privacy: id`, anonymous From).
    /// Without [`CallBuilder::from`] the presented number is empty.
    pub fn anonymous(mut self) -> Self {
        self.call.caller.anonymous = true;
        if self.call.caller.number == "+31201234567" {
            self.call.caller.number.clear();
        }
        self
    }

    /// The network asserted the caller's identity (P-Asserted-Identity).
    pub fn asserted(mut self, identity: &str) -> Self {
        self.call.caller.asserted_identity = Some(identity.to_string());
        self
    }

    /// The caller's display name.
    pub fn caller_name(mut self, name: &str) -> Self {
        self.call.caller.display_name = Some(name.to_string());
        self
    }

    /// The caller is subject `id` of the tenant (extension `extension`):
    /// the number becomes the extension and the call internal.
    pub fn from_user(mut self, id: u64, extension: &str) -> Self {
        let subject = self
            .bench
            .subject(id)
            .unwrap_or_else(|| user(id, extension));
        self.call.caller.number = extension.to_string();
        self.call.caller.display_name = Some(subject.display_name.clone());
        self.call.caller.subject = Some(subject);
        self.call.direction = host::Direction::Internal;
        self
    }

    /// The call is for user `id` with extension `extension` (the subject
    /// added with [`TestBench::add_user`] when there is one). Unless set
    /// with [`CallBuilder::dialled`], the dialled string is the extension.
    pub fn to_user(mut self, id: u64, extension: &str) -> Self {
        self.call.subject = self
            .bench
            .subject(id)
            .unwrap_or_else(|| user(id, extension));
        if !self.dialled_set {
            self.call.dialled = extension.to_string();
        }
        self
    }

    /// The call is for subject `id`, which must have been added to the bench.
    ///
    /// # Panics
    ///
    /// When no such subject was added.
    pub fn to_subject(mut self, id: u64) -> Self {
        let Some(subject) = self.bench.subject(id) else {
            panic!("centrale-testbench: no subject {id}: add it with add_user/add_service first");
        };
        if !self.dialled_set {
            self.call.dialled = subject
                .extension
                .clone()
                .or_else(|| subject.numbers.first().cloned())
                .unwrap_or_default();
        }
        self.call.subject = subject;
        self
    }

    /// What was dialled (e.g. one of the subject's public numbers).
    pub fn dialled(mut self, dialled: &str) -> Self {
        self.call.dialled = dialled.to_string();
        self.dialled_set = true;
        self
    }

    /// `true`: an internal (intra-group) call; `false`: inbound from outside.
    pub fn internal(mut self, internal: bool) -> Self {
        self.call.direction = if internal {
            host::Direction::Internal
        } else {
            host::Direction::Inbound
        };
        self
    }

    /// Sets the direction.
    pub fn direction(mut self, direction: Direction) -> Self {
        self.call.direction = match direction {
            Direction::Internal => host::Direction::Internal,
            Direction::Inbound => host::Direction::Inbound,
            Direction::Outbound => host::Direction::Outbound,
        };
        self
    }

    /// Adds a step to the diversion history (oldest first).
    pub fn diverted(mut self, from: &str, to: &str, reason: DiversionReason) -> Self {
        self.call.diversions.push(host::Diversion {
            diverted_from: from.to_string(),
            diverted_to: to.to_string(),
            reason: reason_to_host(reason),
        });
        self
    }

    /// The call's start, Unix ms.
    pub fn started_at(mut self, ms: u64) -> Self {
        self.call.started_at = ms;
        self
    }

    /// The call's id.
    pub fn id(mut self, id: &str) -> Self {
        self.call.id = id.to_string();
        self
    }

    /// The host record the hook will receive.
    pub fn build(self) -> host::Call {
        self.call
    }

    /// Runs `on-terminate` with this call.
    pub async fn terminate(self) -> Decision {
        let bench = self.bench;
        bench.terminate(self).await
    }

    /// Runs `on-originate` with this call.
    pub async fn originate(self) -> Decision {
        let bench = self.bench;
        bench.originate(self).await
    }

    /// Runs `on-busy` with this call.
    pub async fn busy(self) -> Decision {
        let bench = self.bench;
        bench.busy(self).await
    }

    /// Runs `on-no-answer` with this call.
    pub async fn no_answer(self) -> Decision {
        let bench = self.bench;
        bench.no_answer(self).await
    }

    /// Runs `on-unreachable` with this call.
    pub async fn unreachable(self) -> Decision {
        let bench = self.bench;
        bench.unreachable(self).await
    }
}

fn user(id: u64, extension: &str) -> host::Subject {
    host::Subject {
        id,
        kind: host::SubjectKind::User,
        extension: Some(extension.to_string()),
        numbers: Vec::new(),
        display_name: format!("User {extension}"),
    }
}

/// Polls a future the memory backend returns (always ready).
fn poll_ready<T>(fut: centrale_host::runtime::BoxFuture<'_, T>) -> T {
    use std::task::{Context, Poll, Waker};
    let mut fut = fut;
    let mut cx = Context::from_waker(Waker::noop());
    match fut.as_mut().poll(&mut cx) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("centrale-testbench: the memory backend returned a pending future"),
    }
}

fn reason_to_host(r: DiversionReason) -> host::DiversionReason {
    match r {
        DiversionReason::Unconditional => host::DiversionReason::Unconditional,
        DiversionReason::UserBusy => host::DiversionReason::UserBusy,
        DiversionReason::NoAnswer => host::DiversionReason::NoAnswer,
        DiversionReason::Unavailable => host::DiversionReason::Unavailable,
        DiversionReason::TimeOfDay => host::DiversionReason::TimeOfDay,
        DiversionReason::Deflection => host::DiversionReason::Deflection,
        DiversionReason::Unknown => host::DiversionReason::Unknown,
    }
}

fn reason_from_host(r: host::DiversionReason) -> DiversionReason {
    match r {
        host::DiversionReason::Unconditional => DiversionReason::Unconditional,
        host::DiversionReason::UserBusy => DiversionReason::UserBusy,
        host::DiversionReason::NoAnswer => DiversionReason::NoAnswer,
        host::DiversionReason::Unavailable => DiversionReason::Unavailable,
        host::DiversionReason::TimeOfDay => DiversionReason::TimeOfDay,
        host::DiversionReason::Deflection => DiversionReason::Deflection,
        host::DiversionReason::Unknown => DiversionReason::Unknown,
    }
}

fn call_result_to_host(r: CallResult) -> host::CallResult {
    match r {
        CallResult::Answered => host::CallResult::Answered,
        CallResult::Busy => host::CallResult::Busy,
        CallResult::NoAnswer => host::CallResult::NoAnswer,
        CallResult::Unavailable => host::CallResult::Unavailable,
        CallResult::Rejected => host::CallResult::Rejected,
        CallResult::Cancelled => host::CallResult::Cancelled,
        CallResult::Failed => host::CallResult::Failed,
    }
}

/// The SDK's view of a decision the host received.
pub fn decision_from_host(d: host::Decision) -> Decision {
    match d {
        host::Decision::Proceed => Decision::Proceed,
        host::Decision::Reject(r) => Decision::Reject {
            code: r.code,
            reason: r.reason,
            announcement: r.announcement,
        },
        host::Decision::Redirect(r) => Decision::Redirect {
            destination: r.destination,
            reason: reason_from_host(r.reason),
        },
        host::Decision::AddTargets(t) => Decision::AddTargets(t),
        host::Decision::TreatAsBusy => Decision::TreatAsBusy,
        host::Decision::TakeOver => Decision::TakeOver,
    }
}
