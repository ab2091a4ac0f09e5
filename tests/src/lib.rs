//! Shared harness for the end-to-end tests (see tests/README.md).
//!
//! - [`Pbx`]: a real `centrale demo` process on free ports in its own data
//!   directory, killed on drop (its log tail is printed when a test fails).
//! - [`sipp`]: runs sipp with the scenarios of `tests/scenarios`, and
//!   [`sipp::Phone`], a SIP port a sipp user agent lives on.
//! - [`sip`]: a raw SIP-over-UDP client with digest authentication, for the
//!   tests that need exact control over what is sent (replays, torture).
//! - [`rtp`]: RTP sockets owned by the test, to prove media flows.

pub mod pcap;
pub mod phones;
pub mod rtp;
pub mod sip;
pub mod sipp;
pub mod smtp;

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub use sip::{SipMessage, SipUdp};
pub use sipp::{Phone, Sipp, SippChild, SippRun};

/// The tenant `centrale demo` creates.
pub const DEMO_DOMAIN: &str = "demo.centrale.test";

/// How long a starting host has to answer OPTIONS.
const START_TIMEOUT: Duration = Duration::from_secs(20);

static INSTANCES: AtomicU32 = AtomicU32::new(0);

/// The `centrale` binary: `$CENTRALE_BIN`, else `target/<profile>/centrale`
/// next to the `deps/` directory holding the running test executable.
pub fn centrale_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("CENTRALE_BIN") {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "CENTRALE_BIN={} does not exist; build it first: cargo build -p centrale-host",
            p.display()
        );
        return p;
    }
    let exe = std::env::current_exe().expect("path of the test executable");
    let candidate = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("centrale"))
        .expect("test executable has no target directory");
    assert!(
        candidate.is_file(),
        "the centrale binary is missing at {}; build it first: cargo build -p centrale-host \
         (or point CENTRALE_BIN at it)",
        candidate.display()
    );
    candidate
}

/// A unique, printable token (branch, tag, Call-ID material).
pub fn token() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut x = (t as u64) ^ (u64::from(std::process::id()) << 32) ^ (u64::from(n) << 48);
    // splitmix64 so consecutive tokens do not look alike
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 31;
    format!("{x:016x}{n:x}")
}

