#!/bin/bash
# shellcheck disable=SC2015 # "check && check || vt_fail" is meant: fail when any check fails
# t27: live reload at hq. While br1-lan pings hq-lan 100 times a second, reloads remove,
# add back and change another peer (br2) and change the MTU: not one ping is lost and
# br1's handshake count does not move on either side (its session is kept). Then an
# address change and a listen-port change are applied (ip addr, ss) and traffic follows
# the new port; a port that is taken is refused and hq keeps listening where it was; a
# config with errors is refused, `vpnctl reload` prints each error line and exits
# non-zero, and `show --json`, the addresses, routes and sockets are as before.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
vt_init 120
vt_need_vpnd
vt_topology
vt_keys
vt_mesh_up

# ctl SITE ARGS...: vpnctl ARGS at SITE; sets out, err, rc.
ctl() {
	local s=$1
	shift
	rc=0
	out=$(vt_ctl "$s" "$@" 2>"$VT_TMP/ctl.err") || rc=$?
	err=$(cat "$VT_TMP/ctl.err")
}

# reload_hq WANT-IN-OUT: rewrite hq's config from the knobs and reload; it must apply.
reload_hq() {
	vt_write_conf hq
	ctl hq reload
	[ "$rc" = 0 ] && grep -qF -- "$1" <<<"$out" ||
		vt_fail "reload at hq: exit $rc, out '$out', err '$err' (want '$1')"
	vt_log "reload: $out"
}

hs() { vt_json "$1" "peer(\"$2\")[\"handshakes\"]"; }
hq_mtu() { ip -n "$(vt_ns hq)" -o link show "$VT_IFNAME" | sed -n 's/.* mtu \([0-9]*\) .*/\1/p'; }
udp_listening() { [ -n "$(ip netns exec "$(vt_ns hq)" ss -HlunO "sport = :$1")" ]; }

vt_wait_lan_ping br1 hq 4 20 || vt_fail "br1-lan cannot reach hq-lan at the start"
vt_wait_lan_ping br2 hq 4 10 || vt_fail "br2-lan cannot reach hq-lan at the start"
hs_hq=$(hs hq br1)
hs_br1=$(hs br1 hq)
vt_log "handshakes with br1: $hs_hq at hq, $hs_br1 at br1"

# 1. 100 pings a second across br1 while br2 and the MTU change under it.
count=400
ping_out="$VT_TMP/ping-br1-hq.out"
vt_bg ip netns exec "$(vt_ns br1-lan)" ping -4 -c "$count" -i 0.01 -W 1 -q "${VT_HOST4[hq]}" \
	>"$ping_out" 2>&1
ping_pid=$VT_BGPID
sleep 0.3

VT_PEERS_OF[hq]=br1
reload_hq "0 peers added, 1 removed, 0 changed"
[ "$(vt_json hq 'len(d["peers"])')" = 1 ] || vt_fail "br2 still at hq after its removal"
unset 'VT_PEERS_OF[hq]'
reload_hq "1 peer added, 0 removed, 0 changed"
VT_OVR_KEEPALIVE[hq/br2]=9
VT_OVR_ALLOWED[hq/br2]="${VT_TUN4[br2]}/32 ${VT_LAN4[br2]} 10.33.0.0/24"
reload_hq "0 peers added, 0 removed, 1 changed"
[ "$(vt_json hq 'peer("br2")["persistent_keepalive"]')" = 9 ] || vt_fail "br2's keepalive not changed"
[ -n "$(ip -n "$(vt_ns hq)" route show 10.33.0.0/24 dev "$VT_IFNAME")" ] ||
	vt_fail "no route for br2's new allowed-ip 10.33.0.0/24"
[ -z "$(ip -n "$(vt_ns hq)" -6 route show "${VT_LAN6[br2]}" dev "$VT_IFNAME")" ] ||
	vt_fail "route for br2's removed allowed-ip ${VT_LAN6[br2]} is still there"
VT_EXTRA_CONF[hq]="mtu = 1380"
reload_hq "0 peers added, 0 removed, 0 changed"
[ "$(hq_mtu)" = 1380 ] || vt_fail "hq's MTU is $(hq_mtu) after reloading mtu = 1380"

vt_reap "$ping_pid" 20 || true
st=$(vt_ping_stats "$ping_out")
vt_log "ping br1-lan -> hq-lan at 100/s during the reloads: $st (transmitted received)"
[ "$st" = "$count $count" ] || vt_fail "pings were lost while hq reloaded: $st"
[ "$(hs hq br1)" = "$hs_hq" ] && [ "$(hs br1 hq)" = "$hs_br1" ] ||
	vt_fail "br1's session was renewed by the reloads: handshakes $(hs hq br1) at hq (was $hs_hq), $(hs br1 hq) at br1 (was $hs_br1)"
vt_pass "br2 removed, added, changed and the MTU set while br1 lost no ping and kept its session"

# 2. An address added and one removed.
vt_write_conf hq
sed -i "s|\"${VT_TUN6[hq]}/64\"|\"10.98.0.1/24\"|" "$(vt_conf hq)"
ctl hq reload
[ "$rc" = 0 ] || vt_fail "reload with a new address: $err"
ip -n "$(vt_ns hq)" -o addr show dev "$VT_IFNAME" | grep -q ' 10\.98\.0\.1/24 ' ||
	vt_fail "10.98.0.1/24 not on hq's $VT_IFNAME after the reload"
