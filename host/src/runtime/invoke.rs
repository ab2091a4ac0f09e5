//! One hook invocation: a fresh instance in a fresh store with its budgets,
//! the call, validation of the result, teardown, and the classification of
//! whatever went wrong.

use std::time::{Duration, Instant};

use wasmtime::{Store, Trap, UpdateDeadline};

use super::bindings::PluginPre;
use super::host::{HostState, Scope};
use super::limits::Limiter;
use super::loader::LoadedPlugin;
use super::outcome::{validate_decision, FaultKind, HookCall, HookOutcome};
use super::types::Decision;
use super::Runtime;

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
        let timeout = self.config.hook_timeout;
        let deadline = Instant::now() + timeout;
        let state = StoreState {
            host: HostState::new(
                scope,
                self.backend.clone(),
                call.call().id.clone(),
                self.config.max_host_calls,
            ),
            limiter: Limiter::new(self.config.memory_limit, self.config.table_limit as usize),
            timed_out: false,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limiter);
        if let Err(e) = store.set_fuel(self.config.fuel_per_hook) {
            return HookOutcome::fault(FaultKind::Instantiate, format!("fuel: {e}"));
        }
        // Every tick past the first: give the executor back, or stop at the deadline.
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |mut ctx| {
            if Instant::now() >= deadline {
                ctx.data_mut().timed_out = true;
                Ok(UpdateDeadline::Interrupt)
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });

        let mut phase = Phase::Instantiate;
        let result = tokio::time::timeout_at(
            deadline.into(),
            call_hook(&plugin.pre, &mut store, call, &mut phase),
        )
        .await;
        match result {
            Err(_) => HookOutcome::fault(FaultKind::Timeout, timeout_message(timeout)),
            Ok(Ok(outcome)) => outcome,
            Ok(Err(e)) => classify(&e, store.data(), phase, timeout),
        }
        // `store` and the instance are dropped here: nothing survives the call.
    }
}

async fn call_hook(
    pre: &PluginPre<StoreState>,
    store: &mut Store<StoreState>,
    call: &HookCall,
    phase: &mut Phase,
) -> wasmtime::Result<HookOutcome> {
    let instance = pre.instantiate_async(&mut *store).await?;
    *phase = Phase::Call;
    let hooks = instance.centrale_plugin_hooks();
    let decision = match call {
        HookCall::Originate(c) => hooks.call_on_originate(&mut *store, c).await?,
        HookCall::Terminate(c) => hooks.call_on_terminate(&mut *store, c).await?,
        HookCall::NoAnswer(c) => hooks.call_on_no_answer(&mut *store, c).await?,
        HookCall::Busy(c) => hooks.call_on_busy(&mut *store, c).await?,
        HookCall::Unreachable(c) => hooks.call_on_unreachable(&mut *store, c).await?,
        HookCall::CallEnded(s) => {
            hooks.call_on_call_ended(&mut *store, s).await?;
            return Ok(HookOutcome::Done);
        }
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
    format!("exceeded the {} ms hook deadline", timeout.as_millis())
}
