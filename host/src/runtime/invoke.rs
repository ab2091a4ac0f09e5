//! One invocation: a fresh instance in a fresh store with its budgets, the
//! call (a hook, a timer or a whole session), validation of the result,
//! teardown, and the classification of whatever went wrong.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::{Store, Trap, UpdateDeadline};

use super::host::{HostState, Scope, SessionLeg};
use super::limits::Limiter;
use super::loader::{LoadedPlugin, Pre};
use super::outcome::{validate_decision, FaultKind, HookCall, HookOutcome};
use super::types::{Call, Decision, Subject};
use super::Runtime;

/// How a session ended.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionOutcome {
    /// `run` returned.
    Completed,
    /// The plugin has no session export (built against 0.1).
    NoSession,
    /// The session failed (trap, CPU budget, wall-clock limit, quota).
    Fault {
        /// What went wrong.
        kind: FaultKind,
        /// Detail for logs and the admin.
        message: String,
    },
}

/// The budgets of one store.
struct Budget {
    fuel: u64,
    /// Wall-clock deadline.
    timeout: Duration,
    /// CPU time the invocation may take (`None`: only the wall clock).
    cpu: Option<Duration>,
    host_calls: u32,
}

/// The data of one invocation's store.
pub(crate) struct StoreState {
    pub(crate) host: HostState,
    limiter: Limiter,
    timed_out: bool,
}

/// How far an invocation got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Instantiate,
    Call,
}

impl Runtime {
    /// Runs one hook of `plugin` for `scope` in a fresh instance.
    ///
    /// A hook the manifest does not list is not run: it yields `proceed`
    /// (`Done` for `call-ended`). Never panics and never fails: traps, budget
    /// overruns and invalid decisions come back as [`HookOutcome::Fault`],
    /// which the switch treats as `proceed`. Guest code yields to the executor
    /// every epoch tick, so a spinning plugin does not hold a worker thread.
    pub async fn invoke(&self, plugin: &LoadedPlugin, scope: Scope, call: HookCall) -> HookOutcome {
        if plugin.manifest.priority(call.hook()).is_none() {
            return match call {
                HookCall::CallEnded(_) => HookOutcome::Done,
                _ => HookOutcome::Decision(Decision::Proceed),
            };
        }
        let outcome = self.run(plugin, scope, &call).await;
        plugin.stats.record(&outcome);
        outcome
    }

    async fn run(&self, plugin: &LoadedPlugin, scope: Scope, call: &HookCall) -> HookOutcome {
        let _slot = match self.slots.acquire(scope.tenant_id) {
            Ok(s) => s,
            Err(why) => return HookOutcome::fault(FaultKind::Unavailable, why),
        };
        let budget = self.hook_budget();
        let timeout = budget.timeout;
        let running = Running::default();
        let mut store = match self.store(scope, call.call().id.clone(), &budget, None, &running) {
            Ok(s) => s,
            Err(e) => return HookOutcome::fault(FaultKind::Instantiate, e),
        };
        let deadline = Instant::now() + timeout;
        let mut phase = Phase::Instantiate;
        let result = tokio::time::timeout_at(
            deadline.into(),
            running.time(call_hook(&plugin.pre, &mut store, call, &mut phase)),
        )
        .await;
        let outcome = match result {
            Err(_) => HookOutcome::fault(FaultKind::Timeout, timeout_message(timeout)),
            Ok(Ok(outcome)) => outcome,
            Ok(Err(e)) => classify(&e, store.data(), phase, timeout),
        };
        running.blame(outcome, self.config.hook_timeout)
        // `store` and the instance are dropped here: nothing survives the call.
    }

    /// Runs `session.run` of `plugin` for a call one of its hooks took over,
    /// in one instance for the whole session. The CPU budget
    /// (`fuel_per_session`) counts guest instructions only, so waiting in
    /// `call-control` costs nothing; `session_timeout` bounds the wall-clock
    /// time. Never panics: every failure is [`SessionOutcome::Fault`], after
    /// which the switch plays the error prompt and ends the call.
    pub async fn run_session(
        &self,
        plugin: &LoadedPlugin,
        scope: Scope,
        call: Call,
        leg: Arc<dyn SessionLeg>,
    ) -> SessionOutcome {
        let Pre::V0_2(pre) = &plugin.pre else {
            return SessionOutcome::NoSession;
        };
        let budget = Budget {
            fuel: self.config.fuel_per_session,
            timeout: self.config.session_timeout,
            cpu: None,
            host_calls: self.config.max_host_calls_per_session,
        };
        let timeout = budget.timeout;
        let _slot = match self.slots.acquire(scope.tenant_id) {
            Ok(s) => s,
            Err(message) => {
                return SessionOutcome::Fault {
                    kind: FaultKind::Unavailable,
                    message,
                }
            }
        };
        let mut store = match self.store(
            scope,
            call.id.clone(),
            &budget,
            Some(leg),
            &Running::default(),
        ) {
            Ok(s) => s,
            Err(e) => {
                return SessionOutcome::Fault {
                    kind: FaultKind::Instantiate,
                    message: e,
                }
            }
        };
        let deadline = Instant::now() + timeout;
        let mut phase = Phase::Instantiate;
        let run = async {
            let instance = pre.instantiate_async(&mut store).await?;
            phase = Phase::Call;
            instance
                .centrale_plugin_session()
                .call_run(&mut store, &call)
                .await
        };
        let result = tokio::time::timeout_at(deadline.into(), run).await;
        let outcome = match result {
            Err(_) => HookOutcome::fault(FaultKind::Timeout, timeout_message(timeout)),
            Ok(Ok(())) => HookOutcome::Done,
            Ok(Err(e)) => classify(&e, store.data(), phase, timeout),
        };
        plugin.stats.record(&outcome);
        match outcome {
            HookOutcome::Fault { kind, message } => SessionOutcome::Fault { kind, message },
            _ => SessionOutcome::Completed,
        }
    }

