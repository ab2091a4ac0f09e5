//! Hook cost: what one `on-terminate` of the anonymous-call-rejection plugin
//! costs the switch, beside the same decision written in plain Rust.
//!
//! Each wasm sample is one [`Runtime::invoke`]: a fresh instance from the
//! pre-instantiated component (pooling allocator), the call, validation of
//! the decision and teardown, timed on its own with [`Instant`]. Each native
//! sample is one call of [`native_on_terminate`] over the same
//! [`types::Call`] value, timed the same way. Prints a markdown table of
//! p50/p90/p99/max in µs.
//!
//! ```text
//! cargo run --release -p centrale-host --example hook_cost -- [-n N] [PLUGIN.wasm]
//! ```
//!
//! Without a `.wasm` argument the plugin is built from
//! `plugins/anonymous-call-rejection` (`wasm32-wasip2`, release). The
//! manifest is that crate's `plugin.toml` unless `--manifest PATH` is given.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use centrale_host::runtime::build::build_component;
use centrale_host::runtime::memory_backend::MemoryBackend;
use centrale_host::runtime::types::{
    self, Call, Decision, Direction, Party, Rejection, Subject, SubjectKind,
};
use centrale_host::runtime::{HookCall, HookOutcome, Manifest, Runtime, RuntimeConfig, Scope};

const DEFAULT_ITERATIONS: usize = 5000;
const WARMUP: usize = 200;
const TENANT: i64 = 1;

struct Args {
    iterations: usize,
    wasm: Option<PathBuf>,
    manifest: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        iterations: DEFAULT_ITERATIONS,
        wasm: None,
        manifest: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "-n" | "--iterations" => {
                let v = it.next().ok_or("-n needs a number")?;
                args.iterations = v
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or(format!("-n {v}: not a positive number"))?;
            }
            "--manifest" => {
                args.manifest = Some(it.next().ok_or("--manifest needs a path")?.into());
            }
            "-h" | "--help" => {
                return Err(
                    "usage: hook_cost [-n N] [--manifest plugin.toml] [PLUGIN.wasm]".to_string(),
                )
            }
            _ if args.wasm.is_none() && !arg.starts_with('-') => args.wasm = Some(arg.into()),
            _ => return Err(format!("unexpected argument {arg:?} (see --help)")),
        }
    }
    Ok(args)
}

/// The plugin's logic in plain Rust (`plugins/anonymous-call-rejection`): an
/// anonymous caller of a non-internal call is rejected with 433 and an
/// announcement; anything else proceeds. It builds the same owned strings the
/// guest builds.
fn native_on_terminate(call: &types::Call) -> Decision {
    if call.caller.anonymous && call.direction != Direction::Internal {
        return Decision::Reject(Rejection {
            code: 433,
            reason: "Anonymity Disallowed".to_string(),
            announcement: Some("anonymous-not-accepted".to_string()),
        });
    }
    Decision::Proceed
}

fn expected(anonymous: bool) -> Decision {
    if anonymous {
        Decision::Reject(Rejection {
            code: 433,
            reason: "Anonymity Disallowed".to_string(),
            announcement: Some("anonymous-not-accepted".to_string()),
        })
    } else {
        Decision::Proceed
    }
}

/// An inbound call from outside the tenant to its subject 1.
fn call(anonymous: bool) -> Call {
    Call {
        id: "hook-cost@bench".to_string(),
        tenant: "tenant1.example".to_string(),
        direction: Direction::Inbound,
        caller: Party {
            number: if anonymous {
                String::new()
            } else {
                "+31612345678".to_string()
            },
            display_name: None,
            anonymous,
            asserted_identity: None,
            subject: None,
        },
        subject: Subject {
            id: 1,
            kind: SubjectKind::User,
            extension: Some("200".to_string()),
            numbers: vec!["+31200000000".to_string()],
            display_name: "Callee".to_string(),
        },
        dialled: "200".to_string(),
        diversions: Vec::new(),
        started_at: 1_772_460_300_000,
    }
}

/// p50, p90, p99 and max of the samples (sorted in place).
struct Summary {
    p50: Duration,
    p90: Duration,
    p99: Duration,
    max: Duration,
}

fn summarise(samples: &mut [Duration]) -> Summary {
    samples.sort_unstable();
    let n = samples.len();
    // Nearest rank: the smallest sample with at least p% of samples <= it.
    let pct = |p: usize| samples[((n * p).div_ceil(100)).clamp(1, n) - 1];
    Summary {
        p50: pct(50),
        p90: pct(90),
        p99: pct(99),
        max: samples[n - 1],
    }
}

fn us(d: Duration) -> String {
    let v = d.as_secs_f64() * 1e6;
    if v < 10.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.1}")
    }
}

