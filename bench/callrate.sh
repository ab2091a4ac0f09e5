#!/usr/bin/env bash
# bench/callrate.sh: the highest call rate with zero failed calls, found in
# one run on this machine for
#   (a) Kamailio (Debian's package) as a stateful record-routing proxy
#       (tm + rr, bench/kamailio-callrate.cfg), and
#   (b) Centrale as a media-anchoring B2BUA (`centrale demo`, digest auth,
#       registrar lookup, RTP relay set up per call, CDR written per call),
# both between the same sipp uac (bench/uac.xml) and uas (bench/uas.xml), with
# the same hold time, on 127.0.0.1 only. The uac talks to either server
# through the same tiny relay (bench/authrelay.rs), which lets sipp 3.6.1
# answer Centrale's SHA-256 + MD5 challenge (see there). Appends both figures, their ratio and
# the command lines to bench/README.md. A benchmark, not a test: it does not
# fail when a figure is low, only when the rig cannot run.
#
# Usage: bench/callrate.sh            (as root on Debian; installs kamailio and
#                                      sip-tester when missing, builds Centrale)
# Knobs (environment): HOLD_MS (1000), STEP_SECS (10), MAX_CALLS (20000),
#   START_RATE (100), MAX_RATE (2000), MAX_STEPS (10), ONLY (kamailio|centrale:
#   run one system and do not touch README.md), NO_BUILD=1, CENTRALE_BIN
#   (a prebuilt binary), CENTRALE_REV (what to call it in the report),
#   WITH_PLUGINS=1 (the three bundled plugins run on every Centrale call).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH="$ROOT/bench"
README="$BENCH/README.md"

HOLD_MS=${HOLD_MS:-1000}
STEP_SECS=${STEP_SECS:-10}
MAX_CALLS=${MAX_CALLS:-20000}
START_RATE=${START_RATE:-100}
MAX_RATE=${MAX_RATE:-2000}
MAX_STEPS=${MAX_STEPS:-10}
ONLY=${ONLY:-}
# Search resolution: stop bisecting when the bracket is this narrow
# (calls/s), or 5% of the passing rate if that is wider.
RESOLUTION=${RESOLUTION:-20}
# A step passes only if sipp started its calls at >= this share of the
# asked rate (sipp slows down by itself when calls pile up).
MIN_ACHIEVED=0.95
# ... and only if at least this share of calls was set up (first INVITE sent
# to 200 received, 407 round trip included) within 500 ms (SIP's T1): a
# server that queues instead of failing would otherwise "pass" with calls
# taking seconds to set up. 500 is one of uac.xml's ResponseTimeRepartition
# bounds.
MIN_FAST_SETUP=0.99
COOLDOWN_PASS=3
COOLDOWN_FAIL=15

# Loopback only. Ports chosen away from the defaults (5060, 6000, 8888) so
# that the bench can run beside other SIP work on the machine.
IP=127.0.0.1
KAM_PORT=25070
CEN_PORT=25080
UAC_PORT=25061
RELAY_PORT=25062
REG_PORT=25063
UAS_PORT=25090
UAC_MP=26000
UAS_MP=26100
REG_MP=26150
UAC_CP=26200
UAS_CP=26201
REG_CP=26202
RTP_PORTS=20000-29999
DOMAIN=demo.centrale.test
CALLER=201 CALLER_PASS=demo201
CALLEE=202 CALLEE_PASS=demo202
BUF=1048576

WORK=$(mktemp -d /tmp/centrale-callrate.XXXXXX)
LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)
PIDS=()

