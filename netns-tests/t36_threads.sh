#!/bin/bash
# t36: the crypto worker threads (config `threads`). With `threads = 1` vpnd runs no
# worker and TCP passes; with `threads = 2` each daemon runs exactly one worker
# (WG_POOL_THREAD_NAME, "wg-crypto"), TCP passes both ways byte-identical, the worker
# really did part of the work (its CPU time grew during the transfer), and it runs under
# a seccomp filter of its own (Seccomp: 2, one filter more than the main thread).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
vt_init 120
vt_need_vpnd
vt_topology
vt_keys

# workers SITE: the thread ids of SITE's daemon's crypto workers, one per line
workers() {
	local pid=${VT_PID[$1]} t
	for t in /proc/"$pid"/task/*; do
		[ "$(cat "$t/comm" 2>/dev/null)" = wg-crypto ] && echo "${t##*/}"
	done
	return 0
}

# status_field PID TID FIELD: a value from /proc/PID/task/TID/status
status_field() {
	awk -v f="$3:" '$1 == f {print $2}' "/proc/$1/task/$2/status"
}

# cpu_ns SITE: nanoseconds on CPU of all of SITE's workers together
cpu_ns() {
	local pid=${VT_PID[$1]} tid sum=0 ns
	for tid in $(workers "$1"); do
		read -r ns _ <"/proc/$pid/task/$tid/schedstat"
		sum=$((sum + ns))
	done
	echo "$sum"
}

run_with() {
	VT_EXTRA_CONF[hq]="threads = $1"
	VT_EXTRA_CONF[br1]="threads = $1"
	vt_mesh_up hq br1
	vt_wait_lan_ping br1 hq 4 30 || vt_fail "threads = $1: br1-lan cannot ping hq-lan"
}

# ---- threads = 1: no worker
run_with 1
for s in hq br1; do
	n=$(workers "$s" | wc -l)
	[ "$n" -eq 0 ] || vt_fail "threads = 1, yet $s runs $n crypto workers"
	grep -q "transport crypto on 1 thread" "$(vt_logfile "$s")" ||
		vt_fail "$s did not log its thread count"
done
vt_tcp_xfer br1 hq $((16 * 1024 * 1024)) 4 || vt_fail "threads = 1: TCP br1-lan -> hq-lan"
vt_pass "threads = 1: no worker thread, 16 MB TCP byte-identical"
vt_stop hq
vt_stop br1

# ---- threads = 2: one confined worker each, and it works
run_with 2
declare -A before
for s in hq br1; do
	pid=${VT_PID[$s]}
	mapfile -t tids < <(workers "$s")
	[ "${#tids[@]}" -eq 1 ] || vt_fail "threads = 2, yet $s runs ${#tids[@]} crypto workers"
	tid=${tids[0]}
	mode=$(status_field "$pid" "$tid" Seccomp)
	filters=$(status_field "$pid" "$tid" Seccomp_filters)
	main_filters=$(status_field "$pid" "$pid" Seccomp_filters)
	[ "$mode" = 2 ] || vt_fail "$s: worker $tid has Seccomp: $mode, not 2 (filter)"
	[ "$filters" -eq $((main_filters + 1)) ] ||
		vt_fail "$s: worker $tid has $filters seccomp filters, the main thread $main_filters"
	vt_log "$s: worker $tid, Seccomp $mode, filters $filters (main thread $main_filters)"
	before[$s]=$(cpu_ns "$s")
done
vt_pass "threads = 2: one worker per daemon, under its own seccomp filter"
vt_tcp_xfer br1 hq $((32 * 1024 * 1024)) 4 || vt_fail "threads = 2: TCP br1-lan -> hq-lan"
vt_tcp_xfer hq br1 $((32 * 1024 * 1024)) 6 || vt_fail "threads = 2: TCP hq-lan -> br1-lan"
for s in hq br1; do
	used=$(($(cpu_ns "$s") - ${before[$s]}))
	vt_log "$s: the worker ran ${used} ns during the transfers"
	[ "$used" -gt 0 ] || vt_fail "$s: the crypto worker never ran during 64 MB of TCP"
done
vt_pass "threads = 2: 32 MB TCP each way byte-identical, with the workers sharing the crypto"
