//! The plugin runtime's happy paths: loading and capability checks, the
//! decision of a well-behaved plugin, settings, kv, log, fresh instances,
//! tenant isolation of the directory, the compilation cache, and the cost of
//! one hook invocation.

#[path = "plugins/common.rs"]
mod common;

use std::time::{Duration, Instant};

use centrale_host::runtime::types::{Decision, DiversionReason, LogLevel, Redirection, Rejection};
use centrale_host::runtime::{Capability, HookCall, HookOutcome, PluginError, RuntimeConfig};
use common::*;

fn redirect(destination: &str) -> HookOutcome {
    HookOutcome::Decision(Decision::Redirect(Redirection {
        destination: destination.to_string(),
        reason: DiversionReason::Unknown,
    }))
}

#[tokio::test]
async fn well_behaved_plugin_rejects_anonymous_callers() {
    let backend = backend();
    let rt = runtime(backend.clone());
    let good = load(&rt, "good");
    assert_eq!(
        good.imported_capabilities(),
        [Capability::Log, Capability::Settings, Capability::Kv]
    );

    let anonymous = rt
        .invoke(
            &good,
            scope(TENANT_A, &good, Some(1)),
            HookCall::Terminate(call(TENANT_A, "c-1", true)),
        )
        .await;
    assert_eq!(
        anonymous,
        HookOutcome::Decision(Decision::Reject(Rejection {
            code: 433,
            reason: "Anonymity Disallowed".to_string(),
            announcement: Some("anonymous-not-accepted".to_string()),
        }))
    );
    let known = rt
        .invoke(
            &good,
            scope(TENANT_A, &good, Some(1)),
            HookCall::Terminate(call(TENANT_A, "c-2", false)),
        )
        .await;
    assert_eq!(known, HookOutcome::Decision(Decision::Proceed));

    let logs = backend.logs();
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert_eq!(
        (logs[0].tenant_id, logs[0].call_id.as_str()),
        (TENANT_A, "c-1")
    );
    assert_eq!(
        (logs[0].level, logs[0].plugin_id.as_str()),
        (LogLevel::Info, "test-good")
    );

    let ended = rt
        .invoke(
            &good,
            scope(TENANT_A, &good, Some(1)),
            HookCall::CallEnded(summary("c-3")),
        )
        .await;
    assert_eq!(ended, HookOutcome::Done);
    assert_eq!(good.stats().invocations, 3);
    assert_eq!(good.stats().faults, 0);
}

fn summary(id: &str) -> centrale_host::runtime::types::CallSummary {
    centrale_host::runtime::types::CallSummary {
        call: call(TENANT_A, id, false),
        result: centrale_host::runtime::types::CallResult::Answered,
        sip_code: 200,
        answered_at: Some(1),
        ended_at: 2,
    }
}

#[tokio::test]
async fn every_invocation_gets_a_fresh_instance() {
    let rt = runtime(backend());
    let good = load(&rt, "good");
    for i in 0..25 {
        let tenant = if i % 2 == 0 { TENANT_A } else { TENANT_B };
        let outcome = rt
            .invoke(
                &good,
                scope(tenant, &good, None),
                HookCall::Originate(call(tenant, "c", false)),
            )
            .await;
        // The guest's global counter never exceeds 1.
        assert_eq!(outcome, redirect("count-1"), "invocation {i}");
    }
}

