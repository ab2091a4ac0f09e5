//! Plugins built against `centrale:plugin@0.1.0` keep loading and deciding
//! in this host (WIT 0.2): the previous release's binaries of the three
//! bundled plugins, kept in tests/data/wit-0.1 (see its README), are loaded
//! and invoked as the switch does.

#[path = "plugins/common.rs"]
mod common;

use std::path::Path;

use centrale_host::runtime::types::{Decision, DiversionReason, Redirection};
use centrale_host::runtime::{HookCall, HookOutcome, LoadedPlugin, Manifest, Runtime, WitLine};
use common::*;
use serde_json::json;

fn load_0_1(rt: &Runtime, id: &str) -> std::sync::Arc<LoadedPlugin> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/wit-0.1");
    let manifest =
        Manifest::from_toml(&std::fs::read_to_string(dir.join(format!("{id}.toml"))).unwrap())
            .unwrap();
    assert_eq!(manifest.wit, "0.1", "{id}: a 0.1 manifest");
    let wasm = std::fs::read(dir.join(format!("{}.wasm", id.replace('-', "_")))).unwrap();
    let plugin = rt
        .load(&manifest, &wasm)
        .unwrap_or_else(|e| panic!("the 0.1 build of {id} must load: {e}"));
    assert_eq!(plugin.wit_line(), WitLine::V0_1);
    assert!(!plugin.has_session());
    plugin
}

#[tokio::test]
async fn the_0_1_plugins_load_and_decide_as_before() {
    let backend = backend();
    let rt = runtime(backend.clone());

    let acr = load_0_1(&rt, "anonymous-call-rejection");
    let out = rt
        .invoke(
            &acr,
            scope(TENANT_A, &acr, Some(1)),
            HookCall::Terminate(call(TENANT_A, "anon", true)),
        )
        .await;
    match out {
        HookOutcome::Decision(Decision::Reject(r)) => {
            assert_eq!(r.code, 433);
            assert_eq!(r.announcement.as_deref(), Some("anonymous-not-accepted"));
        }
        other => panic!("0.1 anonymous-call-rejection: {other:?}"),
    }
    let out = rt
        .invoke(
            &acr,
            scope(TENANT_A, &acr, Some(1)),
            HookCall::Terminate(call(TENANT_A, "known", false)),
        )
        .await;
    assert_eq!(out, HookOutcome::Decision(Decision::Proceed));

    let dnd = load_0_1(&rt, "do-not-disturb");
    let out = rt
        .invoke(
            &dnd,
            scope(TENANT_A, &dnd, Some(1)),
            HookCall::Terminate(call(TENANT_A, "dnd", false)),
        )
        .await;
    assert_eq!(out, HookOutcome::Decision(Decision::TreatAsBusy));

    let cf = load_0_1(&rt, "call-forwarding");
    backend.set_tenant_settings(
        TENANT_A,
        cf.id(),
        json!({ "always": { "enabled": true, "destination": "0612345678" } }),
    );
    let out = rt
        .invoke(
            &cf,
            scope(TENANT_A, &cf, Some(1)),
            HookCall::Terminate(call(TENANT_A, "cf", false)),
        )
        .await;
    assert_eq!(
        out,
        HookOutcome::Decision(Decision::Redirect(Redirection {
            destination: "0612345678".into(),
            reason: DiversionReason::Unconditional,
        }))
    );
}

#[test]
fn a_0_1_manifest_cannot_claim_0_2_capabilities() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/wit-0.1");
    let text = std::fs::read_to_string(dir.join("anonymous-call-rejection.toml")).unwrap();
    let bad = text.replace("capabilities = [", "capabilities = [\"call-control\", ");
    let err = Manifest::from_toml(&bad).unwrap_err();
    assert_eq!(err.field, "capabilities", "{err}");
}

#[test]
fn a_0_2_component_under_a_0_1_manifest_is_refused() {
    let backend = backend();
    let rt = runtime(backend);
    let (manifest, wasm) = plugin("session-hostile");
    let mut old = manifest.clone();
    old.wit = "0.1".into();
    old.capabilities.retain(|c| c.since() == WitLine::V0_1);
    old.settings = None;
    let err = rt.load(&old, &wasm).unwrap_err();
    assert!(err.to_string().contains("0.2"), "{err}");
}
