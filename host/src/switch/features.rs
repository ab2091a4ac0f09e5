//! Feature plugins as the switch's [`HookRunner`]: for a subject, the
//! plugins enabled and licensed for it (from the store), ordered by each
//! manifest's priority for the hook, invoked one by one in the sandboxed
//! runtime until one decides. Faults count as `proceed`; a plugin that keeps
//! faulting for a tenant is suspended for that tenant, with the reason stored.

use super::pipeline::{
    self, BoxFuture, CallDirection, DiversionReason, HookDecision, HookPoint, HookRunner,
    SessionRef,
};
use crate::runtime::types::{self as wit};
use crate::runtime::{
    FaultKind, FaultTracker, Hook, HookCall, HookOutcome, LoadedPlugin, Manifest, Runtime, Scope,
    SessionLeg, SessionOutcome,
};
use crate::store::Store;
use crate::tenancy::plugins::ActivePlugin;
use crate::tenancy::User;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Counts a running session in `centrale_sessions_active` (`/metrics`)
/// until dropped, also when the call goes away mid-session.
struct ActiveSession;

impl ActiveSession {
    fn start() -> Self {
        metrics::gauge!("centrale_sessions_active").increment(1.0);
        ActiveSession
    }
}

impl Drop for ActiveSession {
    fn drop(&mut self) {
        metrics::gauge!("centrale_sessions_active").decrement(1.0);
    }
}

/// One plugin of a subject's chain: its catalogue id, the loaded
/// component and the subject's settings.
struct Link {
    id: String,
    plugin: Arc<LoadedPlugin>,
    settings: String,
}

/// The plugin-backed hook runner.
pub struct Features {
    runtime: Arc<Runtime>,
    store: Store,
    /// Loaded components by content hash (a new version is a new hash, so
    /// new calls pick it up while running ones keep theirs).
    loaded: Mutex<HashMap<String, Arc<LoadedPlugin>>>,
    /// Held while a component is compiled, so that the first burst of calls
    /// compiles each component once instead of once per call.
    loading: tokio::sync::Mutex<()>,
    faults: FaultTracker,
}

impl Features {
    /// A runner over `runtime` and `store`. A plugin is suspended for a
    /// tenant after 5 consecutive faults within 10 minutes.
    pub fn new(runtime: Arc<Runtime>, store: Store) -> Self {
        Self {
            runtime,
            store,
            loaded: Mutex::new(HashMap::new()),
            loading: tokio::sync::Mutex::new(()),
            faults: FaultTracker::new(5, Duration::from_secs(600)),
        }
    }

