#!/bin/bash
# t24: emergency revocation. `vpnctl revoke br1` at HQ cuts br1-lan off within 1 s (a
# 100/s ping shows its last answer); br1's handshakes are then refused and counted
# (drops "revoked", log, audit), also by a restarted HQ, which reads the revocation list
# (0600, "KEY # br1, revoked at ... by uid 0") from its state directory. `vpnctl unrevoke
# KEY` takes the key off the list and br1 is back, before and after a reload. A list with
# a malformed line stops vpnd from starting, naming FILE:LINE.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
vt_init 120
vt_need_vpnd
vt_topology
vt_keys

VT_PEERS_OF[hq]=br1
VT_PEERS_OF[br1]=hq
for s in hq br1; do
	vt_write_conf "$s"
	vt_start "$s"
done
LIST=$(vt_state_dir hq)/$VT_IFNAME.revoked
KEY=${VT_PUBKEY[br1]}
HQLOG=$(vt_logfile hq)
vt_wait_lan_ping br1 hq 4 20 || vt_fail "br1-lan cannot reach hq-lan"
[ ! -e "$LIST" ] || vt_fail "a revocation list exists before any revocation"

revoked() { vt_json_true hq "peer('br1')['revoked'] == $1"; }
refusals() { vt_json hq "peer('br1')['drops']['revoked']"; }
audited() { grep -qF -- "$1" "$VT_TMP/hq.audit"; }

# ---- 1. revoke: br1-lan loses the tunnel at once
PING=$VT_TMP/ping-revoke.out
vt_bg ip netns exec "$(vt_ns br1-lan)" ping -D -n -i 0.01 -W 1 "${VT_HOST4[hq]}" >"$PING" 2>&1
pinger=$VT_BGPID
vt_wait 5 "the 100/s ping is answered" grep -q 'bytes from' "$PING" || vt_fail "no ping answers"
t0=$(date +%s.%N)
out=$(vt_ctl hq revoke br1) || vt_fail "vpnctl revoke br1 failed: $out"
vt_log "revoke: $out"
[[ $out == "peer br1 revoked: "* ]] || vt_fail "unexpected answer: $out"
# Answers that should not come would show up within these two seconds.
sleep 2
vt_bg_stop "$pinger"
last=$(awk '/bytes from/ { t = substr($1, 2, length($1) - 2) } END { print t }' "$PING")
[ -n "$last" ] || vt_fail "the ping got no answer at all"
awk -v l="$last" -v t="$t0" 'BEGIN { exit !(l < t + 1.0) }' ||
	vt_fail "br1-lan was still answered $(awk -v l="$last" -v t="$t0" 'BEGIN { printf "%.3f", l - t }') s after the revocation"
vt_pass "br1-lan cut off: last answer $(awk -v l="$last" -v t="$t0" 'BEGIN { printf "%.3f", l - t }') s after revoke"

revoked True || vt_fail "show --json: br1 is not revoked"
[ "$(vt_json hq "d['revoked_keys']")" = "[\"$KEY\"]" ] || vt_fail "revoked_keys: $(vt_json hq "d['revoked_keys']")"
grep -q "revoked: yes" <<<"$(vt_ctl hq show br1)" || vt_fail "vpnctl show br1 does not say revoked"
grep -q "^vpnd_peer_revoked{.*peer=\"br1\".*} 1$" <<<"$(vt_ctl hq metrics)" ||
	vt_fail "metric vpnd_peer_revoked is not 1 for br1"
grep -F "$KEY # br1, revoked at " "$LIST" | grep -Eq '^.{44} # br1, revoked at [0-9T:-]+Z by uid 0$' ||
	vt_fail "$LIST lacks br1's line: $(cat "$LIST")"
[ "$(stat -c %a "$LIST")" = 600 ] || vt_fail "$LIST has mode $(stat -c %a "$LIST")"
audited '"event":"peer-revoked","peer":"br1","public_key":"'"$KEY"'","uid":0' ||
	vt_fail "no peer-revoked record with the uid in the audit log"
audited '"event":"control-command","uid":0,"command":"revoke","args":"br1"' ||
	vt_fail "no control-command record of revoke in the audit log"
out=$(vt_ctl hq revoke br1) || vt_fail "a second revoke failed: $out"
[[ $out == *"revoked already"* ]] || vt_fail "second revoke: $out"
vt_pass "br1 revoked: show, metrics, 0600 list with its line, audit"

