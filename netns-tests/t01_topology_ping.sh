#!/bin/bash
# t01: with vpnd in hq, br1 and br2 (a full mesh, br2 behind NAT), every site's LAN host
# pings every other site's LAN host over IPv4.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
vt_init 180
vt_need_vpnd
vt_topology
vt_keys
vt_mesh_up

# br2 is behind the NAT: hq and br1 learn its endpoint only once it has talked to them,
# so the pairs from br2 come first.
for pair in "br2 hq" "br2 br1" "br1 hq" "hq br1" "hq br2" "br1 br2"; do
	set -- $pair
	vt_wait_lan_ping "$1" "$2" 4 30 || vt_fail "$1-lan cannot ping $2-lan"
	vt_ping_lossless "$1" "$2" 4 5 0.2 || vt_fail "$1-lan -> $2-lan lost pings"
	vt_pass "$1-lan -> $2-lan"
done

for s in hq br1 br2; do
	n=$(vt_json "$s" 'sum(1 for p in d["peers"] if p["handshakes"] >= 1)')
	[ "$n" = 2 ] || vt_fail "$s: $n of 2 peers had a handshake"
	st=$(vt_json "$s" '" ".join(p["state"] for p in d["peers"])')
	[ "$st" = "up up" ] || vt_fail "$s: peer states '$st', expected 'up up'"
done
vt_pass "every site has a session with both others"
