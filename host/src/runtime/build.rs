//! Building guest crates into components, for tests and the SDK's test bench.
//!
//! `cargo build --release --target wasm32-wasip2` of a `cdylib` crate already
//! produces a component. The build uses its own target directory
//! (`$CARGO_TARGET_DIR/plugins`), so a test that builds a plugin does not wait
//! forever on the lock of the target directory its own `cargo test` holds.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The guest target.
pub const GUEST_TARGET: &str = "wasm32-wasip2";

/// The target directory guest builds use: `$CARGO_TARGET_DIR/plugins`, or
/// `<tmp>/centrale-plugin-target` when `CARGO_TARGET_DIR` is not set.
pub fn plugin_target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir).join("plugins"),
        _ => std::env::temp_dir().join("centrale-plugin-target"),
    }
}

/// Builds the guest crate in `crate_dir` (release, `wasm32-wasip2`) into
/// [`plugin_target_dir`] and returns the path of its `.wasm` component.
pub fn build_component(crate_dir: &Path) -> Result<PathBuf, String> {
    build_component_in(crate_dir, &plugin_target_dir())
}

/// Like [`build_component`] with an explicit target directory.
pub fn build_component_in(crate_dir: &Path, target_dir: &Path) -> Result<PathBuf, String> {
    let manifest_path = crate_dir.join("Cargo.toml");
    let lib_name = lib_name(&manifest_path)?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .arg("build")
        .arg("--release")
        .arg("--quiet")
        .arg("--target")
        .arg(GUEST_TARGET)
        .arg("--manifest-path")
        .arg(&manifest_path)
        .arg("--target-dir")
        .arg(target_dir)
        // Flags meant for the host build must not leak into the guest's.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .output()
        .map_err(|e| format!("running cargo: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "cargo build of {} failed ({}):\n{}",
            crate_dir.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let wasm = target_dir
        .join(GUEST_TARGET)
        .join("release")
        .join(format!("{lib_name}.wasm"));
    if wasm.is_file() {
        Ok(wasm)
    } else {
        Err(format!(
            "cargo build succeeded but {} is missing (is the crate a cdylib?)",
            wasm.display()
        ))
    }
}

/// The library's file name stem: `[lib] name`, else the package name with
/// `-` replaced by `_`.
fn lib_name(manifest_path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(manifest_path)
        .map_err(|e| format!("reading {}: {e}", manifest_path.display()))?;
    let doc: toml::Table = text
        .parse()
        .map_err(|e| format!("parsing {}: {e}", manifest_path.display()))?;
    let lib = doc
        .get("lib")
        .and_then(|l| l.get("name"))
        .and_then(|n| n.as_str());
    let package = doc
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str());
    lib.or(package)
        .map(|name| name.replace('-', "_"))
        .ok_or_else(|| format!("{} has no package name", manifest_path.display()))
}
