#!/bin/bash
# shellcheck disable=SC2015 # "check && check || vt_fail" is meant: fail when any check fails
# t28: `vpnctl peer remove` takes br2 out of hq at once (its LAN loses the tunnel, its
# routes go); `vpnctl peer add` puts it back with its preshared key and endpoint and
# traffic flows again; bad arguments are refused with the reason and change nothing;
# `vpnctl reload` brings back the file's view (a peer added at runtime goes, a removed
# one comes back, runtime settings are replaced by the file's).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
vt_init 120
vt_need_vpnd
vt_topology
vt_keys
VT_PSK=1 # a peer added back must bring its preshared key, or no handshake succeeds
vt_mesh_up

# ctl SITE ARGS...: vpnctl ARGS at SITE; sets out, err, rc.
ctl() {
	local s=$1
	shift
	rc=0
	out=$(vt_ctl "$s" "$@" 2>"$VT_TMP/ctl.err") || rc=$?
	err=$(cat "$VT_TMP/ctl.err")
}

# has_route PREFIX: hq routes PREFIX on its TUN.
has_route() {
	local fam=-4
	case $1 in *:*) fam=-6 ;; esac
	[ -n "$(ip -n "$(vt_ns hq)" "$fam" route show "$1" dev "$VT_IFNAME")" ]
}
peer_names() { vt_json hq '" ".join(p["name"] for p in d["peers"])'; }

vt_wait_lan_ping br2 hq 4 20 || vt_fail "br2-lan cannot reach hq-lan at the start"
vt_wait_lan_ping br1 hq 4 10 || vt_fail "br1-lan cannot reach hq-lan at the start"
br2_ep=$(vt_json hq 'peer("br2")["endpoint"]')
vt_log "hq knows br2 at $br2_ep"

# 1. peer remove: br2 is gone from the engine and the routes at once.
ctl hq peer remove br2
[ "$rc" = 0 ] && grep -q "peer br2 removed" <<<"$out" ||
	vt_fail "peer remove br2: exit $rc, out '$out', err '$err'"
[ "$(peer_names)" = "br1" ] || vt_fail "after peer remove, hq's peers are '$(peer_names)'"
has_route "${VT_LAN4[br2]}" && vt_fail "route to ${VT_LAN4[br2]} still on hq after peer remove"
has_route "${VT_LAN6[br2]}" && vt_fail "route to ${VT_LAN6[br2]} still on hq after peer remove"
if vt_lan_ping br2 hq 4 1; then vt_fail "br2-lan still reaches hq-lan after peer remove"; fi
vt_lan_ping br1 hq 4 1 || vt_fail "br1-lan lost hq-lan when br2 was removed"
vt_pass "peer remove br2: gone from show and routes, its LAN cut off, br1 unaffected"

ctl hq peer remove br2
[ "$rc" = 1 ] && [ "$err" = "vpnctl: no peer named 'br2'" ] ||
	vt_fail "removing br2 twice: exit $rc, err '$err'"

# 2. bad peer add arguments change nothing.
bad_add() { # bad_add WANT-IN-ERR ARGS...
	local want=$1
	shift
	ctl hq peer add "$@"
	[ "$rc" != 0 ] && grep -qF -- "$want" <<<"$err" ||
		vt_fail "peer add $*: exit $rc, err '$err' (want '$want')"
	[ "$(peer_names)" = "br1" ] || vt_fail "a refused peer add changed hq's peers: $(peer_names)"
}
bad_add "allowed-ips: ${VT_LAN4[br1]} belongs to peer 'br1' already" br2 \
	--public-key "${VT_PUBKEY[br2]}" --allowed-ips "${VT_LAN4[br1]}"
bad_add "peer 'br1' has this key already" br2x --public-key "${VT_PUBKEY[br1]}" \
	--allowed-ips 10.77.0.0/24
bad_add "a peer named 'br1' exists already" br1 --public-key "${VT_PUBKEY[br2]}" \
	--allowed-ips 10.77.0.0/24
