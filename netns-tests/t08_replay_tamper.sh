#!/bin/bash
# t08: transport packets from br1 to hq, captured on the internet and sent again (same
# source address and port), never reach hq's LAN a second time and are counted as
# replays; tampered copies are counted as decryption failures and never delivered.
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

N=20
SINK_PORT=7777
sink="$VT_TMP/sink.txt"
cap="$VT_TMP/capture.bin"
: >"$sink"
vt_bg ip netns exec "$(vt_ns hq-lan)" "$VT_PY" "$VT_TOOLS/udp.py" sink --port "$SINK_PORT" \
	--out "$sink" --timeout 150 </dev/null >"$VT_TMP/sink.out" 2>&1
sink_pid=$VT_BGPID
vt_wait 10 "UDP sink on hq-lan" vt_port_listening hq-lan "$SINK_PORT" udp ||
	vt_fail "UDP sink did not start"

# Record the transport data packets br1 sends to hq, as they leave inet towards hq.
vt_bg ip netns exec "$(vt_ns inet)" "$VT_PY" "$VT_TOOLS/pkt.py" capture --iface to-hq \
	--port "${VT_PORT[hq]}" --out "$cap" --count "$N" --timeout 60 \
	--ready "$VT_TMP/capture.ready" </dev/null >"$VT_TMP/capture.out" 2>&1
cap_pid=$VT_BGPID
vt_wait 10 "capture to start" eval "[ -s '$VT_TMP/capture.ready' ]" || vt_fail "capture did not start"

ip netns exec "$(vt_ns br1-lan)" timeout 30 "$VT_PY" "$VT_TOOLS/udp.py" send \
	--dst "${VT_HOST4[hq]}" --port "$SINK_PORT" --count "$N" --prefix replay-test --gap 50 ||
	vt_fail "udp.py send failed"
vt_wait 10 "$N datagrams at hq-lan" eval "[ \$(wc -l <'$sink') -ge $N ]" ||
	vt_fail "only $(wc -l <"$sink") of $N datagrams reached hq-lan"
vt_reap "$cap_pid" 15 || vt_fail "capture did not finish"
captured=$(head -n 1 "$VT_TMP/capture.out")
[ "$captured" = "$N" ] || vt_fail "captured $captured transport packets, expected $N"
vt_pass "$N datagrams delivered once, $captured tunnel packets captured"

delivered_once() {
	local lines uniq
	lines=$(wc -l <"$sink")
	uniq=$(sort -u "$sink" | wc -l)
	[ "$lines" = "$N" ] && [ "$uniq" = "$N" ] ||
		vt_fail "hq-lan received $lines datagrams ($uniq distinct) after $1; expected $N once each"
}

hq_wan_rx() { ip -n "$(vt_ns hq)" -s -j link show wan | "$VT_PY" -c \
	'import json,sys; print(json.load(sys.stdin)[0]["stats64"]["rx"]["packets"])'; }

# drops_expr A[+B...]: the Python expression summing hq's drop counters A, B… for br1.
drops_expr() {
	local c e=
	for c in ${1//+/ }; do e+="${e:+ + }peer('br1')['drops']['$c']"; done
	echo "($e)"
}

# replay_and_count WHAT COUNTERS PKT-OPTIONS...: resend the captured packets, wait until
# hq's drop COUNTERS (A or A+B) for br1 grew by N, check nothing new reached hq-lan.
replay_and_count() {
	local what=$1 counter=$2 expr c0 c1 rx0 rx1 sent
	shift 2
	expr=$(drops_expr "$counter")
	c0=$(vt_json hq "$expr")
	rx0=$(hq_wan_rx)
	sent=$(ip netns exec "$(vt_ns inet)" timeout 30 "$VT_PY" "$VT_TOOLS/pkt.py" replay \
		--iface to-hq --in "$cap" "$@") || vt_fail "pkt.py replay failed"
	[ "$sent" = "$N" ] || vt_fail "pkt.py sent $sent of $N packets"
	vt_wait 10 "$what: hq's drops.$counter += $N" vt_json_true hq "$expr >= $c0 + $N" || {
		rx1=$(hq_wan_rx)
		vt_fail "$what: drops.$counter went $c0 -> $(vt_json hq "$expr"), expected +$N (hq's wan received $((rx1 - rx0)) packets meanwhile)"
	}
	sleep 0.5 # not a synchronization: gives a wrongly accepted packet time to show up
	delivered_once "$what"
	c1=$(vt_json hq "$expr")
	vt_pass "$what: never delivered, drops.$counter $c0 -> $c1"
}

replay_and_count "replayed packets" replay
replay_and_count "replayed again" replay --gap 0
replay_and_count "tampered packets with fresh counters" decrypt --tamper --bump-counter 1000000
# With an old counter, a receiver may find the replay before or after the decryption.
replay_and_count "tampered packets" decrypt+replay --tamper

# The session itself is unharmed.
vt_ping_lossless br1 hq 4 5 0.2 || vt_fail "ping br1-lan -> hq-lan after the replays"
vt_bg_stop "$sink_pid"
