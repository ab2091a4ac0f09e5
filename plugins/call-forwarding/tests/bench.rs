//! Call forwarding in the real runtime, via the test bench.

use centrale_testbench::{json, Decision, DiversionReason, TestBench};

const MOBILE: &str = "+31612345678";

fn bench() -> TestBench {
    let bench = TestBench::for_plugin(env!("CARGO_MANIFEST_DIR"));
    bench
        .add_user(201, "201")
        .number("+31201234201")
        .name("Alice");
    bench.add_user(202, "202").name("Bob");
    bench
}

fn redirect(to: &str, reason: DiversionReason) -> Decision {
    Decision::redirect(to, reason)
}

#[tokio::test]
async fn nothing_configured_nothing_forwarded() {
    let bench = bench();
    assert_eq!(
        bench.call().to_subject(201).terminate().await,
        Decision::Proceed
    );
    assert_eq!(bench.call().to_subject(201).busy().await, Decision::Proceed);
    assert_eq!(
        bench.call().to_subject(201).no_answer().await,
        Decision::Proceed
    );
    assert_eq!(
        bench.call().to_subject(201).unreachable().await,
        Decision::Proceed
    );
}

#[tokio::test]
async fn forward_always() {
    let bench = bench();
    bench.set_user_settings(
        201,
        json!({ "always": { "enabled": true, "destination": "+31 6 1234 5678" } }),
    );
    assert_eq!(
        bench.call().to_subject(201).terminate().await,
        redirect(MOBILE, DiversionReason::Unconditional)
    );
    // Internal calls are forwarded too.
    let call = bench.call().from_user(202, "202").to_subject(201);
    assert_eq!(
        bench.terminate(call).await,
        redirect(MOBILE, DiversionReason::Unconditional)
    );
    // Other users of the tenant are not.
    assert_eq!(
        bench.call().to_subject(202).terminate().await,
        Decision::Proceed
    );
}

#[tokio::test]
async fn disabled_or_empty_forwarding_does_nothing() {
    let bench = bench();
    bench.set_user_settings(
        201,
        json!({
            "always": { "enabled": false, "destination": MOBILE },
            "busy": { "enabled": true, "destination": "  " }
        }),
    );
    assert_eq!(
        bench.call().to_subject(201).terminate().await,
        Decision::Proceed
    );
    assert_eq!(bench.call().to_subject(201).busy().await, Decision::Proceed);
}

#[tokio::test]
async fn busy_no_answer_and_unreachable_each_have_their_destination() {
    let bench = bench();
    bench.set_user_settings(
        201,
        json!({
            "busy": { "enabled": true, "destination": "202" },
            "no_answer": { "enabled": true, "destination": "8000", "ring_timeout_secs": 20 },
            "unreachable": { "enabled": true, "destination": MOBILE }
        }),
    );
    assert_eq!(
        bench.call().to_subject(201).terminate().await,
        Decision::Proceed
    );
    assert_eq!(
        bench.call().to_subject(201).busy().await,
        redirect("202", DiversionReason::UserBusy)
    );
    assert_eq!(
        bench.call().to_subject(201).no_answer().await,
        redirect("8000", DiversionReason::NoAnswer)
    );
    assert_eq!(
        bench.call().to_subject(201).unreachable().await,
        redirect(MOBILE, DiversionReason::Unavailable)
    );
}

#[tokio::test]
async fn tenant_defaults_and_user_overrides() {
    let bench = bench();
    bench.set_settings(json!({ "no_answer": { "enabled": true, "destination": "8000" } }));
    bench.set_user_settings(202, json!({ "no_answer": { "enabled": false } }));
    assert_eq!(
        bench.call().to_subject(201).no_answer().await,
        redirect("8000", DiversionReason::NoAnswer)
    );
    assert_eq!(
        bench.call().to_subject(202).no_answer().await,
        Decision::Proceed
    );
}

#[tokio::test]
async fn selective_forwarding_after_hours() {
    let bench = bench();
    bench.set_user_settings(
        201,
        json!({ "selective": [ { "destination": MOBILE, "schedule": "business-hours", "when": "closed" } ] }),
    );
    bench.set_schedule("business-hours", true);
    assert_eq!(
        bench.call().to_subject(201).terminate().await,
        Decision::Proceed
    );
    bench.set_schedule("business-hours", false);
    assert_eq!(
        bench.call().to_subject(201).terminate().await,
        redirect(MOBILE, DiversionReason::TimeOfDay)
    );
}

#[tokio::test]
async fn selective_forwarding_while_a_schedule_is_open() {
    let bench = bench();
    bench.set_user_settings(
        201,
        json!({ "selective": [ { "destination": "300", "schedule": "lunch", "when": "open" } ] }),
    );
    bench.set_schedule("lunch", false);
    assert_eq!(
        bench.call().to_subject(201).terminate().await,
        Decision::Proceed
    );
    bench.set_schedule("lunch", true);
    assert_eq!(
        bench.call().to_subject(201).terminate().await,
        redirect("300", DiversionReason::TimeOfDay)
    );
}

