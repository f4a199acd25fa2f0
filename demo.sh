#!/bin/bash
# vpnd demo: build vpnd, then link an HQ and two branch offices (one behind a NAT) in
# network namespaces on this machine, show a branch LAN host pinging a host in HQ's
# LAN through the tunnel, show HQ's `vpnctl show` and `vpnctl status`, and tear
# everything down. Needs root (network namespaces, TUN); touches no real network.
#   ./demo.sh --dot docs/sites.png   also draw HQ's view of the sites (vpnctl show --dot,
#                                    rendered by Graphviz's dot) into that PNG
# DEMO_BUILD_DIR (default build) is the meson build directory it uses.
set -euo pipefail
dot_png=
while [ $# -gt 0 ]; do
	case $1 in
	--dot)
		[ $# -ge 2 ] || { echo "demo.sh: --dot needs a PNG file name" >&2; exit 1; }
		dot_png=$(realpath -m -- "$2")
		shift 2
		;;
	*)
		echo "demo.sh: unknown argument '$1' (usage: demo.sh [--dot PNG])" >&2
		exit 1
		;;
	esac
done
cd "$(dirname "${BASH_SOURCE[0]}")"

if [ "$(id -u)" != 0 ]; then
	echo "demo.sh: needs root (it builds network namespaces and TUN devices)" >&2
	exit 1
fi

echo "### installing build and test dependencies"
bash .ci/install-deps
echo "### building"
build=${DEMO_BUILD_DIR:-build}
[ -f "$build/build.ninja" ] || meson setup "$build"
meson compile -C "$build"

export VPND=$PWD/$build/daemon/vpnd VPNCTL=$PWD/$build/ctl/vpnctl
# shellcheck source=netns-tests/lib.sh
. netns-tests/lib.sh
vt_init 180
vt_need_vpnd

echo "### topology: hq, br1 and br2 (behind NAT) around an 'internet' namespace"
vt_topology
vt_keys
vt_mesh_up

echo
echo "### HQ's configuration ($(vt_conf hq))"
cat "$(vt_conf hq)"

vt_wait_lan_ping br1 hq 4 30 || vt_fail "br1-lan cannot reach hq-lan"
vt_wait_lan_ping br2 hq 4 60 || vt_fail "br2-lan cannot reach hq-lan"

echo
echo "### br1-lan (${VT_HOST4[br1]}) pings hq-lan (${VT_HOST4[hq]}) through the tunnel"
timeout 30 ip netns exec "$(vt_ns br1-lan)" ping -c 3 "${VT_HOST4[hq]}"
echo
echo "### br2-lan (${VT_HOST4[br2]}, behind NAT) pings hq-lan over IPv6 in the tunnel"
timeout 30 ip netns exec "$(vt_ns br2-lan)" ping -6 -c 3 "${VT_HOST6[hq]}"

echo
echo "### vpnctl show at HQ"
vt_ctl hq show
echo
echo "### vpnctl status at HQ (exit status 0: every site up)"
vt_ctl hq status || echo "(exit status $?)"
if [ -n "$dot_png" ]; then
	echo
	echo "### vpnctl show --dot at HQ, drawn by Graphviz into $dot_png"
	vt_ctl hq show --dot | tee "$VT_TMP/hq.dot"
	dot -Tpng -Gdpi=110 -o "$dot_png" "$VT_TMP/hq.dot"
fi
echo
echo "### tearing down"
