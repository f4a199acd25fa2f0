#!/bin/bash
# t07: a wrong peer public key, or mismatched preshared keys, give no connectivity and no
# handshake; correcting the config and reloading (vpnctl reload, then SIGHUP) restores it.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
vt_init 240
vt_need_vpnd
vt_topology
vt_keys
VT_PEERS_OF=([hq]=br1 [br1]=hq)

# no_connectivity WHAT: pings both ways for a few seconds all fail; no handshake either side.
no_connectivity() {
	local h
	if vt_lan_ping hq br1 4 4 -i 1; then vt_fail "hq-lan reached br1-lan despite $1"; fi
	if vt_lan_ping br1 hq 4 4 -i 1; then vt_fail "br1-lan reached hq-lan despite $1"; fi
	h=$(vt_json hq 'peer("br1")["handshakes"]')
	[ "$h" = 0 ] || vt_fail "hq counts $h handshakes with br1 despite $1"
	h=$(vt_json br1 'peer("hq")["handshakes"]')
	[ "$h" = 0 ] || vt_fail "br1 counts $h handshakes with hq despite $1"
	vt_log "hq drops: $(vt_json hq 'd["drops"]')"
	vt_log "br1 drops: $(vt_json br1 'd["drops"]')"
	vt_pass "no connectivity with $1"
}

connectivity() {
	vt_wait_lan_ping hq br1 4 30 || vt_fail "hq-lan cannot reach br1-lan after $1"
	vt_wait_lan_ping br1 hq 4 10 || vt_fail "br1-lan cannot reach hq-lan after $1"
	[ "$(vt_json hq 'peer("br1")["handshakes"]')" -ge 1 ] || vt_fail "no handshake after $1"
	vt_pass "connectivity after $1"
}

# 1. hq has a wrong public key for br1.
VT_OVR_KEY=([hq/br1]=$(vt_genkey | vt_pubkey))
vt_mesh_up hq br1
no_connectivity "a wrong public key"
unset 'VT_OVR_KEY[hq/br1]'
vt_write_conf hq
vt_ctl hq reload || vt_fail "vpnctl reload failed"
[ "$(vt_json hq 'peer("br1")["public_key"]')" = "${VT_PUBKEY[br1]}" ] ||
	vt_fail "after reload hq still shows the wrong key for br1"
connectivity "fixing the key and vpnctl reload"

# 2. Preshared keys that differ.
vt_stop hq || vt_fail "hq: vpnd exited with $?"
vt_stop br1 || vt_fail "br1: vpnd exited with $?"
VT_PSK=1
(umask 077 && vt_genpsk >"$VT_TMP/psk-wrong")
VT_OVR_PSK=([br1/hq]=$VT_TMP/psk-wrong)
vt_mesh_up hq br1
no_connectivity "mismatched preshared keys"
unset 'VT_OVR_PSK[br1/hq]'
vt_write_conf br1
kill -HUP "${VT_PID[br1]}"
connectivity "fixing the preshared key and SIGHUP"