bad_add "has host bits set" br2 --public-key "${VT_PUBKEY[br2]}" --allowed-ips 10.3.0.1/24
bad_add "is not a base64 key" br2 --public-key nokey --allowed-ips 10.77.0.0/24
cp "$(vt_pskfile hq br2)" "$VT_TMP/open.psk" && chmod 644 "$VT_TMP/open.psk"
bad_add "has mode 0644" br2 --public-key "${VT_PUBKEY[br2]}" --allowed-ips 10.77.0.0/24 \
	--preshared-key-file "$VT_TMP/open.psk"
vt_pass "bad peer add arguments refused with their reasons, nothing changed"

# 3. peer add: br2 back, with its preshared key and the endpoint hq knew; hq-lan calls it.
ctl hq peer add br2 --public-key "${VT_PUBKEY[br2]}" \
	--allowed-ips "${VT_TUN4[br2]}/32,${VT_LAN4[br2]}" --endpoint "$br2_ep" \
	--keepalive 7 --preshared-key-file "$(vt_pskfile hq br2)"
[ "$rc" = 0 ] && grep -q "peer br2 added" <<<"$out" ||
	vt_fail "peer add br2: exit $rc, out '$out', err '$err'"
[ "$(vt_json hq 'peer("br2")["persistent_keepalive"]')" = 7 ] ||
	vt_fail "peer add --keepalive 7 not applied"
has_route "${VT_LAN4[br2]}" || vt_fail "no route to ${VT_LAN4[br2]} after peer add"
vt_wait_lan_ping hq br2 4 10 || vt_fail "hq-lan cannot reach br2-lan after peer add"
vt_lan_ping br2 hq 4 1 || vt_fail "br2-lan cannot reach hq-lan after peer add"
# The key never reaches the audit log with the command.
if grep -qF "$(cat "$(vt_pskfile hq br2)")" "$VT_TMP/hq.audit" "$(vt_logfile hq)"; then
	vt_fail "the preshared key of peer add is in hq's audit log or log"
fi
grep -q 'preshared-key=(hidden)' "$VT_TMP/hq.audit" ||
	vt_fail "hq's audit log does not record peer add with its key hidden"
vt_pass "peer add br2: routes back, traffic both ways, preshared key kept out of the logs"

# 4. A peer that exists only at runtime, and br1 removed at runtime.
ctl hq peer add temp --public-key "$(vt_genkey | vt_pubkey)" --allowed-ips 10.77.0.0/24
[ "$rc" = 0 ] || vt_fail "peer add temp: $err"
has_route 10.77.0.0/24 || vt_fail "no route to 10.77.0.0/24 for peer temp"
ctl hq peer rem br1
[ "$rc" = 0 ] || vt_fail "peer rem br1 (a prefix of remove): $err"
[ "$(peer_names)" = "br2 temp" ] || vt_fail "runtime peers at hq: '$(peer_names)'"

# 5. reload: the file's view again.
ctl hq reload
[ "$rc" = 0 ] || vt_fail "reload: $err"
vt_log "reload: $out"
[ "$(peer_names)" = "br2 br1" ] || [ "$(peer_names)" = "br1 br2" ] ||
	vt_fail "after reload hq's peers are '$(peer_names)', not the file's br1 br2"
has_route 10.77.0.0/24 && vt_fail "the runtime peer's route outlived the reload"
[ "$(vt_json hq 'peer("br2")["persistent_keepalive"]')" = 0 ] ||
	vt_fail "br2's runtime keepalive outlived the reload"
[ "$(vt_json hq 'sorted(peer("br2")["allowed_ips"])')" = "$(vt_json hq 'sorted(["10.99.0.3/32", "fd99::3/128", "10.3.0.0/24", "fd03::/64"])')" ] ||
	vt_fail "br2's allowed-ips after reload: $(vt_json hq 'peer("br2")["allowed_ips"]')"
has_route "${VT_LAN6[br2]}" || vt_fail "route to ${VT_LAN6[br2]} not back after reload"
# br1 still holds its session with the hq that removed it: hq calls it first.
vt_wait_lan_ping hq br1 4 10 || vt_fail "hq-lan cannot reach br1-lan after the reload"
vt_lan_ping br1 hq 4 1 || vt_fail "br1-lan cannot reach hq-lan after the reload"
vt_lan_ping br2 hq 4 1 || vt_fail "br2-lan cannot reach hq-lan after the reload"
vt_pass "reload restored the file's peers, settings and routes"