#[tokio::test]
async fn settings_are_merged_per_subject_and_kv_is_scoped() {
    let backend = backend();
    let rt = runtime(backend.clone());
    let good = load(&rt, "good");
    backend.set_tenant_settings(
        TENANT_A,
        "test-good",
        serde_json::json!({"greeting": "hello", "lang": "en"}),
    );
    backend.set_subject_settings(TENANT_A, "test-good", 1, serde_json::json!({"lang": "nl"}));

    let no_answer = rt
        .invoke(
            &good,
            scope(TENANT_A, &good, Some(1)),
            HookCall::NoAnswer(call(TENANT_A, "c", false)),
        )
        .await;
    let HookOutcome::Decision(Decision::Reject(r)) = no_answer else {
        panic!("{no_answer:?}")
    };
    let settings: serde_json::Value = serde_json::from_str(&r.reason).unwrap();
    assert_eq!(
        settings,
        serde_json::json!({"greeting": "hello", "lang": "nl"})
    );
    let other_tenant = rt
        .invoke(
            &good,
            scope(TENANT_B, &good, Some(1)),
            HookCall::NoAnswer(call(TENANT_B, "c", false)),
        )
        .await;
    assert_eq!(
        other_tenant.decision(),
        Decision::Reject(Rejection {
            code: 480,
            reason: "{}".to_string(),
            announcement: None
        })
    );

    let busy = rt
        .invoke(
            &good,
            scope(TENANT_A, &good, Some(1)),
            HookCall::Busy(call(TENANT_A, "c", false)),
        )
        .await;
    assert_eq!(
        busy,
        redirect("set=true|get=+31612345678|longkey=true|bigvalue=true|keys=last-caller")
    );
    let mine = backend.kv_entries(&scope(TENANT_A, &good, Some(1)));
    assert_eq!(mine.keys().collect::<Vec<_>>(), ["last-caller"]);
    assert!(backend
        .kv_entries(&scope(TENANT_A, &good, Some(2)))
        .is_empty());
    assert!(backend
        .kv_entries(&scope(TENANT_B, &good, Some(1)))
        .is_empty());
}

#[tokio::test]
async fn directory_never_answers_about_another_tenant() {
    let backend = backend();
    let rt = runtime(backend.clone());
    let snoop = load(&rt, "snoop");
    // Tenant B's plugin asks for tenant A's Alice: nothing comes back.
    let outcome = rt
        .invoke(
            &snoop,
            scope(TENANT_B, &snoop, None),
            HookCall::Terminate(call(TENANT_B, "c", false)),
        )
        .await;
    assert_eq!(outcome, HookOutcome::Decision(Decision::Proceed));
    let queries = backend.directory_queries();
    assert_eq!(queries.len(), 4, "{queries:?}");
    assert!(
        queries.iter().all(|(tenant, _)| *tenant == TENANT_B),
        "{queries:?}"
    );

    // The same lookups in tenant A find Alice: the isolation is the host's.
    let outcome = rt
        .invoke(
            &snoop,
            scope(TENANT_A, &snoop, None),
            HookCall::Terminate(call(TENANT_A, "c", false)),
        )
        .await;
    assert_eq!(
        outcome.decision(),
        Decision::Reject(Rejection {
            code: 403,
            reason: "ext:Alice number:Alice digits:Alice id:Alice reachable".to_string(),
            announcement: None,
        })
    );
}

#[tokio::test]
async fn undeclared_capability_fails_the_load_naming_it() {
    let rt = runtime(backend());
    let (manifest, wasm) = plugin("sneaky");
    let err = rt.load(&manifest, &wasm).unwrap_err();
    assert_eq!(err, PluginError::UndeclaredImports(vec!["kv".to_string()]));
    assert!(err.to_string().contains("kv"), "{err}");

    // Declared, it loads; the WASI imports of its std are stubbed and listed.
    let mut declared = manifest.clone();
    declared.capabilities.push(Capability::Kv);
    let sneaky = rt.load(&declared, &wasm).unwrap();
    assert_eq!(
        sneaky.imported_capabilities(),
        [Capability::Log, Capability::Kv]
    );
    assert!(
        sneaky
            .foreign_imports()
            .iter()
            .all(|i| i.starts_with("wasi:")),
        "{:?}",
        sneaky.foreign_imports()
    );
}

#[tokio::test]
async fn refuses_what_is_not_a_plugin() {
    let rt = runtime(backend());
    let (manifest, _) = plugin("good");
    let core_module = b"\0asm\x01\x00\x00\x00";
    assert!(matches!(
        rt.load(&manifest, core_module),
        Err(PluginError::NotAComponent(_))
    ));
    let empty_component = b"\0asm\x0d\x00\x01\x00";
    match rt.load(&manifest, empty_component) {
        Err(PluginError::NotAPlugin(m)) => assert!(m.contains("centrale:plugin/hooks"), "{m}"),
        other => panic!("{other:?}"),
    }
    let mut bad = manifest.clone();
    bad.id = "Bad Id".to_string();
    let (_, wasm) = plugin("good");
    assert!(
        matches!(rt.load(&bad, &wasm), Err(PluginError::InvalidManifest(e)) if e.field == "id")
    );
}

