#!/bin/bash
# t21: roaming. While both branch LANs ping hq-lan ten times a second, br1's underlay
# address changes (203.0.113.2 -> .3) and the NAT in front of br2 forgets its mappings
# (conntrack -F), so br2's next datagram leaves from another public port. hq follows
# each branch to where its latest authenticated packet came from: LAN traffic is back
# within 2 s of the branch's next packet (the longest gap between replies stays under
# 2 s), and hq shows the new endpoints. Without roaming hq would answer the old
# address and port forever.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
vt_init 120
vt_need_vpnd
command -v conntrack >/dev/null || vt_skip "needs conntrack (package conntrack)"
vt_topology
# A fresh mapping gets a random public port, so that a flushed one comes back elsewhere
# (plain masquerade would hand br2 its old port again).
vt_in nat nft flush chain ip nat postrouting
vt_in nat nft add rule ip nat postrouting oifname wan masquerade fully-random ||
	vt_fail "nat: nftables masquerade fully-random"
vt_keys
vt_mesh_up
vt_wait_lan_ping br1 hq 4 20 || vt_fail "br1-lan cannot reach hq-lan"
vt_wait_lan_ping br2 hq 4 20 || vt_fail "br2-lan cannot reach hq-lan"
br1_was=$(vt_json hq 'peer("br1")["endpoint"]')
br2_was=$(vt_json hq 'peer("br2")["endpoint"]')
[ "$br1_was" = "${VT_PUB4[br1]}:${VT_PORT[br1]}" ] || vt_fail "hq: br1 at $br1_was"
vt_log "hq sees br1 at $br1_was, br2 at $br2_was"

# replies FILE: how many replies ping -D printed.
replies() { grep -c 'bytes from' "$1" 2>/dev/null || true; }

# gap FILE SINCE: the longest silence (s) between replies, counting from the first one,
# and how many replies came after SINCE (a Unix time).
gap() {
	"$VT_PY" - "$1" "$2" <<-'EOF'
		import re, sys
		t = [float(m.group(1)) for m in re.finditer(r"^\[(\d+\.\d+)\] \d+ bytes from",
		                                           open(sys.argv[1]).read(), re.M)]
		since = float(sys.argv[2])
		worst = max((b - a for a, b in zip(t, t[1:])), default=99.0)
		print("%.2f %d" % (worst, sum(1 for x in t if x > since)))
	EOF
}

pids=()
for b in br1 br2; do
	vt_bg ip netns exec "$(vt_ns "$b-lan")" ping -4 -D -n -i 0.1 -c 60 -W 1 \
		"$(vt_host hq 4)" >"$VT_TMP/roam-$b.out" 2>&1
	pids+=("$VT_BGPID")
done
flowing() {
	[ "$(replies "$VT_TMP/roam-br1.out")" -ge 5 ] && [ "$(replies "$VT_TMP/roam-br2.out")" -ge 5 ]
}
vt_wait 5 "pings flowing" flowing || vt_fail "the pings never got through"

moved=$(date +%s.%N)
# br1 gets another address on its line (its provider renumbered it) ...
vt_in br1 ip -4 addr flush dev wan
vt_in br1 ip addr add 203.0.113.3/24 dev wan
vt_in br1 ip route add default via 203.0.113.1
# ... and the NAT in front of br2 forgets every mapping.
vt_in nat conntrack -F >/dev/null 2>&1 || vt_fail "conntrack -F in nat failed"
vt_log "br1 now at 203.0.113.3, nat's mappings flushed"

for pid in "${pids[@]}"; do
	vt_reap "$pid" 30 || true
done
for b in br1 br2; do
	read -r worst after < <(gap "$VT_TMP/roam-$b.out" "$moved")
	vt_log "$b-lan -> hq-lan: $(replies "$VT_TMP/roam-$b.out") of 60 replies," \
		"longest gap ${worst}s, $after after the move"
	[ "$after" -ge 20 ] || vt_fail "$b-lan: only $after replies after the move"
	awk -v g="$worst" 'BEGIN { exit !(g < 2.0) }' ||
		vt_fail "$b-lan: traffic stopped for ${worst}s (limit 2 s)"
done
vt_pass "both branches' LAN traffic recovered within 2 s"

br1_now=$(vt_json hq 'peer("br1")["endpoint"]')
br2_now=$(vt_json hq 'peer("br2")["endpoint"]')
[ "$br1_now" = "203.0.113.3:${VT_PORT[br1]}" ] ||
	vt_fail "hq: br1's endpoint is $br1_now, expected 203.0.113.3:${VT_PORT[br1]}"
case $br2_now in
"$VT_NAT_PUB4":*) ;;
*) vt_fail "hq: br2's endpoint is $br2_now, expected the NAT's address" ;;
esac
[ "$br2_now" != "$br2_was" ] ||
	vt_fail "hq: br2 still at $br2_was: the NAT kept its port, so nothing roamed"
grep -q "peer br1: endpoint is now 203.0.113.3:${VT_PORT[br1]}" "$(vt_logfile hq)" ||
	vt_fail "hq did not log br1's move"
vt_pass "hq followed br1 to $br1_now and br2 from $br2_was to $br2_now"
