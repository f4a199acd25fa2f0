#!/bin/bash
# t09: datagrams of every length 0..1500 (and some up to 65000), random or dressed as
# each message type, sent to hq's port do not disturb the tunnel: a ping running
# throughout loses at most one packet, vpnd stays up and counts what it dropped.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
vt_init 180
vt_need_vpnd
vt_topology
vt_keys
VT_PEERS_OF=([hq]=br1 [br1]=hq)
vt_mesh_up hq br1
vt_wait_lan_ping br1 hq 4 30 || vt_fail "br1-lan cannot ping hq-lan"

before=$(vt_json hq 'd["drops"]')
vt_log "hq drops before: $before"
pingout="$VT_TMP/ping-garbage.out"
vt_bg ip netns exec "$(vt_ns br1-lan)" ping -c 60 -i 0.25 -W 2 "${VT_HOST4[hq]}" \
	</dev/null >"$pingout" 2>&1
ping_pid=$VT_BGPID
vt_wait 10 "the ping to run" eval "grep -q 'bytes from' '$pingout'" || vt_fail "ping did not start"

sent=$(ip netns exec "$(vt_ns inet)" timeout 60 "$VT_PY" "$VT_TOOLS/garbage.py" \
	--dst "${VT_PUB4[hq]}" --port "${VT_PORT[hq]}" --rate 2000 2>"$VT_TMP/garbage.out") ||
	vt_fail "garbage.py failed"
vt_log "sent $sent garbage datagrams"
vt_alive_site hq || vt_fail "vpnd in hq died under garbage"

rc=0
vt_reap "$ping_pid" 40 || rc=$?
st=$(vt_ping_stats "$pingout")
vt_log "ping during the garbage: $st (transmitted received)"
set -- $st
[ "${1:-0}" = 60 ] || vt_fail "ping sent ${1:-0} of 60 (exit $rc)"
[ $(($1 - $2)) -le 1 ] || vt_fail "ping lost $(($1 - $2)) of 60 while garbage arrived"
vt_pass "tunnel undisturbed: $2 of $1 pings answered"

after=$(vt_json hq 'd["drops"]')
vt_log "hq drops after: $after"
for c in malformed bad_mac unknown_index; do
	"$VT_PY" -c 'import json,sys; b,a=json.loads(sys.argv[1]),json.loads(sys.argv[2]); sys.exit(0 if a[sys.argv[3]] > b[sys.argv[3]] else 1)' \
		"$before" "$after" "$c" || vt_fail "drops.$c did not rise"
done
vt_pass "drops.malformed, drops.bad_mac and drops.unknown_index rose"
timeout 5 "$VPNCTL" -s "$(vt_sock hq)" show >/dev/null || vt_fail "vpnd in hq no longer answers"
vt_ping_lossless br1 hq 4 5 0.2 || vt_fail "ping after the garbage"
