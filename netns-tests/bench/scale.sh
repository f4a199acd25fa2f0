#!/bin/bash
# netns-tests/bench/scale.sh: HQ with many peers, in one command (issue 5 "Scale", and
# the issue-6 targets: <= 4 KiB per idle peer, a 10,000-peer config loaded in < 1 s,
# >= 5,000 handshakes/s per core as responder).
#
#   sudo netns-tests/bench/scale.sh [--peers N] [--runs R] [--storm-keys K]
#                                   [--storm-seconds S] [--storm-window W] [--quick]
#                                   [--out DIR]
#
# Two namespaces joined by a veth pair: "hq" runs vpnd, "br" runs
# build/netns-tests/branches, which plays any number of branches from one process (keys
# derived from a seed, so `branches conf` writes HQ's peer sections for them; one socket
# and one source address of 172.16.0.0/16 per branch). Measured, medians of R runs:
#
#   check_s, check_cpu_s   `vpnd -n` of the N-peer config: wall and CPU seconds
#   start_s, start_cpu_s   vpnd from exec until its control socket answers `show --json`,
#                          with N peers (wall, and vpnd's own utime + stime at that moment)
#   start0_s               the same with no peer (the fixed cost)
#   rss0_kb, rssN_kb       vpnd's VmRSS once ready, with 0 and with N idle peers
#   idle_peer_bytes        (rssN_kb - rss0_kb) * 1024 / N
#   live_s                 `branches run -n N`: all N branches handshake and ping HQ
#   live_peer_bytes        (VmRSS after that - rss0_kb) * 1024 / N: a peer with a session
#   show_s                 `vpnctl show --json` with N live peers
#   reload_s               `vpnctl reload` of the unchanged N-peer config, N live peers
#   rtt1_ms, rttN_ms       median round trip of 500 echoes, one at a time, through the
#                          tunnel of one branch to HQ with 1 peer, and with N live peers
#   storm1k_rate, storm1k_per_cpu   `branches storm` with K keys (default 1,000) for S s
#                          against HQ with 1,000 peers: handshakes answered per second, and
#                          per CPU-second of vpnd (the rate of one core)
#   stormN_rate, stormN_per_cpu     the same against HQ with N peers, the K keys taken
#                          from the middle of its peer list
#
# Output: a table on stdout and in DIR/results.txt, every sample in DIR/samples.tsv,
# the machine in DIR/meta.txt, the tools' output in DIR/*.out. See BENCHMARKS.md ("Scale")
# for recorded figures. Not part of `meson test`: a benchmark wants a quiet machine.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/../.." && pwd)
: "${VPND:=$REPO/build/daemon/vpnd}"
: "${VPNCTL:=$REPO/build/ctl/vpnctl}"
: "${BRANCHES:=$REPO/build/netns-tests/branches}"

usage() {
	cat <<EOF
usage: $0 [options]            (as root)
  --peers N          peers in HQ's big config (default 10000)
  --runs R           repetitions of the check, startup and memory measures (default 3)
  --storm-keys K     keys firing handshakes in the storm (default 1000)
  --storm-seconds S  measured length of each storm, after 1 s of warm-up (default 10)
  --storm-window W   initiations in flight at once in the storm (default 128)
  --quick            --peers 2000 --runs 1 --storm-seconds 3: checks the harness
  --out DIR          where results go (default \${TMPDIR:-/tmp}/vpnd-scale-DATE-TIME)
Binaries: VPND, VPNCTL, BRANCHES (default build/daemon/vpnd, build/ctl/vpnctl,
build/netns-tests/branches).
EOF
}

PEERS=10000
RUNS=3
STORM_KEYS=1000
STORM_SECS=10
STORM_WINDOW=128
OUT=
while [ $# -gt 0 ]; do
	case $1 in
	--peers) PEERS=$2; shift 2 ;;
	--runs) RUNS=$2; shift 2 ;;
	--storm-keys) STORM_KEYS=$2; shift 2 ;;
	--storm-seconds) STORM_SECS=$2; shift 2 ;;
	--storm-window) STORM_WINDOW=$2; shift 2 ;;
	--quick) PEERS=2000 RUNS=1 STORM_SECS=3; shift ;;
	--out) OUT=$2; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "$0: unknown option '$1' (see --help)" >&2; exit 2 ;;
	esac
