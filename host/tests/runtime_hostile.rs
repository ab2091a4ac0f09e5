//! The sandbox, proven with hostile plugins: each misbehaviour ends as a
//! fault of the right kind, quickly, and the host goes on serving another
//! tenant right after it.

#[path = "plugins/common.rs"]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use centrale_host::runtime::types::{Decision, KvError, LocalTime, Rejection, Subject};
use centrale_host::runtime::{
    BoxFuture, FaultKind, FaultTracker, HookCall, HookOutcome, Runtime, RuntimeConfig, Scope,
};
use common::*;

/// A generous bound: not a timing test, a "does not hang" test.
const BOUND: Duration = Duration::from_secs(2);

fn anonymous_rejection() -> Decision {
    Decision::Reject(Rejection {
        code: 433,
        reason: "Anonymity Disallowed".to_string(),
        announcement: Some("anonymous-not-accepted".to_string()),
    })
}

/// Invokes `hook` of the hostile plugin `name` for tenant B, checks the fault
/// kind and the time it took, then checks that the well-behaved plugin still
/// decides correctly for tenant A on the same runtime. Returns the message.
async fn assert_fault(
    rt: &Runtime,
    name: &str,
    hook: fn(centrale_host::runtime::types::Call) -> HookCall,
    kind: FaultKind,
) -> String {
    let hostile = load(rt, name);
    let started = Instant::now();
    let outcome = rt
        .invoke(
            &hostile,
            scope(TENANT_B, &hostile, None),
            hook(call(TENANT_B, "evil", false)),
        )
        .await;
    let elapsed = started.elapsed();
    let message = match outcome {
        HookOutcome::Fault { kind: got, message } => {
            assert_eq!(got, kind, "{name}: {message}");
            message
        }
        other => panic!("{name}: expected a {kind} fault, got {other:?}"),
    };
    assert!(elapsed < BOUND, "{name} took {elapsed:?}");
    assert_eq!(hostile.stats().faults_of(kind), 1);
    println!("{name}: {kind} after {elapsed:?}: {message}");

    let good = load(rt, "good");
    let outcome = rt
        .invoke(
            &good,
            scope(TENANT_A, &good, Some(1)),
            HookCall::Terminate(call(TENANT_A, "next", true)),
        )
        .await;
    assert_eq!(
        outcome,
        HookOutcome::Decision(anonymous_rejection()),
        "after {name}"
    );
    message
}

#[tokio::test]
async fn infinite_loop_runs_out_of_fuel() {
    let rt = runtime(backend());
    assert_fault(&rt, "spin", HookCall::Terminate, FaultKind::OutOfFuel).await;
}

/// With an unbounded instruction budget the epoch deadline is the backstop.
/// Whether it counts as the plugin's fault depends on whether it got the
/// CPU meanwhile (on a loaded machine it may not have): `Timeout` when it
/// did, `HostDelay` when it did not; either way it is stopped at once.
#[tokio::test]
async fn infinite_loop_hits_the_deadline() {
    let rt = runtime_with(
        backend(),
        RuntimeConfig {
            cache_dir: Some(shared_cache_dir()),
            fuel_per_hook: 1 << 62,
            hook_timeout: Duration::from_millis(100),
            ..RuntimeConfig::default()
        },
    );
    let spin = load(&rt, "spin");
    let started = Instant::now();
    let outcome = rt
        .invoke(
            &spin,
            scope(TENANT_B, &spin, None),
            HookCall::Terminate(call(TENANT_B, "evil", false)),
        )
        .await;
    assert!(started.elapsed() < BOUND, "took {:?}", started.elapsed());
    match outcome {
        HookOutcome::Fault {
            kind: FaultKind::Timeout | FaultKind::HostDelay,
            message,
        } => assert!(message.contains("100 ms"), "{message}"),
        other => panic!("expected the deadline, got {other:?}"),
    }
}

#[tokio::test]
async fn host_call_flood_hits_the_quota() {
    let rt = runtime(backend());
    let message = assert_fault(&rt, "spin", HookCall::Originate, FaultKind::Quota).await;
    assert!(message.contains("schedule.now"), "{message}");
}