# ---- 2. br1's handshakes are refused and counted (br1 restarted: it initiates at once)
vt_stop br1
vt_start br1
vt_wait 5 "hq refuses br1's handshake" eval '[ "$(refusals)" -gt 0 ]' ||
	vt_fail "no refusal counted for br1: drops.revoked=$(refusals)"
! vt_lan_ping br1 hq 4 1 -W 1 || vt_fail "br1-lan reaches hq-lan while revoked"
grep -q "handshake refused from br1: revoked key from ${VT_PUB4[br1]}:" "$HQLOG" ||
	vt_fail "no log line for br1's refused handshake"
audited '"event":"handshake-refused","peer":"br1"' || vt_fail "no handshake-refused record"
[ "$(vt_json hq "d['drops']['revoked']")" -gt 0 ] || vt_fail "device drops.revoked is 0"
vt_pass "br1's handshakes refused: $(refusals) counted, logged, audited"

# ---- 3. ... also after HQ restarts: the list is read at start
vt_stop hq
vt_start hq
revoked True || vt_fail "br1 is not revoked after HQ's restart"
grep -q "peer br1: revoked (its key is in $LIST)" "$HQLOG" || vt_fail "no log line at start"
vt_stop br1
vt_start br1
vt_wait 5 "restarted hq refuses br1" eval '[ "$(refusals)" -gt 0 ]' ||
	vt_fail "restarted hq counted no refusal"
! vt_lan_ping br1 hq 4 1 -W 1 || vt_fail "br1-lan reaches hq-lan after HQ's restart"
vt_pass "still refused after HQ's restart ($(refusals) refusals)"

# ---- 4. unrevoke: back at once, and after a reload
out=$(vt_ctl hq unrevoke nonsense 2>&1) && vt_fail "unrevoke of a non-key succeeded"
out=$(vt_ctl hq unrevoke "${VT_PUBKEY[hq]}" 2>&1) && vt_fail "unrevoke of an unlisted key succeeded: $out"
[[ $out == *"is not in the revocation list"* ]] || vt_fail "unrevoke of an unlisted key: $out"
out=$(vt_ctl hq unrevoke "$KEY") || vt_fail "vpnctl unrevoke failed: $out"
[[ $out == *"peer br1 is accepted again"* ]] || vt_fail "unrevoke: $out"
revoked False || vt_fail "br1 is still revoked after unrevoke"
! grep -q "^$KEY" "$LIST" || vt_fail "$LIST still lists br1"
audited '"event":"peer-unrevoked","peer":"br1","public_key":"'"$KEY"'","uid":0' ||
	vt_fail "no peer-unrevoked record"
# HQ knows br1's endpoint: its traffic starts a handshake at once.
vt_wait_lan_ping hq br1 4 8 || vt_fail "hq-lan cannot reach br1-lan after unrevoke"
out=$(vt_ctl hq reload) || vt_fail "reload failed: $out"
vt_wait_lan_ping br1 hq 4 8 || vt_fail "br1-lan cannot reach hq-lan after unrevoke + reload"
revoked False || vt_fail "br1 revoked again by the reload"
vt_pass "unrevoke: br1 back at once and after the reload"

# ---- 5. a revocation written by hand applies at reload; a malformed list is refused
echo "$KEY # written by hand" >>"$LIST"
out=$(vt_ctl hq reload) || vt_fail "reload failed: $out"
revoked True || vt_fail "a key added to the list by hand was not applied by reload"
printf '%s\nnot-a-key # oops\n' "$KEY" >"$LIST"
out=$(vt_ctl hq reload 2>&1) && vt_fail "reload accepted a malformed revocation list"
grep -q "$LIST:2: not a public key" <<<"$out" || vt_fail "reload error does not name $LIST:2: $out"
revoked True || vt_fail "a refused reload changed the revocation"
vt_stop hq
out=$(ip netns exec "$(vt_ns hq)" "$VPND" -c "$(vt_conf hq)" -n 2>&1) &&
	vt_fail "vpnd -n accepted a malformed revocation list"
grep -q "^$LIST:2: not a public key" <<<"$out" || vt_fail "vpnd -n: $out"
rc=0
out=$(timeout 20 ip netns exec "$(vt_ns hq)" "$VPND" -c "$(vt_conf hq)" 2>&1) || rc=$?
[ "$rc" != 0 ] && [ "$rc" != 124 ] || vt_fail "vpnd started (or hung) with a malformed list (rc $rc)"
grep -q "$LIST:2: not a public key" <<<"$out" || vt_fail "vpnd's startup error: $out"
vt_pass "malformed list: reload refused, vpnd -n and startup name $LIST:2"
