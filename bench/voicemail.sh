#!/usr/bin/env bash
# bench/voicemail.sh: how many voicemail recordings at once (G.711 RTP in,
# WAV out) Centrale holds on this machine with no packet dropped by the
# host, and the CPU each one costs. See bench/README.md, "Voicemail
# recordings".
#
# For each N in STEPS: a fresh `centrale demo --enable-voicemail`, then one
# sipp uac (bench/uac_voicemail.xml) places N calls at RATE/s to 201 (no
# phone registered: voicemail answers); each caller streams a pcap ('#' at
# 0.5 s to skip the greeting, then TONE_SECS of 440 Hz PCMU from 1.5 s) and
# hangs up 1.5 s after the tone. All calls leave a message in the same
# box (201), so the mails column is for information only: the box's blob
# quota (64 MiB) keeps about 104 messages of 40 s, and the voicemail
# plugin names a message after the millisecond its recording starts, so
# two starting in the same millisecond share a name (see bench/README.md).
# What is measured is the host's side: every recording's WAV. The host logs one line per finished
# recording (packets_in, late_dropped, duration_ms); kernel UDP counters
# and per-socket drops are read around and during the step; CPU of the
# host and of sipp from /proc/<pid>/stat once a second.
#
# Knobs (environment): STEPS ("100 200 400 700 1000"), RATE (50), TONE_SECS
# (40), RTP_PORTS (20000-29999), MAX_INSTANCES (plugin pool, 4000),
# SIPP_NICE (19),
# NO_BUILD=1, CENTRALE_BIN=PATH, NO_README=1 (print the section, do not
# append it), NOTE=TEXT (a line under the section's heading).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH="$ROOT/bench"
README="$BENCH/README.md"
source "$ROOT/scripts/lib.sh"
set +e +o pipefail

STEPS=${STEPS:-"100 200 400 700 1000"}
RATE=${RATE:-50}
TONE_SECS=${TONE_SECS:-40}
RTP_PORTS=${RTP_PORTS:-20000-29999}
MAX_INSTANCES=${MAX_INSTANCES:-4000}
# sipp plays each call's pcap in a thread of its own: with N threads
# runnable, the host's few threads get a small share of the 2 cores and
# its 50 ms hook deadline expires during call set-up. sipp runs niced so
# that the host is served first (set SIPP_NICE=0 to share equally).
SIPP_NICE=${SIPP_NICE:-19}
IP=127.0.0.1
SIP_PORT=25280
API_PORT=25281
UAC_PORT=25261
UAC_MP=31000 # outside RTP_PORTS: its drops are sipp's, not the host's
DOMAIN=demo.centrale.test
CALLER=202 CALLER_PASS=demo202 CALLEE=201
SIPP=${SIPP:-/usr/bin/sipp}
CENTRALE_BIN=${CENTRALE_BIN:-$CARGO_TARGET_DIR/release/centrale}
HZ=$(getconf CLK_TCK)
WORK=$(mktemp -d /tmp/centrale-voicemail.XXXXXX)
LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)

log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    sleep 0.5
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
}
trap cleanup EXIT

[ -x "$SIPP" ] || apt_install sip-tester
if [ "${NO_BUILD:-0}" != 1 ]; then
    log "building the host and the plugins (release)"
    (cd "$ROOT" && cargo build --release -p centrale-host) >"$WORK/build.log" 2>&1 ||
        { tail -30 "$WORK/build.log" >&2; die "cargo build failed"; }
    build_plugins >>"$WORK/build.log" 2>&1 || { tail -30 "$WORK/build.log" >&2; die "building the plugins failed"; }
fi
[ -x "$CENTRALE_BIN" ] || die "no centrale binary at $CENTRALE_BIN"