#[tokio::test]
async fn memory_bomb_hits_the_cap() {
    let rt = runtime(backend());
    assert_fault(&rt, "bomb", HookCall::Terminate, FaultKind::Memory).await;
}

#[tokio::test]
async fn deep_recursion_traps() {
    let rt = runtime(backend());
    let message = assert_fault(&rt, "bomb", HookCall::Originate, FaultKind::Trap).await;
    // Rust keeps its frames in linear memory below the data: running off its
    // bottom is an out-of-bounds access; the wasm call stack limit catches the rest.
    assert!(
        message.contains("out of bounds") || message.contains("stack"),
        "{message}"
    );
}

#[tokio::test]
async fn panic_traps() {
    let rt = runtime(backend());
    assert_fault(&rt, "crash", HookCall::Terminate, FaultKind::Trap).await;
}

#[tokio::test]
async fn unreachable_traps() {
    let rt = runtime(backend());
    let message = assert_fault(&rt, "crash", HookCall::Originate, FaultKind::Trap).await;
    assert!(message.contains("unreachable"), "{message}");
}

#[tokio::test]
async fn oversized_reason_is_refused() {
    let rt = runtime(backend());
    let message = assert_fault(
        &rt,
        "oversized",
        HookCall::Terminate,
        FaultKind::InvalidResult,
    )
    .await;
    assert!(message.contains("reason"), "{message}");
}

#[tokio::test]
async fn too_many_targets_are_refused() {
    let rt = runtime(backend());
    let message = assert_fault(
        &rt,
        "oversized",
        HookCall::Originate,
        FaultKind::InvalidResult,
    )
    .await;
    assert!(message.contains("10000"), "{message}");
}

#[tokio::test]
async fn fault_storm_suspends_the_plugin_for_that_tenant() {
    let rt = runtime(backend());
    let crash = load(&rt, "crash");
    let tracker = FaultTracker::default();
    let mut suspended_at = None;
    for i in 0..10 {
        let outcome = rt
            .invoke(
                &crash,
                scope(TENANT_B, &crash, None),
                HookCall::Originate(call(TENANT_B, "c", false)),
            )
            .await;
        assert!(outcome.is_fault());
        if tracker.record(TENANT_B, crash.id(), &outcome).is_some() {
            suspended_at.get_or_insert(i + 1);
        }
    }
    assert_eq!(suspended_at, Some(5));
    let suspension = tracker.suspension(TENANT_B, crash.id()).unwrap();
    assert_eq!(suspension.kind, FaultKind::Trap);
    assert!(
        suspension.reason.contains("unreachable"),
        "{}",
        suspension.reason
    );
    assert!(!tracker.is_suspended(TENANT_A, crash.id()));
    let stats = crash.stats();
    assert_eq!(
        (
            stats.invocations,
            stats.faults,
            stats.faults_of(FaultKind::Trap)
        ),
        (10, 10, 10)
    );
}

/// A spinning guest yields to the executor every epoch tick: on a
/// single-threaded runtime another tenant's hook still completes while it spins.
#[tokio::test(flavor = "current_thread")]
async fn a_spinning_guest_does_not_hold_the_thread() {
    let rt = runtime_with(
        backend(),
        RuntimeConfig {
            cache_dir: Some(shared_cache_dir()),
            fuel_per_hook: 1 << 62,
            hook_timeout: Duration::from_millis(300),
            ..RuntimeConfig::default()
        },
    );
    let spin = load(&rt, "spin");
    let good = load(&rt, "good");
    let started = Instant::now();
    let hostile = async {
        let outcome = rt
            .invoke(
                &spin,
                scope(TENANT_B, &spin, None),
                HookCall::Terminate(call(TENANT_B, "evil", false)),
            )
            .await;
        (outcome, started.elapsed())
    };
    let friendly = async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let outcome = rt
            .invoke(
                &good,
                scope(TENANT_A, &good, None),
                HookCall::Terminate(call(TENANT_A, "ok", true)),
            )
            .await;
        (outcome, started.elapsed())
    };
    let ((bad, bad_done), (ok, ok_done)) = tokio::join!(hostile, friendly);
    assert!(
        matches!(
            bad,
            HookOutcome::Fault {
                kind: FaultKind::Timeout,
                ..
            }
        ),
        "{bad:?}"
    );
    assert_eq!(ok, HookOutcome::Decision(anonymous_rejection()));
    assert!(
        ok_done < bad_done,
        "good finished at {ok_done:?}, spin at {bad_done:?}"
    );
}