log() { printf '[callrate %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

stop_pid() {
    local pid=$1
    kill -0 "$pid" 2>/dev/null || return 0
    kill "$pid" 2>/dev/null
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null
}

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        stop_pid "$pid"
    done
    wait 2>/dev/null
    log "logs kept in $WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Start a background process; its pid goes to PIDS and to the variable $1.
start_bg() {
    local __var=$1 out=$2
    shift 2
    "$@" >"$out" 2>&1 </dev/null &
    local pid=$!
    PIDS+=("$pid")
    printf -v "$__var" '%s' "$pid"
}

wait_udp() {
    local port=$1 pid=$2
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || return 1
        if ss -Hlun "sport = :$port" 2>/dev/null | grep -q .; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

port_free() {
    ! ss -Hlun "sport = :$1" 2>/dev/null | grep -q .
}

# ---------------------------------------------------------------- tools
need_apt=()
command -v kamailio >/dev/null 2>&1 || [ -x /usr/sbin/kamailio ] || need_apt+=(kamailio)
command -v sipp >/dev/null 2>&1 || need_apt+=(sip-tester)
command -v ss >/dev/null 2>&1 || need_apt+=(iproute2)
if [ ${#need_apt[@]} -gt 0 ]; then
    log "installing ${need_apt[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq "${need_apt[@]}" >/dev/null ||
        die "apt-get install ${need_apt[*]} failed"
fi
KAMAILIO=$(command -v kamailio || echo /usr/sbin/kamailio)
SIPP=$(command -v sipp)

if [ "$ONLY" != kamailio ]; then
    if [ -z "${CENTRALE_BIN:-}" ]; then
        if [ -z "${NO_BUILD:-}" ]; then
            log "building Centrale (release)"
            (cd "$ROOT" && cargo build --release -p centrale-host) >"$WORK/build.log" 2>&1 ||
                { tail -30 "$WORK/build.log" >&2; die "cargo build --release -p centrale-host failed"; }
        fi
        CENTRALE_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/centrale"
    fi
    [ -x "$CENTRALE_BIN" ] || die "no Centrale binary at $CENTRALE_BIN"
fi

RELAY="$WORK/authrelay"
rustc -O --edition 2021 "$BENCH/authrelay.rs" -o "$RELAY" >"$WORK/authrelay-build.log" 2>&1 ||
    { cat "$WORK/authrelay-build.log" >&2; die "rustc bench/authrelay.rs failed"; }

for p in $KAM_PORT $CEN_PORT $UAC_PORT $RELAY_PORT $REG_PORT $UAS_PORT $UAC_MP $UAS_MP $REG_MP $UAC_CP $UAS_CP $REG_CP; do
    port_free "$p" || die "UDP port $p is in use"
done

# ---------------------------------------------------------------- the uas
UAS_CMD=("$SIPP" -sf "$BENCH/uas.xml" -i "$IP" -p "$UAS_PORT" -mp "$UAS_MP"
    -cp "$UAS_CP" -buff_size "$BUF" -nostdin -trace_err)
UAS_PID=
start_uas() {
    local tag=$1
    start_bg UAS_PID "$WORK/$tag-uas.screen" "${UAS_CMD[@]}" -error_file "$WORK/$tag-uas-errors.log"
    wait_udp "$UAS_PORT" "$UAS_PID" || die "sipp uas did not start (see $WORK/$tag-uas.screen)"
}
stop_uas() {
    [ -n "$UAS_PID" ] && stop_pid "$UAS_PID"
    UAS_PID=
    for _ in $(seq 50); do port_free "$UAS_PORT" && return 0; sleep 0.1; done
}

# ---------------------------------------------------------------- one step
# uac_cmd TARGET RATE CALLS TIMEOUT CSV ERR: the uac command line, in UAC_CMD.
uac_cmd() {
    UAC_CMD=("$SIPP" "$1" -sf "$BENCH/uac.xml" -i "$IP" -p "$UAC_PORT" -mp "$UAC_MP"
        -cp "$UAC_CP" -buff_size "$BUF" -nostdin
        -s "$CALLEE" -au "$CALLER" -ap "$CALLER_PASS" -key domain "$DOMAIN" -key caller "$CALLER"
        -d "$HOLD_MS" -r "$2" -rp 1000 -m "$3" -timeout "$4"s -timeout_error
        -trace_stat -stf "$5" -fd 200ms -trace_err -error_file "$6")
}

# run_step SYSTEM TARGET RATE -> 0 pass, 1 fail; appends to STEPS_<system>.
STEP_NO=0
run_step() {
    local sys=$1 target=$2 rate=$3
    STEP_NO=$((STEP_NO + 1))
    local calls=$((rate * STEP_SECS))
    [ "$calls" -gt "$MAX_CALLS" ] && calls=$MAX_CALLS
    local tmo=$((calls / rate + HOLD_MS / 1000 + 30))
    local base="$WORK/$sys-$(printf %02d $STEP_NO)-r$rate"
    uac_cmd "$target" "$rate" "$calls" "$tmo" "$base.csv" "$base-errors.log"
    local t0 t1 rc
    t0=$(date +%s.%N)
    timeout $((tmo + 30)) "${UAC_CMD[@]}" >"$base.screen" 2>&1 </dev/null
    rc=$?
    t1=$(date +%s.%N)
    # Cumulative counters of the last statistics row, and the time at which
    # all calls had been started (first row with OutgoingCall(C) = calls).
    # Also the share of calls set up within 500 ms (cumulative repartition
    # of the last row).
    local stats
    stats=$(awk -F';' -v n="$calls" '
        NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
        {
            split($1, s, "\t"); split($3, c, "\t")
            if (start == "") start = s[3]
            out = $col["OutgoingCall(C)"]
            if (all == "" && out + 0 >= n) all = c[3]
            ok = $col["SuccessfulCall(C)"]; ko = $col["FailedCall(C)"]
            fast = 0; total = 0
            for (name in col) {
                if (name !~ /^ResponseTimeRepartition1_/) continue
                total += $col[name]
                b = name; sub(/^ResponseTimeRepartition1_/, "", b)
                if (b ~ /^</) { sub(/^</, "", b); if (b + 0 <= 500) fast += $col[name] }
            }
        }
        END {
            ach = (all != "" && all > start) ? n / (all - start) : 0
            printf "%d %d %d %.1f %.1f\n", out, ok, ko, ach, total ? 100 * fast / total : 0
        }' "$base.csv" 2>/dev/null)
    [ -n "$stats" ] || stats="0 0 0 0 0"
    local out ok ko ach fastpct verdict=FAIL why=""
    read -r out ok ko ach fastpct <<<"$stats"
    # sipp stopped early with no failure: killed from outside (e.g. by a
    # signal); not a verdict on the server, so the step is run again once.
    if [ "$rc" -eq 0 ] && [ "$ko" -eq 0 ] && [ "$ok" -lt "$calls" ] && [ "${RETRIED:-}" != "$STEP_NO" ]; then
        log "$sys: sipp stopped early without a failure (signal?): running rate $rate again"
        RETRIED=$STEP_NO
        mv "$base.screen" "$base.interrupted.screen"
        mv "$base.csv" "$base.interrupted.csv" 2>/dev/null
        STEP_NO=$((STEP_NO - 1))
        kill -0 "$UAS_PID" 2>/dev/null || { stop_uas; start_uas "$sys-restart"; }
        sleep "$COOLDOWN_FAIL"
        run_step "$@"
        return
    fi
    if [ "$rc" -ne 0 ]; then why="sipp exit $rc"; fi
    if [ "$ko" -ne 0 ]; then why="${why:+$why, }$ko failed"; fi
    if [ "$ok" -ne "$calls" ]; then why="${why:+$why, }$ok/$calls successful"; fi
    if ! awk -v a="$ach" -v r="$rate" -v m="$MIN_ACHIEVED" 'BEGIN { exit !(a >= m * r) }'; then
        why="${why:+$why, }started at $ach/s"
    fi
    if ! awk -v f="$fastpct" -v m="$MIN_FAST_SETUP" 'BEGIN { exit !(f >= 100 * m) }'; then
        why="${why:+$why, }$fastpct% set up within 500 ms"
    fi
    [ -z "$why" ] && verdict=PASS
    local secs
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
    log "$sys: rate $rate/s, $calls calls: $verdict ($ok ok, $ko failed, started at $ach/s, $fastpct% set up < 500 ms, ${secs}s${why:+; $why})"
    local -n steps_of="STEPS_$sys"
    steps_of+=("| $rate | $calls | $ok | $ko | $ach | $fastpct% | ${secs} s | $verdict${why:+ ($why)} |")
    [ "$verdict" = PASS ]
}

# search SYSTEM TARGET SUT_PID: doubling from START_RATE, then bisection;
# sets BEST_<system> (0 when even the lowest rate failed) and FIRSTFAIL_<system>.
search() {
    local sys=$1 target=$2 sut=$3
    local lo=0 hi=0 rate=$START_RATE steps=0
    STEP_NO=0 RETRIED=
    while [ "$steps" -lt "$MAX_STEPS" ]; do
        steps=$((steps + 1))
        if run_step "$sys" "$target" "$rate"; then
            lo=$rate
            sleep "$COOLDOWN_PASS"
        else
            hi=$rate
            # Let retransmissions and transactions of the failed step die
            # out, and give the next step a fresh uas.
            stop_uas
            sleep "$COOLDOWN_FAIL"
            start_uas "$sys-s$steps"
        fi
        if ! kill -0 "$sut" 2>/dev/null; then
            log "$sys: the server under test exited"
            break
        fi
        if [ "$hi" -eq 0 ]; then
            [ "$lo" -ge "$MAX_RATE" ] && break
            rate=$((lo * 2))
            [ "$rate" -gt "$MAX_RATE" ] && rate=$MAX_RATE
        else
            local res=$((lo / 20))
            [ "$res" -lt "$RESOLUTION" ] && res=$RESOLUTION
            [ $((hi - lo)) -le "$res" ] && break
            rate=$(((lo + hi) / 20 * 10))
            [ "$rate" -le "$lo" ] && rate=$(((lo + hi) / 2))
        fi
    done
    printf -v "BEST_$sys" '%s' "$lo"
    printf -v "FIRSTFAIL_$sys" '%s' "$hi"
}

STEPS_kamailio=()
STEPS_centrale=()
BEST_kamailio=0 BEST_centrale=0 FIRSTFAIL_kamailio=0 FIRSTFAIL_centrale=0

# ---------------------------------------------------------------- (a) Kamailio
KAM_CMD=("$KAMAILIO" -f "$BENCH/kamailio-callrate.cfg" -l "udp:$IP:$KAM_PORT"
    -A "UAS=\"sip:$IP:$UAS_PORT\"" -DD -E -m 256 -M 32 -w "$WORK")
if [ "$ONLY" != centrale ]; then
    log "Kamailio: $("$KAMAILIO" -v 2>/dev/null | head -1)"
    start_bg KAM_PID "$WORK/kamailio.log" "${KAM_CMD[@]}"
    wait_udp "$KAM_PORT" "$KAM_PID" || { cat "$WORK/kamailio.log" >&2; die "kamailio did not start"; }
    start_bg RELAY_PID "$WORK/kamailio-relay.log" "$RELAY" "$IP:$RELAY_PORT" "$IP:$KAM_PORT"
    wait_udp "$RELAY_PORT" "$RELAY_PID" || die "authrelay did not start"
    start_uas kamailio
    search kamailio "$IP:$RELAY_PORT" "$KAM_PID"
    stop_uas
    stop_pid "$RELAY_PID"
    stop_pid "$KAM_PID"
    log "Kamailio: highest passing rate: $BEST_kamailio/s"
fi

# ---------------------------------------------------------------- (b) Centrale
CEN_DATA="$WORK/centrale-data"
CEN_CMD=("${CENTRALE_BIN:-centrale}" --log warn demo --data "$CEN_DATA" --sip-listen "$IP:$CEN_PORT"
    --rtp-ports "$RTP_PORTS" --advertise "$IP" --ring-timeout 30)
# WITH_PLUGINS=1: the three bundled plugins run on every call (all enabled
# for the callee, set so that each one proceeds: ACR sees no anonymous
# caller, DND is switched off in its settings, forwarding has no rule on).
CEN_LABEL="Centrale (B2BUA, auth, RTP anchoring, CDR)"
if [ "${WITH_PLUGINS:-0}" = 1 ]; then
    source "$ROOT/scripts/lib.sh"
    build_plugins >"$WORK/plugins-build.log" 2>&1 || { tail -30 "$WORK/plugins-build.log" >&2; die "building the plugins failed"; }
    CEN_CMD+=(--plugins "$ROOT/plugins" --components "$PLUGIN_OUT")
    CEN_LABEL="Centrale + 3 plugins on every call (ACR, DND, forwarding)"
fi
enable_plugins() {
    [ "${WITH_PLUGINS:-0}" = 1 ] || return 0
    local c=("${CENTRALE_BIN:-centrale}" --log warn)
    "${c[@]}" plugin enable --data "$CEN_DATA" --tenant "$DOMAIN" --plugin anonymous-call-rejection --user "$CALLEE" >/dev/null &&
    "${c[@]}" plugin enable --data "$CEN_DATA" --tenant "$DOMAIN" --plugin do-not-disturb --user "$CALLEE" --settings '{"enabled": false}' >/dev/null &&
    "${c[@]}" plugin enable --data "$CEN_DATA" --tenant "$DOMAIN" --plugin call-forwarding --user "$CALLEE" --settings '{}' >/dev/null ||
        die "enabling the plugins failed"
}
# The callee registers through a relay bound on the uas's port, so that
# Centrale records that port as the callee's address.
REG_RELAY_CMD=("$RELAY" "$IP:$UAS_PORT" "$IP:$CEN_PORT")
REG_CMD=("$SIPP" "$IP:$UAS_PORT" -sf "$BENCH/register.xml" -i "$IP" -p "$REG_PORT"
    -mp "$REG_MP" -cp "$REG_CP" -nostdin -s "$CALLEE" -au "$CALLEE" -ap "$CALLEE_PASS"
    -key domain "$DOMAIN" -key contact "$IP:$UAS_PORT" -m 1 -timeout 10s -timeout_error -trace_err)
CEN_RELAY_CMD=("$RELAY" "$IP:$RELAY_PORT" "$IP:$CEN_PORT")
if [ "$ONLY" != kamailio ]; then
    log "Centrale: $("$CENTRALE_BIN" --version 2>/dev/null)"
    start_bg CEN_PID "$WORK/centrale.log" "${CEN_CMD[@]}"
    wait_udp "$CEN_PORT" "$CEN_PID" || { cat "$WORK/centrale.log" >&2; die "centrale did not start"; }
    enable_plugins
    # The callee registers from the uas's port, then the uas takes the port.
    start_bg REG_RELAY_PID "$WORK/register-relay.log" "${REG_RELAY_CMD[@]}"
    wait_udp "$UAS_PORT" "$REG_RELAY_PID" || die "authrelay did not start"
    "${REG_CMD[@]}" -error_file "$WORK/register-errors.log" >"$WORK/register.screen" 2>&1 </dev/null ||
        { tail -40 "$WORK/register-errors.log" >&2; tail -30 "$WORK/centrale.log" >&2
          die "REGISTER of $CALLEE to Centrale failed"; }
    stop_pid "$REG_RELAY_PID"
    for _ in $(seq 50); do port_free "$UAS_PORT" && break; sleep 0.1; done
    start_bg RELAY_PID "$WORK/centrale-relay.log" "${CEN_RELAY_CMD[@]}"
    wait_udp "$RELAY_PORT" "$RELAY_PID" || die "authrelay did not start"
    start_uas centrale
    search centrale "$IP:$RELAY_PORT" "$CEN_PID"
    stop_uas
    stop_pid "$RELAY_PID"
    stop_pid "$CEN_PID"
    log "Centrale: highest passing rate: $BEST_centrale/s"
fi

[ -n "$ONLY" ] && exit 0

# ---------------------------------------------------------------- report
ratio=$(awk -v c="$BEST_centrale" -v k="$BEST_kamailio" 'BEGIN { if (k > 0) printf "%.2f", c / k; else print "n/a" }')
log "RESULT: Kamailio $BEST_kamailio/s, Centrale $BEST_centrale/s, Centrale/Kamailio = $ratio"

model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
if [ -n "${CENTRALE_REV:-}" ]; then
    rev=$CENTRALE_REV
else
    rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
    git -C "$ROOT" diff --quiet HEAD -- host sdk wit Cargo.lock 2>/dev/null || rev="$rev + uncommitted changes"
fi
bound() { [ "$1" -gt 0 ] && echo "$1" || echo "not reached (≤ $MAX_RATE)"; }
quote() { local a out=""; for a in "$@"; do out+=" $(printf '%q' "$a")"; done; echo "${out# }"; }
uac_cmd "$IP:$RELAY_PORT" RATE CALLS TIMEOUT uac.csv uac-errors.log
rel() { quote "$@" | sed "s#$ROOT/##g; s#$WORK/##g; s#$WORK#WORKDIR#g"; }

{
    echo
    echo "### $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "- Machine: $(nproc) CPUs, $model; $(uname -sr); load average before the run: $LOADAVG"
    echo "- Versions: $("$KAMAILIO" -v 2>/dev/null | head -1 | sed 's/^version: //; s/ *$//'); sipp $("$SIPP" -v 2>/dev/null | grep -o 'v[0-9][0-9.]*' | head -1); Centrale $rev"
    echo "- Hold time ${HOLD_MS} ms; calls per step: rate × ${STEP_SECS} s (at most ${MAX_CALLS}); search from ${START_RATE}/s doubling up to ${MAX_RATE}/s, then bisection to ${RESOLUTION}/s or 5%; at most ${MAX_STEPS} steps per system."
    echo
    echo "| system | highest passing rate (0 failed calls, 99% set up within 500 ms) | lowest failing rate tried |"
    echo "| --- | --- | --- |"
    echo "| Kamailio (tm + rr proxy) | **$BEST_kamailio calls/s** | $(bound "$FIRSTFAIL_kamailio") |"
    echo "| $CEN_LABEL | **$BEST_centrale calls/s** | $(bound "$FIRSTFAIL_centrale") |"
    echo
    echo "Ratio Centrale / Kamailio: **$ratio**"
    echo
    echo "Steps (rate asked, calls, successful, failed, rate at which sipp actually started them, share of calls set up within 500 ms, duration of the step, verdict):"
    echo
    echo "| Kamailio: rate/s | calls | ok | failed | started/s | setup < 500 ms | took | verdict |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
    printf '%s\n' "${STEPS_kamailio[@]}"
    echo
    echo "| Centrale: rate/s | calls | ok | failed | started/s | setup < 500 ms | took | verdict |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
    printf '%s\n' "${STEPS_centrale[@]}"
    echo
    echo "Command lines (RATE and CALLS per step, TIMEOUT = CALLS/RATE + hold + 30 s; the uac sends to the relay on $RELAY_PORT, which forwards to Kamailio on $KAM_PORT, then to Centrale on $CEN_PORT):"
    echo
    echo '```'
    echo "rustc -O --edition 2021 bench/authrelay.rs -o authrelay"
    echo "# (a) Kamailio"
    echo "$(rel "${KAM_CMD[@]}")"
    echo "$(rel "$RELAY" "$IP:$RELAY_PORT" "$IP:$KAM_PORT")"
    echo "# (b) Centrale, then the callee's registration from the uas port"
    echo "$(rel "${CEN_CMD[@]}")"
    echo "$(rel "${REG_RELAY_CMD[@]}")"
    echo "$(rel "${REG_CMD[@]}")"
    echo "$(rel "${CEN_RELAY_CMD[@]}")"
    echo "# both: uas, then uac per step"
    echo "$(rel "${UAS_CMD[@]}")"
    echo "$(rel "${UAC_CMD[@]}")"
    echo '```'
} >>"$README"
log "appended to $README"