done
for v in PEERS RUNS STORM_KEYS STORM_SECS STORM_WINDOW; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "$0: $v: '${!v}' is not a positive integer" >&2; exit 2; }
done
[ "$PEERS" -le 60000 ] || { echo "$0: --peers: at most 60000 (one source address each in a /16)" >&2; exit 2; }
[ "$STORM_KEYS" -le "$PEERS" ] && [ "$STORM_KEYS" -le 1000 ] ||
	{ echo "$0: --storm-keys: at most 1000 and at most --peers" >&2; exit 2; }
for b in VPND VPNCTL BRANCHES; do
	[ -x "${!b}" ] || { echo "$0: $b=${!b} is not an executable (meson compile first)" >&2; exit 1; }
done

# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$BENCH_DIR/../lib.sh"
VT_ALL_SITES=() # none of lib.sh's sites: its failure dump then shows only our *.out files
vt_init $((RUNS * 200 + 2 * STORM_SECS + 300))

[ -n "$OUT" ] || OUT="${TMPDIR:-/tmp}/vpnd-scale-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
SAMPLES="$OUT/samples.tsv"
printf 'run\tmetric\tvalue\n' >"$SAMPLES"
sample() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$SAMPLES"; }

# ------------------------------------------------------------------------ topology
# br 198.51.100.1 ── veth ── 198.51.100.2 hq. The branches' source addresses
# 172.16.0.0/16 are local to br (AnyIP) and routed there by hq.
UL_BR=198.51.100.1 UL_HQ=198.51.100.2 PORT=51820 HQ_TUN=10.99.0.1
TUN_PREFIX=10.100.0.0/16 SRC_PREFIX=172.16.0.0/16
vt__addns hq
vt__addns br
vt__link br eth0 hq eth0
vt__addr br eth0 "$UL_BR/24"
vt__addr hq eth0 "$UL_HQ/24"
ip -n "$(vt_ns br)" route add local "$SRC_PREFIX" dev lo || vt_fail "br: AnyIP route"
ip -n "$(vt_ns hq)" route add "$SRC_PREFIX" via "$UL_BR" || vt_fail "hq: route to the branches"
vt_wait 10 "underlay ping" vt_q vt_in br ping -c 1 -W 1 -q "$UL_HQ" || vt_fail "the veth pair does not carry a ping"

(umask 077 && "$VPNCTL" genkey >"$VT_TMP/hq.key")
HQ_PUB=$("$VPNCTL" pubkey <"$VT_TMP/hq.key")

mkdir -p "$VT_TMP/hq.state" # before vt_own, so that HQ can write it once it is VT_USER
# conf NAME PEERS: HQ's config with the first PEERS branches.
conf() {
	local f="$VT_TMP/$1.conf"
	{
		echo "interface = \"vpn0\""
		echo "private-key-file = \"$VT_TMP/hq.key\""
		echo "listen-port = $PORT"
		echo "address = {\"$HQ_TUN/24\"}"
		echo "control-socket = \"$VT_TMP/hq.sock\""
		echo "uapi = false"
		echo "audit-log = \"$VT_TMP/hq.audit\""
		echo "user = \"$VT_USER\""
		echo "state-directory = \"$VT_TMP/hq.state\""
		[ "$2" = 0 ] || "$BRANCHES" conf -n "$2" -a "$TUN_PREFIX"
	} >"$f" || vt_fail "cannot write $f"
	echo "$f"
}
CONF0=$(conf hq0 0)
CONF1=$(conf hq1 1)
CONF1K=$(conf hq1k 1000)
CONFN=$(conf hqN "$PEERS")
[ "$PEERS" -ge 1000 ] || CONF1K=$CONFN

cpu_s() { # cpu_s PID: utime + stime in seconds
	sed 's/.*) //' "/proc/$1/stat" | awk -v hz="$(getconf CLK_TCK)" '{ printf "%.3f", ($12 + $13) / hz }'
}
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# hq_start CONF: run vpnd in hq; sets HQ_PID and START_S (exec to answering show --json).
HQ_PID=
hq_start() {
	local t0 t1
	rm -f "$VT_TMP"/hq.audit*
	vt_own # HQ drops to VT_USER and must still read its config to reload
	t0=$(date +%s.%N)
	vt_bg ip netns exec "$(vt_ns hq)" "$VPND" -c "$1" </dev/null >>"$VT_TMP/hq.log" 2>&1
	HQ_PID=$VT_BGPID
	# vpnctl waits for the answer once the socket exists; vpnd answers when it is up.
	until timeout 120 "$VPNCTL" -s "$VT_TMP/hq.sock" show --json >/dev/null 2>&1; do
		vt_alive "$HQ_PID" || vt_fail "vpnd exited during startup: $(tail -n 5 "$VT_TMP/hq.log")"
		sleep 0.01
	done
	t1=$(date +%s.%N)
	START_S=$(echo "$t1 - $t0" | bc)
}
hq_stop() {
	# Shutdown removes every route and peer: give it time with many peers.
	kill -TERM "$HQ_PID" 2>/dev/null || true
	vt_reap "$HQ_PID" 60 || vt_log "vpnd (pid $HQ_PID) did not stop within 60 s of SIGTERM"
	HQ_PID=
}