/// The pool is bounded: past `max_instances` live instances, an invocation
/// faults with `Instantiate` instead of allocating more.
/// Tenant B floods the pool with spinning hooks: it gets its share (half
/// the pool), its invocations beyond it fault `Unavailable` (the host's
/// trouble, not counted toward a suspension), and tenant A is served all
/// along.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_instance_pool_is_bounded_and_shared_between_tenants() {
    let rt = Arc::new(runtime_with(
        backend(),
        RuntimeConfig {
            cache_dir: Some(shared_cache_dir()),
            fuel_per_hook: 1 << 62,
            hook_timeout: Duration::from_millis(300),
            max_instances: 4,
            tenant_instance_percent: 50,
            ..RuntimeConfig::default()
        },
    ));
    let spin = load(&rt, "spin");
    let mut tasks = Vec::new();
    for _ in 0..2 {
        let (rt, spin) = (rt.clone(), spin.clone());
        tasks.push(tokio::spawn(async move {
            rt.invoke(
                &spin,
                scope(TENANT_B, &spin, None),
                HookCall::Terminate(call(TENANT_B, "evil", false)),
            )
            .await
        }));
    }
    // Both of B's slots are taken once the instances run.
    let deadline = Instant::now() + BOUND;
    while rt.instances_in_use() < 2 && Instant::now() < deadline {
        tokio::task::yield_now().await;
    }
    assert_eq!(rt.instances_in_use(), 2);
    let over = rt
        .invoke(
            &spin,
            scope(TENANT_B, &spin, None),
            HookCall::Terminate(call(TENANT_B, "evil", false)),
        )
        .await;
    assert!(
        matches!(
            over,
            HookOutcome::Fault {
                kind: FaultKind::Unavailable,
                ..
            }
        ),
        "{over:?}"
    );
    let tracker = FaultTracker::new(1, Duration::from_secs(60));
    assert!(
        tracker.record(TENANT_B, "spin", &over).is_none(),
        "a host-side fault suspended the plugin"
    );
    let good = load(&rt, "good");
    let served = rt
        .invoke(
            &good,
            scope(TENANT_A, &good, None),
            HookCall::Terminate(call(TENANT_A, "c", true)),
        )
        .await;
    assert_eq!(served, HookOutcome::Decision(anonymous_rejection()));
    for task in tasks {
        let r = task.await.unwrap();
        assert!(
            matches!(
                r,
                HookOutcome::Fault {
                    kind: FaultKind::Timeout | FaultKind::HostDelay,
                    ..
                }
            ),
            "{r:?}"
        );
    }
    // Slots are back: serving again.
    let again = rt
        .invoke(
            &good,
            scope(TENANT_A, &good, None),
            HookCall::Terminate(call(TENANT_A, "c", true)),
        )
        .await;
    assert_eq!(again, HookOutcome::Decision(anonymous_rejection()));
}

/// A backend whose `settings` hangs (a stuck database): the invocation is
/// cut at the deadline even while the guest waits in a host call.
struct StuckSettings(
    Arc<centrale_host::runtime::memory_backend::MemoryBackend>,
    Duration,
);

