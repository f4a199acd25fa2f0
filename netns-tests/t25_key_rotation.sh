#!/bin/bash
# t25: zero-downtime key rotation. br1-lan pings hq-lan 100 times a second while br1's
# key is rotated: `vpnctl rotate-key` on br1 writes br1.key.next (0600) and prints its
# public key; HQ gets it as next-public-key and reloads; br1 moves the new key over the
# old one and reloads. HQ switches br1 to the new key at the first handshake with it
# (logged, audited, recorded in its state directory) and the longest gap between answers
# stays under 1 s. The switch outlives a reload and a restart of HQ whose config still
# names old + next (the old key is refused then), and the record goes once the config
# names the new key as public-key.
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
OLD=${VT_PUBKEY[br1]}
KEYFILE=${VT_PRIV_FILE[br1]}
RECORD=$(vt_state_dir hq)/$VT_IFNAME.rotated
HQLOG=$(vt_logfile hq)
vt_wait_lan_ping br1 hq 4 20 || vt_fail "br1-lan cannot reach hq-lan"

pubkey_at_hq() { vt_json hq "peer('br1')['public_key']"; }
refused_at_hq() { vt_json hq "d['drops']['handshake_refused']"; }

# ---- 1. rotate-key writes the next key beside the current one
NEW=$(vt_ctl br1 rotate-key 2>"$VT_TMP/rotate.err") || vt_fail "rotate-key failed: $(cat "$VT_TMP/rotate.err")"
[ ${#NEW} = 44 ] || vt_fail "rotate-key printed '$NEW'"
[ "$(stat -c %a "$KEYFILE.next")" = 600 ] || vt_fail "$KEYFILE.next: mode $(stat -c %a "$KEYFILE.next")"
[ "$("$VPNCTL" pubkey <"$KEYFILE.next")" = "$NEW" ] || vt_fail "the printed key is not that of $KEYFILE.next"
grep -q "next-public-key = \"$NEW\"" "$VT_TMP/rotate.err" || vt_fail "no instructions: $(cat "$VT_TMP/rotate.err")"
out=$(vt_ctl br1 rotate-key 2>&1) && vt_fail "a second rotate-key replaced the pending key"
[[ $out == *"exists already (its public key is $NEW)"* ]] || vt_fail "second rotate-key: $out"
grep -q '"event":"key-generated","file":"'"$KEYFILE.next"'","public_key":"'"$NEW"'","uid":0' \
	"$VT_TMP/br1.audit" || vt_fail "no key-generated record in br1's audit log"
cp "$KEYFILE" "$VT_TMP/br1.key.old"
vt_pass "rotate-key: $KEYFILE.next (0600), public key $NEW"

# ---- 2. the rotation under a 100/s ping
PING=$VT_TMP/ping-rotation.out
vt_bg ip netns exec "$(vt_ns br1-lan)" ping -D -n -i 0.01 -W 1 -w 60 "${VT_HOST4[hq]}" >"$PING" 2>&1
pinger=$VT_BGPID
vt_wait 5 "the 100/s ping is answered" grep -q 'bytes from' "$PING" || vt_fail "no ping answers"
t_start=$(date +%s.%N)
VT_OVR_PEERCONF[hq/br1]="    next-public-key = \"$NEW\""
vt_write_conf hq
out=$(vt_ctl hq reload) || vt_fail "hq reload failed: $out"
[[ $out == *"0 peers added, 0 removed, 1 changed"* ]] || vt_fail "hq reload: $out"
[ "$(vt_json hq "peer('br1')['next_public_key']")" = "$NEW" ] || vt_fail "hq has no next key for br1"
mv "$KEYFILE.next" "$KEYFILE"
out=$(vt_ctl br1 reload) || vt_fail "br1 reload failed: $out"
vt_wait 5 "hq switches br1 to the new key" eval '[ "$(pubkey_at_hq)" = "$NEW" ]' ||
	vt_fail "hq still has $(pubkey_at_hq) for br1"
sleep 1 # answers after the switch belong to the measurement
t_end=$(date +%s.%N)
vt_bg_stop "$pinger"
read -r gap answers < <("$VT_PY" - "$PING" "$t_start" "$t_end" <<-'EOF'
	import re, sys
	start, end = float(sys.argv[2]), float(sys.argv[3])
	times = [float(m.group(1)) for line in open(sys.argv[1])
	         for m in [re.match(r"\[(\d+\.\d+)\] \d+ bytes from", line)] if m]
	inside = sorted(t for t in times if start <= t <= end)
	points = [start] + inside + [end]
	print("%.3f %d" % (max(b - a for a, b in zip(points, points[1:])), len(inside)))
EOF
)
vt_log "rotation: $answers answers in $(awk -v a="$t_start" -v b="$t_end" 'BEGIN { printf "%.1f", b - a }') s, longest gap $gap s"
awk -v g="$gap" 'BEGIN { exit !(g < 1.0) }' || vt_fail "longest gap $gap s (limit 1 s)"
[ "$(vt_json hq "peer('br1')['next_public_key']")" = null ] || vt_fail "hq still has a next key"
grep -q "peer br1: switched to its next public key $NEW; the old key $OLD is refused" "$HQLOG" ||
	vt_fail "no log line for the switch"
grep -q '"event":"key-rotated","peer":"br1","old_key":"'"$OLD"'","new_key":"'"$NEW"'"' \
	"$VT_TMP/hq.audit" || vt_fail "no key-rotated record in hq's audit log"
grep -F "$OLD $NEW # br1, rotated at " "$RECORD" | grep -Eq '^.{89} # br1, rotated at [0-9T:-]+Z$' ||
	vt_fail "$RECORD lacks the rotation: $(cat "$RECORD" 2>&1)"
vt_pass "rotation under a 100/s ping: longest gap $gap s"

# ---- 3. the same config (old + next) is unchanged, also across a restart of HQ
out=$(vt_ctl hq reload) || vt_fail "hq reload failed: $out"
[[ $out == *"0 peers added, 0 removed, 0 changed"* ]] || vt_fail "reload of old + next: $out"
[ "$(pubkey_at_hq)" = "$NEW" ] || vt_fail "reload went back to $(pubkey_at_hq)"
vt_stop hq
vt_start hq
[ "$(pubkey_at_hq)" = "$NEW" ] || vt_fail "restarted hq has $(pubkey_at_hq) for br1"
vt_wait_lan_ping br1 hq 4 8 || vt_fail "br1-lan cannot reach hq-lan after hq's restart"
# br1 with its old key again: refused now.
before=$(refused_at_hq)
cp "$KEYFILE" "$VT_TMP/br1.key.new"
cp "$VT_TMP/br1.key.old" "$KEYFILE"
vt_stop br1
vt_start br1
vt_lan_ping br1 hq 4 1 || true # traffic makes br1 initiate
vt_wait 5 "hq refuses the old key" eval '[ "$(refused_at_hq)" -gt "$before" ]' ||
	vt_fail "hq did not refuse br1's old key"
! vt_lan_ping br1 hq 4 1 || vt_fail "br1-lan reaches hq-lan with br1's old key"
cp "$VT_TMP/br1.key.new" "$KEYFILE"
vt_stop br1
vt_start br1
vt_wait_lan_ping br1 hq 4 8 || vt_fail "br1-lan cannot reach hq-lan with the new key again"
vt_pass "old + next unchanged by reload and restart; the old key is refused"

# ---- 4. the config names the new key: the record has served
unset 'VT_OVR_PEERCONF[hq/br1]'
VT_OVR_KEY[hq/br1]=$NEW
vt_write_conf hq
out=$(vt_ctl hq reload) || vt_fail "hq reload failed: $out"
[[ $out == *"0 peers added, 0 removed, 0 changed"* ]] || vt_fail "reload naming the new key: $out"
[ ! -e "$RECORD" ] || vt_fail "$RECORD still exists: $(cat "$RECORD")"
vt_ping_lossless br1 hq 4 5 0.05 || vt_fail "br1-lan lost pings after the last reload"
vt_pass "config names the new key: unchanged, rotation record dropped"
