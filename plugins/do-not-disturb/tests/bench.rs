//! Do-not-disturb in the real runtime, via the test bench.

use centrale_testbench::{json, Decision, TestBench};

#[tokio::test]
async fn busy_treatment_while_assigned() {
    // No settings stored: assigning the plugin is turning DND on.
    let bench = TestBench::for_plugin(env!("CARGO_MANIFEST_DIR"));
    let call = bench.call().from("+31612345678").to_user(201, "201");
    assert_eq!(bench.terminate(call).await, Decision::TreatAsBusy);
}

#[tokio::test]
async fn internal_calls_get_busy_treatment_too() {
    let bench = TestBench::for_plugin(env!("CARGO_MANIFEST_DIR"));
    bench.add_user(202, "202");
    let call = bench.call().from_user(202, "202").to_user(201, "201");
    assert_eq!(bench.terminate(call).await, Decision::TreatAsBusy);
}

#[tokio::test]
async fn the_toggle_turns_it_off_and_on() {
    let bench = TestBench::for_plugin(env!("CARGO_MANIFEST_DIR"));
    bench.set_user_settings(201, json!({ "enabled": false }));
    assert_eq!(
        bench.call().to_user(201, "201").terminate().await,
        Decision::Proceed
    );
    // Another user of the tenant keeps DND on.
    assert_eq!(
        bench.call().to_user(202, "202").terminate().await,
        Decision::TreatAsBusy
    );
    bench.set_user_settings(201, json!({ "enabled": true }));
    assert_eq!(
        bench.call().to_user(201, "201").terminate().await,
        Decision::TreatAsBusy
    );
}

#[tokio::test]
async fn user_settings_override_the_tenant_default() {
    let bench = TestBench::for_plugin(env!("CARGO_MANIFEST_DIR"));
    bench.set_settings(json!({ "enabled": false }));
    assert_eq!(
        bench.call().to_user(201, "201").terminate().await,
        Decision::Proceed
    );
    bench.set_user_settings(201, json!({ "enabled": true }));
    assert_eq!(
        bench.call().to_user(201, "201").terminate().await,
        Decision::TreatAsBusy
    );
}

#[tokio::test]
#[should_panic(expected = "settings rejected by the schema")]
async fn the_schema_refuses_unknown_settings() {
    let bench = TestBench::for_plugin(env!("CARGO_MANIFEST_DIR"));
    bench.set_settings(json!({ "enabled": true, "until": "tomorrow" }));
}

#[tokio::test]
async fn the_busy_hook_is_left_to_forwarding_and_voicemail() {
    let bench = TestBench::for_plugin(env!("CARGO_MANIFEST_DIR"));
    assert_eq!(
        bench.call().to_user(201, "201").busy().await,
        Decision::Proceed
    );
}

#[tokio::test]
async fn imports_only_settings_and_log() {
    let bench = TestBench::for_plugin(env!("CARGO_MANIFEST_DIR"));
    let names: Vec<&str> = bench
        .plugin()
        .imported_capabilities()
        .iter()
        .map(|c| c.name())
        .collect();
    assert_eq!(names, ["log", "settings"]);
    assert!(
        bench.plugin().foreign_imports().is_empty(),
        "{:?}",
        bench.plugin().foreign_imports()
    );
}