# ----------------------------------------------------------------------- measuring
{
	echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "command: $0 --peers $PEERS --runs $RUNS --storm-keys $STORM_KEYS --storm-seconds $STORM_SECS --storm-window $STORM_WINDOW"
	echo "nproc: $(nproc)"
	echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
	echo "kernel: $(uname -r)"
	echo "vpnd: $VPND (source: $(git -C "$REPO" describe --always --dirty 2>/dev/null || echo 'not a git tree'))"
	echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT/meta.txt"

# rtt NAME: 500 echoes through branch 0's tunnel, one at a time; the median is rttNAME_ms.
rtt() {
	ip netns exec "$(vt_ns br)" "$BRANCHES" run -n 1 -a "$TUN_PREFIX" -t "$UL_HQ:$PORT" \
		-k "$HQ_PUB" -r "$HQ_TUN" -b "$SRC_PREFIX" -e 500 >"$OUT/rtt$1-$r.out" 2>&1 ||
		vt_fail "branches run -e 500: $(tail -n 5 "$OUT/rtt$1-$r.out")"
	sample "$r" "rtt$1_ms" "$(sed -n 's/.* rtt_p50_ms=\([0-9.]*\).*/\1/p' "$OUT/rtt$1-$r.out")"
}

TIMEFORMAT='%R %U %S'
for r in $(seq 1 "$RUNS"); do
	# vpnd -n: the config parsed and checked, nothing started.
	t=$({ time "$VPND" -n -c "$CONFN" >/dev/null 2>"$OUT/check.err"; } 2>&1) ||
		vt_fail "vpnd -n rejected the $PEERS-peer config: $(cat "$OUT/check.err")"
	read -r real user sys <<<"$t"
	sample "$r" check_s "$real"
	sample "$r" check_cpu_s "$(echo "$user + $sys" | bc)"

	hq_start "$CONF0"
	sample "$r" start0_s "$START_S"
	sample "$r" rss0_kb "$(rss_kb "$HQ_PID")"
	rss0=$(rss_kb "$HQ_PID")
	hq_stop

	hq_start "$CONFN"
	sample "$r" start_s "$START_S"
	sample "$r" start_cpu_s "$(cpu_s "$HQ_PID")"
	rssn=$(rss_kb "$HQ_PID")
	sample "$r" rssN_kb "$rssn"
	sample "$r" idle_peer_bytes $(((rssn - rss0) * 1024 / PEERS))

	# Every peer live: a handshake and an echo each, then show over all of them.
	ip netns exec "$(vt_ns br)" "$BRANCHES" run -n "$PEERS" -a "$TUN_PREFIX" \
		-t "$UL_HQ:$PORT" -k "$HQ_PUB" -r "$HQ_TUN" -b "$SRC_PREFIX" -w 120 \
		>"$OUT/run-$r.out" 2>&1 || vt_fail "branches run: $(tail -n 8 "$OUT/run-$r.out")"
	sample "$r" live_s "$(sed -n 's/.* all_s=\([0-9.]*\).*/\1/p' "$OUT/run-$r.out")"
	sample "$r" live_peer_bytes $((($(rss_kb "$HQ_PID") - rss0) * 1024 / PEERS))
	t=$({ time "$VPNCTL" -s "$VT_TMP/hq.sock" show --json >"$OUT/show.json"; } 2>&1) ||
		vt_fail "vpnctl show --json failed"
	sample "$r" show_s "${t%% *}"
	t=$({ time "$VPNCTL" -s "$VT_TMP/hq.sock" reload >"$OUT/reload.out" 2>&1; } 2>&1) ||
		vt_fail "vpnctl reload failed: $(cat "$OUT/reload.out")"
	sample "$r" reload_s "${t%% *}"
	rtt N
	hq_stop
	hq_start "$CONF1"
	rtt 1
	hq_stop
	vt_log "run $r: $(awk -F'\t' -v r="$r" '$1 == r { printf "%s=%s ", $2, $3 }' "$SAMPLES")"
done

# storm NAME CONF FIRST: K keys from branch FIRST on, against HQ started with CONF.
storm() {
	local out="$OUT/storm-$1.out"
	hq_start "$2"
	ip netns exec "$(vt_ns br)" "$BRANCHES" storm -n "$STORM_KEYS" -o "$3" \
		-t "$UL_HQ:$PORT" -k "$HQ_PUB" -b "$SRC_PREFIX" -d "$STORM_SECS" -u 1 -W "$STORM_WINDOW" \
		-P "$HQ_PID" >"$out" 2>&1 || vt_fail "branches storm: $(tail -n 5 "$out")"
	hq_stop
	sample 1 "storm$1_rate" "$(sed -n 's/.* rate=\([0-9]*\).*/\1/p' "$out")"
	sample 1 "storm$1_per_cpu" "$(sed -n 's/.* per_cpu_s=\([0-9]*\).*/\1/p' "$out")"
	sample 1 "storm$1_hq_cpu_s" "$(sed -n 's/.* hq_cpu_s=\([0-9.]*\).*/\1/p' "$out")"
	vt_log "$(grep -E '^storm: (steady|HQ)' "$out" | tr '\n' ' ')"
}
storm 1k "$CONF1K" 0
storm N "$CONFN" $(((PEERS - STORM_KEYS) / 2))
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/meta.txt"

# ------------------------------------------------------------------------- report
python3 - "$SAMPLES" "$PEERS" "$STORM_KEYS" >"$OUT/results.txt" <<'EOF'
import statistics, sys
from collections import defaultdict
vals = defaultdict(list)
for line in open(sys.argv[1]).read().splitlines()[1:]:
    run, metric, value = line.split("\t")
    if value:
        vals[metric].append(float(value))
n, k = sys.argv[2], sys.argv[3]
rows = [
    ("check_s", "vpnd -n, %s peers (s, wall)" % n, "< 1"),
    ("check_cpu_s", "vpnd -n, %s peers (s, CPU)" % n, ""),
    ("start0_s", "startup to ready, 0 peers (s)", ""),
    ("start_s", "startup to ready, %s peers (s, wall)" % n, "< 1"),
    ("start_cpu_s", "startup to ready, %s peers (s, vpnd CPU)" % n, "< 1"),
    ("rss0_kb", "VmRSS, 0 peers (kB)", ""),
    ("rssN_kb", "VmRSS, %s idle peers (kB)" % n, ""),
    ("idle_peer_bytes", "memory per idle peer (bytes)", "<= 4096"),
    ("live_s", "%s branches handshake + echo (s)" % n, ""),
    ("live_peer_bytes", "memory per live peer (bytes)", ""),
    ("show_s", "vpnctl show --json, %s live peers (s)" % n, ""),
    ("reload_s", "vpnctl reload, %s live peers, nothing changed (s)" % n, ""),
    ("rtt1_ms", "echo RTT through the tunnel, HQ with 1 peer (ms)", ""),
    ("rttN_ms", "echo RTT through the tunnel, HQ with %s peers (ms)" % n, ""),
    ("storm1k_rate", "handshakes/s, HQ with 1000 peers, %s keys" % k, ""),
    ("storm1k_per_cpu", "  per vpnd CPU-second", ">= 5000"),
    ("stormN_rate", "handshakes/s, HQ with %s peers, %s keys" % (n, k), ""),
    ("stormN_per_cpu", "  per vpnd CPU-second", ">= 5000"),
]
print("%-48s %12s %8s %12s %12s  %s" % ("metric", "median", "runs", "min", "max", "target"))
for key, label, target in rows:
    v = vals.get(key)
    if not v:
        continue
    fmt = "%12.4f" if max(v) < 1 else "%12.3f" if max(v) < 100 else "%12.0f"
    print(("%-48s " + fmt + " %8d " + fmt + " " + fmt + "  %s") %
          (label, statistics.median(v), len(v), min(v), max(v), target))
EOF
cat "$OUT/results.txt"
vt_log "results in $OUT"