    /// Loads (compiles, or reads from the disk cache) the newest version of
    /// every plugin installed for all tenants, so that the first calls do
    /// not wait for a compilation. Returns how many are ready.
    pub async fn warm(&self) -> usize {
        let installed = match self.store.list_plugins(None).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!("listing plugins to preload: {e}");
                return 0;
            }
        };
        let mut ready = 0;
        for p in installed {
            let active = ActivePlugin {
                plugin_id: p.id,
                version: p.version,
                manifest: p.manifest,
                wasm_sha256: p.wasm_sha256,
                settings_json: String::new(),
            };
            if self.load(&active).await.is_some() {
                ready += 1;
            }
        }
        ready
    }

    /// The runtime (statistics, tests).
    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// Invocation statistics of every loaded component, as (plugin id,
    /// version, statistics), by id then version (for `/metrics`).
    pub fn plugin_stats(&self) -> Vec<(String, String, crate::runtime::PluginStats)> {
        let mut out: Vec<_> = match self.loaded.lock() {
            Ok(m) => m
                .values()
                .map(|p| (p.id().to_string(), p.manifest().version.clone(), p.stats()))
                .collect(),
            Err(_) => Vec::new(),
        };
        out.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        out
    }

    /// Runs `timers.on-timer` of every plugin whose manifest asks for it
    /// (`timer-interval-secs`) for every user it is active for, when due.
    /// `last` remembers when each (tenant, plugin, subject) last ran.
    /// Returns how many timers ran. One subject at a time: maintenance is
    /// not urgent, calls are.
    pub async fn run_due_timers(
        &self,
        last: &mut HashMap<(i64, String, i64), std::time::Instant>,
    ) -> usize {
        let tenants = match self.store.list_tenants().await {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!("timers: listing tenants: {e}");
                return 0;
            }
        };
        let mut ran = 0;
        for tenant in tenants {
            let users = match self.store.list_users(tenant.id).await {
                Ok(u) => u,
                Err(e) => {
                    tracing::warn!("timers: listing users: {e}");
                    continue;
                }
            };
            for user in users {
                let active = match self
                    .store
                    .active_plugins_for_subject(tenant.id, user.id)
                    .await
                {
                    Ok(a) => a,
                    Err(_) => continue,
                };
                for a in active {
                    let Some(plugin) = self.load(&a).await else {
                        continue;
                    };
                    let Some(every) = plugin.manifest().timer_interval_secs else {
                        continue;
                    };
                    let key = (tenant.id, a.plugin_id.clone(), user.id);
                    let due = last
                        .get(&key)
                        .is_none_or(|t| t.elapsed() >= Duration::from_secs(u64::from(every)));
                    if !due {
                        continue;
                    }
                    last.insert(key, std::time::Instant::now());
                    let scope = Scope {
                        tenant_id: tenant.id,
                        tenant_domain: tenant.domain.clone(),
                        plugin_id: a.plugin_id.clone(),
                        subject_id: Some(user.id),
                    };
                    self.runtime
                        .backend()
                        .prime_settings(&scope, &a.settings_json);
                    let outcome = self.runtime.run_timer(&plugin, scope, subject(&user)).await;
                    if let HookOutcome::Fault { kind, message } = &outcome {
                        tracing::warn!(
                            tenant = %tenant.domain, plugin = plugin.id(), subject = %user.extension,
                            fault = kind.name(), "timer fault: {message}"
                        );
                    }
                    ran += 1;
                }
            }
        }
        ran
    }

    /// Runs [`Features::run_due_timers`] every `tick` until the runtime
    /// is dropped.
    pub fn spawn_timers(self: &Arc<Self>, tick: Duration) -> tokio::task::JoinHandle<()> {
        let me = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut last = HashMap::new();
            loop {
                tokio::time::sleep(tick).await;
                let Some(features) = me.upgrade() else {
                    return;
                };
                let ran = features.run_due_timers(&mut last).await;
                if ran > 0 {
                    tracing::debug!(ran, "plugin timers ran");
                }
            }
        })
    }

    fn cached(&self, sha256: &str) -> Option<Arc<LoadedPlugin>> {
        self.loaded.lock().ok()?.get(sha256).cloned()
    }

    async fn load(&self, active: &ActivePlugin) -> Option<Arc<LoadedPlugin>> {
        if let Some(p) = self.cached(&active.wasm_sha256) {
            return Some(p);
        }
        let _one_at_a_time = self.loading.lock().await;
        if let Some(p) = self.cached(&active.wasm_sha256) {
            return Some(p);
        }
        let manifest = match Manifest::from_toml(&active.manifest) {
            Ok(m) => m,
            Err(e) => {
                tracing::error!(plugin = %active.plugin_id, "stored manifest is invalid: {e}");
                return None;
            }
        };
        let wasm = match self.store.plugin_component(&active.wasm_sha256).await {
            Ok(Some(w)) => w,
            other => {
                tracing::error!(plugin = %active.plugin_id, "component missing: {other:?}");
                return None;
            }
        };
        // Compiling (or loading the precompiled cache) is CPU work.
        let rt = self.runtime.clone();
        let loaded = tokio::task::spawn_blocking(move || rt.load(&manifest, &wasm)).await;
        match loaded {
            Ok(Ok(p)) => {
                if let Ok(mut m) = self.loaded.lock() {
                    m.insert(active.wasm_sha256.clone(), p.clone());
                }
                Some(p)
            }
            Ok(Err(e)) => {
                tracing::error!(plugin = %active.plugin_id, "cannot load: {e}");
                None
            }
            Err(e) => {
                tracing::error!(plugin = %active.plugin_id, "loader task failed: {e}");
                None
            }
        }
    }

    /// The subject's plugins that listen to `hook`, in priority order.
    async fn chain(&self, tenant_id: i64, subject_id: i64, hook: Hook) -> Vec<Link> {
        let active = match self
            .store
            .active_plugins_for_subject(tenant_id, subject_id)
            .await
        {
            Ok(a) => a,
            Err(e) => {
                tracing::error!("active plugins: {e}");
                return Vec::new();
            }
        };
        let mut chain = Vec::new();
        // Suspended plugins are not in `active` (the store filters them), so
        // an admin's `plugin resume` applies to the next call.
        for a in &active {
            if let Some(p) = self.load(a).await {
                if let Some(prio) = p.manifest().priority(hook) {
                    chain.push((prio, a.plugin_id.clone(), p, a.settings_json.clone()));
                }
            }
        }
        chain.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        chain
            .into_iter()
            .map(|(_, id, plugin, settings)| Link {
                id,
                plugin,
                settings,
            })
            .collect()
    }

    /// What one instance may touch: the plugin's catalogue id (a private
    /// plugin's is in its tenant's namespace) scopes its state.
    fn scope(catalogue_id: &str, call: &pipeline::HookCall) -> Scope {
        Scope {
            tenant_id: call.tenant.id,
            tenant_domain: call.tenant.domain.clone(),
            plugin_id: catalogue_id.to_string(),
            subject_id: Some(call.subject.id),
        }
    }

    async fn invoke(&self, link: &Link, call: &pipeline::HookCall, input: HookCall) -> HookOutcome {
        let (plugin, settings) = (&link.plugin, link.settings.as_str());
        let scope = Self::scope(&link.id, call);
        self.runtime.backend().prime_settings(&scope, settings);
        let outcome = self.runtime.invoke(plugin, scope, input).await;
        if let HookOutcome::Fault { kind, message } = &outcome {
            tracing::warn!(
                tenant = %call.tenant.domain, plugin = plugin.id(), call_id = %call.id,
                fault = kind.name(), "plugin fault (treated as proceed): {message}"
            );
        }
        self.count_fault(&link.id, call, &outcome).await;
        outcome
    }

    /// Counts a fault of plugin `catalogue_id` towards suspension, and
    /// suspends when due.
    async fn count_fault(
        &self,
        catalogue_id: &str,
        call: &pipeline::HookCall,
        outcome: &HookOutcome,
    ) {
        if let Some(s) = self.faults.record(call.tenant.id, catalogue_id, outcome) {
            // The store holds the suspension from now on; the tracker starts
            // counting afresh for when an admin resumes the plugin.
            self.faults.resume(call.tenant.id, catalogue_id);
            tracing::error!(tenant = %call.tenant.domain, plugin = catalogue_id, "plugin suspended: {}", s.reason);
            if let Err(e) = self
                .store
                .suspend_plugin(call.tenant.id, catalogue_id, &s.reason)
                .await
            {
                tracing::error!("storing the suspension: {e}");
            }
        }
    }
}