/// A UDP port on 127.0.0.1 that was free a moment ago (and, when `tcp_too`,
/// free for TCP as well).
pub fn free_port(tcp_too: bool) -> u16 {
    for _ in 0..50 {
        let udp = UdpSocket::bind("127.0.0.1:0").expect("bind an UDP socket");
        let port = udp.local_addr().expect("local addr").port();
        if !tcp_too || TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port found");
}

/// The range of RTP ports of one host instance: disjoint between the
/// instances of one test process (counter) and, very likely, between test
/// processes (process id). Chosen below Linux' ephemeral range (32768+),
/// where the port-0 sockets of the tests and sipp live.
fn rtp_range() -> (u16, u16) {
    const BASE: u32 = 20000;
    const WIDTH: u32 = 40;
    const SLOTS: u32 = (32000 - BASE) / WIDTH;
    let n = INSTANCES.fetch_add(1, Ordering::Relaxed);
    let slot = (std::process::id().wrapping_mul(7919).wrapping_add(n * 13)) % SLOTS;
    let lo = BASE + slot * WIDTH;
    (lo as u16, (lo + WIDTH - 1) as u16)
}

/// What an administration command printed.
#[derive(Debug)]
pub struct CliOutput {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl CliOutput {
    /// Panics unless the command exited 0.
    pub fn assert_success(&self, what: &str) -> &Self {
        assert!(
            self.status.success(),
            "`centrale {what}` failed ({}):\nstdout:\n{}\nstderr:\n{}",
            self.status,
            self.stdout,
            self.stderr
        );
        self
    }
}

/// A running `centrale demo`.
pub struct Pbx {
    dir: Option<tempfile::TempDir>,
    child: Option<Child>,
    sip_port: u16,
    rtp: (u16, u16),
    ring_timeout: u64,
    /// More `centrale demo` options (see [`Pbx::start_demo_with`]).
    extra_args: Vec<String>,
    /// Run as `centrale serve --config FILE` (see [`Pbx::restart_as_serve`]).
    serve_config: Option<PathBuf>,
}

impl Pbx {
    /// `centrale demo` with the default 30 s ring timeout.
    pub fn start_demo() -> Self {
        Self::start_demo_with_ring_timeout(30)
    }

    /// `centrale demo --ring-timeout SECS`.
    pub fn start_demo_with_ring_timeout(secs: u64) -> Self {
        Self::start_demo_with(&["--ring-timeout", &secs.to_string()])
    }

    /// `centrale demo` with more options, e.g. `["--trunk", "127.0.0.1:5099",
    /// "--ring-timeout", "2"]` (the ring timeout is 30 s unless given).
    pub fn start_demo_with(args: &[&str]) -> Self {
        let mut ring_timeout = 30;
        let mut extra_args = Vec::new();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            if *a == "--ring-timeout" {
                let v = it.next().expect("--ring-timeout needs a value");
                ring_timeout = v.parse().expect("--ring-timeout SECS");
            } else {
                extra_args.push(a.to_string());
            }
        }
        let dir = tempfile::Builder::new()
            .prefix("centrale-test-")
            .tempdir()
            .expect("create a temporary data directory");
        let mut pbx = Pbx {
            dir: Some(dir),
            child: None,
            sip_port: 0,
            rtp: rtp_range(),
            ring_timeout,
            extra_args,
            serve_config: None,
        };
        let mut last_error = String::new();
        for _ in 0..3 {
            pbx.sip_port = free_port(true);
            match pbx.spawn() {
                Ok(()) => return pbx,
                // Another test may have taken the port in the meantime.
                Err(e) => last_error = e,
            }
        }
        panic!(
            "centrale demo did not start: {last_error}\n--- log ---\n{}",
            pbx.log_tail(80)
        );
    }

    /// `centrale demo --plugins <dir> --components <dir>` plus `args`: the
    /// bundled plugins installed and licensed for the demo tenant (see
    /// [`bundled_plugins`]).
    pub fn start_demo_with_plugins(args: &[&str]) -> Self {
        let (plugins, components) = bundled_plugins();
        let plugins = plugins.to_string_lossy().into_owned();
        let components = components.to_string_lossy().into_owned();
        let mut all = vec![
            "--plugins",
            plugins.as_str(),
            "--components",
            components.as_str(),
        ];
        all.extend_from_slice(args);
        Self::start_demo_with(&all)
    }

    /// The data directory (SQLite database, log file).
    pub fn dir(&self) -> &Path {
        self.dir.as_ref().expect("data dir").path()
    }

    /// Where the host's log (stdout and stderr) goes.
    pub fn log_path(&self) -> PathBuf {
        self.dir().join("centrale.log")
    }

    /// The host's whole log so far.
    pub fn log(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = File::open(self.log_path()) {
            let mut b = Vec::new();
            let _ = f.read_to_end(&mut b);
            s = String::from_utf8_lossy(&b).into_owned();
        }
        s
    }

    /// The last `n` lines of the log.
    pub fn log_tail(&self, n: usize) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// The SIP address (UDP and TCP).
    pub fn sip_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.sip_port))
    }

    /// The RTP port range given to the host.
    pub fn rtp_ports(&self) -> (u16, u16) {
        self.rtp
    }

    fn spawn(&mut self) -> Result<(), String> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .map_err(|e| format!("cannot open the log file: {e}"))?;
        let log2 = log.try_clone().map_err(|e| e.to_string())?;
        let level = std::env::var("CENTRALE_TEST_LOG").unwrap_or_else(|_| "info".into());
        let mut cmd = Command::new(centrale_bin());
        cmd.arg("--log").arg(&level);
        match &self.serve_config {
            Some(config) => {
                cmd.arg("serve").arg("--config").arg(config);
            }
            None => {
                cmd.arg("demo")
                    .arg("--data")
                    .arg(self.dir())
                    .arg("--sip-listen")
                    .arg(self.sip_addr().to_string())
                    .arg("--rtp-ports")
                    .arg(format!("{}-{}", self.rtp.0, self.rtp.1))
                    .arg("--advertise")
                    .arg("127.0.0.1")
                    .arg("--ring-timeout")
                    .arg(self.ring_timeout.to_string())
                    .args(&self.extra_args);
            }
        }
        let child = cmd
            .env_remove("CENTRALE_DATABASE")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log2))
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", centrale_bin().display()))?;
        self.child = Some(child);
        self.wait_ready()
    }

    /// Polls with OPTIONS until the host answers 200.
    fn wait_ready(&mut self) -> Result<(), String> {
        let probe = SipUdp::new(self.sip_addr());
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    return Err(format!("centrale exited early with {status}"));
                }
            }
            let req = sip::options_request(&probe, DEMO_DOMAIN);
            probe.send(req.as_bytes());
            if let Some(resp) = probe.recv_final(Duration::from_millis(300)) {
                if resp.status == Some(200) {
                    return Ok(());
                }
            }
        }
        self.stop();
        Err(format!(
            "no 200 to OPTIONS within {}s",
            START_TIMEOUT.as_secs()
        ))
    }

    /// The host process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The host's resident memory, bytes (Linux `/proc`).
    pub fn rss_bytes(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()?)).ok()?;
        let kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kb * 1024)
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Stops the process (SIGTERM, then SIGKILL after 5 s).
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Kills the host with SIGKILL (no shutdown at all, like a power cut)
    /// and starts it again on the same data directory and SIP port.
    pub fn kill_and_restart(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.restart_stopped();
    }

    /// Stops the host and starts it again on the same data directory and
    /// SIP port.
    pub fn restart(&mut self) {
        self.stop();
        self.restart_stopped();
    }

    fn restart_stopped(&mut self) {
        let mut last = String::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        // The port may take a moment to be bindable again.
        while Instant::now() < deadline {
            match self.spawn() {
                Ok(()) => return,
                Err(e) => last = e,
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!(
            "centrale did not restart: {last}\n--- log ---\n{}",
            self.log_tail(80)
        );
    }

    /// Stops the host and starts it again as `centrale serve --config FILE`
    /// on the same data directory (the demo tenant and its users stay),
    /// SIP port, RTP ports and ring timeout. `extra_toml` is appended to the
    /// generated configuration, e.g. a `[trunk]` table with credentials,
    /// which `centrale demo` has no options for. The `--trunk` and plugin
    /// options of `centrale demo` do not carry over (plugins installed by
    /// the demo stay installed).
    pub fn restart_as_serve(&mut self, extra_toml: &str) {
        self.stop();
        let path = self.dir().join("centrale.toml");
        let toml_str = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
        let config = format!(
            "data_dir = {data}\n\n\
             [sip]\n\
             udp = [\"{addr}\"]\n\
             tcp = [\"{addr}\"]\n\
             advertise = \"127.0.0.1\"\n\
             ring_timeout_secs = {ring}\n\n\
             [media]\n\
             rtp_ports = \"{lo}-{hi}\"\n\n\
             {extra_toml}\n",
            data = toml_str(&self.dir().to_string_lossy()),
            addr = self.sip_addr(),
            ring = self.ring_timeout,
            lo = self.rtp.0,
            hi = self.rtp.1,
        );
        std::fs::write(&path, config).expect("write the configuration file");
        self.serve_config = Some(path);
        self.restart_stopped();
    }

    /// Runs an administration command against this host's data directory,
    /// e.g. `pbx.cli(&["cdr", "--tenant", DEMO_DOMAIN])`.
    pub fn cli(&self, args: &[&str]) -> CliOutput {
        let out = Command::new(centrale_bin())
            .arg("--log")
            .arg("error")
            .args(args)
            .arg("--data")
            .arg(self.dir())
            .env_remove("CENTRALE_DATABASE")
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", centrale_bin().display()));
        CliOutput {
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// A SIP port for a sipp user agent (see [`Phone`]).
    pub fn phone(&self) -> Phone {
        Phone::new(self.sip_addr())
    }

    /// The SIP trunk given with `--trunk 127.0.0.1:PORT` (see
    /// [`Pbx::start_demo_with`]) as a [`Phone`] on that port: sipp run there
    /// receives the calls to outside numbers, and its calls come from the
    /// trunk (trusted, no authentication). Panics without `--trunk`.
    pub fn trunk(&self) -> Phone {
        let addr = self
            .extra_args
            .iter()
            .position(|a| a == "--trunk")
            .and_then(|i| self.extra_args.get(i + 1))
            .and_then(|a| a.parse::<SocketAddr>().ok())
            .expect("the host was started without --trunk 127.0.0.1:PORT");
        Phone::on_port(self.sip_addr(), addr.port())
    }

    /// A SIP port whose packets reach the host through a NAT-like relay.
    pub fn phone_behind_nat(&self) -> Phone {
        Phone::behind_nat(self.sip_addr())
    }

    /// sipp with `scenario` aimed at this host.
    pub fn sipp(&self, scenario: &str) -> Sipp {
        Sipp::new(scenario).remote(self.sip_addr())
    }

    /// Registers `aor` from `phone` with register.xml (device `username`,
    /// `password`) for an hour; panics when that fails.
    pub fn register(&self, phone: &Phone, aor: &str, username: &str, password: &str) -> SippRun {
        let run = self
            .sipp("register.xml")
            .phone(phone)
            .set("aor", aor)
            .auth(username, password)
            .set("expires", "3600")
            .run();
        self.check(&run, &format!("REGISTER of {aor} ({username})"));
        run
    }

    /// Panics with the sipp run's and the host's diagnostics unless the run
    /// succeeded.
    pub fn check(&self, run: &SippRun, what: &str) {
        if !run.success() {
            panic!(
                "{what}: sipp failed\n{}\n--- host log tail ---\n{}",
                run.report(),
                self.log_tail(60)
            );
        }
    }

    /// Polls `centrale cdr --tenant demo.centrale.test` until a line
    /// satisfies `pred` (5 s), and returns the whole output.
    pub fn wait_cdr(&self, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let out = self.cli(&["cdr", "--tenant", DEMO_DOMAIN]);
            out.assert_success("cdr");
            if out.stdout.lines().any(&pred) || Instant::now() > deadline {
                return out.stdout;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Pbx {
    fn drop(&mut self) {
        let failing = std::thread::panicking();
        self.stop();
        if failing {
            eprintln!(
                "--- centrale log tail ({}) ---\n{}\n--- end of centrale log ---",
                self.log_path().display(),
                self.log_tail(120)
            );
        }
        if failing || std::env::var_os("CENTRALE_TEST_KEEP").is_some() {
            if let Some(d) = self.dir.take() {
                let p = d.keep();
                eprintln!("kept the test's data directory: {}", p.display());
            }
        }
    }
}

/// The target directory: `$CARGO_TARGET_DIR`, else the one holding the
/// running test executable (`<target>/debug/deps/`), like [`centrale_bin`].
pub fn target_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(d);
    }
    let exe = std::env::current_exe().expect("path of the test executable");
    exe.parent()
        .and_then(Path::parent)
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .expect("test executable has no target directory")
}

/// The ids of the plugins in `dir` (`<dir>/*/plugin.toml`, its `id = "..."`).
fn plugin_ids(dir: &Path) -> Vec<String> {
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read the plugins folder {}: {e}", dir.display()));
    let mut ids: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read_to_string(e.path().join("plugin.toml")).ok())
        .filter_map(|text| {
            text.lines().find_map(|l| {
                let (k, v) = l.split_once('=')?;
                (k.trim() == "id").then(|| v.trim().trim_matches('"').to_string())
            })
        })
        .collect();
    ids.sort();
    ids
}

/// The bundled plugins' folder and the folder of their built components:
/// `$CENTRALE_PLUGINS_DIR` (default `<repo>/plugins`) and
/// `$CENTRALE_COMPONENTS_DIR` (default
/// `<target>/plugins/wasm32-wasip2/release`, where `scripts/lib.sh`'s
/// `build_plugins` puts them). Components that are missing are built once
/// per test process with `cargo build --release --target wasm32-wasip2`;
/// panics with what to run when that fails.
pub fn bundled_plugins() -> (PathBuf, PathBuf) {
    static DIRS: OnceLock<Result<(PathBuf, PathBuf), String>> = OnceLock::new();
    let dirs = DIRS.get_or_init(|| {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("the tests crate lives in the workspace")
            .to_path_buf();
        let plugins = std::env::var_os("CENTRALE_PLUGINS_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo.join("plugins"));
        let components = std::env::var_os("CENTRALE_COMPONENTS_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| target_dir().join("plugins/wasm32-wasip2/release"));
        let ids = plugin_ids(&plugins);
        if ids.is_empty() {
            return Err(format!("no plugin.toml under {}", plugins.display()));
        }
        let missing = |ids: &[String]| -> Vec<PathBuf> {
            ids.iter()
                .map(|id| components.join(format!("{}.wasm", id.replace('-', "_"))))
                .filter(|p| !p.is_file())
                .collect()
        };
        let absent = missing(&ids);
        if absent.is_empty() {
            return Ok((plugins, components));
        }
        // Build where `build_plugins` would: the components folder is
        // <target>/wasm32-wasip2/release.
        let build_target = components
            .parent()
            .and_then(Path::parent)
            .map(Path::to_path_buf)
            .unwrap_or_else(|| target_dir().join("plugins"));
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        eprintln!(
            "building the bundled plugins ({} missing) into {}",
            absent.len(),
            build_target.display()
        );
        let status = Command::new(cargo)
            .args([
                "build",
                "--release",
                "--target",
                "wasm32-wasip2",
                "--manifest-path",
            ])
            .arg(plugins.join("Cargo.toml"))
            .arg("--target-dir")
            .arg(&build_target)
            .stdin(Stdio::null())
            .status();
        let still = missing(&ids);
        if still.is_empty() {
            return Ok((plugins, components));
        }
        Err(format!(
            "the plugin components {} are missing and building them failed ({status:?}). \
             Run ./scripts/test (it builds them with scripts/lib.sh's build_plugins), or \
             `rustup target add wasm32-wasip2 && cargo build --release --target wasm32-wasip2 \
             --manifest-path {} --target-dir {}`, or point CENTRALE_COMPONENTS_DIR at them.",
            still
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            plugins.join("Cargo.toml").display(),
            build_target.display()
        ))
    });
    match dirs {
        Ok(d) => d.clone(),
        Err(e) => panic!("{e}"),
    }
}

/// Polls `f` every 50 ms until it returns `Some` or `timeout` passes.
pub fn wait_for<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Builds the test plugin crate `host/tests/plugins/<dir>` for
/// wasm32-wasip2 (release, in `<target>/test-plugins`) and returns its
/// manifest and component paths. The component's file name is the crate
/// name `centrale-test-<dir>` with underscores.
pub fn build_test_plugin(dir: &str) -> (PathBuf, PathBuf) {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../host/tests/plugins")
        .join(dir);
    let target = target_dir().join("test-plugins");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(["build", "--release", "--quiet", "--target", "wasm32-wasip2"])
        .arg("--manifest-path")
        .arg(crate_dir.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target)
        // Flags meant for the host build must not leak into the guest's.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .expect("run cargo");
    assert!(
        out.status.success(),
        "building the test plugin {dir} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lib = format!("centrale_test_{}", dir.replace('-', "_"));
    (
        crate_dir.join("plugin.toml"),
        target.join(format!("wasm32-wasip2/release/{lib}.wasm")),
    )
}