# ------------------------------------------------------------------ the pcap
# Same packets as tests/src/pcap.rs (RtpScript): '#' as RFC 4733 events at
# 0.5 s (8 packets), then TONE_SECS of 440 Hz PCMU in 20 ms packets from 1.5 s.
PCAP="$WORK/voicemail.pcap"
PKTS=$(python3 - "$PCAP" "$TONE_SECS" <<'EOF'
import math, struct, sys
path, secs = sys.argv[1], float(sys.argv[2])
def ulaw(s):
    s = int(s); sign = 0
    if s < 0: s, sign = -s, 0x80
    s = min(s, 32635) + 0x84
    exp, mask = 7, 0x4000
    while exp > 0 and not s & mask: exp -= 1; mask >>= 1
    return ~(sign | (exp << 4) | ((s >> (exp + 3)) & 0x0f)) & 0xff
pkts, seq = [], 0
def rtp(pt, marker, ts, payload):
    global seq
    seq = (seq + 1) & 0xffff
    return struct.pack('!BBHII', 0x80, pt | (0x80 if marker else 0), seq, ts & 0xffffffff, 0x5eed1234) + payload
at = 0.5; ts = int(at * 8000)
for i in range(8):
    end = i >= 5; dur = 160 * (min(i, 4) + 1)
    pkts.append((int(at * 1e6) + min(i, 5) * 20000 + max(i - 5, 0) * 5000,
                 rtp(101, i == 0, ts, bytes([11, (0x80 | 10) if end else 10, dur >> 8, dur & 0xff]))))
frames = round(secs * 50); t0 = int(1.5 * 8000)
for f in range(frames):
    pl = bytes(ulaw(math.sin((f * 160 + i) * 440.0 * 2 * math.pi / 8000) * 12000) for i in range(160))
    pkts.append((int(1.5e6) + f * 20000, rtp(0, f == 0, t0 + f * 160, pl)))
pkts.sort(key=lambda p: p[0])
out = [struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1)]
for t, p in pkts:
    udp = struct.pack('!HHHH', 4000, 4000, 8 + len(p), 0) + p
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1])) + udp
    frame = b'\0' * 12 + b'\x08\x00' + ip
    base = 1_700_000_000 * 1_000_000 + t
    out.append(struct.pack('<IIII', base // 1_000_000, base % 1_000_000, len(frame), len(frame)) + frame)
open(path, 'wb').write(b''.join(out))
print(len(pkts))
EOF
)
[ -n "$PKTS" ] || die "writing the pcap failed"
SCENARIO="$WORK/uac_voicemail.xml"
sed "s#\[\$pcap\]#$PCAP#" "$BENCH/uac_voicemail.xml" >"$SCENARIO"
HOLD_MS=$(awk -v t="$TONE_SECS" 'BEGIN { printf "%d", (t + 3) * 1000 }')
log "pcap: $PKTS packets per call ($TONE_SECS s of tone); hold ${HOLD_MS} ms; work dir $WORK"

# ------------------------------------------------------------------ helpers
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# Busy jiffies of the whole machine (user nice system irq softirq steal).
busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }
udp_counters() { # InDatagrams NoPorts InErrors RcvbufErrors
    awk '/^Udp:/ { if (!h) { for (i = 2; i <= NF; i++) c[$i] = i; h = 1; next }
        print $c["InDatagrams"], $c["NoPorts"], $c["InErrors"], $c["RcvbufErrors"] }' /proc/net/snmp
}
# Per-socket drops (last column of /proc/net/udp) of sockets whose local
# port is in [lo, hi], as "inode drops rx_queue" lines.
sock_drops() {
    awk -v lo="$1" -v hi="$2" 'NR > 1 { split($2, a, ":"); p = strtonum("0x" a[2]);
        if (p >= lo && p <= hi) { split($5, q, ":"); print $10, $NF, strtonum("0x" q[2]) } }' /proc/net/udp
}
port_free() { ! awk -v p="$(printf '%04X' "$1")" 'NR > 1 && $2 ~ ":" p "$" { f = 1 } END { exit !f }' /proc/net/udp; }
wait_udp() { for _ in $(seq 100); do port_free "$1" || return 0; kill -0 "$2" 2>/dev/null || return 1; sleep 0.1; done; return 1; }
RTP_LO=${RTP_PORTS%-*} RTP_HI=${RTP_PORTS#*-}

CEN_CMD=("$CENTRALE_BIN" --log "warn,centrale_host::media::endpoint::record=info" demo
    --data DATA --sip-listen "$IP:$SIP_PORT" --rtp-ports "$RTP_PORTS" --advertise "$IP"
    --plugins "$ROOT/plugins" --components "$PLUGIN_OUT" --enable-voicemail
    --max-plugin-instances "$MAX_INSTANCES")
"$CENTRALE_BIN" demo --help 2>/dev/null | grep -q -- --api-listen && CEN_CMD+=(--api-listen "$IP:$API_PORT")
uac_cmd() { # N CSV ERR
    local tmo=TIMEOUT
    [[ $1 =~ ^[0-9]+$ ]] && tmo=$(($1 / RATE + HOLD_MS / 1000 + 60))
    UAC_CMD=(nice -n "$SIPP_NICE" "$SIPP" "$IP:$SIP_PORT" -sf "$SCENARIO" -i "$IP" -p "$UAC_PORT" -mp "$UAC_MP"
        -buff_size 4194304 -nostdin -s "$CALLEE" -au "$CALLER" -ap "$CALLER_PASS"
        -set aor "$CALLER" -set domain "$DOMAIN" -d "$HOLD_MS" -r "$RATE" -l "$1" -m "$1"
        -timeout "$tmo"s -timeout_error
        -trace_stat -stf "$2" -fd 1 -trace_err -error_file "$3")
}

ROWS=()
run_step() {
    local n=$1 tag="n$1-$(date +%H%M%S)"
    local dir="$WORK/$tag" load
    mkdir -p "$dir"
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    local cmd=("${CEN_CMD[@]}")
    cmd[5]="$dir/data"
    "${cmd[@]}" >"$dir/centrale.log" 2>&1 </dev/null &
    local cen=$!
    PIDS+=("$cen")
    wait_udp "$SIP_PORT" "$cen" || { tail -20 "$dir/centrale.log" >&2; die "centrale did not start"; }
    sleep 2 # plugins warmed ("plugins loaded") before the first call
    local u0 u1
    u0=$(udp_counters)
    uac_cmd "$n" "$dir/uac.csv" "$dir/uac-errors.log"
    local t0 h0 s0
    t0=$(date +%s.%N); h0=$(ticks "$cen")
    "${UAC_CMD[@]}" >"$dir/uac.screen" 2>&1 </dev/null &
    local uac=$!
    PIDS+=("$uac")
    s0=$(ticks "$uac")
    # Once a second: elapsed, host ticks, sipp ticks, machine busy
    # jiffies; per-socket drops kept.
    : >"$dir/cpu.tsv"; : >"$dir/drops.txt"
    local sipp_ticks=$s0 st
    while kill -0 "$uac" 2>/dev/null; do
        sleep 1
        st=$(ticks "$uac"); [ "$st" -gt 0 ] && sipp_ticks=$st
        printf '%s\t%s\t%s\t%s\n' "$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')" \
            "$(ticks "$cen")" "$sipp_ticks" "$(busy)" >>"$dir/cpu.tsv"
        sock_drops "$RTP_LO" "$RTP_HI" >>"$dir/drops.txt"
        sock_drops "$UAC_MP" "$UAC_MP" | sed 's/^/sipp /' >>"$dir/drops.txt"
    done
    wait "$uac"; local rc=$?
    local t1 h1
    t1=$(date +%s.%N); h1=$(ticks "$cen")
    # Mails: wait until every finished recording has its .eml, or until
    # their number has not changed for 5 s (at most 120 s).
    local recs mails last=-1 same=0
    for _ in $(seq 240); do
        recs=$(grep -c "recording finished" "$dir/centrale.log")
        mails=$(find "$dir/data/outbox" -name '*.eml' 2>/dev/null | wc -l)
        [ "$mails" -ge "$recs" ] && [ "$recs" -gt 0 ] && break
        if [ "$mails" -eq "$last" ]; then same=$((same + 1)); else same=0; last=$mails; fi
        [ "$same" -ge 10 ] && break
        sleep 0.5
    done
    local h2; h2=$(ticks "$cen")
    u1=$(udp_counters)
    kill "$cen"; wait "$cen" 2>/dev/null
    # sipp: calls asked, successful and failed (last statistics row).
    local ok ko
    read -r ok ko < <(awk -F';' 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
        { ok = $c["SuccessfulCall(C)"]; ko = $c["FailedCall(C)"] } END { print ok + 0, ko + 0 }' "$dir/uac.csv" 2>/dev/null)
    # Host: one line per recording.
    local hs
    hs=$(sed 's/\x1b\[[0-9;]*m//g' "$dir/centrale.log" | awk -v tone="$TONE_SECS" '/recording finished/ {
            for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
            n++; pin += v["packets_in"]; late += v["late_dropped"]; d = v["duration_ms"] + 0
            if (min == "" || d < min) min = d; if (d > max) max = d
            if (d < (tone - 0.2) * 1000) short++
        } END { printf "%d %d %d %d %d %d\n", n, pin, late, min, max, short }')
    local nrec pin late dmin dmax short
    read -r nrec pin late dmin dmax short <<<"$hs"
    local sent=$((ok * PKTS)) lost=$((ok * PKTS - pin + late))
    # Kernel: UDP counters (whole machine) and drops of sockets.
    local kin kerr kbuf
    read -r kin _ kerr kbuf < <(paste -d' ' <(echo "$u0") <(echo "$u1") | awk '{ print $5 - $1, $6 - $2, $7 - $3, $8 - $4 }')
    local hostdrops sippdrops
    hostdrops=$(awk '$1 != "sipp" { if ($2 > m[$1]) m[$1] = $2 } END { for (k in m) s += m[k]; print s + 0 }' "$dir/drops.txt")
    sippdrops=$(awk '$1 == "sipp" { if ($3 > m) m = $3 } END { print m + 0 }' "$dir/drops.txt")
    # CPU: whole step (first INVITE to last BYE, then the mails) and the
    # window where all N calls record at once: from the last call's start
    # (+3 s for the greeting skip) to the first call's end of tone.
    local ws=$((n / RATE + 3)) we
    we=$(awk -v t="$TONE_SECS" 'BEGIN { printf "%d", 1.5 + t }')
    local cpu
    cpu=$(awk -v ws="$ws" -v we="$we" -v hz="$HZ" -v n="$([ "$ok" -gt 0 ] && echo "$ok" || echo 1)" '
        { t[NR] = $1; h[NR] = $2; s[NR] = $3; m[NR] = $4 }
        END {
            a = 0; b = 0
            for (i = 1; i <= NR; i++) { if (!a && t[i] >= ws) a = i; if (t[i] <= we) b = i }
            if (a && b > a) {
                dt = t[b] - t[a]
                hp = 100 * (h[b] - h[a]) / hz / dt; sp = 100 * (s[b] - s[a]) / hz / dt
                op = 100 * (m[b] - m[a]) / hz / dt - hp - sp
                printf "%.0f %.0f %.3f %.1f %.0f\n", hp, sp, hp / n, dt, op
            } else print "- - - 0 -"
        }' "$dir/cpu.tsv")
    local hp sp per win op
    read -r hp sp per win op <<<"$cpu"
    local wall hostsec
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
    hostsec=$(awk -v a="$h0" -v b="$h2" -v hz="$HZ" 'BEGIN { printf "%.1f", (b - a) / hz }')
    local verdict=PASS why=""
    [ "$rc" -ne 0 ] && why="sipp exit $rc"
    [ "$ok" -ne "$n" ] && why="${why:+$why, }$ok/$n calls ok"
    [ "$nrec" -ne "$n" ] && why="${why:+$why, }$nrec/$n recordings"
    [ "$lost" -ne 0 ] && why="${why:+$why, }$lost packets lost"
    [ "${short:-0}" -ne 0 ] && why="${why:+$why, }$short recordings short"
    [ "$hostdrops" -ne 0 ] && why="${why:+$why, }$hostdrops dropped by host sockets"
    [ -n "$why" ] && verdict="FAIL ($why)"
    log "N=$n: $ok ok/$ko failed, $nrec recordings, $mails mails, sent $sent, host got $pin, late $late, lost $lost; host sockets dropped $hostdrops, sipp socket $sippdrops; kernel InErrors $kerr RcvbufErrors $kbuf; window ${win}s: host ${hp}%, sipp ${sp}%, others ${op}%, ${per}% per stream; host CPU ${hostsec}s in ${wall}s; $verdict"
    ROWS+=("| $n | $load | $ok/$n ($ko failed) | $nrec | $mails | ${dmin}–${dmax} | $sent | $pin | $late | **$lost** | $hostdrops | $kerr / $kbuf | $hp% | $sp% | $op% | $per% | ${hostsec} s / ${wall} s | $verdict |")
    rm -rf "$dir/data/blobs" "$dir/data/outbox" "$dir/data/recordings"
    sleep 3
}

for n in $STEPS; do
    [ $((n * 2)) -le $((RTP_HI - RTP_LO)) ] || die "RTP range $RTP_PORTS too small for $n calls"
    run_step "$n"
done

rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$ROOT" diff --quiet HEAD -- host plugins sdk wit Cargo.lock 2>/dev/null || rev="$rev + uncommitted changes"
[ "$CENTRALE_BIN" = "$CARGO_TARGET_DIR/release/centrale" ] || rev="$rev (checkout; binary run: $CENTRALE_BIN)"
model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
q() { local a out=""; for a in "$@"; do out+=" $(printf '%q' "$a")"; done; echo "${out# }" | sed "s#$ROOT/##g; s#$WORK/##g; s#$CARGO_TARGET_DIR#\$CARGO_TARGET_DIR#g"; }
uac_cmd N uac.csv uac-errors.log
cmd=("${CEN_CMD[@]}"); cmd[5]=DATA
{
    echo
    echo "### $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    [ -n "${NOTE:-}" ] && { echo "$NOTE"; echo; }
    echo "- Machine: $(nproc) CPUs, $model; $(uname -sr); load average before the run: $LOADAVG_START"
    echo "- Versions: sipp $("$SIPP" -v 2>/dev/null | grep -o 'v[0-9][0-9.]*' | head -1); Centrale $rev"
    echo "- sipp runs at nice $SIPP_NICE"
    echo "- Per call: '#' at 0.5 s, then ${TONE_SECS} s of PCMU from 1.5 s: $PKTS RTP packets; BYE ${HOLD_MS} ms after the ACK; calls started at $RATE/s"
    echo
    echo "| N | load before | calls ok | recordings | mails | WAV ms | RTP sent | host got | late | lost | host socket drops | kernel UDP InErrors / RcvbufErrors | host CPU (all N recording) | sipp CPU | other processes | host CPU per stream (÷ calls ok) | host CPU / wall, whole step | verdict |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    printf '%s\n' "${ROWS[@]}"
    echo
    echo '```'
    echo "$(q "${cmd[@]}")"
    echo "$(q "${UAC_CMD[@]}")"
    echo '```'
} >"$WORK/section.md"
if [ "${NO_README:-0}" = 1 ]; then cat "$WORK/section.md"; else cat "$WORK/section.md" >>"$README"; log "appended to $README"; fi
log "logs in $WORK"