fn subject(u: &User) -> wit::Subject {
    wit::Subject {
        id: u64::try_from(u.id).unwrap_or(0),
        kind: wit::SubjectKind::User,
        extension: Some(u.extension.clone()),
        numbers: u.numbers.clone(),
        display_name: u.display_name.clone(),
    }
}

fn reason_to_wit(r: DiversionReason) -> wit::DiversionReason {
    match r {
        DiversionReason::Unconditional => wit::DiversionReason::Unconditional,
        DiversionReason::UserBusy => wit::DiversionReason::UserBusy,
        DiversionReason::NoAnswer => wit::DiversionReason::NoAnswer,
        DiversionReason::Unavailable => wit::DiversionReason::Unavailable,
        DiversionReason::TimeOfDay => wit::DiversionReason::TimeOfDay,
        DiversionReason::Deflection => wit::DiversionReason::Deflection,
        DiversionReason::Unknown => wit::DiversionReason::Unknown,
    }
}

fn reason_from_wit(r: wit::DiversionReason) -> DiversionReason {
    match r {
        wit::DiversionReason::Unconditional => DiversionReason::Unconditional,
        wit::DiversionReason::UserBusy => DiversionReason::UserBusy,
        wit::DiversionReason::NoAnswer => DiversionReason::NoAnswer,
        wit::DiversionReason::Unavailable => DiversionReason::Unavailable,
        wit::DiversionReason::TimeOfDay => DiversionReason::TimeOfDay,
        wit::DiversionReason::Deflection => DiversionReason::Deflection,
        wit::DiversionReason::Unknown => DiversionReason::Unknown,
    }
}

/// The WIT view of a call.
pub fn wit_call(call: &pipeline::HookCall) -> wit::Call {
    wit::Call {
        id: call.id.clone(),
        tenant: call.tenant.domain.clone(),
        direction: match call.direction {
            CallDirection::Internal => wit::Direction::Internal,
            CallDirection::Inbound => wit::Direction::Inbound,
            CallDirection::Outbound => wit::Direction::Outbound,
        },
        caller: wit::Party {
            number: call.caller.number.clone(),
            display_name: call.caller.display_name.clone(),
            anonymous: call.caller.anonymous,
            asserted_identity: call.caller.asserted_identity.clone(),
            subject: call.caller.user.as_ref().map(subject),
        },
        subject: subject(&call.subject),
        dialled: call.dialled.clone(),
        diversions: call
            .diversions
            .iter()
            .map(|d| wit::Diversion {
                diverted_from: d.from.clone(),
                diverted_to: d.to.clone(),
                reason: reason_to_wit(d.reason),
            })
            .collect(),
        started_at: u64::try_from(call.started_at).unwrap_or(0),
    }
}

