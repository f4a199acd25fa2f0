#!/bin/bash
# t12: the wg tool of wireguard-tools, unchanged, drives vpnd over its UAPI socket.
# hq starts with br2 as its only peer. `wg show` (text and dump) and `wg showconf`
# agree with `vpnctl show --json` and the key files; `wg syncconf` of that config
# changes nothing. `wg set` adds br1 (endpoint, allowed-ips) under a generated name and
# hq-lan then reaches br1-lan, which only hq can initiate; taking 10.2.0.0/24 from br1's
# allowed-ips removes the route and the traffic stops, giving it back restores both;
# fwmark is applied; `remove` drops the peer. Bad values fail in wg with vpnd unchanged
# and running; garbage written to the socket hurts nothing. A configured peer removed
# and added back keeps its name. `vpnctl reload` puts the config file back (peers, their
# settings, the private key).
#
# wg looks for /var/run/wireguard/IFACE.sock only. It runs here in a private mount
# namespace in which hq's stand-in directory ($VT_TMP/hq.run, see vt_uapi_sock) is
# mounted on /run, so the test never touches the real /run/wireguard.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
vt_init 240
vt_need_vpnd
command -v wg >/dev/null || vt_fail "wg (wireguard-tools) is not installed"
command -v socat >/dev/null || vt_fail "socat is not installed"
command -v unshare >/dev/null || vt_fail "unshare (util-linux) is not installed"
vt_topology
vt_keys
VT_PEERS_OF=([hq]=br2 [br1]=hq [br2]=hq)
VT_OVR_ENDPOINT=([br1/hq]=none) # only hq can start a session with br1
vt_mesh_up hq br1 br2
IF=$VT_IFNAME
SOCK=$(vt_uapi_sock hq)

# wg ARGS...: wg in hq's namespace, seeing hq's UAPI socket at /run/wireguard/$IF.sock.
hq_wg() {
	# shellcheck disable=SC2016 # expanded by the inner shell
	ip netns exec "$(vt_ns hq)" unshare --mount --propagation private \
		sh -c 'mount --bind "$0" /run && exec wg "$@"' "$VT_TMP/hq.run" "$@"
}

# raw TEXT: send TEXT (printf format) to hq's socket, print what comes back.
raw() {
	# shellcheck disable=SC2059
	printf "$1" | timeout 10 socat -t 2 - "UNIX-CONNECT:$SOCK"
}

hq_alive() {
	vt_alive_site hq || vt_fail "vpnd in hq died ($1)"
	vt_ctl hq show >/dev/null || vt_fail "vpnd in hq does not answer vpnctl ($1)"
}

# The route for PREFIX on hq's TUN exists (1) or not (0).
hq_route() {
	local n
	n=$(ip -n "$(vt_ns hq)" route show "$1" dev "$IF" 2>/dev/null | wc -l)
	[ "$n" = "$2" ]
}

[ -S "$SOCK" ] || vt_fail "no UAPI socket at $SOCK"
[ "$(stat -c %a "$SOCK")" = 600 ] || vt_fail "UAPI socket mode $(stat -c %a "$SOCK"), want 600"

# A second daemon cannot take a socket that answers: its startup fails, saying why.
sed -e '/^control-socket = /d' -e '/^audit-log = /d' \
	-e "/^interface = /a control-socket = \"$VT_TMP/second.sock\"\naudit-log = \"$VT_TMP/second.audit\"" \
	"$(vt_conf hq)" >"$VT_TMP/second.conf"
if timeout 20 ip netns exec "$(vt_ns hq-lan)" "$VPND" -c "$VT_TMP/second.conf" \
	</dev/null >"$VT_TMP/second.out" 2>&1; then
	vt_fail "a second vpnd started on hq's UAPI socket"
fi
grep -qF "uapi-socket $SOCK: cannot serve the wg tool there: Address already in use" \
	"$VT_TMP/second.out" || vt_fail "no clear error from a second vpnd: $(cat "$VT_TMP/second.out")"
[ -S "$SOCK" ] || vt_fail "the second vpnd took hq's UAPI socket away"
vt_pass "a second vpnd on the same UAPI socket is refused at startup"

vt_wait_lan_ping br2 hq 4 30 || vt_fail "br2-lan cannot ping hq-lan"
vt_wait_lan_ping hq br2 4 10 || vt_fail "hq-lan cannot ping br2-lan"

# ---- wg show, dump, showconf against vpnctl and the key files
[ "$(hq_wg show interfaces)" = "$IF" ] || vt_fail "wg show interfaces: '$(hq_wg show interfaces)'"
hq_wg show "$IF" >"$VT_TMP/wg-show.out" || vt_fail "wg show $IF failed"
cat "$VT_TMP/wg-show.out"
for want in "interface: $IF" "public key: ${VT_PUBKEY[hq]}" "listening port: ${VT_PORT[hq]}" \
	"peer: ${VT_PUBKEY[br2]}" "endpoint: $VT_NAT_PUB4:" "latest handshake: " \
	"allowed ips: 10.99.0.3/32, fd99::3/128, 10.3.0.0/24, fd03::/64"; do
	grep -qF "$want" "$VT_TMP/wg-show.out" || vt_fail "wg show lacks '$want'"
