#!/bin/bash
# t18: denial of service. From the internet namespace, a flood of handshake initiations
# with a valid mac1 (the attacker knows HQ's public key) from spoofed sources, as fast as
# one core sends them. Meanwhile:
#   - br1 restarts and completes a new handshake with HQ within 2 s;
#   - a 10/s ping from br2-lan to hq-lan loses under 5 %;
#   - HQ's memory stays bounded; cookie replies and under-load drops are counted;
#   - the initiations went through HQ's bounded handshake queue, which never held more
#     than its capacity, and none waited in it for half a second.
# Then a flood from one real address that answers cookie replies (so its mac2 is valid)
# is held to its per-source rate: rate_limited drops are counted.
# Prints the flood rate and HQ's CPU use.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
vt_init 200
vt_need_vpnd
[ -x "$FLOOD" ] || vt_fail "FLOOD=$FLOOD is not an executable (build first)"
vt_topology
vt_keys
vt_mesh_up
vt_wait_lan_ping br1 hq 4 30 || vt_fail "br1-lan cannot ping hq-lan"
vt_wait_lan_ping br2 hq 4 30 || vt_fail "br2-lan cannot ping hq-lan"

hq_pid=${VT_PID[hq]}
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$hq_pid/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$hq_pid/stat"; }
rss0=$(rss_kb)
ticks0=$(cpu_ticks)
t0=$(date +%s.%N)

flood_secs=20
vt_bg ip netns exec "$(vt_ns inet)" "$FLOOD" -t "${VT_PUB4[hq]}:${VT_PORT[hq]}" \
	-k "${VT_PUBKEY[hq]}" -s 100.64.0.0/10 -d "$flood_secs" >"$VT_TMP/flood.out" 2>&1
flood_pid=$VT_BGPID
vt_bg ip netns exec "$(vt_ns br2-lan)" ping -c 180 -i 0.1 -W 2 -q "${VT_HOST4[hq]}" \
	>"$VT_TMP/ping-br2.out" 2>&1
ping_pid=$VT_BGPID
vt_wait 5 "HQ under load" vt_json_true hq 'd["cookie_replies_sent"] > 0' ||
	vt_fail "the flood never put HQ under load (no cookie replies)"

# A branch reconnecting in the middle of the attack.
vt_stop br1
h0=$(vt_json hq 'peer("br1")["handshakes"]')
vt_start br1
start=$(date +%s.%N)
vt_bg ip netns exec "$(vt_ns br1-lan)" ping -c 30 -i 0.1 -W 1 -q "${VT_HOST4[hq]}" \
	>/dev/null 2>&1
vt_wait 10 "br1's new handshake" vt_json_true hq "peer('br1')['handshakes'] > $h0" ||
	vt_fail "br1 could not complete a handshake during the flood"
took=$(echo "$(date +%s.%N) - $start" | bc)
vt_log "br1 reconnected $took s after its restart, under the flood"
awk -v t="$took" 'BEGIN { exit !(t <= 2.0) }' || vt_fail "br1 took $took s (limit 2 s)"

vt_reap "$ping_pid" 40 || true
vt_reap "$flood_pid" 40 || vt_fail "the flood tool failed: $(cat "$VT_TMP/flood.out")"
t1=$(date +%s.%N)
ticks1=$(cpu_ticks)
rss1=$(rss_kb)
read -r sent got <<<"$(vt_ping_stats "$VT_TMP/ping-br2.out")"
loss=$(echo "scale=2; 100 * ($sent - $got) / $sent" | bc)
cpu=$(echo "scale=1; 100 * ($ticks1 - $ticks0) / $(getconf CLK_TCK) / ($t1 - $t0)" | bc)
vt_log "$(cat "$VT_TMP/flood.out")"
vt_log "during the flood: br2-lan ping $got of $sent answered ($loss % lost); HQ vpnd used $cpu % of a core; RSS $rss0 -> $rss1 kB"
vt_log "HQ counted: $(vt_json hq '{k: d[k] for k in ("cookie_replies_sent", "handshake_initiations_received")}') drops $(vt_json hq '{k: v for k, v in d["drops"].items() if v}')"
awk -v l="$loss" 'BEGIN { exit !(l < 5) }' || vt_fail "ping loss $loss % under the flood (limit 5 %)"
[ $((rss1 - rss0)) -lt 8192 ] || vt_fail "HQ's memory grew by $((rss1 - rss0)) kB under the flood"
vt_json_true hq 'd["cookie_replies_sent"] > 1000' || vt_fail "too few cookie replies counted"
vt_json_true hq 'd["drops"]["under_load"] > 1000' || vt_fail "too few under-load drops counted"
vt_pass "flood survived: br1 back in $took s, br2 lost $loss %, memory +$((rss1 - rss0)) kB"

# The flood went through the bounded handshake queue, behind the transport data of each
# batch: the queue never held more than its capacity, and no message waited long in it.
hsq=$(vt_json hq 'd["handshake_queue"]')
vt_log "HQ's handshake queue: $hsq; handshake_backlog drops $(vt_json hq 'd["drops"]["handshake_backlog"]')"
vt_json_true hq 'd["handshake_queue"]["queued"] > 1000' ||
	vt_fail "the flood's initiations did not go through the handshake queue: $hsq"
vt_json_true hq '0 < d["handshake_queue"]["high_water"] <= d["handshake_queue"]["capacity"]' ||
	vt_fail "handshake queue high water out of bounds: $hsq"
vt_json_true hq 'd["handshake_queue"]["wait_max_ms"] < 500' ||
	vt_fail "a handshake message waited too long in the queue: $hsq"
vt_pass "handshake queue bounded: $hsq"

# One real source that proves its address with cookies: only its fair share gets
# through to the Diffie-Hellman.
before=$(vt_json hq 'd["drops"]["rate_limited"]')
ip netns exec "$(vt_ns inet)" "$FLOOD" -t "${VT_PUB4[hq]}:${VT_PORT[hq]}" -k "${VT_PUBKEY[hq]}" \
	-c -d 5 >"$VT_TMP/flood-cookie.out" 2>&1 || vt_fail "cookie flood: $(cat "$VT_TMP/flood-cookie.out")"
vt_log "$(cat "$VT_TMP/flood-cookie.out")"
after=$(vt_json hq 'd["drops"]["rate_limited"]')
refused=$(vt_json hq 'd["drops"]["handshake_refused"]')
[ $((after - before)) -gt 100 ] || vt_fail "only $((after - before)) rate_limited drops for a cookie-answering flood"
vt_pass "cookie-answering flood held to its rate: $((after - before)) rate_limited, $refused reached Noise and were refused"
vt_alive_site hq || vt_fail "HQ's vpnd died"
