#!/bin/bash
# t26: clock-safe handshakes. br1 is restarted with its wall clock a day behind
# (libfaketime; its monotonic clocks stay true). Without its state directory's timestamp
# floor HQ refuses it (its handshake timestamps are older than those HQ has seen), which
# shows both that the clock really is behind for vpnd and what the floor is for; with the
# floor kept from the run before, it connects at once.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
vt_init 90
vt_need_vpnd
command -v faketime >/dev/null || vt_skip "needs faketime (Debian packages faketime, libfaketime)"
LIBFAKETIME=
for f in /usr/lib/*/faketime/libfaketimeMT.so.1 /usr/lib/faketime/libfaketimeMT.so.1 \
	/usr/local/lib/faketime/libfaketimeMT.so.1; do
	[ -e "$f" ] && LIBFAKETIME=$f && break
done
[ -n "$LIBFAKETIME" ] || vt_skip "needs libfaketime (libfaketimeMT.so.1)"
vt_topology
vt_keys

# vpnd with the wall clock a day behind; CLOCK_MONOTONIC and CLOCK_BOOTTIME stay true, as
# on a router whose real-time clock is wrong after a reboot. ASan must accept a
# preloaded library ahead of its own.
REAL_VPND=$VPND
BEHIND=$VT_TMP/vpnd-a-day-behind
cat >"$BEHIND" <<EOF
#!/bin/sh
export LD_PRELOAD="$LIBFAKETIME\${LD_PRELOAD:+:\$LD_PRELOAD}" FAKETIME=-1d FAKETIME_DONT_FAKE_MONOTONIC=1
export ASAN_OPTIONS="\${ASAN_OPTIONS:+\$ASAN_OPTIONS:}verify_asan_link_order=0"
exec "$REAL_VPND" "\$@"
EOF
chmod 755 "$BEHIND"
start_behind() {
	VPND=$BEHIND
	vt_start br1
	VPND=$REAL_VPND
}
DAY=86400

VT_PEERS_OF[hq]=br1
VT_PEERS_OF[br1]=hq
for s in hq br1; do
	vt_write_conf "$s"
	vt_start "$s"
done
FLOOR=$(vt_state_dir br1)/$VT_IFNAME.timestamp
vt_wait_lan_ping br1 hq 4 20 || vt_fail "br1-lan cannot reach hq-lan"
# floor_value: the time br1 keeps, in seconds.
floor_value() { sed -n 's/^\([0-9][0-9]*\) # .*/\1/p' "$FLOOR" | awk '{ printf "%d", $1 / 1e9 }'; }
vt_wait 5 "br1 keeps its timestamp floor" test -s "$FLOOR" || vt_fail "br1 wrote no $FLOOR"
now=$(date +%s)
f=$(floor_value)
((f > now && f <= now + 61)) || vt_fail "br1's floor $f is not within a minute ahead of $now"
[ "$(stat -c %a "$FLOOR")" = 600 ] || vt_fail "$FLOOR has mode $(stat -c %a "$FLOOR")"
vt_pass "br1 keeps a floor $((f - now)) s ahead in $FLOOR"

refused() { vt_json hq "peer('br1')['drops']['handshake_refused']"; }

# ---- 1. a day behind, without the floor: refused
vt_stop br1
mv "$FLOOR" "$VT_TMP/floor.saved"
before=$(refused)
start_behind
vt_lan_ping br1 hq 4 1 || true # traffic makes br1 initiate
vt_wait 5 "hq refuses br1's old timestamps" eval '[ "$(refused)" -gt "$before" ]' ||
	vt_fail "hq did not refuse br1 with its clock a day behind"
! vt_lan_ping br1 hq 4 2 || vt_fail "br1-lan reaches hq-lan with br1's clock a day behind"
grep -q "handshake refused from br1: .*timestamp" "$(vt_logfile hq)" ||
	vt_fail "hq's log does not say why it refused br1"
# What br1 keeps now is its own idea of the time: a day behind.
vt_wait 5 "br1 writes a new floor" test -s "$FLOOR" || vt_fail "br1 wrote no floor"
now=$(date +%s)
f=$(floor_value)
((f > now - DAY - 30 && f < now - DAY + 90)) ||
	vt_fail "vpnd under faketime kept $f, not about a day before $now: is its clock faked?"
vt_pass "a day behind without the floor: refused ($(refused) refusals), vpnd's clock at $((f - 60 - now)) s"

# ---- 2. a day behind, with the floor of the run before: connects at once
vt_stop br1
mv "$VT_TMP/floor.saved" "$FLOOR"
kept=$(floor_value)
t0=$(date +%s.%N)
start_behind
vt_wait_lan_ping br1 hq 4 5 || vt_fail "br1-lan cannot reach hq-lan with the floor kept"
vt_log "br1-lan reached hq-lan $(awk -v t="$t0" -v n="$(date +%s.%N)" 'BEGIN { printf "%.2f", n - t }') s after br1's start"
# Still a day behind: the handshake br1 records is dated by its own clock.
hs=$(vt_json br1 "peer('hq')['latest_handshake']")
now=$(date +%s)
((hs > now - DAY - 30 && hs < now - DAY + 30)) ||
	vt_fail "br1's latest handshake $hs is not a day before $now"
# The floor moved on past the one kept, not back to br1's clock.
vt_wait 5 "br1 moves its floor on" eval '[ "$(floor_value)" -gt "$kept" ]' ||
	vt_fail "br1's floor did not move past $kept: $(cat "$FLOOR")"
vt_pass "a day behind with the floor kept: connected at once, floor moved to $(floor_value)"