#[tokio::test]
async fn selective_forwarding_by_caller_and_called_number() {
    let bench = bench();
    bench.set_user_settings(
        201,
        json!({ "selective": [
            { "destination": "202", "callers": ["+31 20 555 0001", "0205550002"] },
            { "destination": MOBILE, "dialled": ["+31201234201"] }
        ] }),
    );
    let vip = bench.call().from("+31205550001").to_subject(201);
    assert_eq!(
        bench.terminate(vip).await,
        redirect("202", DiversionReason::TimeOfDay)
    );
    let other = bench.call().from("+31205550009").to_subject(201);
    assert_eq!(bench.terminate(other).await, Decision::Proceed);
    let public = bench
        .call()
        .from("+31205550009")
        .to_subject(201)
        .dialled("+31201234201");
    assert_eq!(
        bench.terminate(public).await,
        redirect(MOBILE, DiversionReason::TimeOfDay)
    );
}

#[tokio::test]
async fn exception_rules_stop_selective_forwarding() {
    let bench = bench();
    bench.set_user_settings(
        201,
        json!({ "selective": [
            { "destination": MOBILE, "schedule": "business-hours", "when": "closed" },
            { "exception": true, "callers": ["202"] }
        ] }),
    );
    bench.set_schedule("business-hours", false);
    let colleague = bench.call().from_user(202, "202").to_subject(201);
    assert_eq!(bench.terminate(colleague).await, Decision::Proceed);
    let customer = bench.call().from("+31205550001").to_subject(201);
    assert_eq!(
        bench.terminate(customer).await,
        redirect(MOBILE, DiversionReason::TimeOfDay)
    );
}

#[tokio::test]
async fn disabled_rules_and_unknown_schedules_never_match() {
    let bench = bench();
    bench.set_user_settings(
        201,
        json!({ "selective": [
            { "enabled": false, "destination": "300" },
            { "destination": "301", "schedule": "no-such-schedule" },
            { "destination": "302", "schedule": "night", "when": "open" }
        ] }),
    );
    bench.set_schedule("night", true);
    assert_eq!(
        bench.call().to_subject(201).terminate().await,
        redirect("302", DiversionReason::TimeOfDay)
    );
    assert!(bench.logged("no schedule \"no-such-schedule\""));
}

#[tokio::test]
async fn always_wins_over_selective() {
    let bench = bench();
    bench.set_user_settings(
        201,
        json!({
            "always": { "enabled": true, "destination": "202" },
            "selective": [ { "destination": MOBILE } ]
        }),
    );
    assert_eq!(
        bench.call().to_subject(201).terminate().await,
        redirect("202", DiversionReason::Unconditional)
    );
}

#[tokio::test]
async fn diversion_inhibitor() {
    let bench = bench();
    bench.set_user_settings(
        201,
        json!({
            "always": { "enabled": true, "destination": MOBILE },
            "busy": { "enabled": true, "destination": "8000" },
            "inhibit_if_diverted": true
        }),
    );
    let forwarded = || {
        bench.call().from("+31205550001").to_subject(201).diverted(
            "+31201234999",
            "201",
            DiversionReason::NoAnswer,
        )
    };
    assert_eq!(forwarded().terminate().await, Decision::Proceed);
    assert_eq!(forwarded().busy().await, Decision::Proceed);
    // A direct call is still forwarded.
    assert_eq!(
        bench.call().to_subject(201).terminate().await,
        redirect(MOBILE, DiversionReason::Unconditional)
    );
}

#[tokio::test]
async fn without_the_inhibitor_diverted_calls_are_forwarded_again() {
    let bench = bench();
    bench.set_user_settings(
        201,
        json!({ "always": { "enabled": true, "destination": MOBILE } }),
    );
    let call =
        bench
            .call()
            .to_subject(201)
            .diverted("+31201234999", "201", DiversionReason::NoAnswer);
    assert_eq!(
        bench.terminate(call).await,
        redirect(MOBILE, DiversionReason::Unconditional)
    );
}

#[tokio::test]
async fn loops_and_self_forwarding_are_refused() {
    let bench = bench();
    bench.set_user_settings(
        201,
        json!({ "no_answer": { "enabled": true, "destination": "202" } }),
    );
    // 201 -> 202 -> back to 201: 201 does not divert it a second time.
    let returning = bench
        .call()
        .to_subject(201)
        .diverted("201", "202", DiversionReason::NoAnswer)
        .diverted("202", "201", DiversionReason::NoAnswer);
    assert_eq!(bench.no_answer(returning).await, Decision::Proceed);
    bench.set_user_settings(
        201,
        json!({ "always": { "enabled": true, "destination": "+31201234201" } }),
    );
    assert_eq!(
        bench.call().to_subject(201).terminate().await,
        Decision::Proceed
    );
    assert!(bench.logged("is the subject itself"));
}

#[tokio::test]
#[should_panic(expected = "settings rejected by the schema")]
async fn the_schema_refuses_a_bad_when() {
    let bench = bench();
    bench.set_user_settings(
        201,
        json!({ "selective": [ { "destination": "1", "when": "sometimes" } ] }),
    );
}

#[tokio::test]
async fn imports_log_settings_and_schedule_only() {
    let bench = bench();
    let names: Vec<&str> = bench
        .plugin()
        .imported_capabilities()
        .iter()
        .map(|c| c.name())
        .collect();
    assert_eq!(names, ["log", "settings", "schedule"]);
    assert!(
        bench.plugin().foreign_imports().is_empty(),
        "{:?}",
        bench.plugin().foreign_imports()
    );
}