    /// Runs `timers.on-timer` of `plugin` for `subject`, with a hook's
    /// budget. `Done` when the plugin has no timers (0.1).
    pub async fn run_timer(
        &self,
        plugin: &LoadedPlugin,
        scope: Scope,
        subject: Subject,
    ) -> HookOutcome {
        let Pre::V0_2(pre) = &plugin.pre else {
            return HookOutcome::Done;
        };
        let _slot = match self.slots.acquire(scope.tenant_id) {
            Ok(s) => s,
            Err(why) => return HookOutcome::fault(FaultKind::Unavailable, why),
        };
        let budget = self.hook_budget();
        let timeout = budget.timeout;
        let running = Running::default();
        let mut store = match self.store(scope, "timer".to_string(), &budget, None, &running) {
            Ok(s) => s,
            Err(e) => return HookOutcome::fault(FaultKind::Instantiate, e),
        };
        let deadline = Instant::now() + timeout;
        let mut phase = Phase::Instantiate;
        let run = async {
            let instance = pre.instantiate_async(&mut store).await?;
            phase = Phase::Call;
            instance
                .centrale_plugin_timers()
                .call_on_timer(&mut store, &subject)
                .await
        };
        let result = tokio::time::timeout_at(deadline.into(), running.time(run)).await;
        let outcome = match result {
            Err(_) => HookOutcome::fault(FaultKind::Timeout, timeout_message(timeout)),
            Ok(Ok(())) => HookOutcome::Done,
            Ok(Err(e)) => classify(&e, store.data(), phase, timeout),
        };
        let outcome = running.blame(outcome, self.config.hook_timeout);
        plugin.stats.record(&outcome);
        outcome
    }

    fn hook_budget(&self) -> Budget {
        Budget {
            fuel: self.config.fuel_per_hook,
            timeout: self.config.hook_wall_timeout.max(self.config.hook_timeout),
            cpu: Some(self.config.hook_timeout),
            host_calls: self.config.max_host_calls,
        }
    }

    /// A fresh store with the budget; guest code yields to the executor
    /// every epoch tick and is interrupted at the deadline.
    fn store(
        &self,
        scope: Scope,
        call_id: String,
        budget: &Budget,
        leg: Option<Arc<dyn SessionLeg>>,
        running: &Running,
    ) -> Result<Store<StoreState>, String> {
        let deadline = Instant::now() + budget.timeout;
        let (cpu_budget, running) = (budget.cpu, running.clone());
        let mut host = HostState::new(scope, self.backend.clone(), call_id, budget.host_calls);
        host.leg = leg;
        let state = StoreState {
            host,
            limiter: Limiter::new(self.config.memory_limit, self.config.table_limit as usize),
            timed_out: false,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limiter);
        store
            .set_fuel(budget.fuel)
            .map_err(|e| format!("fuel: {e}"))?;
        // Every tick past the first: give the executor back, or stop at the
        // deadline (the CPU budget, or the wall-clock backstop).
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |mut ctx| {
            let out_of_cpu = cpu_budget.is_some_and(|b| running.ran() >= b);
            if out_of_cpu || Instant::now() >= deadline {
                ctx.data_mut().timed_out = true;
                Ok(UpdateDeadline::Interrupt)
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
        Ok(store)
    }
}

/// How much CPU an invocation's future actually got (thread CPU time
/// inside `poll`: guest code and synchronous host functions), as opposed to
/// waiting for the executor or the operating system (no CPU free) or for
/// an async host call (the database).
#[derive(Default, Clone)]
struct Running(Arc<std::sync::atomic::AtomicU64>);

impl Running {
    /// `f`, timed.
    fn time<F: std::future::Future>(&self, f: F) -> Timed<F> {
        Timed {
            inner: Box::pin(f),
            nanos: self.0.clone(),
        }
    }

    fn ran(&self) -> Duration {
        Duration::from_nanos(self.0.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// A timeout of a guest that did not use its CPU budget `cpu` was the
    /// host's doing (starved of CPU, or waiting for the database): the
    /// wall-clock backstop fired. `HostDelay`, which does not count toward
    /// a suspension. One that used it is the plugin's `Timeout`.
    fn blame(&self, outcome: HookOutcome, cpu: Duration) -> HookOutcome {
        match outcome {
            HookOutcome::Fault {
                kind: FaultKind::Timeout,
                ..
            } if self.ran() < cpu => HookOutcome::fault(
                FaultKind::HostDelay,
                format!(
                    "the wall-clock backstop passed while the plugin had {} ms of its {} ms of CPU \
                     (waiting for a CPU or the host)",
                    self.ran().as_millis(),
                    cpu.as_millis()
                ),
            ),
            HookOutcome::Fault {
                kind: FaultKind::Timeout,
                ..
            } => HookOutcome::fault(FaultKind::Timeout, timeout_message(cpu)),
            other => other,
        }
    }
}

/// A future whose time inside `poll` is added up (see [`Running`]).
struct Timed<F> {
    inner: std::pin::Pin<Box<F>>,
    nanos: Arc<std::sync::atomic::AtomicU64>,
}

impl<F: std::future::Future> std::future::Future for Timed<F> {
    type Output = F::Output;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        let started = thread_cpu_nanos();
        let r = self.inner.as_mut().poll(cx);
        let spent = thread_cpu_nanos().saturating_sub(started);
        self.nanos
            .fetch_add(spent, std::sync::atomic::Ordering::Relaxed);
        r
    }
}

/// CPU time of the calling thread, nanoseconds.
fn thread_cpu_nanos() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_THREAD_CPUTIME_ID
    // is supported on Linux and only reads the calling thread's clock.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0;
    }
    u64::try_from(ts.tv_sec)
        .unwrap_or(0)
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::try_from(ts.tv_nsec).unwrap_or(0))
}

