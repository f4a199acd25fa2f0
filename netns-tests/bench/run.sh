#!/bin/bash
# netns-tests/bench/run.sh: the data-plane benchmark of issue 6 in one command.
#
# Two namespaces joined by one veth pair carry, in the same run and in turn:
#   veth          the bare link, no tunnel (the ceiling)
#   wireguard-go  the Debian package, configured with wg, one end in each namespace
#   vpnd          build/daemon/vpnd (or $VPND), configured by a generated config
# For each: iperf3 TCP with 1 and with 4 streams, UDP packets/s received at two packet
# sizes, ping RTT, and the tunnel daemons' CPU seconds per Gbit carried (utime + stime of
# both ends from /proc/PID/stat over the single-stream TCP run). Each round measures all
# three setups one after the other, so slow drifts of a shared machine hit them alike;
# the report takes the median of the rounds.
#
#   sudo netns-tests/bench/run.sh [--runs N] [--quick] [--out DIR] [--only LIST] ...
#
# Output: a table on stdout with ratios against wireguard-go and against veth, and in
# the output directory samples.tsv (every measurement), results.tsv (medians), meta.txt
# (machine, load, versions) and throughput.png (gnuplot). See README.md beside this file.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/../.." && pwd)
: "${VPND:=$REPO/build/daemon/vpnd}"
: "${VPNCTL:=$REPO/build/ctl/vpnctl}" # lib.sh wants it set; the bench does not use it

usage() {
	cat <<EOF
usage: $0 [options]            (as root)
  --runs N          rounds; each measures every setup once (default 3; medians reported)
  --quick           1 round, TCP 3 s, UDP 2 s, 50 pings: checks the harness, not a figure
  --tcp-seconds S   length of each iperf3 TCP test (default 10)
  --udp-seconds S   length of each iperf3 UDP test (default 5)
  --pings N         pings per RTT test, 10 ms apart (default 200)
  --udp-sizes LIST  UDP packet sizes in bytes, IP header included (default "1400 64")
  --only LIST       setups to run, comma-separated, from veth,wireguard-go,vpnd (default all)
  --out DIR         where the results go (default \${TMPDIR:-/tmp}/vpnd-bench-DATE-TIME)
  --vpnd PATH       the vpnd binary (default \$VPND or build/daemon/vpnd)
  --vpnd-conf LINE  add LINE to the top of both vpnd configs (repeatable), e.g.
                    --vpnd-conf 'offload = false' to measure a setting
  --profile         then one more TCP run per tunnel under perf stat (system calls per
                    packet, by name) and perf record: OUT/profile-SETUP.txt
EOF
}

RUNS=3
TCP_SECS=10
UDP_SECS=5
PINGS=200
UDP_SIZES="1400 64"
ONLY="veth,wireguard-go,vpnd"
OUT=
QUICK=0
PROFILE=0
VPND_CONF=()
while [ $# -gt 0 ]; do
	case $1 in
	--runs) RUNS=$2; shift 2 ;;
	--quick) QUICK=1; shift ;;
	--tcp-seconds) TCP_SECS=$2; shift 2 ;;
	--udp-seconds) UDP_SECS=$2; shift 2 ;;
	--pings) PINGS=$2; shift 2 ;;
	--udp-sizes) UDP_SIZES=$2; shift 2 ;;
	--only) ONLY=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	--vpnd) VPND=$2; shift 2 ;;
	--profile) PROFILE=1; shift ;;
	--vpnd-conf) VPND_CONF+=("$2"); shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "$0: unknown option '$1' (see --help)" >&2; exit 2 ;;
	esac
done
if [ "$QUICK" = 1 ]; then
	RUNS=1 TCP_SECS=3 UDP_SECS=2 PINGS=50
fi
for v in RUNS TCP_SECS UDP_SECS PINGS; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "$0: $v: '${!v}' is not a positive integer" >&2; exit 2; }
done
for sz in $UDP_SIZES; do
	# 28 bytes of IPv4 and UDP header; the tunnel MTU is 1420.
	if ! [[ $sz =~ ^[0-9]+$ ]] || [ "$sz" -lt 29 ] || [ "$sz" -gt 1420 ]; then
		echo "$0: --udp-sizes: '$sz' is not a packet size from 29 to 1420" >&2
		exit 2
	fi
