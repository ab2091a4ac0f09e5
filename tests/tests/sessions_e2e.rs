//! A session plugin that misbehaves, through the real host and sipp: the
//! caller hears the error prompt (RTP arrives) and the host ends the call
//! cleanly with a BYE, whether the plugin loops or traps; the host keeps
//! serving (a normal call right after).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use centrale_tests::rtp::RtpPeer;
use centrale_tests::{build_test_plugin, Pbx, DEMO_DOMAIN};

const PLUGIN: &str = "test-session-hostile";
/// The same plugin installed privately for the demo tenant: its id is in
/// the tenant's namespace.
const PRIVATE: &str = "test-session-hostile@demo.centrale.test";

/// Builds host/tests/plugins/session-hostile (a WIT 0.2 component).
fn build_hostile() -> (PathBuf, PathBuf) {
    build_test_plugin("session-hostile")
}

fn admin(pbx: &Pbx, args: &[&str], what: &str) {
    pbx.cli(args).assert_success(what);
}

fn install(pbx: &Pbx) {
    let (manifest, wasm) = build_hostile();
    admin(
        pbx,
        &[
            "plugin",
            "install",
            &manifest.display().to_string(),
            &wasm.display().to_string(),
        ],
        "plugin install",
    );
    admin(
        pbx,
        &[
            "licence",
            "grant",
            "--tenant",
            DEMO_DOMAIN,
            "--plugin",
            PLUGIN,
            "--quantity",
            "3",
        ],
        "licence grant",
    );
}

fn enable(pbx: &Pbx, user: &str, mode: &str) {
    enable_plugin(pbx, PLUGIN, user, mode);
}

fn enable_plugin(pbx: &Pbx, plugin: &str, user: &str, mode: &str) {
    let settings = format!("{{\"mode\":\"{mode}\"}}");
    admin(
        pbx,
        &[
            "plugin",
            "enable",
            "--tenant",
            DEMO_DOMAIN,
            "--plugin",
            plugin,
            "--user",
            user,
            "--settings",
            &settings,
        ],
        "plugin enable",
    );
}

/// 202 calls `to`; the host must answer, play something and hang up.
fn call_hears_error_and_is_hung_up(pbx: &Pbx, to: &str) {
    let ear = RtpPeer::bind(0xe770);
    let started = Instant::now();
    let run = pbx
        .sipp("uac_wait_bye.xml")
        .service(to)
        .set("aor", "202")
        .set("rtp_port", ear.port())
        .auth("202", "demo202")
        .timeout_s(60)
        .run();
    pbx.check(&run, &format!("call to {to}, whose session misbehaves"));
    let took = started.elapsed();
    let heard = ear.drain();
    assert!(
        heard.len() >= 50,
        "the caller heard only {} RTP packets of the error prompt",
        heard.len()
    );
    assert!(took < Duration::from_secs(45), "the call took {took:?}");
}

#[test]
fn a_looping_or_trapping_session_plays_the_error_prompt_and_ends_the_call() {
    let pbx = Pbx::start_demo_with_plugins(&["--ring-timeout", "3"]);
    install(&pbx);
    enable(&pbx, "201", "loop");
    enable(&pbx, "203", "trap");
    call_hears_error_and_is_hung_up(&pbx, "201");
    call_hears_error_and_is_hung_up(&pbx, "203");
    let log = pbx.log();
    assert!(log.contains("session fault"), "the faults are logged");
}

/// The component with a custom section appended: the same code, other
/// bytes (so another content hash, as a rebuilt new version has).
fn with_custom_section(wasm: &[u8], name: &str) -> Vec<u8> {
    let mut payload = vec![name.len() as u8];
    payload.extend_from_slice(name.as_bytes());
    payload.extend_from_slice(b"rebuilt");
    let mut out = wasm.to_vec();
    out.push(0); // custom section
    out.push(payload.len() as u8); // LEB128, < 128
    out.extend_from_slice(&payload);
    out
}

fn session_versions(pbx: &Pbx) -> Vec<(String, String)> {
    pbx.log()
        .lines()
        .filter(|l| l.contains("session started") && l.contains(PLUGIN))
        .filter_map(|l| {
            let version = l.split("version=").nth(1)?.split_whitespace().next()?;
            let call = l.split("call_id=").nth(1)?.split_whitespace().next()?;
            Some((call.to_string(), version.to_string()))
        })
        .collect()
}

