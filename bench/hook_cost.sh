#!/usr/bin/env bash
# bench/hook_cost.sh: what one plugin hook costs the switch. Builds the
# `hook_cost` example of centrale-host (release), which builds the
# anonymous-call-rejection plugin (wasm32-wasip2), loads it into a Runtime
# with production limits and times N invocations of on-terminate (fresh
# instance + call + teardown, each timed on its own) for an identified and an
# anonymous caller, beside the same decision written in plain Rust. Appends
# the table, the date, the machine and the command line to bench/README.md
# under "## Hook cost". A benchmark, not a test: it does not fail when a
# figure is high, only when the rig cannot run.
#
# Usage: bench/hook_cost.sh [-n N] [PLUGIN.wasm]   (arguments go to the example)
# Knobs (environment): CARGO_TARGET_DIR (honoured), NO_BUILD=1 (use the binary
#   already built), NO_README=1 (print only).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
README="$ROOT/bench/README.md"
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN="$TARGET_DIR/release/examples/hook_cost"
BUILD_CMD=(cargo build --release -p centrale-host --example hook_cost)
HEADING="## Hook cost"

log() { echo "hook_cost.sh: $*" >&2; }

cd "$ROOT"
if [ -z "${NO_BUILD:-}" ]; then
    log "${BUILD_CMD[*]}"
    "${BUILD_CMD[@]}"
fi
[ -x "$BIN" ] || { log "no binary at $BIN (build it, or unset NO_BUILD)"; exit 1; }

LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)
OUT=$(mktemp /tmp/centrale-hook-cost.XXXXXX)
trap 'rm -f "$OUT"' EXIT
log "running $BIN $*"
"$BIN" "$@" | tee "$OUT"

[ -z "${NO_README:-}" ] || exit 0

model=$(grep -m1 '^model name' /proc/cpuinfo 2>/dev/null | sed 's/^model name[[:space:]]*:[[:space:]]*//' || true)
rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
if ! git -C "$ROOT" diff --quiet HEAD 2>/dev/null; then rev="$rev (with uncommitted changes)"; fi
rel_bin=${BIN#"$ROOT"/}
SECTION=$(
    echo
    echo "### $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "- Machine: $(nproc) CPUs, ${model:-unknown CPU}; $(uname -sr); load average before the run: $LOADAVG"
    echo "- Centrale $rev; $(rustc --version 2>/dev/null || echo 'rustc unknown')"
    echo
    cat "$OUT"
    echo
    echo "Command line:"
    echo
    echo '```'
    echo "bench/hook_cost.sh${*:+ $*}"
    echo "# which ran:"
    [ -z "${CARGO_TARGET_DIR:-}" ] || echo "export CARGO_TARGET_DIR=$CARGO_TARGET_DIR"
    echo "${BUILD_CMD[*]}"
    echo "$rel_bin${*:+ $*}"
    echo '```'
)

# Re-read the README right before writing: another bench may append to it.
if ! grep -qxF "$HEADING" "$README"; then
    printf '\n%s\n\n%s\n' "$HEADING" "Results of \`bench/hook_cost.sh\` (what is measured: \`host/examples/hook_cost.rs\`)." >>"$README"
fi
# The results go at the end of the "## Hook cost" section: a plain append when
# it is the last section (safe beside a concurrent appender), otherwise an
# insertion before the next "## " heading.
if awk -v h="$HEADING" '$0 == h { found = 1; next } found && /^## / { exit 1 }' "$README"; then
    printf '%s\n' "$SECTION" >>"$README"
else
    tmp=$(mktemp "$README.XXXXXX")
    SECTION="$SECTION" awk -v h="$HEADING" '
        $0 == h { found = 1 }
        found == 1 && /^## / && $0 != h { print ENVIRON["SECTION"]; print ""; found = 2 }
        { print }
    ' "$README" >"$tmp"
    mv "$tmp" "$README"
fi
log "appended to $README"
