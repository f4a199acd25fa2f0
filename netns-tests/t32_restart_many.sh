#!/bin/bash
# t32: ten branch daemons (br3..br12, each with its own uplink and LAN) are killed at
# once (SIGKILL) and started again at once; every one reconnects to HQ, which keeps
# running, and each branch's LAN reaches HQ's LAN again. Then the same with a clean stop
# (SIGTERM). Prints how long the last branch took.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
vt_init 150
vt_need_vpnd
vt_topology
vt_extra_branches 10
vt_keys

N=10
LIMIT=10 # seconds from the start of the ten daemons until the last branch's LAN is back
BRANCHES=()
for ((k = 3; k < N + 3; k++)); do BRANCHES+=("br$k"); done

VT_PEERS_OF[hq]="${BRANCHES[*]}"
vt_write_conf hq
vt_start hq
for s in "${BRANCHES[@]}"; do
	vt_write_conf "$s"
	vt_launch "$s"
done
for s in "${BRANCHES[@]}"; do vt_wait_ready "$s" || vt_fail "vpnd in $s did not become ready"; done
for s in "${BRANCHES[@]}"; do
	vt_wait_lan_ping "$s" hq 4 15 || vt_fail "$s-lan cannot reach hq-lan"
done
vt_pass "hq and $N branches up, every branch LAN reaches hq-lan"

# first_answer SITE T0: Unix time of the first answer SITE's LAN probe got after T0.
first_answer() {
	awk -v t0="$2" '/bytes from/ { t = substr($1, 2, length($1) - 2); if (t + 0 > t0 + 0) { print t; exit 0 } }' \
		"$VT_TMP/probe-$1.out" | grep .
}
all_answered() {
	local s
	for s in "${BRANCHES[@]}"; do first_answer "$s" "$1" >/dev/null || return 1; done
}

# restart_all SIGNAL: stop the ten at once with SIGNAL and start them again at once,
# while each one's LAN host pings HQ's five times a second; every LAN must be back.
restart_all() {
	local sig=$1 s t0 dt worst=0 slowest= hs_before hs_after
	declare -A probe=()
	hs_before=$(vt_json hq 'sum(p["handshakes"] for p in d["peers"])')
	for s in "${BRANCHES[@]}"; do kill "-$sig" "${VT_PID[$s]}"; done
	for s in "${BRANCHES[@]}"; do
		vt_reap "${VT_PID[$s]}" 15 || true
		VT_PID[$s]=
	done
	t0=$(date +%s.%N)
	for s in "${BRANCHES[@]}"; do
		vt_bg ip netns exec "$(vt_ns "$s-lan")" ping -D -n -i 0.2 -W 1 -w $((LIMIT + 5)) \
			"${VT_HOST4[hq]}" >"$VT_TMP/probe-$s.out" 2>&1
		probe[$s]=$VT_BGPID
	done
	for s in "${BRANCHES[@]}"; do vt_launch "$s"; done
	for s in "${BRANCHES[@]}"; do
		vt_wait_ready "$s" || vt_fail "SIG$sig: vpnd in $s did not come back"
	done
	vt_wait $((LIMIT + 3)) "every branch LAN answered" all_answered "$t0" || true
	for s in "${BRANCHES[@]}"; do vt_bg_stop "${probe[$s]}"; done
	for s in "${BRANCHES[@]}"; do
		first_answer "$s" "$t0" >/dev/null || vt_fail "SIG$sig: $s-lan never reached hq-lan again"
		dt=$(awk -v a="$t0" -v b="$(first_answer "$s" "$t0")" 'BEGIN { printf "%.2f", b - a }')
		if awk -v d="$dt" -v w="$worst" 'BEGIN { exit !(d > w) }'; then
			worst=$dt
			slowest=$s
		fi
	done
	vt_log "SIG$sig: $N branches restarted at once; the last LAN ($slowest) back $worst s after the start"
	awk -v d="$worst" -v l="$LIMIT" 'BEGIN { exit !(d > l) }' &&
		vt_fail "SIG$sig: $slowest needed $worst s (limit $LIMIT s)"
	hs_after=$(vt_json hq 'sum(p["handshakes"] for p in d["peers"])')
	[ $((hs_after - hs_before)) -ge "$N" ] ||
		vt_fail "SIG$sig: hq completed $((hs_after - hs_before)) handshakes, not at least $N"
	vt_json_true hq 'all(p["state"] == "up" for p in d["peers"])' ||
		vt_fail "SIG$sig: not every branch is up at hq: $(vt_json hq '[(p["name"], p["state"]) for p in d["peers"]]')"
	vt_pass "SIG$sig: all $N branches reconnected ($((hs_after - hs_before)) new handshakes at hq)"
}

restart_all KILL
restart_all TERM
vt_alive_site hq || vt_fail "hq's vpnd died"
