use centrale_testbench::{json, Decision, DiversionReason, TestBench};

fn bench() -> TestBench {
    let bench = TestBench::for_plugin(env!("CARGO_MANIFEST_DIR"));
    bench.set_user_settings(
        202,
        json!({ "vip_callers": ["+31 20 555 0100", "+31612340000"], "mobile": "+31687654321" }),
    );
    bench
}

#[tokio::test]
async fn vip_callers_go_to_the_mobile_during_business_hours() {
    let bench = bench();
    bench.set_schedule("business-hours", true);
    let call = bench.call().from("+31205550100").to_user(202, "202");
    assert_eq!(
        bench.terminate(call).await,
        Decision::redirect("+31687654321", DiversionReason::TimeOfDay)
    );
    // The same number written with the international prefix 00.
    let call = bench.call().from("0031612340000").to_user(202, "202");
    assert!(bench.terminate(call).await.is_redirect());
}

#[tokio::test]
async fn other_callers_ring_the_desk_phone() {
    let bench = bench();
    bench.set_schedule("business-hours", true);
    let call = bench.call().from("+31205559999").to_user(202, "202");
    assert_eq!(bench.terminate(call).await, Decision::Proceed);
}

#[tokio::test]
async fn after_hours_nobody_is_redirected() {
    let bench = bench();
    bench.set_schedule("business-hours", false);
    let call = bench.call().from("+31205550100").to_user(202, "202");
    assert_eq!(bench.terminate(call).await, Decision::Proceed);
}

#[tokio::test]
async fn without_the_schedule_nothing_happens_and_the_admin_is_told() {
    let bench = bench();
    let call = bench.call().from("+31205550100").to_user(202, "202");
    assert_eq!(bench.terminate(call).await, Decision::Proceed);
    assert!(bench.logged("no schedule named business-hours"));
}

#[tokio::test]
async fn users_without_settings_are_left_alone() {
    let bench = bench();
    bench.set_schedule("business-hours", true);
    let call = bench.call().from("+31205550100").to_user(203, "203");
    assert_eq!(bench.terminate(call).await, Decision::Proceed);
}
