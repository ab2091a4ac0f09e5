//! Voicemail's hooks and retention timer in the real runtime, via the test
//! bench. (The session itself — greeting, recording, mail, portal — runs
//! against the real host in tests/tests/voicemail.rs.)

use centrale_testbench::{json, Decision, TestBench};

const DAY_MS: u64 = 24 * 3600 * 1000;
const NOW: u64 = 1_800_000_000_000;

#[tokio::test]
async fn unanswered_busy_and_unreachable_calls_go_to_the_box() {
    let bench = TestBench::for_plugin(env!("CARGO_MANIFEST_DIR"));
    let call = || bench.call().from("+31612345678").to_user(201, "201");
    assert_eq!(bench.no_answer(call()).await, Decision::TakeOver);
    assert_eq!(bench.busy(call()).await, Decision::TakeOver);
    assert_eq!(bench.unreachable(call()).await, Decision::TakeOver);
    // Each can be switched off.
    bench.set_user_settings(201, json!({ "on_busy": false }));
    assert_eq!(bench.busy(call()).await, Decision::Proceed);
    assert_eq!(bench.no_answer(call()).await, Decision::TakeOver);
}

#[tokio::test]
async fn the_portal_code_is_taken_over_and_other_numbers_are_not() {
    let bench = TestBench::for_plugin(env!("CARGO_MANIFEST_DIR"));
    bench.add_user(201, "201");
    let to = |n: &str| {
        bench
            .call()
            .from_user(201, "201")
            .to_user(201, "201")
            .dialled(n)
    };
    assert_eq!(bench.originate(to("1233")).await, Decision::TakeOver);
    assert_eq!(bench.originate(to("202")).await, Decision::Proceed);
    bench.set_user_settings(201, json!({ "portal_code": "*86" }));
    assert_eq!(bench.originate(to("*86")).await, Decision::TakeOver);
    assert_eq!(bench.originate(to("1233")).await, Decision::Proceed);
}

fn message(id: &str, at: u64) -> Vec<u8> {
    json!({
        "id": id, "caller": "+31612345678", "caller_name": "", "at": at,
        "duration_ms": 3000, "new": true
    })
    .to_string()
    .into_bytes()
}

#[tokio::test]
async fn the_timer_removes_messages_past_the_retention_period() {
    let bench = TestBench::for_plugin(env!("CARGO_MANIFEST_DIR"));
    bench.set_now_ms(NOW);
    bench.kv_insert(Some(201), "msg/old", &message("old", NOW - 15 * DAY_MS));
    bench.kv_insert(Some(201), "msg/recent", &message("recent", NOW - DAY_MS));
    bench.timer(201).await;
    let kv = bench.kv(Some(201));
    assert!(
        !kv.contains_key("msg/old"),
        "15 days old: removed (default 14)"
    );
    assert!(kv.contains_key("msg/recent"), "1 day old: kept");

    // A longer retention keeps more.
    bench.set_user_settings(201, json!({ "retention_days": 30 }));
    bench.kv_insert(Some(201), "msg/old", &message("old", NOW - 15 * DAY_MS));
    bench.timer(201).await;
    assert!(bench.kv(Some(201)).contains_key("msg/old"));
}