/// The switch's view of a decision; `None` for proceed. `take-over` is
/// handled by the caller (it needs to know which plugin decided).
pub fn decision(d: wit::Decision) -> Option<HookDecision> {
    match d {
        wit::Decision::Proceed | wit::Decision::TakeOver => None,
        wit::Decision::Reject(r) => Some(HookDecision::Reject {
            code: r.code,
            reason: if r.reason.is_empty() {
                None
            } else {
                Some(r.reason)
            },
            announcement: r.announcement,
        }),
        wit::Decision::Redirect(r) => Some(HookDecision::Redirect {
            destination: r.destination,
            reason: reason_from_wit(r.reason),
        }),
        wit::Decision::AddTargets(t) => Some(HookDecision::AddTargets(t)),
        wit::Decision::TreatAsBusy => Some(HookDecision::TreatAsBusy),
    }
}

fn call_result(result: &str) -> wit::CallResult {
    match result {
        "answered" => wit::CallResult::Answered,
        "busy" => wit::CallResult::Busy,
        "no-answer" => wit::CallResult::NoAnswer,
        "unavailable" => wit::CallResult::Unavailable,
        "rejected" => wit::CallResult::Rejected,
        "cancelled" => wit::CallResult::Cancelled,
        _ => wit::CallResult::Failed,
    }
}

impl HookRunner for Features {
    fn decide<'a>(
        &'a self,
        point: HookPoint,
        call: &'a pipeline::HookCall,
    ) -> BoxFuture<'a, Option<HookDecision>> {
        Box::pin(async move {
            let hook = match point {
                HookPoint::Originate => Hook::Originate,
                HookPoint::Terminate => Hook::Terminate,
                HookPoint::Busy => Hook::Busy,
                HookPoint::NoAnswer => Hook::NoAnswer,
                HookPoint::Unreachable => Hook::Unreachable,
            };
            let chain = self.chain(call.tenant.id, call.subject.id, hook).await;
            if chain.is_empty() {
                return None;
            }
            let input = wit_call(call);
            for link in chain {
                let hc = match point {
                    HookPoint::Originate => HookCall::Originate(input.clone()),
                    HookPoint::Terminate => HookCall::Terminate(input.clone()),
                    HookPoint::Busy => HookCall::Busy(input.clone()),
                    HookPoint::NoAnswer => HookCall::NoAnswer(input.clone()),
                    HookPoint::Unreachable => HookCall::Unreachable(input.clone()),
                };
                let outcome = self.invoke(&link, call, hc).await;
                let d = outcome.decision();
                if d == wit::Decision::TakeOver && link.plugin.has_session() {
                    return Some(HookDecision::TakeOver(SessionRef {
                        sha256: link.plugin.sha256().to_string(),
                        plugin_id: link.id,
                        settings: link.settings,
                    }));
                }
                if let Some(d) = decision(d) {
                    return Some(d);
                }
            }
            None
        })
    }

    fn run_session<'a>(
        &'a self,
        call: &'a pipeline::HookCall,
        session: &'a SessionRef,
        leg: Arc<dyn SessionLeg>,
    ) -> BoxFuture<'a, SessionOutcome> {
        Box::pin(async move {
            let Some(plugin) = self.cached(&session.sha256) else {
                return SessionOutcome::Fault {
                    kind: FaultKind::Instantiate,
                    message: format!("plugin {} is not loaded", session.plugin_id),
                };
            };
            let scope = Self::scope(&session.plugin_id, call);
            self.runtime
                .backend()
                .prime_settings(&scope, &session.settings);
            tracing::info!(
                tenant = %call.tenant.domain, plugin = plugin.id(),
                version = %plugin.manifest().version, call_id = %call.id,
                "session started"
            );
            metrics::counter!("centrale_sessions_total").increment(1);
            let _active = ActiveSession::start();
            let outcome = self
                .runtime
                .run_session(&plugin, scope, wit_call(call), leg)
                .await;
            let as_hook = match &outcome {
                SessionOutcome::Fault { kind, message } => {
                    tracing::warn!(
                        tenant = %call.tenant.domain, plugin = plugin.id(), call_id = %call.id,
                        fault = kind.name(), "session fault: {message}"
                    );
                    HookOutcome::fault(*kind, message.clone())
                }
                _ => HookOutcome::Done,
            };
            self.count_fault(&session.plugin_id, call, &as_hook).await;
            outcome
        })
    }

    fn ended<'a>(
        &'a self,
        call: &'a pipeline::HookCall,
        result: &'a str,
        sip_code: u16,
        answered_at: Option<i64>,
        ended_at: i64,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            let chain = self
                .chain(call.tenant.id, call.subject.id, Hook::CallEnded)
                .await;
            if chain.is_empty() {
                return;
            }
            let summary = wit::CallSummary {
                call: wit_call(call),
                result: call_result(result),
                sip_code,
                answered_at: answered_at.and_then(|a| u64::try_from(a).ok()),
                ended_at: u64::try_from(ended_at).unwrap_or(0),
            };
            for link in chain {
                self.invoke(&link, call, HookCall::CallEnded(summary.clone()))
                    .await;
            }
        })
    }
}
