#!/bin/bash
# t17: started as systemd starts vpnd@.service (Type=notify: NOTIFY_SOCKET set, stderr the
# journal stream JOURNAL_STREAM names), vpnd tells the service manager READY=1 only once
# its TUN device is up and its control socket answers; RELOADING=1 with MONOTONIC_USEC
# and then READY=1 around every reload, by SIGHUP or vpnctl, refused ones included;
# STOPPING=1 at SIGTERM; each with a one-line STATUS. Every log line starts with its
# syslog priority as "<N>", for journald.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
vt_init 120
vt_need_vpnd
vt_topology
vt_keys
vt_write_conf hq
conf=$(vt_conf hq)
log=$(vt_logfile hq)
ns=$(vt_ns hq)

nsock=$VT_TMP/notify.sock
nout=$VT_TMP/notify.out # dumped on failure
: >"$nout"
vt_bg "$VT_PY" "$VT_TOOLS/sd_notify.py" "$nsock" "$nout" --timeout 110
vt_wait 10 "the notify socket" test -S "$nsock" || vt_fail "sd_notify.py did not bind $nsock"

# The first field of every datagram so far, in order ("READY=1 RELOADING=1 ...").
states() { awk -F'\t' '{ printf "%s%s", (NR > 1 ? " " : ""), $2 }' "$nout"; }
datagrams() { wc -l <"$nout"; }
# field N KEY: the value of KEY= in datagram N (1-based), empty if absent.
field() {
	awk -F'\t' -v n="$1" -v k="$2=" 'NR == n { for (i = 2; i <= NF; i++)
		if (index($i, k) == 1) print substr($i, length(k) + 1) }' "$nout"
}
received_at() { awk -F'\t' -v n="$1" 'NR == n { print $1 }' "$nout"; }

states_are() { [ "$(states)" = "$1" ]; }
# expect_states WHAT SEQUENCE: wait until the datagrams are exactly SEQUENCE.
expect_states() {
	local want=$2
	vt_wait 15 "$1" states_are "$want" ||
		vt_fail "$1: the service manager got '$(states)', expected '$want'"
}

# A reload's datagrams, N and N+1: RELOADING=1 with the time it began, then READY=1.
check_reload() {
	local n=$1 status=$2 usec at
	usec=$(field "$n" MONOTONIC_USEC)
	at=$(received_at "$n")
	[[ "$usec" =~ ^[0-9]+$ ]] || vt_fail "RELOADING=1 without MONOTONIC_USEC (got '$usec')"
	# The sender's CLOCK_MONOTONIC, a moment before our receipt.
	((usec <= at && at - usec < 5000000)) ||
		vt_fail "MONOTONIC_USEC=$usec is not the time of the reload (received at $at)"
	[ "$(field "$n" STATUS)" = "reloading the configuration" ] ||
		vt_fail "RELOADING=1 status: '$(field "$n" STATUS)'"
	[ "$(field $((n + 1)) STATUS)" = "$status" ] ||
		vt_fail "READY=1 after the reload: status '$(field $((n + 1)) STATUS)', expected '$status'"
}

# Started as systemd would: stderr is the journal stream, identified by device:inode.
: >"$log"
jstream=$(stat -c '%d:%i' "$log")
NOTIFY_SOCKET=$nsock JOURNAL_STREAM=$jstream ip netns exec "$ns" "$VPND" -c "$conf" \
	</dev/null >>"$log" 2>&1 &
VT_PID[hq]=$!
VT_KIND[hq]=vpnd

expect_states "startup" "READY=1"
# READY=1 promised that everything is up: check once, without waiting.
timeout 5 "$VPNCTL" -s "$(vt_sock hq)" show --json >/dev/null ||
	vt_fail "READY=1 was sent, but the control socket does not answer"
ip -n "$ns" link show "$VT_IFNAME" | grep -q '[<,]UP[,>]' ||
	vt_fail "READY=1 was sent, but $VT_IFNAME is not up"
want="$VT_IFNAME: listening on UDP port ${VT_PORT[hq]}, 2 peers"
[ "$(field 1 STATUS)" = "$want" ] || vt_fail "READY=1 status '$(field 1 STATUS)', expected '$want'"
vt_pass "READY=1 once up: $want"

kill -HUP "${VT_PID[hq]}"
expect_states "reload by SIGHUP" "READY=1 RELOADING=1 READY=1"
check_reload 2 "$VT_IFNAME: reload applied, 2 peers"
vt_pass "SIGHUP: RELOADING=1 (MONOTONIC_USEC=$(field 2 MONOTONIC_USEC)), then READY=1"

# A refused reload ends in READY=1 too: the old configuration runs on.
cp "$conf" "$conf.good"
echo "mtu = 100" >>"$conf"
if vt_ctl hq reload >/dev/null 2>&1; then vt_fail "vpnctl reload accepted mtu = 100"; fi
expect_states "refused reload" "READY=1 RELOADING=1 READY=1 RELOADING=1 READY=1"
check_reload 4 "$VT_IFNAME: reload refused, running configuration kept"
vt_pass "refused reload: RELOADING=1, then READY=1 with the refusal"

# An applied reload by vpnctl (what systemctl reload runs), with one peer fewer.
VT_PEERS_OF[hq]=br1
vt_write_conf hq
vt_ctl hq reload >/dev/null || vt_fail "vpnctl reload refused a good config"
expect_states "reload by vpnctl" "READY=1 RELOADING=1 READY=1 RELOADING=1 READY=1 RELOADING=1 READY=1"
check_reload 6 "$VT_IFNAME: reload applied, 1 peer"
vt_pass "vpnctl reload: RELOADING=1, then READY=1"

rc=0
vt_stop hq || rc=$?
[ "$rc" = 0 ] || vt_fail "vpnd exited with status $rc after SIGTERM"
expect_states "shutdown" "READY=1 RELOADING=1 READY=1 RELOADING=1 READY=1 RELOADING=1 READY=1 STOPPING=1"
[ "$(field 8 STATUS)" = "$VT_IFNAME: shutting down" ] ||
	vt_fail "STOPPING=1 status: '$(field 8 STATUS)'"
vt_pass "SIGTERM: STOPPING=1, exit 0"

# Every log line went to the "journal" with a priority journald understands.
grep -q "^<5>$VT_IFNAME up: " "$log" || vt_fail "no '<5>$VT_IFNAME up: ...' line in the log"
grep -q '^<3>reload refused' "$log" || vt_fail "no '<3>reload refused ...' line in the log"
if grep -vqE '^<[0-7]>[^<]' "$log"; then
	vt_fail "log lines without a priority prefix: $(grep -vE '^<[0-7]>' "$log" | head -3)"
fi
vt_pass "$(wc -l <"$log") log lines, each with its <N> priority"