impl centrale_host::runtime::HostBackend for StuckSettings {
    fn settings<'a>(&'a self, _scope: &'a Scope) -> BoxFuture<'a, String> {
        Box::pin(async {
            tokio::time::sleep(self.1).await;
            "{}".to_string()
        })
    }
    fn kv_get<'a>(
        &'a self,
        s: &'a Scope,
        k: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<u8>>, KvError>> {
        self.0.kv_get(s, k)
    }
    fn kv_set<'a>(
        &'a self,
        s: &'a Scope,
        k: &'a str,
        v: Vec<u8>,
    ) -> BoxFuture<'a, Result<(), KvError>> {
        self.0.kv_set(s, k, v)
    }
    fn kv_delete<'a>(&'a self, s: &'a Scope, k: &'a str) -> BoxFuture<'a, Result<(), KvError>> {
        self.0.kv_delete(s, k)
    }
    fn kv_list<'a>(&'a self, s: &'a Scope, p: &'a str) -> BoxFuture<'a, Vec<String>> {
        self.0.kv_list(s, p)
    }
    fn directory_by_extension<'a>(&'a self, t: i64, e: &'a str) -> BoxFuture<'a, Option<Subject>> {
        self.0.directory_by_extension(t, e)
    }
    fn directory_by_number<'a>(&'a self, t: i64, n: &'a str) -> BoxFuture<'a, Option<Subject>> {
        self.0.directory_by_number(t, n)
    }
    fn directory_by_id(&self, t: i64, id: u64) -> BoxFuture<'_, Option<Subject>> {
        self.0.directory_by_id(t, id)
    }
    fn is_reachable(&self, t: i64, id: u64) -> BoxFuture<'_, bool> {
        self.0.is_reachable(t, id)
    }
    fn schedule_is_open<'a>(&'a self, t: i64, n: &'a str, now: u64) -> BoxFuture<'a, Option<bool>> {
        self.0.schedule_is_open(t, n, now)
    }
    fn local_time(&self, t: i64, now: u64) -> LocalTime {
        self.0.local_time(t, now)
    }
    fn now_ms(&self) -> u64 {
        self.0.now_ms()
    }
}

#[tokio::test]
async fn a_stuck_host_call_is_cut_at_the_deadline() {
    let config = RuntimeConfig {
        cache_dir: Some(shared_cache_dir()),
        hook_timeout: Duration::from_millis(200),
        hook_wall_timeout: Duration::from_millis(400),
        ..RuntimeConfig::default()
    };
    let rt = Runtime::new(
        config,
        Arc::new(StuckSettings(backend(), Duration::from_secs(3600))),
    )
    .unwrap();
    let good = load(&rt, "good");
    let started = Instant::now();
    let outcome = rt
        .invoke(
            &good,
            scope(TENANT_A, &good, Some(1)),
            HookCall::NoAnswer(call(TENANT_A, "c", false)),
        )
        .await;
    // The plugin was waiting for the host, not running: the host's fault,
    // which does not count toward a suspension.
    assert!(
        matches!(
            outcome,
            HookOutcome::Fault {
                kind: FaultKind::HostDelay,
                ..
            }
        ),
        "{outcome:?}"
    );
    assert!(FaultTracker::new(1, Duration::from_secs(60))
        .record(TENANT_A, "good", &outcome)
        .is_none());
    assert!(started.elapsed() < BOUND, "{:?}", started.elapsed());
    // The next invocation is unaffected.
    let next = rt
        .invoke(
            &good,
            scope(TENANT_B, &good, Some(1)),
            HookCall::Terminate(call(TENANT_B, "c", true)),
        )
        .await;
    assert_eq!(next, HookOutcome::Decision(anonymous_rejection()));
}

/// A slow database (150 ms for settings) is not the plugin's fault: with
/// 50 ms of CPU allowed it still decides, since waiting costs no CPU.
#[tokio::test]
async fn a_slow_host_does_not_cut_off_a_well_behaved_plugin() {
    let config = RuntimeConfig {
        cache_dir: Some(shared_cache_dir()),
        hook_timeout: Duration::from_millis(50),
        ..RuntimeConfig::default()
    };
    let rt = Runtime::new(
        config,
        Arc::new(StuckSettings(backend(), Duration::from_millis(150))),
    )
    .unwrap();
    let good = load(&rt, "good");
    let outcome = rt
        .invoke(
            &good,
            scope(TENANT_A, &good, Some(1)),
            HookCall::NoAnswer(call(TENANT_A, "c", false)),
        )
        .await;
    assert!(matches!(outcome, HookOutcome::Decision(_)), "{outcome:?}");
}
