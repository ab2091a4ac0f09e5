//! A session plugin that misbehaves, through the real host and sipp: the
//! caller hears the error prompt (RTP arrives) and the host ends the call
//! cleanly with a BYE, whether the plugin loops or traps; the host keeps
//! serving (a normal call right after).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use centrale_tests::rtp::RtpPeer;
use centrale_tests::{target_dir, Pbx, DEMO_DOMAIN};

const PLUGIN: &str = "test-session-hostile";

/// Builds host/tests/plugins/session-hostile (a WIT 0.2 component).
fn build_hostile() -> (PathBuf, PathBuf) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../host/tests/plugins/session-hostile");
    let target = target_dir().join("test-plugins");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--quiet",
            "--target",
            "wasm32-wasip2",
            "--manifest-path",
        ])
        .arg(dir.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .expect("run cargo");
    assert!(
        out.status.success(),
        "building the hostile session plugin failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        dir.join("plugin.toml"),
        target.join("wasm32-wasip2/release/centrale_test_session_hostile.wasm"),
    )
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
    let settings = format!("{{\"mode\":\"{mode}\"}}");
    admin(
        pbx,
        &[
            "plugin",
            "enable",
            "--tenant",
            DEMO_DOMAIN,
            "--plugin",
            PLUGIN,
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