ip -n "$(vt_ns hq)" -o addr show dev "$VT_IFNAME" | grep -q "${VT_TUN6[hq]}/64" &&
	vt_fail "${VT_TUN6[hq]}/64 still on hq's $VT_IFNAME after it left the config"
vt_json_true hq '"10.98.0.1/24" in d["addresses"]' || vt_fail "show --json addresses: $(vt_json hq 'd["addresses"]')"
vt_pass "address change applied: 10.98.0.1/24 added, ${VT_TUN6[hq]}/64 removed"

# 3. The listen port moves; the tunnel follows it (br1 roams to hq's new source port).
sed -i 's|^listen-port = .*|listen-port = 51830|' "$(vt_conf hq)"
ctl hq reload
[ "$rc" = 0 ] || vt_fail "reload with listen-port 51830: $err"
vt_wait 5 "hq listening on UDP 51830" udp_listening 51830 || vt_fail "hq does not listen on UDP 51830"
udp_listening 51820 && vt_fail "hq still listens on UDP 51820"
[ "$(vt_json hq 'd["listen_port"]')" = 51830 ] || vt_fail "show --json listen_port: $(vt_json hq 'd["listen_port"]')"
vt_wait_lan_ping hq br1 4 10 || vt_fail "hq-lan cannot reach br1-lan over the new port"
vt_lan_ping br1 hq 4 1 || vt_fail "br1-lan cannot reach hq-lan after hq moved to port 51830"
[ "$(vt_json br1 'peer("hq")["endpoint"]')" = "${VT_PUB4[hq]}:51830" ] ||
	vt_fail "br1 sees hq at $(vt_json br1 'peer("hq")["endpoint"]'), not port 51830"
vt_pass "listen-port change applied: UDP 51830 bound, 51820 closed, traffic follows"

# A port someone else holds: refused, and hq keeps listening on 51830.
vt_bg ip netns exec "$(vt_ns hq)" "$VT_PY" -c '
import socket, time
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", 51840))
time.sleep(60)'
holder=$VT_BGPID
vt_wait 5 "a squatter on UDP 51840" udp_listening 51840 || vt_fail "the squatter did not bind 51840"
sed -i 's|^listen-port = .*|listen-port = 51840|' "$(vt_conf hq)"
ctl hq reload
[ "$rc" != 0 ] && grep -q "listen-port 51840: cannot bind that UDP port" <<<"$err" ||
	vt_fail "reload onto a taken port: exit $rc, err '$err'"
udp_listening 51830 || vt_fail "hq stopped listening on 51830 after a refused port change"
[ "$(vt_json hq 'd["listen_port"]')" = 51830 ] || vt_fail "listen_port changed by a refused reload"
vt_lan_ping br1 hq 4 1 || vt_fail "br1-lan lost hq-lan after a refused port change"
vt_bg_stop "$holder"
sed -i 's|^listen-port = .*|listen-port = 51830|' "$(vt_conf hq)"
vt_pass "a taken port is refused: $err"

# 4. A config with errors changes nothing at all.
snapshot() { # the state a reload could change, counters left out
	vt_json hq 'json.dumps({k: v for k, v in d.items() if k not in ("drops", "handshake_initiations_received", "cookie_replies_sent", "peers")} | {"peers": [{k: v for k, v in p.items() if k not in ("rx_bytes", "tx_bytes", "rx_packets", "tx_packets", "latest_handshake", "drops", "state")} for p in d["peers"]]}, sort_keys=True)'
	ip -n "$(vt_ns hq)" -o addr show dev "$VT_IFNAME"
	ip -n "$(vt_ns hq)" -o link show dev "$VT_IFNAME"
	ip -n "$(vt_ns hq)" route show dev "$VT_IFNAME"
	ip -n "$(vt_ns hq)" -6 route show dev "$VT_IFNAME"
	ip netns exec "$(vt_ns hq)" ss -HlunO
}
ctl hq reload # the file as it runs, so that only the errors differ
[ "$rc" = 0 ] || vt_fail "reload of the running config: $err"
before=$(snapshot)
cp "$(vt_conf hq)" "$VT_TMP/hq.good"
sed -i -e 's|^mtu = 1380|mtu = 99999|' \
	-e "s|\"${VT_LAN4[br2]}\"|\"10.3.0.1/24\"|" \
	-e 's|^listen-port = .*|listen-port = 51850|' "$(vt_conf hq)"
mtu_line=$(grep -n '^mtu = 99999' "$(vt_conf hq)" | cut -d: -f1)
ip_line=$(grep -n '"10.3.0.1/24"' "$(vt_conf hq)" | cut -d: -f1)
ctl hq reload
[ "$rc" != 0 ] && [ -z "$out" ] || vt_fail "a config with errors: exit $rc, out '$out'"
grep -qxF "vpnctl: $(vt_conf hq):$mtu_line: mtu: 99999 is out of range 576..9000" <<<"$err" &&
	grep -qF "vpnctl: $(vt_conf hq):$ip_line: allowed-ips: '10.3.0.1/24' has host bits set" <<<"$err" ||
	vt_fail "reload did not print each error line:
$err"
[ "$(wc -l <<<"$err")" = 2 ] || vt_fail "reload printed more than the two problems:
$err"
after=$(snapshot)
[ "$before" = "$after" ] || vt_fail "a refused reload changed the running state:
--- before
$before
--- after
$after"
vt_lan_ping br1 hq 4 1 || vt_fail "br1-lan lost hq-lan after a refused reload"
vt_pass "a config with errors is refused with every error line, the running state is unchanged"
