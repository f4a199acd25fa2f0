#!/bin/bash
# t34: the fast path and the switch that turns it off. With offloads on (the default),
# TCP in both directions and families arrives byte-identical while the TUN really hands
# vpnd super-packets (TSO) and the receiving side really gets merged UDP buffers (GRO);
# UDP datagrams whose checksum the kernel left to us arrive (a wrong checksum would be
# dropped by the receiver's stack). With `offload = false` the same traffic passes and
# no super-packet is seen.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
vt_init 240
vt_need_vpnd
vt_topology
vt_keys

UDP_PY="$(dirname "${BASH_SOURCE[0]}")/tools/udp.py"

# metric SITE NAME: the value of an interface-wide counter from vpnctl metrics
metric() {
	local all
	all=$(vt_ctl "$1" metrics) || vt_fail "$1: vpnctl metrics failed"
	awk -v m="$2" '$1 ~ "^"m"[{]" {print $2; exit}' <<<"$all"
}

# udp_check FROM TO FAMILY: 300 datagrams from FROM's LAN host all reach TO's LAN host
udp_check() {
	local from=$1 to=$2 fam=$3 out="$VT_TMP/udp-$1-$2-$3.txt" dst got
	dst=$(vt_host "$to" "$fam")
	rm -f "$out"
	vt_bg ip netns exec "$(vt_ns "$to-lan")" python3 "$UDP_PY" sink --port 6000 \
		--out "$out" --bind "$([ "$fam" = 6 ] && echo :: || echo 0.0.0.0)" --timeout 30
	local pid=$VT_BGPID
	vt_wait 10 "UDP sink in $to-lan" vt_port_listening "$to-lan" 6000 udp ||
		vt_fail "UDP sink did not start"
	ip netns exec "$(vt_ns "$from-lan")" python3 "$UDP_PY" send --dst "$dst" --port 6000 \
		--count 300 --prefix "offload-$fam" --gap 1
	vt_wait 10 "300 datagrams at $to-lan" \
		eval '[ "$(wc -l <"'"$out"'")" -ge 300 ]' || true
	got=$(wc -l <"$out")
	vt_bg_stop "$pid"
	[ "$got" -eq 300 ] || vt_fail "UDP IPv$fam $from-lan -> $to-lan: $got of 300 datagrams arrived"
	vt_pass "UDP IPv$fam $from-lan -> $to-lan: 300 of 300 datagrams"
}

traffic() {
	vt_wait_lan_ping br1 hq 4 30 || vt_fail "br1-lan cannot ping hq-lan"
	vt_wait_lan_ping hq br1 6 30 || vt_fail "hq-lan cannot ping br1-lan over IPv6"
	vt_tcp_xfer br1 hq $((16 * 1024 * 1024)) 4 || vt_fail "TCP IPv4 br1-lan -> hq-lan"
	vt_tcp_xfer hq br1 $((16 * 1024 * 1024)) 6 || vt_fail "TCP IPv6 hq-lan -> br1-lan"
	vt_pass "TCP 16 MB each way, IPv4 and IPv6, byte-identical"
	udp_check br1 hq 4
	udp_check hq br1 6
}

# ---- offloads on (the default)
vt_mesh_up hq br1
traffic
super=$(metric br1 vpnd_tun_super_packets_total)
gro=$(metric hq vpnd_udp_gro_buffers_total)
bad=$(metric br1 vpnd_tun_bad_offload_total)
vt_log "offload on: br1 super-packets $super, hq merged UDP buffers $gro, bad offload $bad"
[ "${super:-0}" -gt 0 ] || vt_fail "offload on, yet br1 saw no TSO super-packet"
[ "${gro:-0}" -gt 0 ] || vt_fail "offload on, yet hq received no merged (GRO) UDP buffer"
[ "${bad:-1}" -eq 0 ] || vt_fail "br1 dropped $bad TUN reads with offload headers"
vt_pass "offload on: super-packets and GRO in use"

# ---- offloads off
vt_stop hq
vt_stop br1
VT_EXTRA_CONF[hq]="offload = false"
VT_EXTRA_CONF[br1]="offload = false"
vt_mesh_up hq br1
traffic
super=$(metric br1 vpnd_tun_super_packets_total)
gro=$(metric hq vpnd_udp_gro_buffers_total)
[ "${super:-1}" -eq 0 ] || vt_fail "offload = false, yet br1 cut $super super-packets"
[ "${gro:-1}" -eq 0 ] || vt_fail "offload = false, yet hq got $gro merged UDP buffers"
vt_pass "offload = false: same traffic passes, no super-packet, no merged buffer"
