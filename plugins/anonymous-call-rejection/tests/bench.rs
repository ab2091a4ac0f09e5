//! Anonymous call rejection in the real runtime, via the test bench.

use centrale_testbench::{Decision, DiversionReason, TestBench};

fn rejected() -> Decision {
    Decision::reject(433, "Anonymity Disallowed").announce("anonymous-not-accepted")
}

#[tokio::test]
async fn rejects_an_anonymous_outside_caller() {
    let bench = TestBench::for_plugin(env!("CARGO_MANIFEST_DIR"));
    let call = bench
        .call()
        .from("0612345678")
        .anonymous()
        .to_user(201, "201")
        .internal(false);
    assert_eq!(bench.terminate(call).await, rejected());
}

#[tokio::test]
async fn rejects_a_caller_who_withheld_everything() {
    let bench = TestBench::for_plugin(env!("CARGO_MANIFEST_DIR"));
    let call = bench.call().anonymous().to_user(201, "201");
    assert_eq!(bench.terminate(call).await, rejected());
}

#[tokio::test]
async fn rejects_an_anonymous_caller_with_a_network_asserted_identity() {
    // Privacy applies towards the user even when the network knows the number.
    let bench = TestBench::for_plugin(env!("CARGO_MANIFEST_DIR"));
    let call = bench
        .call()
        .anonymous()
        .asserted("sip:+31612345678@carrier.example;user=phone")
        .to_user(201, "201");
    assert_eq!(bench.terminate(call).await, rejected());
}

#[tokio::test]
async fn never_rejects_internal_calls() {
    let bench = TestBench::for_plugin(env!("CARGO_MANIFEST_DIR"));
    bench.add_user(202, "202");
    let call = bench
        .call()
        .from_user(202, "202")
        .anonymous()
        .to_user(201, "201");
    assert_eq!(bench.terminate(call).await, Decision::Proceed);
    let call = bench.call().anonymous().to_user(201, "201").internal(true);
    assert_eq!(bench.terminate(call).await, Decision::Proceed);
}

#[tokio::test]
async fn lets_identified_callers_through() {
    let bench = TestBench::for_plugin(env!("CARGO_MANIFEST_DIR"));
    let call = bench.call().from("0612345678").to_user(201, "201");
    assert_eq!(bench.terminate(call).await, Decision::Proceed);
    // An identified caller on a forwarded call too.
    let call = bench
        .call()
        .from("+31612345678")
        .to_user(201, "201")
        .diverted("200", "201", DiversionReason::Unconditional);
    assert_eq!(bench.terminate(call).await, Decision::Proceed);
}

#[tokio::test]
async fn only_the_terminate_hook_is_listed() {
    let bench = TestBench::for_plugin(env!("CARGO_MANIFEST_DIR"));
    // Hooks absent from plugin.toml are never called: they proceed.
    let call = bench.call().anonymous().to_user(201, "201");
    assert_eq!(bench.busy(call).await, Decision::Proceed);
    let call = bench.call().anonymous().to_user(201, "201");
    assert_eq!(bench.originate(call).await, Decision::Proceed);
}

#[tokio::test]
async fn imports_nothing() {
    let bench = TestBench::for_plugin(env!("CARGO_MANIFEST_DIR"));
    assert!(bench.plugin().imported_capabilities().is_empty());
    assert!(
        bench.plugin().foreign_imports().is_empty(),
        "WASI imports: {:?}",
        bench.plugin().foreign_imports()
    );
}