fn acr_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/anonymous-call-rejection");
    dir.canonicalize().unwrap_or(dir)
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hook_cost: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let manifest_path = args
        .manifest
        .clone()
        .unwrap_or_else(|| acr_dir().join("plugin.toml"));
    let text = std::fs::read_to_string(&manifest_path)
        .map_err(|e| format!("{}: {e}", manifest_path.display()))?;
    let manifest =
        Manifest::from_toml(&text).map_err(|e| format!("{}: {e}", manifest_path.display()))?;
    let wasm_path = match &args.wasm {
        Some(p) => p.clone(),
        None => {
            eprintln!("building {} ...", acr_dir().display());
            build_component(&acr_dir())?
        }
    };
    let wasm = std::fs::read(&wasm_path).map_err(|e| format!("{}: {e}", wasm_path.display()))?;

    // Production limits (RuntimeConfig::default()), no disk cache.
    let config = RuntimeConfig::default();
    let runtime =
        Runtime::new(config.clone(), Arc::new(MemoryBackend::new())).map_err(|e| e.to_string())?;
    let started = Instant::now();
    let plugin = runtime
        .load(&manifest, &wasm)
        .map_err(|e| format!("loading {}: {e}", wasm_path.display()))?;
    let compile = started.elapsed();
    eprintln!(
        "loaded {} ({} bytes, compiled in {} ms, {} foreign imports stubbed)",
        plugin.id(),
        wasm.len(),
        compile.as_millis(),
        plugin.foreign_imports().len()
    );
    let scope = Scope {
        tenant_id: TENANT,
        tenant_domain: "tenant1.example".to_string(),
        plugin_id: plugin.id().to_string(),
        subject_id: Some(1),
    };

    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio: {e}"))?;

    let n = args.iterations;
    let mut rows: Vec<(String, Summary)> = Vec::new();
    let mut unexpected = 0usize;
    for anonymous in [false, true] {
        let caller = if anonymous { "anonymous" } else { "identified" };
        let input = call(anonymous);
        let want = expected(anonymous);

        // wasm: fresh instance + on-terminate + teardown, one invoke each.
        let mut samples = Vec::with_capacity(n);
        let bad = tokio.block_on(async {
            let mut bad = 0usize;
            for _ in 0..WARMUP {
                let c = HookCall::Terminate(input.clone());
                runtime.invoke(&plugin, scope.clone(), c).await;
            }
            for _ in 0..n {
                // The clones are made outside the timed region, as the
                // switch builds the call once for all its plugins.
                let (sc, c) = (scope.clone(), HookCall::Terminate(input.clone()));
                let started = Instant::now();
                let outcome = runtime.invoke(&plugin, sc, c).await;
                samples.push(started.elapsed());
                if outcome != HookOutcome::Decision(want.clone()) {
                    if bad == 0 {
                        eprintln!("unexpected outcome ({caller}): {outcome:?}");
                    }
                    bad += 1;
                }
            }
            bad
        });
        unexpected += bad;
        rows.push((
            format!("wasm: fresh instance + on-terminate + teardown, {caller} caller"),
            summarise(&mut samples),
        ));

        // Native: the same decision over the same value.
        assert_eq!(native_on_terminate(&input), want);
        let mut samples = Vec::with_capacity(n);
        for _ in 0..WARMUP {
            black_box(native_on_terminate(black_box(&input)));
        }
        for _ in 0..n {
            let started = Instant::now();
            let decision = native_on_terminate(black_box(&input));
            drop(black_box(decision));
            samples.push(started.elapsed());
        }
        rows.push((
            format!("native Rust: same decision, {caller} caller"),
            summarise(&mut samples),
        ));
    }

    // What `Instant::now()` + `elapsed()` alone costs (the floor of every sample).
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        black_box(());
        samples.push(started.elapsed());
    }
    rows.push((
        "timer alone (Instant::now + elapsed)".to_string(),
        summarise(&mut samples),
    ));

    println!(
        "{n} timed samples per row after {WARMUP} warm-up ones; plugin `{}` ({} bytes), \
         wasmtime {}, fuel {} / hook, deadline {} ms, pool of {} instances; \
         unexpected outcomes: {unexpected}.",
        plugin.id(),
        wasm.len(),
        centrale_host::runtime::WASMTIME_VERSION,
        config.fuel_per_hook,
        config.hook_timeout.as_millis(),
        config.max_instances,
    );
    println!();
    println!("| what | p50 µs | p90 µs | p99 µs | max µs |");
    println!("|---|---:|---:|---:|---:|");
    for (what, s) in &rows {
        println!(
            "| {what} | {} | {} | {} | {} |",
            us(s.p50),
            us(s.p90),
            us(s.p99),
            us(s.max)
        );
    }
    if unexpected > 0 {
        return Err(format!(
            "{unexpected} invocations did not return the expected decision"
        ));
    }
    Ok(())
}