#[tokio::test]
async fn unlisted_hooks_are_not_run() {
    let rt = runtime(backend());
    let (mut manifest, wasm) = plugin("good");
    manifest.hooks.retain(|hook, _| hook.name() == "terminate");
    let good = rt.load(&manifest, &wasm).unwrap();
    let outcome = rt
        .invoke(
            &good,
            scope(TENANT_A, &good, None),
            HookCall::Originate(call(TENANT_A, "c", false)),
        )
        .await;
    assert_eq!(outcome, HookOutcome::Decision(Decision::Proceed));
    assert_eq!(good.stats().invocations, 0);
}

#[tokio::test]
async fn compiled_components_are_cached_on_disk() {
    let cache = tempfile::tempdir().unwrap();
    let config = RuntimeConfig {
        cache_dir: Some(cache.path().to_path_buf()),
        hook_timeout: Duration::from_millis(500),
        ..RuntimeConfig::default()
    };
    let (manifest, wasm) = plugin("good");
    let first_rt = runtime_with(backend(), config.clone());
    let started = Instant::now();
    let first = first_rt.load(&manifest, &wasm).unwrap();
    let compile_time = started.elapsed();
    assert!(!first.from_cache());
    let files: Vec<_> = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(
        files[0].starts_with(first.sha256()) && files[0].ends_with(".cwasm"),
        "{files:?}"
    );
    assert!(files[0].contains("wasmtime48.0.8"), "{files:?}");

    // A new runtime (a restart) loads the artefact instead of compiling.
    let second_rt = runtime_with(backend(), config);
    let started = Instant::now();
    let second = second_rt.load(&manifest, &wasm).unwrap();
    let load_time = started.elapsed();
    assert!(second.from_cache());
    println!("compile {compile_time:?}, load from cache {load_time:?}");
    let outcome = second_rt
        .invoke(
            &second,
            scope(TENANT_A, &second, None),
            HookCall::Terminate(call(TENANT_A, "c", true)),
        )
        .await;
    assert_eq!(
        outcome.decision(),
        first_rt
            .invoke(
                &first,
                scope(TENANT_A, &first, None),
                HookCall::Terminate(call(TENANT_A, "c", true))
            )
            .await
            .decision()
    );

    // A corrupt artefact is discarded and recompiled.
    std::fs::write(cache.path().join(&files[0]), b"garbage").unwrap();
    let third_rt = runtime_with(backend(), first_rt.config().clone());
    let third = third_rt.load(&manifest, &wasm).unwrap();
    assert!(!third.from_cache());
}

/// Fresh instance + `on-terminate` + teardown, measured (not asserted), for
/// a `no_std` plugin without WASI imports (the SDK's shape) and for a `std`
/// one (WASI imports stubbed).
#[tokio::test]
async fn measure_hook_cost() {
    let rt = runtime_with(
        backend(),
        RuntimeConfig {
            cache_dir: Some(shared_cache_dir()),
            hook_timeout: Duration::from_millis(500),
            ..RuntimeConfig::default()
        },
    );
    for name in ["lean", "good"] {
        let plugin = load(&rt, name);
        let input = call(TENANT_A, "bench", false);
        let sc = scope(TENANT_A, &plugin, Some(1));
        for _ in 0..200 {
            rt.invoke(&plugin, sc.clone(), HookCall::Terminate(input.clone()))
                .await;
        }
        let mut samples = Vec::with_capacity(2000);
        for _ in 0..2000 {
            let (sc, c) = (sc.clone(), HookCall::Terminate(input.clone()));
            let started = Instant::now();
            let outcome = rt.invoke(&plugin, sc, c).await;
            samples.push(started.elapsed());
            assert_eq!(outcome, HookOutcome::Decision(Decision::Proceed));
        }
        samples.sort();
        let pct = |p: usize| samples[(samples.len() * p / 100).min(samples.len() - 1)];
        println!(
            "hook cost, {name} ({} imports stubbed), {} invocations of fresh instance + on-terminate + teardown: p50 {:?}, p99 {:?}, max {:?}",
            plugin.foreign_imports().len(),
            samples.len(),
            pct(50),
            pct(99),
            samples[samples.len() - 1]
        );
    }
}
