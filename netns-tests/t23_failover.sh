#!/bin/bash
# t23: endpoint failover. hq has two uplinks (VT_HQ_UPLINKS=2: wan 198.51.100.2 and wan2
# 198.18.1.2); br2, behind its NAT, lists both: endpoint = {"198.51.100.2:51820",
# "198.18.1.2:51820"}. The first uplink is cut (link down). br2's handshakes over it go
# unanswered for two retry periods, then it moves to the second, and br2-lan reaches
# hq-lan again within 15 s of the cut; show names the second endpoint. hq cannot reach
# br2 by itself (the NAT), so nothing but failover brings the tunnel back.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
vt_init 120
vt_need_vpnd
VT_HQ_UPLINKS=2
vt_topology
vt_keys
VT_PEERS_OF[hq]=br2
VT_PEERS_OF[br2]=hq
first="${VT_PUB4[hq]}:${VT_PORT[hq]}"
second="$VT_HQ2_PUB4:${VT_PORT[hq]}"
VT_OVR_ENDPOINT[br2/hq]=none
VT_OVR_PEERCONF[br2/hq]="    endpoint = {\"$first\", \"$second\"}"
# A branch notices a dead path when a handshake it starts goes unanswered. A short
# rekey-after-time makes br2 start one as soon as it sends over a session older than 2 s
# (with the default, only 15 s of unanswered data would).
VT_REKEY_SITE[br2]=2
vt_mesh_up hq br2

vt_wait_lan_ping br2 hq 4 20 || vt_fail "br2-lan cannot reach hq-lan"
[ "$(vt_json br2 'peer("hq")["endpoints"]')" = "[\"$first\", \"$second\"]" ] ||
	vt_fail "br2: endpoints $(vt_json br2 'peer("hq")["endpoints"]')"
[ "$(vt_json br2 'peer("hq")["endpoint"]')" = "$first" ] ||
	vt_fail "br2 uses $(vt_json br2 'peer("hq")["endpoint"]'), expected $first"
vt_pass "br2 reaches hq-lan over the first uplink ($first)"

# The engine starts at most one handshake per 5 s: once br2's last one is older than
# that, the first packet after the cut starts one at once, and the clock below measures
# failover, not how long ago the last rekey happened to be.
handshake_age() {
	local lh
	lh=$(vt_json br2 'peer("hq")["latest_handshake"]') || return 1
	[ $(($(date +%s) - lh)) -ge "$1" ]
}
vt_wait 15 "br2's last handshake to be 6 s old" handshake_age 6 ||
	vt_fail "br2 keeps handshaking while idle"

vt_in hq ip link set dev wan down
cut=$(date +%s.%N)
vt_log "hq's first uplink is down"
ping_once() {
	vt_in br2-lan ping -4 -c 1 -W 0.5 -q "$(vt_host hq 4)" >/dev/null 2>&1
}
vt_wait 15 "br2-lan -> hq-lan over the second uplink" ping_once ||
	vt_fail "br2-lan did not reach hq-lan within 15 s of the cut"
took=$("$VT_PY" -c 'import sys, time; print("%.1f" % (time.time() - float(sys.argv[1])))' "$cut")
vt_pass "br2-lan reaches hq-lan again, ${took}s after the cut"

now=$(vt_json br2 'peer("hq")["endpoint"]')
[ "$now" = "$second" ] || vt_fail "br2: hq's endpoint is $now, expected $second"
grep -qxF "  endpoints: $first, $second (current)" <<<"$(vt_ctl br2 show hq)" ||
	vt_fail "br2's show does not mark $second current: $(vt_ctl br2 show hq)"
grep -q "peer hq: no handshake answered over $first for 10 seconds: trying $second" \
	"$(vt_logfile br2)" || vt_fail "br2 did not log the failover"
vt_ping_lossless br2 hq 4 10 0.1 || vt_fail "br2-lan -> hq-lan loses pings after failover"
vt_pass "show names $second in use; traffic flows over the second uplink"
