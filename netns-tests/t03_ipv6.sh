#!/bin/bash
# t03: IPv6 inside the tunnel (LAN to LAN ping and TCP), first over the IPv4 underlay,
# then with every endpoint an IPv6 address ([fd00:…]:port).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
vt_init 240
vt_need_vpnd
vt_topology
vt_keys

# vt_check_v6_mesh WHAT: IPv6 pings between every pair of LANs, and TCP over IPv6.
vt_check_v6_mesh() {
	local what=$1 from to
	while read -r from to; do
		vt_wait_lan_ping "$from" "$to" 6 30 || vt_fail "$from-lan cannot ping6 $to-lan ($what)"
		vt_ping_lossless "$from" "$to" 6 5 0.2 ||
			vt_fail "$from-lan -> $to-lan (IPv6) lost pings ($what)"
	done <<-'PAIRS'
		br2 hq
		br2 br1
		br1 hq
		hq br1
		hq br2
		br1 br2
	PAIRS
	vt_tcp_xfer br1 hq $((4 * 1024 * 1024)) 6 || vt_fail "TCP over IPv6 br1-lan -> hq-lan ($what)"
	vt_tcp_xfer hq br2 $((4 * 1024 * 1024)) 6 || vt_fail "TCP over IPv6 hq-lan -> br2-lan ($what)"
}

VT_UNDERLAY=4
vt_mesh_up
vt_check_v6_mesh "IPv4 underlay"
vt_pass "IPv6 in the tunnel over the IPv4 underlay"
for s in hq br1 br2; do vt_stop "$s" || vt_fail "$s: vpnd exited with $?"; done

VT_UNDERLAY=6
vt_mesh_up
grep -q 'endpoint = "\[fd00:1::2\]:51820"' "$(vt_conf br1)" || vt_fail "config lacks IPv6 endpoint"
vt_check_v6_mesh "IPv6 underlay"
for pair in "br1 hq" "hq br2" "br2 br1"; do
	set -- $pair
	vt_wait_lan_ping "$1" "$2" 4 20 || vt_fail "$1-lan cannot ping $2-lan (IPv4 over IPv6 underlay)"
done
ep=$(vt_json hq 'peer("br1")["endpoint"]')
case $ep in
"[fd00:2::2]:51821" | "fd00:2::2:51821") ;;
*) vt_fail "hq: br1's endpoint is '$ep', expected [fd00:2::2]:51821" ;;
esac
ep=$(vt_json hq 'peer("br2")["endpoint"]')
case $ep in
"[fd00:4::2]:"* | "fd00:4::2:"*) ;;
*) vt_fail "hq: br2's endpoint is '$ep', expected [fd00:4::2]:PORT" ;;
esac
vt_pass "IPv6 and IPv4 in the tunnel over the IPv6 underlay (hq sees br2 at $ep)"