/// Calls one hook on a fresh instance; both lines share the Rust types of
/// `Call` and `Decision` (see bindings.rs), so one body serves both.
macro_rules! hook_body {
    ($pre:expr, $store:expr, $call:expr, $phase:expr, $hooks:ident) => {{
        let instance = $pre.instantiate_async(&mut *$store).await?;
        *$phase = Phase::Call;
        let hooks = instance.$hooks();
        match $call {
            HookCall::Originate(c) => hooks.call_on_originate(&mut *$store, c).await?,
            HookCall::Terminate(c) => hooks.call_on_terminate(&mut *$store, c).await?,
            HookCall::NoAnswer(c) => hooks.call_on_no_answer(&mut *$store, c).await?,
            HookCall::Busy(c) => hooks.call_on_busy(&mut *$store, c).await?,
            HookCall::Unreachable(c) => hooks.call_on_unreachable(&mut *$store, c).await?,
            HookCall::CallEnded(s) => {
                hooks.call_on_call_ended(&mut *$store, s).await?;
                return Ok(HookOutcome::Done);
            }
        }
    }};
}

async fn call_hook(
    pre: &Pre,
    store: &mut Store<StoreState>,
    call: &HookCall,
    phase: &mut Phase,
) -> wasmtime::Result<HookOutcome> {
    let decision = match pre {
        Pre::V0_2(pre) => hook_body!(pre, store, call, phase, centrale_plugin_hooks),
        Pre::V0_1(pre) => match hook_body!(pre, store, call, phase, centrale_plugin_hooks) {
            // 0.1 plugins have no session to take a call over with.
            Decision::TakeOver => Decision::Proceed,
            d => d,
        },
    };
    Ok(match validate_decision(&decision) {
        Ok(()) => HookOutcome::Decision(decision),
        Err(why) => HookOutcome::fault(FaultKind::InvalidResult, why),
    })
}

fn classify(
    e: &wasmtime::Error,
    state: &StoreState,
    phase: Phase,
    timeout: Duration,
) -> HookOutcome {
    let trap = e.downcast_ref::<Trap>().copied();
    let kind = if state.timed_out || trap == Some(Trap::Interrupt) {
        FaultKind::Timeout
    } else if trap == Some(Trap::OutOfFuel) {
        FaultKind::OutOfFuel
    } else if state.host.ctx.quota_exceeded {
        FaultKind::Quota
    } else if state.limiter.denied {
        FaultKind::Memory
    } else if phase == Phase::Instantiate {
        FaultKind::Instantiate
    } else {
        FaultKind::Trap
    };
    let message = match kind {
        FaultKind::Timeout => timeout_message(timeout),
        FaultKind::Memory => format!("memory limit reached ({})", describe(e)),
        _ => describe(e),
    };
    HookOutcome::fault(kind, message)
}

/// The root cause, then the context chain without the (long) wasm backtrace.
fn describe(e: &wasmtime::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let root = e.root_cause().to_string();
    parts.push(root.clone());
    for cause in e.chain() {
        let text = cause.to_string();
        if text != root && !text.contains("wasm backtrace") {
            parts.push(text);
        }
    }
    parts.join(": ")
}

fn timeout_message(timeout: Duration) -> String {
    format!("exceeded the {} ms deadline", timeout.as_millis())
}