#[test]
fn a_new_version_serves_new_calls_while_a_running_session_finishes_on_the_old_one() {
    let pbx = Pbx::start_demo_with_plugins(&[]);
    let (manifest, wasm) = build_hostile();
    // Version 0.1.0, private to the demo tenant (an integrator's plugin).
    admin(
        &pbx,
        &[
            "plugin",
            "install",
            &manifest.display().to_string(),
            &wasm.display().to_string(),
            "--tenant",
            DEMO_DOMAIN,
        ],
        "plugin install 0.1.0",
    );
    admin(
        &pbx,
        &[
            "licence",
            "grant",
            "--tenant",
            DEMO_DOMAIN,
            "--plugin",
            PRIVATE,
            "--quantity",
            "3",
        ],
        "licence grant",
    );
    enable_plugin(&pbx, PRIVATE, "201", "slow");

    let call = |ear: &RtpPeer| {
        pbx.sipp("uac_wait_bye.xml")
            .service("201")
            .set("aor", "202")
            .set("rtp_port", ear.port())
            .auth("202", "demo202")
            .timeout_s(60)
            .spawn()
    };
    let ear1 = RtpPeer::bind(1);
    let first = call(&ear1);
    let started = centrale_tests::wait_for(Duration::from_secs(20), || {
        (!session_versions(&pbx).is_empty()).then_some(())
    });
    assert!(
        started.is_some(),
        "the first session did not start\n{}",
        pbx.log_tail(30)
    );

    // 0.2.0 is installed while the first session runs.
    let v2_manifest = pbx.dir().join("plugin-0.2.0.toml");
    let v2_wasm = pbx.dir().join("plugin-0.2.0.wasm");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &v2_manifest,
        text.replace("version = \"0.1.0\"", "version = \"0.2.0\""),
    )
    .unwrap();
    std::fs::write(
        &v2_wasm,
        with_custom_section(&std::fs::read(&wasm).unwrap(), "v2"),
    )
    .unwrap();
    admin(
        &pbx,
        &[
            "plugin",
            "install",
            &v2_manifest.display().to_string(),
            &v2_wasm.display().to_string(),
            "--tenant",
            DEMO_DOMAIN,
        ],
        "plugin install 0.2.0 during a call",
    );
    let ear2 = RtpPeer::bind(2);
    let second = call(&ear2);

    let first = first.wait(Duration::from_secs(40));
    pbx.check(&first, "the call in flight, on 0.1.0");
    let second = second.wait(Duration::from_secs(40));
    pbx.check(&second, "the next call, on 0.2.0");
    let versions = session_versions(&pbx);
    let first_id = first
        .find_received(|m| m.is_request("BYE"))
        .and_then(|m| m.header("Call-ID").map(str::to_string))
        .expect("the first call was hung up by the host");
    assert_eq!(versions.len(), 2, "{versions:?}");
    for (call_id, version) in &versions {
        let expected = if *call_id == first_id {
            "0.1.0"
        } else {
            "0.2.0"
        };
        assert_eq!(version, expected, "call {call_id}: {versions:?}");
    }
    assert!(
        ear1.drain().len() >= 10 && ear2.drain().len() >= 10,
        "both heard the beep"
    );
}

#[test]
fn a_plugin_plays_the_prompts_it_ships() {
    let pbx = Pbx::start_demo_with_plugins(&[]);
    let (manifest, wasm) = build_test_plugin("session-prompt");
    let out = pbx.cli(&[
        "plugin",
        "install",
        &manifest.display().to_string(),
        &wasm.display().to_string(),
    ]);
    out.assert_success("plugin install");
    assert!(out.stdout.contains("prompts: 1"), "{}", out.stdout);
    let id = "test-session-prompt";
    admin(
        &pbx,
        &[
            "licence",
            "grant",
            "--tenant",
            DEMO_DOMAIN,
            "--plugin",
            id,
            "--quantity",
            "1",
        ],
        "licence grant",
    );
    admin(
        &pbx,
        &[
            "plugin",
            "enable",
            "--tenant",
            DEMO_DOMAIN,
            "--plugin",
            id,
            "--user",
            "201",
        ],
        "plugin enable",
    );
    let ear = RtpPeer::bind(0x9e110);
    let run = pbx
        .sipp("uac_wait_bye.xml")
        .service("201")
        .set("aor", "202")
        .set("rtp_port", ear.port())
        .auth("202", "demo202")
        .timeout_s(30)
        .run();
    pbx.check(&run, "call to 201, whose session plays its own prompt");
    // test-hello is 2 s: about 100 packets of 20 ms.
    let heard = ear.drain();
    assert!(
        (90..=130).contains(&heard.len()),
        "{} packets reached the caller (2 s prompt)\n{}",
        heard.len(),
        pbx.log_tail(20)
    );
    assert!(!pbx.log().contains("test-hello:"), "{}", pbx.log_tail(20));
}
