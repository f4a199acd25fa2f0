#!/bin/bash
# t19: HQ relays between branches inside vpnd. The branches peer only with HQ and list the
# other branch's LAN under their HQ peer; HQ's kernel does not forward at all (IPv4 and
# IPv6 forwarding off, shown by hq-lan no longer reaching the internet through HQ). Yet
# br1-lan and br2-lan reach each other both ways, IPv4 and IPv6, and TCP arrives intact;
# HQ counts the packets it relayed, and its TUN device never saw them.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
vt_init 120
vt_need_vpnd
vt_topology
vt_keys

# Kernel forwarding off in HQ's namespace (vt_topology made every gateway a router).
vt_in hq sysctl -qw net.ipv4.ip_forward=0 net.ipv6.conf.all.forwarding=0 ||
	vt_fail "cannot turn forwarding off in hq"
[ "$(vt_in hq sysctl -n net.ipv4.ip_forward)" = 0 ] &&
	[ "$(vt_in hq sysctl -n net.ipv6.conf.all.forwarding)" = 0 ] ||
	vt_fail "hq: forwarding sysctls are not 0"
# The sysctls are not just set, they act: hq-lan's packets to the internet side of HQ's
# uplink would need HQ to forward them.
! vt_q vt_in hq-lan ping -c 1 -W 1 -q 198.51.100.1 ||
	vt_fail "hq-lan reached 198.51.100.1 through hq: IPv4 forwarding is on"
! vt_q vt_in hq-lan ping -6 -c 1 -W 1 -q fd00:1::1 ||
	vt_fail "hq-lan reached fd00:1::1 through hq: IPv6 forwarding is on"
vt_pass "hq: IPv4 and IPv6 forwarding off (hq-lan cannot get past hq)"

# Branches talk to HQ only; the other branch's LAN is reached through it.
VT_PEERS_OF[br1]=hq
VT_PEERS_OF[br2]=hq
VT_OVR_ALLOWED[br1/hq]="$(vt_peer_allowed hq) ${VT_LAN4[br2]} ${VT_LAN6[br2]}"
VT_OVR_ALLOWED[br2/hq]="$(vt_peer_allowed hq) ${VT_LAN4[br1]} ${VT_LAN6[br1]}"
vt_mesh_up

# hq_tun_packets: packets that crossed HQ's TUN device, either way.
hq_tun_packets() {
	vt_in hq cat "/sys/class/net/$VT_IFNAME/statistics/rx_packets" \
		"/sys/class/net/$VT_IFNAME/statistics/tx_packets" | awk '{ n += $1 } END { print n }'
}
relayed() { vt_json hq "peer('$1')['relayed_packets']"; }

vt_wait_lan_ping br1 br2 4 20 || vt_fail "br1-lan cannot reach br2-lan through hq"
vt_wait_lan_ping br2 br1 4 10 || vt_fail "br2-lan cannot reach br1-lan through hq"
vt_pass "br1-lan <-> br2-lan through hq (IPv4)"

tun0=$(hq_tun_packets)
r1=$(relayed br1)
r2=$(relayed br2)
vt_ping_lossless br1 br2 4 20 0.05 || vt_fail "br1-lan -> br2-lan lost pings"
vt_ping_lossless br2 br1 4 20 0.05 || vt_fail "br2-lan -> br1-lan lost pings"
vt_ping_lossless br1 br2 6 10 0.05 || vt_fail "br1-lan -> br2-lan lost IPv6 pings"
vt_ping_lossless br2 br1 6 10 0.05 || vt_fail "br2-lan -> br1-lan lost IPv6 pings"
d1=$(($(relayed br1) - r1))
d2=$(($(relayed br2) - r2))
# Each of the 60 exchanges is a request one way and a reply the other.
[ "$d1" -ge 60 ] && [ "$d2" -ge 60 ] ||
	vt_fail "hq relayed $d1 packets from br1 and $d2 from br2, expected >= 60 each"
tun=$(($(hq_tun_packets) - tun0))
[ "$tun" -lt 10 ] || vt_fail "$tun packets crossed hq's TUN during 120 relayed ones"
vt_pass "hq relayed $d1 packets from br1 and $d2 from br2; its TUN saw $tun"

vt_tcp_xfer br1 br2 300000 || vt_fail "TCP br1-lan -> br2-lan through hq"
vt_tcp_xfer br2 br1 300000 6 || vt_fail "TCP br2-lan -> br1-lan through hq (IPv6)"

# The TTL goes down in hq as in a router: br1-lan -> br2 gateway (1 hop) -> br2-lan (2).
ttl=$(vt_in br2-lan ping -c 1 -W 2 "${VT_HOST4[br1]}" | sed -n 's/.*ttl=\([0-9]*\).*/\1/p')
[ "$ttl" = 61 ] || vt_fail "reply TTL $ttl, expected 61 (64 less br1, hq, br2)"
vt_pass "the reply's TTL is 61: br1, hq and br2 each took one"

[ "$(vt_in hq sysctl -n net.ipv4.ip_forward)$(vt_in hq sysctl -n net.ipv6.conf.all.forwarding)" = 00 ] ||
	vt_fail "hq: forwarding was turned on during the test"