done
vt_pass "wg show lists br2 with its key, endpoint, allowed ips and a handshake"

vt_ctl hq show --json >"$VT_TMP/show.json"
hq_wg show "$IF" dump >"$VT_TMP/wg-dump.out" || vt_fail "wg show $IF dump failed"
"$VT_PY" - "$VT_TMP/show.json" "$VT_TMP/wg-dump.out" "$(cat "${VT_PRIV_FILE[hq]}")" <<'EOF' ||
import json, sys
d = json.load(open(sys.argv[1]))
lines = [l.split("\t") for l in open(sys.argv[2]).read().splitlines()]
dev, peers = lines[0], lines[1:]
def check(ok, what):
    if not ok:
        sys.exit("dump and vpnctl disagree: %s\n%s\n%s" % (what, lines, d))
check(dev[0] == sys.argv[3], "private key")
check(dev[1] == d["public_key"], "public key")
check(int(dev[2]) == d["listen_port"], "listen port")
check(dev[3] == "off", "fwmark")
check(len(peers) == len(d["peers"]) == 1, "number of peers")
for line, p in zip(peers, d["peers"]):
    key, psk, ep, ips, latest, rx, tx, ka = line
    check(key == p["public_key"], "peer key")
    check(psk == "(none)", "preshared key")
    check(ep == p["endpoint"], "endpoint")
    check(sorted(ips.split(",")) == sorted(p["allowed_ips"]), "allowed ips")
    check(int(latest) == p["latest_handshake"] > 0, "latest handshake")
    # The dump was taken after the JSON: counters only grow, and not by much.
    check(0 <= int(rx) - p["rx_bytes"] < 100000, "rx bytes")
    check(0 <= int(tx) - p["tx_bytes"] < 100000, "tx bytes")
    check(ka == ("off" if p["persistent_keepalive"] == 0 else str(p["persistent_keepalive"])),
          "keepalive")
EOF
	vt_fail "wg show dump does not match vpnctl show --json"
vt_pass "wg show dump matches vpnctl show --json field by field"

hq_wg showconf "$IF" >"$VT_TMP/showconf.out" || vt_fail "wg showconf failed"
"$VT_PY" - "$VT_TMP/showconf.out" "$(cat "${VT_PRIV_FILE[hq]}")" "${VT_PUBKEY[br2]}" \
	"$(vt_peer_allowed br2)" <<'EOF' || vt_fail "wg showconf does not give back hq's config"
import sys
sections, cur = [], None
for line in open(sys.argv[1]).read().splitlines():
    line = line.strip()
    if line.startswith("["):
        cur = {"name": line}
        sections.append(cur)
    elif "=" in line:
        k, v = line.split("=", 1)
        cur[k.strip()] = v.strip()
iface, peers = sections[0], sections[1:]
assert iface["name"] == "[Interface]" and iface["PrivateKey"] == sys.argv[2], iface
assert iface["ListenPort"] == "51820", iface
assert len(peers) == 1 and peers[0]["PublicKey"] == sys.argv[3], peers
assert sorted(peers[0]["AllowedIPs"].replace(" ", "").split(",")) == sorted(sys.argv[4].split()), peers
assert peers[0]["Endpoint"].startswith("192.0.2.2:"), peers
assert "PresharedKey" not in peers[0], peers
EOF
h0=$(vt_json hq 'peer("br2")["handshakes"]')
hq_wg syncconf "$IF" "$VT_TMP/showconf.out" || vt_fail "wg syncconf of wg showconf's output failed"
[ "$(vt_json hq 'len(d["peers"])')" = 1 ] || vt_fail "wg syncconf changed the peers"
[ "$(vt_json hq 'peer("br2")["handshakes"]')" = "$h0" ] || vt_fail "wg syncconf restarted the session"
vt_pass "wg showconf gives hq's keys, port and peer back; wg syncconf of it changes nothing"

# ---- wg set: a new peer, its routes, allowed-ips changes, removal
hq_wg set "$IF" peer "${VT_PUBKEY[br1]}" endpoint "${VT_PUB4[br1]}:${VT_PORT[br1]}" \
	allowed-ips "${VT_TUN4[br1]}/32,${VT_LAN4[br1]},${VT_LAN6[br1]}" ||
	vt_fail "wg set (add br1) failed"
