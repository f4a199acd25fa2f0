#!/bin/bash
# t31: crash and restart at HQ. vpnd at HQ is killed with SIGKILL and started again; the
# LAN traffic of both branches (br1 with a public address, br2 behind the NAT, whose
# endpoint HQ knows only from the run before) is back within 6 s, with nothing done on
# the branches. What a crash leaves behind is cleaned up by the next start, and only
# that: the socket files (a live daemon's socket is never taken: a second vpnd with the
# same config, or with the same control socket, refuses to start and the first keeps
# working), a persistent TUN device with stale addresses and routes (removed), while a
# device of another kind or a TUN another process holds is left alone (vpnd refuses).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
vt_init 120
vt_need_vpnd
vt_topology
vt_keys

LIMIT=6 # seconds from the restart to LAN traffic from both branches
HQNS=$(vt_ns hq)

for s in hq br1 br2; do
	vt_write_conf "$s"
	# The state directory keeps HQ's memory of br2's endpoint (lib.sh may set it already).
	grep -q '^state-directory' "$(vt_conf "$s")" ||
		echo "state-directory = \"$VT_TMP/$s.state\"" >>"$(vt_conf "$s")"
	mkdir -p "$VT_TMP/$s.state"
done
for s in hq br1 br2; do vt_start "$s"; done
vt_wait_lan_ping br1 hq 4 20 || vt_fail "br1-lan cannot reach hq-lan"
vt_wait_lan_ping br2 hq 4 20 || vt_fail "br2-lan cannot reach hq-lan"
ENDPOINTS=$VT_TMP/hq.state/$VT_IFNAME.endpoints
vt_wait 5 "hq remembers br2's endpoint" grep -qs "^${VT_PUBKEY[br2]} ${VT_NAT_PUB4}:" "$ENDPOINTS" ||
	vt_fail "hq did not write br2's endpoint into $ENDPOINTS"

# crash_hq: SIGKILL, so nothing of vpnd's own cleanup runs.
crash_hq() {
	local pid=${VT_PID[hq]}
	kill -KILL "$pid"
	vt_reap "$pid" 5 || true
	VT_PID[hq]=
}

# restart_and_measure LABEL: start hq again while both branch LAN hosts ping hq-lan ten
# times a second; print how long after the start each got its first answer.
restart_and_measure() {
	local label=$1 s t0 t_ready first dt worst=0
	declare -A probe=()
	t0=$(date +%s.%N)
	for s in br1 br2; do
		vt_bg ip netns exec "$(vt_ns "$s-lan")" ping -D -n -i 0.1 -W 1 -w 20 \
			"${VT_HOST4[hq]}" >"$VT_TMP/probe-$s.out" 2>&1
		probe[$s]=$VT_BGPID
	done
	vt_start hq
	t_ready=$(date +%s.%N)
	# first_answer SITE: Unix time of its first answer after t0, printed; 1 if none yet.
	first_answer() {
		awk -v t0="$t0" '/bytes from/ { t = substr($1, 2, length($1) - 2); if (t + 0 > t0 + 0) { print t; exit 0 } } END { }' \
			"$VT_TMP/probe-$1.out" | grep .
	}
	vt_wait $((LIMIT + 6)) "both branches reach hq-lan after the restart" \
		eval 'first_answer br1 >/dev/null && first_answer br2 >/dev/null' || true
	for s in br1 br2; do vt_bg_stop "${probe[$s]}"; done
	vt_log "$label: vpnd ready $(awk -v a="$t0" -v b="$t_ready" 'BEGIN { printf "%.2f", b - a }') s after the start"
	for s in br1 br2; do
		first=$(first_answer "$s") || vt_fail "$label: $s-lan got no answer from hq-lan within $((LIMIT + 6)) s"
		dt=$(awk -v a="$t0" -v b="$first" 'BEGIN { printf "%.2f", b - a }')
		vt_log "$label: $s-lan -> hq-lan back $dt s after the restart"
		if awk -v d="$dt" -v l="$LIMIT" 'BEGIN { exit !(d > l) }'; then
			vt_fail "$label: $s-lan needed $dt s (limit $LIMIT s)"
		fi
	done
	vt_pass "$label: both branches' LAN traffic back within $LIMIT s"
}

# ---- 1. SIGKILL: what survives, and a restart that picks up the sessions
sock_id() { stat -c '%i %z' "$(vt_sock hq)"; } # inode and ctime (ns): a new file differs
sock_ino=$(sock_id)
crash_hq
[ -S "$(vt_sock hq)" ] || vt_fail "expected the control socket file to survive SIGKILL"
[ -S "$(vt_uapi_sock hq)" ] || vt_fail "expected the UAPI socket file to survive SIGKILL"
if ip -n "$HQNS" link show "$VT_IFNAME" >/dev/null 2>&1; then
	vt_fail "the kernel kept $VT_IFNAME after its only holder died"
fi
vt_log "after SIGKILL: control and UAPI socket files remain; $VT_IFNAME and its routes are gone"
restart_and_measure "restart after SIGKILL"
[ "$(sock_id)" != "$sock_ino" ] || vt_fail "the control socket is the stale file"
grep -q 'the previous run did not close it' "$(vt_logfile hq)" ||
	vt_fail "hq's log does not say that the audit log was left open by the crash"
vt_pass "stale control and UAPI sockets replaced, the audit log continued"

