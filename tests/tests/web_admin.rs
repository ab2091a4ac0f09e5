//! The web admin in a real browser (Debian's headless Chromium driven by
//! playwright-core, tests/web/admin.mjs): a tenant admin logs in with a
//! token, sees the licences, switches anonymous-call-rejection on for user
//! 202 — and the next anonymous sipp call to 202 gets 433; then uploads a
//! private plugin and sees the capabilities it asks for. Screenshots of
//! the main pages go to docs/screenshots/ when CENTRALE_SCREENSHOTS is set
//! (else to the test's data directory).

use std::path::{Path, PathBuf};
use std::process::Command;

use centrale_tests::{free_port, Pbx, DEMO_DOMAIN};

fn web_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("web")
}

#[test]
fn an_admin_switches_anonymous_rejection_on_in_the_browser_and_the_next_call_gets_433() {
    assert!(
        web_dir().join("node_modules/playwright-core").is_dir(),
        "playwright-core is missing: run ./scripts/test (it runs `npm ci` in tests/web)"
    );
    let api_port = free_port(true);
    let trunk = format!("127.0.0.1:{}", free_port(false));
    let api = format!("127.0.0.1:{api_port}");
    let pbx = Pbx::start_demo_with_plugins(&["--trunk", &trunk, "--api-listen", &api]);
    let token = pbx.cli(&[
        "token",
        "create",
        "--role",
        "admin",
        "--tenant",
        DEMO_DOMAIN,
    ]);
    token.assert_success("token create");
    let token = token
        .stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| l.trim().to_string())
        .expect("a token");

    let shots = std::env::var_os("CENTRALE_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| pbx.dir().to_path_buf());
    std::fs::create_dir_all(&shots).expect("screenshot directory");
    // A private plugin to upload: the 0.1 build of anonymous-call-rejection
    // under another id (what an integrator's own plugin looks like).
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../host/tests/data/wit-0.1");
    let manifest = std::fs::read_to_string(data.join("anonymous-call-rejection.toml"))
        .expect("the 0.1 manifest")
        .replace(
            "id = \"anonymous-call-rejection\"",
            "id = \"acme-screening\"",
        );
    let upload_manifest = pbx.dir().join("acme-screening.toml");
    std::fs::write(&upload_manifest, manifest).expect("write the manifest");
    let upload_component = data.join("anonymous_call_rejection.wasm");
    let out = Command::new("node")
        .current_dir(web_dir())
        .arg("admin.mjs")
        .arg(format!("http://{api}"))
        .arg(&token)
        .arg("202")
        .arg("anonymous-call-rejection")
        .arg(&shots)
        .arg(&upload_manifest)
        .arg(&upload_component)
        .output()
        .expect("run node");
    let seen = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the browser run failed: {seen}\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        pbx.log_tail(30)
    );
    assert!(seen.contains("\"saved\":true"), "{seen}");
    assert!(!seen.contains("pageErrors"), "JavaScript errors: {seen}");
    // Licence use went from 0 to 1 of the 10 the demo grants.
    assert!(
        seen.contains("\"licenceBefore\":{\"used\":\"0\",\"total\":\"10\"}")
            && seen.contains("\"licenceAfter\":{\"used\":\"1\",\"total\":\"10\"}"),
        "{seen}"
    );
    assert!(seen.contains("Licenties"), "the Dutch page: {seen}");
    assert!(seen.contains("\"scheduleSaved\":true"), "{seen}");
    let schedules = pbx.cli(&["schedule", "list", "--tenant", DEMO_DOMAIN]);
    assert!(
        schedules.stdout.contains("business-hours"),
        "{}",
        schedules.stdout
    );
    // The upload showed what the plugin asks for, and it is installed for
    // this tenant only.
    assert!(seen.contains("\"uploadCaps\":[\"log\"]"), "{seen}");
    let list = pbx.cli(&["plugin", "list", "--tenant", DEMO_DOMAIN]);
    list.assert_success("plugin list");
    assert!(list.stdout.contains("acme-screening"), "{}", list.stdout);
    let everyone = pbx.cli(&["plugin", "list"]);
    assert!(
        !everyone.stdout.contains("acme-screening"),
        "{}",
        everyone.stdout
    );

    // The next anonymous call to 202 is rejected.
    let run = pbx
        .sipp("trunk_uac_expect_433.xml")
        .phone(&pbx.trunk())
        .service("+31205552020")
        .set("from_uri", "sip:anonymous@anonymous.invalid")
        .set("display", "Anonymous")
        .set("privacy", "id")
        .pause_ms(500)
        .timeout_s(30)
        .run();
    pbx.check(&run, "anonymous call to 202 after the admin's click");
}

#[test]
fn a_user_switches_do_not_disturb_on_in_the_browser_and_callers_get_busy() {
    assert!(
        web_dir().join("node_modules/playwright-core").is_dir(),
        "playwright-core is missing: run ./scripts/test (it runs `npm ci` in tests/web)"
    );
    let api = format!("127.0.0.1:{}", free_port(true));
    let pbx = Pbx::start_demo_with_plugins(&["--api-listen", &api]);
    // The admin licensed DND; the user switches it on themselves.
    let token = pbx.cli(&[
        "token",
        "create",
        "--role",
        "user",
        "--tenant",
        DEMO_DOMAIN,
        "--user",
        "203",
    ]);
    token.assert_success("token create --role user");
    let token = token
        .stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| l.trim().to_string())
        .expect("a token");
    let shots = std::env::var_os("CENTRALE_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| pbx.dir().to_path_buf());
    let out = Command::new("node")
        .current_dir(web_dir())
        .arg("user.mjs")
        .arg(format!("http://{api}"))
        .arg(&token)
        .arg(&shots)
        .output()
        .expect("run node");
    let seen = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && seen.contains("\"saved\":true"),
        "the browser run failed: {seen}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(seen.contains("\"adminLinksHidden\":true"), "{seen}");
    assert!(!seen.contains("pageErrors"), "{seen}");
    // 203's phone is registered, but DND answers for it: busy.
    let phone = pbx.phone();
    pbx.register(&phone, "203", "203", "demo203");
    let mut uas = pbx
        .sipp("uas_answer.xml")
        .phone(&phone)
        .timeout_s(20)
        .spawn();
    uas.wait_bound();
    let caller = pbx.phone();
    let run = pbx
        .sipp("uac_expect_486.xml")
        .phone(&caller)
        .set("aor", "202")
        .service("203")
        .auth("202", "demo202")
        .timeout_s(20)
        .run();
    pbx.check(
        &run,
        "202 calling 203 after 203 switched DND on in the browser",
    );
    assert!(
        !uas.messages_so_far()
            .iter()
            .any(|m| !m.sent && m.msg.is_request("INVITE")),
        "203's phone rang despite DND"
    );
}
