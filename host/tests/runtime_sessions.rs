//! Sessions in the sandbox: a session plugin that loops, traps or waits too
//! long ends as a fault of the right kind, in bounded time, while other
//! tenants' hooks and sessions go on; a polite one drives the call through
//! the leg. The leg here is a recording fake (the real one, over SIP and
//! RTP, is exercised by tests/tests/voicemail.rs).

#[path = "plugins/common.rs"]
mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use centrale_host::runtime::host::call_control::{
    CallError, DialOutcome, GatherOptions, PlayEnd, PlayItem, RecordOptions, RecordedFile, Tone,
};
use centrale_host::runtime::types::{Decision, Rejection};
use centrale_host::runtime::{
    BoxFuture, FaultKind, HookCall, HookOutcome, Runtime, RuntimeConfig, Scope, SessionLeg,
    SessionOutcome, WitLine,
};
use common::*;
use serde_json::json;

/// A leg that notes what the session did and answers at once.
#[derive(Default)]
struct FakeLeg {
    events: Mutex<Vec<String>>,
}

impl FakeLeg {
    fn note(&self, e: impl Into<String>) {
        self.events.lock().unwrap().push(e.into());
    }
    fn events(&self) -> Vec<String> {
        self.events.lock().unwrap().clone()
    }
}

impl SessionLeg for FakeLeg {
    fn answer(&self) -> BoxFuture<'_, Result<(), CallError>> {
        self.note("answer");
        Box::pin(async { Ok(()) })
    }
    fn hangup(&self) -> BoxFuture<'_, ()> {
        self.note("hangup");
        Box::pin(async {})
    }
    fn play<'a>(
        &'a self,
        _scope: &'a Scope,
        items: Vec<PlayItem>,
        _interruptible: bool,
    ) -> BoxFuture<'a, Result<PlayEnd, CallError>> {
        self.note(format!("play {items:?}"));
        Box::pin(async { Ok(PlayEnd::Finished) })
    }
    fn gather<'a>(
        &'a self,
        _scope: &'a Scope,
        _prompt: Vec<PlayItem>,
        _options: GatherOptions,
    ) -> BoxFuture<'a, Result<String, CallError>> {
        Box::pin(async { Ok(String::new()) })
    }
    fn record<'a>(
        &'a self,
        _scope: &'a Scope,
        _options: RecordOptions,
    ) -> BoxFuture<'a, Result<RecordedFile, CallError>> {
        Box::pin(async { Err(CallError::HungUp) })
    }
    fn dial<'a>(
        &'a self,
        _scope: &'a Scope,
        _destination: String,
        _timeout_ms: u32,
    ) -> BoxFuture<'a, Result<DialOutcome, CallError>> {
        Box::pin(async { Err(CallError::Unavailable("no".into())) })
    }
    fn transfer<'a>(&'a self, _destination: String) -> BoxFuture<'a, Result<(), CallError>> {
        Box::pin(async { Err(CallError::Unavailable("no".into())) })
    }
    fn sleep(&self, ms: u32) -> BoxFuture<'_, Result<(), CallError>> {
        self.note(format!("sleep {ms}"));
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(u64::from(ms))).await;
            Ok(())
        })
    }
    fn language(&self) -> String {
        "en".into()
    }
    fn set_language(&self, _tag: &str) -> Result<(), CallError> {
        Ok(())
    }
}

/// A runtime with small session budgets, so a loop ends fast.
fn session_runtime(backend: Arc<centrale_host::runtime::memory_backend::MemoryBackend>) -> Runtime {
    runtime_with(
        backend,
        RuntimeConfig {
            cache_dir: Some(shared_cache_dir()),
            fuel_per_hook: 20_000_000,
            hook_timeout: Duration::from_millis(500),
            fuel_per_session: 200_000_000,
            session_timeout: Duration::from_secs(2),
            max_instances: 64,
            ..RuntimeConfig::default()
        },
    )
}

async fn run_mode(
    rt: &Runtime,
    backend: &centrale_host::runtime::memory_backend::MemoryBackend,
    tenant: i64,
    mode: &str,
) -> (SessionOutcome, Arc<FakeLeg>, Duration) {
    let plugin = load(rt, "session-hostile");
    backend.set_tenant_settings(tenant, plugin.id(), json!({ "mode": mode }));
    let leg = Arc::new(FakeLeg::default());
    let started = Instant::now();
    let outcome = rt
        .run_session(
            &plugin,
            scope(tenant, &plugin, Some(1)),
            call(tenant, mode, false),
            leg.clone(),
        )
        .await;
    (outcome, leg, started.elapsed())
}