# ---- 2. A second vpnd never takes a live daemon's place
# expect_refused CONF PATTERN WHAT: vpnd -c CONF in hq's namespace exits non-zero and
# says PATTERN.
expect_refused() {
	local out=$VT_TMP/refused.out rc=0
	timeout 20 ip netns exec "$HQNS" "$VPND" -c "$1" </dev/null >"$out" 2>&1 || rc=$?
	[ "$rc" != 0 ] && [ "$rc" != 124 ] || vt_fail "$3: vpnd did not refuse to start (exit $rc)"
	grep -q -- "$2" "$out" || {
		cat "$out"
		vt_fail "$3: vpnd's message does not say '$2'"
	}
	vt_pass "$3: refused ($(grep -m1 -- "$2" "$out" | sed 's/^vpnd\[[0-9]*\]: //'))"
}
first_alive() {
	vt_alive_site hq || vt_fail "the first vpnd died"
	[ "$(sock_id)" = "$sock_ino" ] || vt_fail "the first vpnd's socket was replaced"
	vt_ctl hq show >/dev/null || vt_fail "the first vpnd no longer answers on its socket"
	vt_lan_ping br1 hq 4 1 && vt_lan_ping br2 hq 4 1 || vt_fail "LAN traffic broke"
}
sock_ino=$(sock_id)
expect_refused "$(vt_conf hq)" "answers there" "second vpnd with the same config"
first_alive
# Same control socket, everything else its own: the socket answers, so it is not stale.
sed -e "s|^interface = .*|interface = \"vpn1\"|" -e 's|^listen-port = .*|listen-port = 0|' \
	-e "s|^audit-log = .*|audit-log = \"$VT_TMP/hq2.audit\"|" -e '/^uapi-socket/d' \
	-e '/^state-directory/d' "$(vt_conf hq)" >"$VT_TMP/hq2.conf"
echo 'uapi = false' >>"$VT_TMP/hq2.conf"
expect_refused "$VT_TMP/hq2.conf" "control-socket .* answers there" "second vpnd on the same control socket"
first_alive
if ip -n "$HQNS" link show vpn1 >/dev/null 2>&1; then vt_fail "the refused vpnd left vpn1 behind"; fi
"$VPNCTL" audit verify --live "$VT_TMP/hq.audit" >/dev/null ||
	vt_fail "the first vpnd's audit log no longer verifies"
vt_pass "the first vpnd kept its socket, its tunnel and its audit chain"

# ---- 3. A persistent TUN with stale addresses and routes
crash_hq
ip -n "$HQNS" tuntap add dev "$VT_IFNAME" mode tun
ip -n "$HQNS" addr add 10.99.0.1/24 dev "$VT_IFNAME"
ip -n "$HQNS" link set "$VT_IFNAME" up
ip -n "$HQNS" route add 10.77.0.0/24 dev "$VT_IFNAME"
ip -n "$HQNS" route add "${VT_LAN4[br1]}" dev "$VT_IFNAME"
vt_log "stale $VT_IFNAME: $(ip -n "$HQNS" -d link show "$VT_IFNAME" | grep -o 'persist [a-z]*'), routes: $(ip -n "$HQNS" route show dev "$VT_IFNAME" | tr '\n' ';')"
restart_and_measure "restart over a persistent TUN"
grep -q 'removed a TUN device left by an earlier run' "$(vt_logfile hq)" ||
	vt_fail "hq's log does not mention the stale TUN device"
if ip -n "$HQNS" route show 10.77.0.0/24 | grep -q .; then vt_fail "the stale route 10.77.0.0/24 is still there"; fi
if ip -n "$HQNS" -d link show "$VT_IFNAME" | grep -q 'persist on'; then
	vt_fail "$VT_IFNAME is still the persistent device"
fi
ip -n "$HQNS" route show "${VT_LAN4[br1]}" | grep -q "dev $VT_IFNAME" || vt_fail "no route to br1's LAN"
vt_pass "stale TUN removed with its routes; a fresh, non-persistent one carries the traffic"

# ---- 4. What is not ours is left alone
crash_hq
ip -n "$HQNS" link add "$VT_IFNAME" type bridge
expect_refused "$(vt_conf hq)" "is not a TUN device vpnd can take over" "a bridge named $VT_IFNAME"
ip -n "$HQNS" -d link show "$VT_IFNAME" | grep -q bridge || vt_fail "vpnd removed the bridge"
ip -n "$HQNS" link del "$VT_IFNAME"
# A TUN device a live process holds open.
vt_bg ip netns exec "$HQNS" "$VT_PY" -c '
import fcntl, os, struct, sys, time
fd = os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(fd, 0x400454ca, struct.pack("16sH", sys.argv[1].encode(), 0x0001 | 0x1000))
print("holding", flush=True)
time.sleep(60)
' "$VT_IFNAME" >"$VT_TMP/holder.out" 2>&1
holder=$VT_BGPID
vt_wait 5 "a process holds $VT_IFNAME" grep -q holding "$VT_TMP/holder.out" || vt_fail "cannot hold a TUN"
expect_refused "$(vt_conf hq)" "is open in another process" "a TUN device held by another process"
ip -n "$HQNS" link show "$VT_IFNAME" >/dev/null 2>&1 || vt_fail "vpnd removed a TUN another process holds"
vt_bg_stop "$holder"
vt_start hq
vt_wait_lan_ping br1 hq 4 10 || vt_fail "br1-lan cannot reach hq-lan after the last start"
vt_wait_lan_ping br2 hq 4 10 || vt_fail "br2-lan cannot reach hq-lan after the last start"
vt_pass "devices that are not vpnd's leftovers are left alone"