name="wg-${VT_PUBKEY[br1]:0:8}"
[ "$(vt_json hq "peer('$name')['public_key']")" = "${VT_PUBKEY[br1]}" ] ||
	vt_fail "vpnctl show has no peer '$name' for br1's key"
[ "$(vt_json hq "peer('$name')['endpoint']")" = "${VT_PUB4[br1]}:${VT_PORT[br1]}" ] ||
	vt_fail "the new peer's endpoint is not the one wg set"
hq_route "${VT_LAN4[br1]}" 1 || vt_fail "no route to ${VT_LAN4[br1]} on hq after wg set"
vt_wait_lan_ping hq br1 4 20 || vt_fail "hq-lan cannot reach br1-lan through the peer wg set added"
vt_wait_lan_ping hq br1 6 10 || vt_fail "hq-lan cannot reach br1-lan over IPv6"
vt_pass "wg set added br1 as '$name': route installed, hq-lan reaches br1-lan"

hq_wg set "$IF" peer "${VT_PUBKEY[br1]}" allowed-ips "${VT_TUN4[br1]}/32,${VT_LAN6[br1]}" ||
	vt_fail "wg set (narrow br1's allowed-ips) failed"
[ "$(vt_json hq "sorted(peer('$name')['allowed_ips'])")" = '["10.99.0.2/32", "fd02::/64"]' ] ||
	vt_fail "vpnctl show: allowed ips $(vt_json hq "peer('$name')['allowed_ips']")"
hq_route "${VT_LAN4[br1]}" 0 || vt_fail "route to ${VT_LAN4[br1]} still on hq"
if vt_lan_ping hq br1 4 3; then vt_fail "hq-lan still reaches br1-lan over IPv4"; fi
vt_lan_ping hq br1 6 2 || vt_fail "IPv6 to br1-lan stopped too"
hq_wg set "$IF" peer "${VT_PUBKEY[br1]}" allowed-ips "${VT_TUN4[br1]}/32,${VT_LAN4[br1]},${VT_LAN6[br1]}" ||
	vt_fail "wg set (widen br1's allowed-ips) failed"
hq_route "${VT_LAN4[br1]}" 1 || vt_fail "route to ${VT_LAN4[br1]} not back on hq"
vt_wait_lan_ping hq br1 4 10 || vt_fail "hq-lan does not reach br1-lan again"
vt_pass "allowed-ips set by wg move the route and the traffic, both ways"

hq_wg set "$IF" fwmark 0x99 || vt_fail "wg set fwmark failed"
[ "$(hq_wg show "$IF" fwmark)" = 0x99 ] || vt_fail "wg show fwmark: '$(hq_wg show "$IF" fwmark)'"
vt_lan_ping hq br1 4 2 || vt_fail "traffic stopped with a fwmark"
hq_wg set "$IF" fwmark 0 || vt_fail "wg set fwmark 0 failed"
[ "$(hq_wg show "$IF" fwmark)" = off ] || vt_fail "fwmark not cleared"
vt_pass "wg set fwmark marks the underlay sockets"

hq_wg set "$IF" peer "${VT_PUBKEY[br1]}" remove || vt_fail "wg set remove failed"
[ "$(vt_json hq 'len(d["peers"])')" = 1 ] || vt_fail "br1 still listed after remove"
hq_route "${VT_LAN4[br1]}" 0 || vt_fail "route to ${VT_LAN4[br1]} left behind by remove"
if vt_lan_ping hq br1 4 2; then vt_fail "hq-lan reaches br1-lan after remove"; fi
vt_pass "wg set remove drops the peer and its routes"

# ---- bad values: wg fails, vpnd runs on unchanged
before=$(hq_wg show "$IF" dump)
zero_key="$VT_TMP/zero.key"
printf 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n' >"$zero_key"
# An order-8 point: a key no session can be made with.
low_order=4Ot6fDtBuK4WVuP68Z/EatoJjeucMrH9hmIFFl9JuAA=
for args in "listen-port 51999" "private-key $zero_key" "peer $low_order allowed-ips 10.9.0.0/16"; do
	# shellcheck disable=SC2086
	if hq_wg set "$IF" $args 2>"$VT_TMP/wg-err.out"; then
		vt_fail "wg set $args succeeded"
	fi
	vt_log "wg set $args: $(cat "$VT_TMP/wg-err.out")"
	grep -q "Unable to modify interface" "$VT_TMP/wg-err.out" || vt_fail "wg set $args: no error from wg"
	hq_alive "wg set $args"
done
[ "$(hq_wg show "$IF" dump | head -n 1)" = "$(printf '%s\n' "$before" | head -n 1)" ] ||
	vt_fail "a refused wg set changed the interface"
[ "$(vt_json hq 'len(d["peers"])')" = 1 ] || vt_fail "a refused wg set changed the peers"
vt_pass "bad values make wg fail and change nothing"

