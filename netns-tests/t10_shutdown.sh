#!/bin/bash
# t10: SIGTERM (and SIGINT) make vpnd exit 0 after removing its TUN device, the routes
# to its peers' allowed-ips and its control socket.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
vt_init 150
vt_need_vpnd
vt_topology
vt_keys
vt_mesh_up
vt_wait_lan_ping br2 hq 4 30 || vt_fail "br2-lan cannot ping hq-lan"
vt_wait_lan_ping br1 hq 4 30 || vt_fail "br1-lan cannot ping hq-lan"

# check_present SITE: the TUN device, routes through it and the socket are all there.
check_present() {
	local s=$1 ns other
	ns=$(vt_ns "$s")
	ip -n "$ns" link show "$VT_IFNAME" >/dev/null 2>&1 || vt_fail "$s: no $VT_IFNAME while running"
	[ -S "$(vt_sock "$s")" ] || vt_fail "$s: no control socket while running"
	for other in $(vt_peers_of "$s"); do
		ip -n "$ns" route show "${VT_LAN4[$other]}" | grep -q "dev $VT_IFNAME" ||
			vt_fail "$s: no route to ${VT_LAN4[$other]} via $VT_IFNAME while running"
		ip -n "$ns" -6 route show "${VT_LAN6[$other]}" | grep -q "dev $VT_IFNAME" ||
			vt_fail "$s: no route to ${VT_LAN6[$other]} via $VT_IFNAME while running"
	done
}

check_gone() {
	local s=$1 ns other r
	ns=$(vt_ns "$s")
	if ip -n "$ns" link show "$VT_IFNAME" >/dev/null 2>&1; then
		vt_fail "$s: $VT_IFNAME still exists after exit"
	fi
	[ ! -e "$(vt_sock "$s")" ] || vt_fail "$s: control socket $(vt_sock "$s") left behind"
	r=$(ip -n "$ns" route; ip -n "$ns" -6 route)
	for other in $(vt_peers_of "$s"); do
		for a in $(vt_peer_allowed "$other"); do
			if grep -q "^$a " <<<"$r"; then vt_fail "$s: route to $a left behind"; fi
		done
	done
	if grep -q "$VT_IFNAME" <<<"$r"; then vt_fail "$s: routes via $VT_IFNAME left: $r"; fi
	vt_pass "$s: TUN, routes and socket removed"
}

for s in hq br1 br2; do check_present "$s"; done

rc=0
vt_stop hq || rc=$?
[ "$rc" = 0 ] || vt_fail "hq: vpnd exited with status $rc after SIGTERM"
check_gone hq

pid=${VT_PID[br1]}
kill -INT "$pid"
rc=0
vt_reap "$pid" 15 || rc=$?
VT_PID[br1]=
[ "$rc" = 0 ] || vt_fail "br1: vpnd exited with status $rc after SIGINT"
check_gone br1

rc=0
vt_stop br2 || rc=$?
[ "$rc" = 0 ] || vt_fail "br2: vpnd exited with status $rc after SIGTERM"
check_gone br2

# The site comes back cleanly in the same namespace.
vt_start hq
check_present hq
vt_stop hq || vt_fail "hq: second run exited with $?"
check_gone hq