fn anonymous_rejection() -> Decision {
    Decision::Reject(Rejection {
        code: 433,
        reason: "Anonymity Disallowed".to_string(),
        announcement: Some("anonymous-not-accepted".to_string()),
    })
}

/// The well-behaved 0.1 plugin still decides for tenant A.
async fn other_tenant_still_served(rt: &Runtime) {
    let good = load(rt, "good");
    let outcome = rt
        .invoke(
            &good,
            scope(TENANT_A, &good, Some(1)),
            HookCall::Terminate(call(TENANT_A, "next", true)),
        )
        .await;
    assert_eq!(outcome, HookOutcome::Decision(anonymous_rejection()));
}

#[tokio::test]
async fn a_polite_session_drives_the_leg_and_completes() {
    let backend = backend();
    let rt = session_runtime(backend.clone());
    let plugin = load(&rt, "session-hostile");
    assert_eq!(plugin.wit_line(), WitLine::V0_2);
    assert!(plugin.has_session());
    // Its hook takes the call over.
    let decision = rt
        .invoke(
            &plugin,
            scope(TENANT_B, &plugin, Some(1)),
            HookCall::Terminate(call(TENANT_B, "x", false)),
        )
        .await;
    assert_eq!(decision, HookOutcome::Decision(Decision::TakeOver));
    let (outcome, leg, _) = run_mode(&rt, &backend, TENANT_B, "polite").await;
    assert_eq!(outcome, SessionOutcome::Completed);
    assert_eq!(
        leg.events(),
        vec![
            "answer".to_string(),
            format!("play {:?}", vec![PlayItem::Tone(Tone::Beep)])
        ]
    );
}

#[tokio::test]
async fn a_looping_session_runs_out_of_its_cpu_budget_and_others_go_on() {
    let backend = backend();
    let rt = session_runtime(backend.clone());
    // Tenant A's polite session runs at the same time as B's loop.
    let (looping, polite) = tokio::join!(run_mode(&rt, &backend, TENANT_B, "loop"), async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        other_tenant_still_served(&rt).await;
        run_mode(&rt, &backend, TENANT_A, "polite").await
    });
    let (outcome, leg, took) = looping;
    assert!(
        matches!(
            outcome,
            SessionOutcome::Fault {
                kind: FaultKind::OutOfFuel | FaultKind::Timeout,
                ..
            }
        ),
        "{outcome:?}"
    );
    assert_eq!(leg.events(), vec!["answer".to_string()]);
    assert!(took < Duration::from_secs(10), "the loop took {took:?}");
    assert_eq!(polite.0, SessionOutcome::Completed);
    other_tenant_still_served(&rt).await;
}

#[tokio::test]
async fn a_trapping_session_is_a_trap_fault() {
    let backend = backend();
    let rt = session_runtime(backend.clone());
    let (outcome, _, took) = run_mode(&rt, &backend, TENANT_B, "trap").await;
    assert!(
        matches!(
            outcome,
            SessionOutcome::Fault {
                kind: FaultKind::Trap,
                ..
            }
        ),
        "{outcome:?}"
    );
    assert!(took < Duration::from_secs(5));
    other_tenant_still_served(&rt).await;
}

#[tokio::test]
async fn waiting_past_the_session_limit_ends_the_session() {
    let backend = backend();
    let rt = session_runtime(backend.clone());
    let (outcome, leg, took) = run_mode(&rt, &backend, TENANT_B, "sleepy").await;
    assert!(
        matches!(
            outcome,
            SessionOutcome::Fault {
                kind: FaultKind::Timeout,
                ..
            }
        ),
        "{outcome:?}"
    );
    assert!(leg.events().contains(&"sleep 600000".to_string()));
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(6),
        "ended after {took:?} (limit 2 s)"
    );
}

#[tokio::test]
async fn a_0_1_plugin_has_no_session() {
    let backend = backend();
    let rt = session_runtime(backend.clone());
    let good = load(&rt, "good");
    assert_eq!(good.wit_line(), WitLine::V0_1);
    let leg = Arc::new(FakeLeg::default());
    let outcome = rt
        .run_session(
            &good,
            scope(TENANT_A, &good, Some(1)),
            call(TENANT_A, "s", false),
            leg.clone(),
        )
        .await;
    assert_eq!(outcome, SessionOutcome::NoSession);
    assert!(leg.events().is_empty());
}