# ---- the socket itself: several requests per connection, then garbage
out=$(raw 'get=1\n\nset=1\nlisten_port=51820\n\nset=1\nbogus=1\n\nget=1\n\n')
[ "$(printf '%s\n' "$out" | grep -c '^errno=')" = 4 ] || vt_fail "not 4 answers on one connection: $out"
printf '%s\n' "$out" | grep -q '^errno=-22$' || vt_fail "no errno=-22 for an unknown key: $out"
head -c 200000 /dev/urandom | timeout 10 socat -t 1 -u - "UNIX-CONNECT:$SOCK" 2>/dev/null || true
raw 'hello\n' >/dev/null || true
raw 'get=1\nGARBAGE' >/dev/null || true
raw 'set=1\npublic_key=zz\nallowed_ip=1.2.3.4/99\n\n' >/dev/null || true
raw 'set=1\nprivate_key=' >/dev/null || true
# Longer than a request may be (1 MiB): refused and closed (socat, still writing, may
# not see the answer; the unit test does).
printf 'set=1\n%01100000d\n\n' 0 | timeout 10 socat -t 2 - "UNIX-CONNECT:$SOCK" >/dev/null 2>&1 || true
vt_wait 5 "the oversized request in hq's log" grep -q "request longer than 1048576 bytes" \
	"$(vt_logfile hq)" || vt_fail "no word in hq's log of the oversized request"
hq_alive "garbage on the UAPI socket"
hq_wg show "$IF" >/dev/null || vt_fail "wg show fails after garbage"
vt_lan_ping hq br2 4 2 || vt_fail "hq-lan lost br2-lan after garbage on the socket"
vt_pass "garbage on the UAPI socket: vpnd, wg and the tunnel carry on"

# ---- a configured peer removed and added back keeps its name
hq_wg set "$IF" peer "${VT_PUBKEY[br2]}" remove || vt_fail "wg set remove (br2) failed"
hq_wg set "$IF" peer "${VT_PUBKEY[br2]}" allowed-ips "${VT_TUN4[br2]}/32" || vt_fail "wg set (br2 back) failed"
[ "$(vt_json hq 'peer("br2")["public_key"]')" = "${VT_PUBKEY[br2]}" ] ||
	vt_fail "br2 added back under another name: $(vt_json hq '[p["name"] for p in d["peers"]]')"
vt_pass "a configured peer removed and added back with wg keeps its configured name"

# ---- reload puts back what the file says
(umask 077 && vt_genkey >"$VT_TMP/hq-other.key")
hq_wg set "$IF" private-key "$VT_TMP/hq-other.key" peer "${VT_PUBKEY[br1]}" allowed-ips "${VT_LAN4[br1]}" \
	peer "${VT_PUBKEY[br2]}" allowed-ips "${VT_TUN4[br2]}/32" persistent-keepalive 7 ||
	vt_fail "wg set (before reload) failed"
[ "$(vt_json hq 'len(d["peers"])')" = 2 ] || vt_fail "wg set did not add br1 again"
[ "$(hq_wg show "$IF" public-key)" = "$(vt_pubkey <"$VT_TMP/hq-other.key")" ] ||
	vt_fail "wg set private-key did not change hq's public key"
vt_ctl hq reload || vt_fail "vpnctl reload failed"
[ "$(vt_json hq '[p["name"] for p in d["peers"]]')" = '["br2"]' ] ||
	vt_fail "after reload: peers $(vt_json hq '[p["name"] for p in d["peers"]]')"
# shellcheck disable=SC2046
want=$("$VT_PY" -c 'import json, sys; print(json.dumps(sorted(sys.argv[1:])))' $(vt_peer_allowed br2))
[ "$(vt_json hq 'sorted(peer("br2")["allowed_ips"])')" = "$want" ] ||
	vt_fail "after reload br2's allowed ips are $(vt_json hq 'peer("br2")["allowed_ips"]')"
[ "$(vt_json hq 'peer("br2")["persistent_keepalive"]')" = 0 ] || vt_fail "keepalive not restored"
[ "$(hq_wg show "$IF" public-key)" = "${VT_PUBKEY[hq]}" ] || vt_fail "private key not restored"
hq_route "${VT_LAN4[br1]}" 0 || vt_fail "reload left br1's route"
hq_route "${VT_LAN4[br2]}" 1 || vt_fail "reload did not restore br2's route"
# br2's session died with hq's key change; a restarted br2 handshakes at once.
vt_stop br2 || vt_fail "br2: vpnd exited with $?"
vt_start br2
vt_wait_lan_ping br2 hq 4 20 || vt_fail "br2-lan cannot reach hq-lan after reload"
vt_wait_lan_ping hq br2 4 10 || vt_fail "hq-lan cannot reach br2-lan after reload"
vt_pass "vpnctl reload drops peers added by wg and restores the file's settings"
