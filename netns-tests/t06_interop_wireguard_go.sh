#!/bin/bash
# t06: vpnd in hq interoperates with wireguard-go in br1 (an implementation none of us
# wrote): wireguard-go as responder, then as initiator (ping and 1 MB TCP both ways),
# then rekeying every few seconds under a 10/s ping that loses nothing.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
vt_init 280
vt_need_vpnd
command -v wireguard-go >/dev/null || vt_fail "wireguard-go is not installed"
command -v wg >/dev/null || vt_fail "wg (wireguard-tools) is not installed"
vt_topology
vt_keys
VT_PEERS_OF=([hq]=br1 [br1]=hq)
VT_PSK=1 # exercise the preshared key too

# Our key encoding is WireGuard's.
[ "$(wg pubkey <"${VT_PRIV_FILE[hq]}")" = "${VT_PUBKEY[hq]}" ] ||
	vt_fail "vpnctl pubkey and wg pubkey disagree"

both_ways() { # both_ways WHAT
	vt_ping_lossless hq br1 4 5 0.2 || vt_fail "hq-lan -> br1-lan lost pings ($1)"
	vt_ping_lossless br1 hq 4 5 0.2 || vt_fail "br1-lan -> hq-lan lost pings ($1)"
	vt_wait_lan_ping hq br1 6 10 || vt_fail "hq-lan cannot ping6 br1-lan ($1)"
	vt_tcp_xfer hq br1 $((1024 * 1024)) 4 || vt_fail "1 MB hq-lan -> br1-lan ($1)"
	vt_tcp_xfer br1 hq $((1024 * 1024)) 4 || vt_fail "1 MB br1-lan -> hq-lan ($1)"
}

restart() {
	vt_stop hq || vt_fail "hq: vpnd exited with $?"
	vt_stop br1 || true
	[ "${1:-}" != forget ] || rm -f "$(vt_state_dir hq)"/*.endpoints
	vt_write_conf hq
	vt_start hq
	vt_wg_start br1
}

# 1. wireguard-go has no endpoint for hq: only vpnd can initiate.
VT_OVR_ENDPOINT=([br1/hq]=none)
vt_write_conf hq
vt_start hq
vt_wg_start br1
vt_wait_lan_ping hq br1 4 20 || vt_fail "vpnd (initiator) -> wireguard-go: no ping"
[ "$(vt_json hq 'peer("br1")["handshakes"]')" -ge 1 ] || vt_fail "hq counts no handshake"
[ "$(vt_wg_latest br1 hq)" != 0 ] || vt_fail "wireguard-go saw no handshake"
both_ways "wireguard-go responder"
vt_pass "vpnd initiator, wireguard-go responder: ping and TCP both ways"

# 2. vpnd has no endpoint for br1: only wireguard-go can initiate. (HQ would otherwise
# remember where it reached br1 in the run before: forget that.)
VT_OVR_ENDPOINT=([hq/br1]=none)
restart forget
[ "$(vt_json hq 'peer("br1")["endpoint"]')" = null ] || vt_fail "hq has an endpoint for br1"
vt_wait_lan_ping br1 hq 4 20 || vt_fail "wireguard-go (initiator) -> vpnd: no ping"
ep=$(vt_json hq 'peer("br1")["endpoint"]')
[ "$ep" = "${VT_PUB4[br1]}:${VT_PORT[br1]}" ] || vt_fail "hq learned br1's endpoint as '$ep'"
both_ways "wireguard-go initiator"
vt_pass "wireguard-go initiator, vpnd responder: ping and TCP both ways"

# 3. vpnd initiates and renews the session every few seconds.
VT_OVR_ENDPOINT=([br1/hq]=none)
VT_REKEY_SITE=([hq]=3)
restart
vt_wait_lan_ping hq br1 4 20 || vt_fail "no ping with rekey-after-time = 3"
h0=$(vt_json hq 'peer("br1")["handshakes"]')
w0=$(vt_wg_latest br1 hq)
vt_ping_lossless hq br1 4 150 0.1 || vt_fail "pings lost while vpnd rekeys with wireguard-go"
h1=$(vt_json hq 'peer("br1")["handshakes"]')
vt_log "handshakes with wireguard-go: $h0 before, $h1 after 15 s"
if [ $((h1 - h0)) -lt 3 ]; then
	vt_bg ip netns exec "$(vt_ns hq-lan)" ping -i 0.2 -c 50 -q "${VT_HOST4[br1]}" \
		</dev/null >"$VT_TMP/ping-bg.out" 2>&1
	vt_wait 8 "3 rekeys" vt_json_true hq "peer('br1')['handshakes'] >= $h0 + 3" ||
		vt_fail "vpnd rekeyed only $(($(vt_json hq 'peer("br1")["handshakes"]') - h0)) times with wireguard-go in 15+ s"
	vt_bg_stop "$VT_BGPID"
fi
w1=$(vt_wg_latest br1 hq)
[ "$w1" -gt "$w0" ] || vt_fail "wireguard-go's latest handshake did not move ($w0 -> $w1)"
vt_pass "rekeying with wireguard-go every few seconds, no ping lost"
