# Shared helpers of the project's scripts (sourced, not run).
# Installs what the build and the tests need on a Debian machine, as root.

set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/centrale-target}"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

need_cargo() {
  if ! command -v cargo >/dev/null 2>&1; then
    [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
  fi
  command -v cargo >/dev/null 2>&1 || {
    echo "error: cargo (Rust >= 1.95, via rustup) is required and was not found" >&2
    exit 1
  }
}

apt_updated=0
# apt_install PKG... : installs the Debian packages that are missing.
apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "error: missing Debian packages ${missing[*]}; run as root or install them" >&2
    exit 1
  fi
  if [ $apt_updated -eq 0 ]; then
    say "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    apt_updated=1
  fi
  say "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Starts the local PostgreSQL cluster when it is not accepting connections.
ensure_postgres() {
  apt_install postgresql postgresql-client
  if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
    say "starting PostgreSQL"
    local ver
    ver="$(ls /etc/postgresql | sort -V | tail -n1)"
    pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
    for _ in $(seq 1 30); do
      pg_isready -h 127.0.0.1 -p 5432 -q && break
      sleep 1
    done
  fi
  pg_isready -h 127.0.0.1 -p 5432 -q || { echo "error: PostgreSQL does not answer on 127.0.0.1:5432" >&2; exit 1; }
  # The tests use database "test" as user postgres (trust auth on these machines).
  if ! psql -h 127.0.0.1 -U postgres -d test -c 'select 1' >/dev/null 2>&1; then
    su postgres -c "psql -c \"ALTER USER postgres PASSWORD NULL\"" >/dev/null 2>&1 || true
    su postgres -c "createdb test" >/dev/null 2>&1 || true
  fi
}

# Builds the bundled plugins (wasm32-wasip2 components, release) into
# $CARGO_TARGET_DIR/plugins/wasm32-wasip2/release/<id_with_underscores>.wasm.
PLUGIN_OUT="$CARGO_TARGET_DIR/plugins/wasm32-wasip2/release"
build_plugins() {
  if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2; then
    say "adding the Rust target wasm32-wasip2"
    rustup target add wasm32-wasip2
  fi
  say "building plugins (release, wasm32-wasip2)"
  cargo build --release --target wasm32-wasip2 \
    --manifest-path "$ROOT/plugins/Cargo.toml" --target-dir "$CARGO_TARGET_DIR/plugins"
}