done
SETUPS=()
for s in ${ONLY//,/ }; do
	case $s in
	veth | wireguard-go | vpnd) SETUPS+=("$s") ;;
	*) echo "$0: --only: '$s' is not one of veth, wireguard-go, vpnd" >&2; exit 2 ;;
	esac
done
[ ${#SETUPS[@]} -gt 0 ] || { echo "$0: --only: no setup named" >&2; exit 2; }
want() { [[ " ${SETUPS[*]} " == *" $1 "* ]]; }

# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$BENCH_DIR/../lib.sh"
VT_ALL_SITES=() # none of lib.sh's sites: its failure dump then shows only our *.out files

for tool in iperf3 gnuplot ping python3; do
	command -v "$tool" >/dev/null || { echo "$0: $tool is not installed (.ci/install-deps)" >&2; exit 1; }
done
if want wireguard-go; then
	if ! command -v wireguard-go >/dev/null || ! command -v wg >/dev/null; then
		echo "$0: wireguard-go and wg are needed (or leave wireguard-go out with --only)" >&2
		exit 1
	fi
fi
if [ "$PROFILE" = 1 ]; then
	command -v perf >/dev/null || { echo "$0: --profile needs perf (linux-perf)" >&2; exit 1; }
fi
if want vpnd; then
	[ -x "$VPND" ] || { echo "$0: VPND=$VPND is not an executable (meson compile first)" >&2; exit 1; }
fi

# One round: per setup, ping + 2 TCP + the UDP sizes + start-up slack.
n_udp=$(wc -w <<<"$UDP_SIZES")
ROUND_SECS=$(((PINGS + 99) / 100 + 2 * TCP_SECS + n_udp * UDP_SECS + 8 * (3 + n_udp)))
vt_init $((RUNS * ${#SETUPS[@]} * ROUND_SECS + PROFILE * 2 * (TCP_SECS + 30) + 120))

[ -n "$OUT" ] || OUT="${TMPDIR:-/tmp}/vpnd-bench-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
SAMPLES="$OUT/samples.tsv"
printf 'run\tsetup\tmetric\tvalue\n' >"$SAMPLES"

# ------------------------------------------------------------------------ topology
# a 198.51.100.1 ──veth── b 198.51.100.2. Tunnels: wireguard-go 10.98.0.1 - 10.98.0.2,
# vpnd 10.99.0.1 - 10.99.0.2, both MTU 1420. Both daemons run side by side for the
# whole run (an idle tunnel costs nothing), so a round needs no restarts.
UL_A=198.51.100.1 UL_B=198.51.100.2
WG_A=10.98.0.1 WG_B=10.98.0.2 WG_PORT=51820
VP_A=10.99.0.1 VP_B=10.99.0.2 VP_PORT=51830
declare -A DST=([veth]=$UL_B [wireguard-go]=$WG_B [vpnd]=$VP_B)
declare -A DPIDS=() # setup -> "PID_A PID_B" of its daemons
declare -A TUNDEV=([wireguard-go]="wg${VT_ID}" [vpnd]=vpn0) # + a or b for wireguard-go

vt__addns a
vt__addns b
vt__link a eth0 b eth0
vt__addr a eth0 "$UL_A/24"
vt__addr b eth0 "$UL_B/24"
vt_wait 10 "underlay ping" vt_q vt_in a ping -c 1 -W 1 -q "$UL_B" || vt_fail "the veth pair does not carry a ping"

# key pairs made with wg, which both daemons read (WireGuard's key encoding).
gen_keys() { # gen_keys NAME: $VT_TMP/NAME.key (0600) and .pub
	(umask 077 && wg genkey >"$VT_TMP/$1.key")
	wg pubkey <"$VT_TMP/$1.key" >"$VT_TMP/$1.pub"
}

start_wireguard_go() {
	local s dev peer peer_ul peer_wg me_wg
	for s in a b; do
		gen_keys "wg-$s"
	done
	for s in a b; do
		dev="wg${VT_ID}$s" # /var/run/wireguard/DEV.sock is shared by all namespaces
		if [ $s = a ]; then peer=b peer_ul=$UL_B peer_wg=$WG_B me_wg=$WG_A; else
			peer=a peer_ul=$UL_A peer_wg=$WG_A me_wg=$WG_B; fi
		rm -f "/var/run/wireguard/$dev.sock"
		vt_bg ip netns exec "$(vt_ns $s)" env WG_PROCESS_FOREGROUND=1 LOG_LEVEL=error \
			wireguard-go -f "$dev" </dev/null >>"$VT_TMP/wireguard-go-$s.log" 2>&1
		DPIDS[wireguard-go]+="$VT_BGPID "
		WG_DEVS+=("$dev")
		vt_wait 10 "wireguard-go in $s" eval "[ -S /var/run/wireguard/$dev.sock ]" ||
			vt_fail "wireguard-go did not start in $s"
		vt_in $s wg set "$dev" private-key "$VT_TMP/wg-$s.key" listen-port $WG_PORT \
			peer "$(cat "$VT_TMP/wg-$peer.pub")" endpoint "$peer_ul:$WG_PORT" \
			allowed-ips "$peer_wg/32" || vt_fail "$s: wg set"
		ip -n "$(vt_ns $s)" addr add "$me_wg/24" dev "$dev"
		ip -n "$(vt_ns $s)" link set "$dev" mtu 1420 up
	done
}

start_vpnd() {
	local s conf peer peer_ul peer_vp me_vp
	for s in a b; do
		gen_keys "vpnd-$s"
	done
	for s in a b; do
		conf="$VT_TMP/vpnd-$s.conf"
		if [ $s = a ]; then peer=b peer_ul=$UL_B peer_vp=$VP_B me_vp=$VP_A; else
			peer=a peer_ul=$UL_A peer_vp=$VP_A me_vp=$VP_B; fi
		cat >"$conf" <<-EOF
			# netns-tests/bench: vpnd in namespace $s
			interface = "vpn0"
			private-key-file = "$VT_TMP/vpnd-$s.key"
			listen-port = $VP_PORT
			address = {"$me_vp/24"}
			mtu = 1420
			control-socket = "$VT_TMP/vpnd-$s.sock"
			uapi = false
			audit-log = "$VT_TMP/vpnd-$s.audit"
			$(printf '%s\n' "${VPND_CONF[@]}")
			peer "$peer" {
			    public-key = "$(cat "$VT_TMP/vpnd-$peer.pub")"
			    endpoint = "$peer_ul:$VP_PORT"
			    allowed-ips = {"$peer_vp/32"}
			}
		EOF
		vt_bg ip netns exec "$(vt_ns $s)" "$VPND" -c "$conf" </dev/null >>"$VT_TMP/vpnd-$s.log" 2>&1
		DPIDS[vpnd]+="$VT_BGPID "
		vt_wait 20 "vpnd in $s: vpn0 up" \
			eval "vt_alive $VT_BGPID && ip -n $(vt_ns $s) link show vpn0 2>/dev/null | grep -q '[<,]UP[,>]'" ||
			{ tail -n 20 "$VT_TMP/vpnd-$s.log"; vt_fail "vpnd did not come up in $s"; }
	done
}

WG_DEVS=()
bench_cleanup() {
	local d
	for d in "${WG_DEVS[@]}"; do rm -f "/var/run/wireguard/$d.sock"; done
}
trap 'rc=$?; bench_cleanup; (exit $rc); vt__on_exit' EXIT

want wireguard-go && start_wireguard_go
want vpnd && start_vpnd
for s in "${SETUPS[@]}"; do
	# The first packets start the handshake; a tunnel is ready when a ping crosses it.
	vt_wait 20 "$s carries a ping" vt_q vt_in a ping -c 1 -W 1 -q "${DST[$s]}" ||
		vt_fail "$s: no ping through to ${DST[$s]}"
	vt_log "$s ready (${DST[$s]}${DPIDS[$s]:+, daemons ${DPIDS[$s]}})"
done

# ----------------------------------------------------------------------- measuring

sample() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$SAMPLES"; }

# cpu_ticks SETUP: utime + stime, in clock ticks, of both daemons of SETUP (threads included).
cpu_ticks() {
	local pid t=0 f
	for pid in ${DPIDS[$1]:-}; do
		# Fields after the ")" that ends the command name: utime is 12th, stime 13th.
		f=$(sed 's/.*) //' "/proc/$pid/stat") || vt_fail "$1: daemon $pid is gone"
		t=$((t + $(awk '{ print $12 + $13 }' <<<"$f")))
	done
	echo "$t"
}

# iperf3_run OUTFILE CLIENT-ARGS...: a one-off server in b, the client in a; JSON to OUTFILE.
iperf3_run() {
	local out=$1 spid i
	shift
	vt_bg ip netns exec "$(vt_ns b)" iperf3 -s -1 -p 5201 </dev/null >>"$VT_TMP/iperf3-server.out" 2>&1
	spid=$VT_BGPID
	vt_wait 10 "iperf3 server" vt_port_listening b 5201 || vt_fail "iperf3 server did not start"
	for i in 1 2 3; do
		if timeout $((TCP_SECS + UDP_SECS + 30)) ip netns exec "$(vt_ns a)" \
			iperf3 -p 5201 -J "$@" </dev/null >"$out" 2>>"$VT_TMP/iperf3-client.out"; then
			vt_reap "$spid" 10 >/dev/null || true
			return 0
		fi
		vt_log "iperf3 $* failed (try $i): $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("error","?"))' "$out" 2>/dev/null)"
		sleep 1
	done
	vt_bg_stop "$spid"
	return 1
}

# json_get FILE EXPR: EXPR over the iperf3 JSON as d.
json_get() {
	python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

measure() { # measure RUN SETUP
	local r=$1 s=$2 dst=${DST[$2]} f t0 t1 line sz
	f="$OUT/raw/$r-$s"
	mkdir -p "$OUT/raw"

	# RTT first, while nothing else has run for a while.
	ip netns exec "$(vt_ns a)" ping -c "$PINGS" -i 0.01 -q "$dst" >"$f-ping.txt" 2>&1 || true
	line=$(sed -n 's|^rtt min/avg/max/mdev = \([0-9.]*\)/\([0-9.]*\)/.*|\2|p' "$f-ping.txt")
	[ -n "$line" ] || vt_fail "$s: ping gave no RTT: $(tail -n 2 "$f-ping.txt")"
	sample "$r" "$s" rtt_ms "$line"

	t0=$(cpu_ticks "$s")
	iperf3_run "$f-tcp1.json" -c "$dst" -t "$TCP_SECS" || vt_fail "$s: iperf3 TCP"
	t1=$(cpu_ticks "$s")
	sample "$r" "$s" tcp1_mbps "$(json_get "$f-tcp1.json" 'd["end"]["sum_received"]["bits_per_second"] / 1e6')"
	if [ -n "${DPIDS[$s]:-}" ]; then
		sample "$r" "$s" cpu_s_per_gbit "$(json_get "$f-tcp1.json" \
			"($t1 - $t0) / $(getconf CLK_TCK) / (d['end']['sum_received']['bytes'] * 8 / 1e9)")"
	fi

	iperf3_run "$f-tcp4.json" -c "$dst" -t "$TCP_SECS" -P 4 || vt_fail "$s: iperf3 TCP -P 4"
	sample "$r" "$s" tcp4_mbps "$(json_get "$f-tcp4.json" 'd["end"]["sum_received"]["bits_per_second"] / 1e6')"

	for sz in $UDP_SIZES; do
		# As fast as iperf3 can send; what counts is what arrives. The server's
		# totals come back in the client's end.sum.
		iperf3_run "$f-udp$sz.json" -c "$dst" -u -b 0 -l $((sz - 28)) -t "$UDP_SECS" ||
			vt_fail "$s: iperf3 UDP $sz"
		sample "$r" "$s" "udp${sz}_kpps" "$(json_get "$f-udp$sz.json" \
			'(d["end"]["sum"]["packets"] - d["end"]["sum"]["lost_packets"]) / d["end"]["sum"]["seconds"] / 1e3')"
	done
	vt_log "round $r, $s: $(awk -F'\t' -v r="$r" -v s="$s" '$1 == r && $2 == s { printf "%s=%.3g ", $3, $4 }' "$SAMPLES")"
}

{
	echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "command: $0 --runs $RUNS --tcp-seconds $TCP_SECS --udp-seconds $UDP_SECS --pings $PINGS --udp-sizes '$UDP_SIZES' --only $ONLY"
	echo "nproc: $(nproc)"
	echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
	echo "kernel: $(uname -r)"
	echo "iperf3: $(iperf3 --version | head -n 1)"
	if want wireguard-go; then echo "wireguard-go: $(wireguard-go --version | head -n 1)"; fi
	if want vpnd; then
		echo "vpnd: $VPND (source: $(git -C "$(dirname "$VPND")" describe --always --dirty 2>/dev/null || echo 'not a git tree'))"
		[ ${#VPND_CONF[@]} = 0 ] || echo "vpnd config lines: ${VPND_CONF[*]}"
	fi
	echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT/meta.txt"

for r in $(seq 1 "$RUNS"); do
	echo "load round $r: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/meta.txt"
	for s in "${SETUPS[@]}"; do
		measure "$r" "$s"
	done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/meta.txt"

# ------------------------------------------------------------------------- profile

# tun_packets SETUP: packets through the TUN devices of both ends, both directions.
tun_packets() {
	local s dev t=0
	for s in a b; do
		dev=${TUNDEV[$1]}
		[ "$1" != wireguard-go ] || dev+=$s
		t=$((t + $(ip -n "$(vt_ns $s)" -s -j link show dev "$dev" | python3 -c '
import json, sys
st = json.load(sys.stdin)[0]["stats64"]
print(st["rx"]["packets"] + st["tx"]["packets"])')))
	done
	echo "$t"
}

# The system calls a userspace tunnel may make per packet; those this kernel traces.
SYSCALLS="read write readv writev sendmsg recvmsg sendmmsg recvmmsg sendto recvfrom
	epoll_wait epoll_pwait epoll_pwait2 timerfd_settime futex nanosleep clock_gettime
	sched_yield tgkill getpid rt_sigreturn madvise mmap munmap"
trace_events() {
	local n dir ev=raw_syscalls:sys_enter,context-switches
	for dir in /sys/kernel/tracing/events/syscalls /sys/kernel/debug/tracing/events/syscalls; do
		[ -d "$dir" ] && break
	done
	for n in $SYSCALLS; do
		[ ! -d "$dir/sys_enter_$n" ] || ev+=",syscalls:sys_enter_$n"
	done
	echo "$ev"
}

# profile SETUP: one more single-stream TCP run, its daemons under perf stat and perf
# record (separate from the rounds: tracing costs throughput).
profile() {
	local s=$1 pids f p0 p1 stat_pid rec_pid
	pids=${DPIDS[$s]% }
	pids=${pids// /,}
	f="$OUT/profile-$s"
	p0=$(tun_packets "$s")
	vt_bg perf stat -x ';' -e "$(trace_events)" -p "$pids" -o "$f.stat" </dev/null >/dev/null 2>&1
	stat_pid=$VT_BGPID
	vt_bg perf record -q -F 999 -p "$pids" -o "$f.data" </dev/null >/dev/null 2>"$f.record.err"
	rec_pid=$VT_BGPID
	sleep 0.5 # perf attaches to every thread before the traffic starts
	iperf3_run "$f-tcp1.json" -c "${DST[$s]}" -t "$TCP_SECS" || vt_fail "$s: iperf3 under perf"
	kill -INT "$stat_pid" "$rec_pid" 2>/dev/null || true
	vt_reap "$stat_pid" 20 || true
	vt_reap "$rec_pid" 60 || true
	p1=$(tun_packets "$s")
	{
		echo "# $s: one single-stream TCP run of ${TCP_SECS} s under perf (not a measurement round)"
		echo "# throughput: $(json_get "$f-tcp1.json" '"%.0f Mbit/s" % (d["end"]["sum_received"]["bits_per_second"] / 1e6)')"
		# Each inner packet passes a TUN device twice: read at one end, written at the other.
		echo "# inner packets (TUN packets of both ends / 2, both directions): $(((p1 - p0) / 2))"
		echo "# system calls of both daemons together: total, and per inner packet"
		awk -F';' -v n=$(((p1 - p0) / 2)) '$1 ~ /^[0-9]+$/ && $1 > 0 {
			sub(/^syscalls:sys_enter_/, "", $3)
			printf "%-28s %12d %8.3f\n", $3, $1, n ? $1 / n : 0 }' "$f.stat"
		echo
		echo "# where the daemons' CPU time goes (perf record -F 999), by object, then by symbol;"
		echo "# the tracing above adds its own kernel time (perf_* symbols)"
		perf report -i "$f.data" --stdio --no-children --sort dso 2>/dev/null |
			grep -v '^#' | grep -v '^$' | head -n 8
		echo
		perf report -i "$f.data" --stdio --no-children --sort dso,sym --percent-limit 0.7 2>/dev/null |
			grep -v '^#' | grep -v '^$' | head -n 40
	} >"$f.txt"
	vt_log "$s: profile in $f.txt"
}

if [ "$PROFILE" = 1 ]; then
	for s in "${SETUPS[@]}"; do
		[ -z "${DPIDS[$s]:-}" ] || profile "$s"
	done
fi

python3 "$BENCH_DIR/report.py" "$OUT" || vt_fail "report.py failed"
vt_log "results in $OUT"
