#!/bin/bash
# t05: with rekey-after-time = 3 everywhere, sessions are renewed under traffic (hq's
# handshake count for br1 rises by at least 3 in about 15 s) and a 10/s ping from
# br1-lan to hq-lan loses nothing.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
vt_init 180
vt_need_vpnd
vt_topology
vt_keys
VT_REKEY=3
vt_mesh_up
grep -q '^rekey-after-time = 3$' "$(vt_conf hq)" || vt_fail "config lacks rekey-after-time"

vt_wait_lan_ping br1 hq 4 30 || vt_fail "br1-lan cannot ping hq-lan"
h0=$(vt_json hq 'peer("br1")["handshakes"]')
vt_ping_lossless br1 hq 4 150 0.1 || vt_fail "pings lost while rekeying"
h1=$(vt_json hq 'peer("br1")["handshakes"]')
vt_log "handshakes hq<->br1: $h0 before, $h1 after 15 s"
# A new initiation is sent at most once per REKEY_TIMEOUT (5 s): allow a little slack
# past the 15 s for the third one, with traffic still flowing.
if [ $((h1 - h0)) -lt 3 ]; then
	vt_bg ip netns exec "$(vt_ns br1-lan)" ping -i 0.2 -c 50 -q "${VT_HOST4[hq]}" \
		</dev/null >"$VT_TMP/ping-bg.out" 2>&1
	vt_wait 8 "3 rekeys" vt_json_true hq "peer('br1')['handshakes'] >= $h0 + 3" ||
		vt_fail "only $(($(vt_json hq 'peer("br1")["handshakes"]') - h0)) handshakes in 15+ s with rekey-after-time = 3"
	vt_bg_stop "$VT_BGPID"
fi
vt_pass "rekeyed $(($(vt_json hq 'peer("br1")["handshakes"]') - h0)) times, no ping lost"
latest=$(vt_json hq 'peer("br1")["latest_handshake"]')
now=$(date +%s)
[ $((now - latest)) -le 10 ] || vt_fail "latest_handshake $latest is $((now - latest)) s old"
