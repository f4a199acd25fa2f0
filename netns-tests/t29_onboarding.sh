#!/bin/bash
# shellcheck disable=SC2015 # "check && check || vt_fail" is meant: fail when any check fails
# t29: one-command onboarding. On hq, `vpnctl branch add br3 --subnet ... --endpoint ...
# --out FILE` adds the peer to hq's config file and reloads; a new site made here (br3
# on its own link to the internet, 198.18.2.0/24, with a LAN host behind it) runs vpnd
# with exactly FILE (mode 0600, defaults and all: /run and /var/lib are private to it)
# and its LAN host reaches hq-lan. hq restarted still knows br3, and its config stays
# valid (vpnd -n). Mistakes (no endpoint known, a subnet that is taken) change nothing;
# without --endpoint, hq's public-endpoint is used.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
vt_init 120
vt_need_vpnd
command -v nsenter >/dev/null && command -v unshare >/dev/null || vt_skip "needs nsenter, unshare (util-linux)"
vt_topology
vt_keys
VT_PEERS_OF=([hq]=br1)
VT_EXTRA_CONF[hq]="networks = {\"${VT_LAN4[hq]}\", \"${VT_LAN6[hq]}\"}"
vt_write_conf hq
vt_start hq
hq_conf=$(vt_conf hq)
out_file=$VT_TMP/br3.conf
br3_log=$(vt_logfile br3)
vpnctl_abs=$(readlink -f "$VPNCTL") # entering a mount namespace starts at its root

# ctl ARGS...: vpnctl ARGS at hq; sets out, err, rc.
ctl() {
	rc=0
	out=$(vt_ctl hq "$@" 2>"$VT_TMP/ctl.err") || rc=$?
	err=$(cat "$VT_TMP/ctl.err")
}

# 1. Mistakes leave hq's config, its peers and the file system as they were.
cp "$hq_conf" "$VT_TMP/hq.conf.orig"
refused() { # refused WANT-IN-ERR ARGS...
	local want=$1
	shift
	ctl branch add "$@"
	[ "$rc" != 0 ] && grep -qF -- "$want" <<<"$err" ||
		vt_fail "branch add $*: exit $rc, err '$err' (want '$want')"
	cmp -s "$hq_conf" "$VT_TMP/hq.conf.orig" || vt_fail "a refused branch add changed $hq_conf"
	[ ! -e "$out_file" ] || vt_fail "a refused branch add left $out_file"
	! ls "$VT_TMP"/hq.br3.psk >/dev/null 2>&1 || vt_fail "a refused branch add left a psk file"
	[ "$(vt_json hq 'len(d["peers"])')" = 1 ] || vt_fail "a refused branch add changed hq's peers"
}
refused "has no public-endpoint: give --endpoint HOST:PORT" br3 --subnet 10.4.0.0/24 --out "$out_file"
refused "--subnet ${VT_LAN4[br1]} overlaps ${VT_LAN4[br1]}, in the allowed-ips of peer 'br1'" \
	br3 --subnet "${VT_LAN4[br1]}" --endpoint "${VT_PUB4[hq]}:51820" --out "$out_file"
refused "HQ has a peer named 'br1' already" br1 --endpoint "${VT_PUB4[hq]}:51820" --out "$out_file"
vt_pass "mistakes refused, nothing changed: $err"

# 2. The onboarding itself.
ctl branch add br3 --subnet 10.4.0.0/24 --endpoint "${VT_PUB4[hq]}:${VT_PORT[hq]}" --out "$out_file"
[ "$rc" = 0 ] || vt_fail "branch add br3: exit $rc, err '$err'"
vt_log "branch add: $out"
[ "$(stat -c %a "$out_file")" = 600 ] || vt_fail "$out_file has mode $(stat -c %a "$out_file"), not 600"
[ "$(stat -c %a "$VT_TMP/hq.br3.psk")" = 600 ] || vt_fail "hq's psk file for br3 is not mode 600"
[ "$(vt_json hq 'sorted(peer("br3")["allowed_ips"])')" = '["10.4.0.0/24", "10.99.0.3/32", "fd99::3/128"]' ] ||
	vt_fail "hq's peer br3 has allowed-ips $(vt_json hq 'peer("br3")["allowed_ips"]')"
[ -n "$(ip -n "$(vt_ns hq)" route show 10.4.0.0/24 dev "$VT_IFNAME")" ] || vt_fail "hq has no route to 10.4.0.0/24"
grep -q '^peer "br3" {' "$hq_conf" || vt_fail "$hq_conf has no section for br3"
grep -qF "${VT_LAN4[br1]}" "$out_file" && grep -qF "${VT_LAN4[hq]}" "$out_file" &&
	grep -qF '"10.99.0.3/24"' "$out_file" ||
	vt_fail "br3's config lacks hq's LAN, br1's LAN or its address 10.99.0.3/24:
$(grep -v private-key "$out_file")"
vt_pass "branch add: hq's config and peers extended, $out_file written with mode 600"

# 3. A new site runs vpnd with exactly that file. /run and /var/lib are its own (what
# systemd's RuntimeDirectory= and StateDirectory= give it), so the file's default paths
# touch nothing of this machine's.
vt__addns br3 router
vt__addns br3-lan
vt__link inet to-br3 br3 wan
vt__addr inet to-br3 198.18.2.1/24
vt__addr br3 wan 198.18.2.2/24
vt__route br3 default via 198.18.2.1
vt__link br3 lan br3-lan eth0
vt__addr br3 lan 10.4.0.1/24
vt__addr br3-lan eth0 10.4.0.2/24
vt__route br3-lan default via 10.4.0.1
vt_wait 10 "underlay: br3 reaches hq" vt_q vt_in br3 ping -c 1 -W 1 -q "${VT_PUB4[hq]}" ||
	vt_fail "underlay broken: br3 cannot ping hq"

start_br3() {
	echo "===== vpnd -c $out_file started $(date +%T.%3N)" >>"$br3_log"
	ip netns exec "$(vt_ns br3)" unshare --mount --propagation private sh -c '
		mount -t tmpfs br3-run /run && mount -t tmpfs br3-state /var/lib &&
		mkdir -p /run/vpnd /run/wireguard /var/lib/vpnd && exec "$0" -c "$1"' \
		"$VPND" "$out_file" </dev/null >>"$br3_log" 2>&1 &
	VT_PID[br3]=$!
	VT_KIND[br3]=vpnd
	vt_wait 20 "br3's vpnd answering" br3_ctl show --json >/dev/null ||
		vt_fail "vpnd in br3 did not start: $(tail -n 20 "$br3_log")"
}
# br3_ctl ARGS...: vpnctl in br3's vpnd's own mount namespace, at its default socket.
br3_ctl() {
	vt_alive "${VT_PID[br3]}" || vt_fail "vpnd in br3 exited: $(tail -n 20 "$br3_log")"
	nsenter -t "${VT_PID[br3]}" -m -n timeout 5 "$vpnctl_abs" -s "/run/vpnd/$VT_IFNAME.sock" "$@" 2>/dev/null
}
br3_lan_ping() { # br3_lan_ping TO-ADDRESS
	timeout 5 ip netns exec "$(vt_ns br3-lan)" ping -c 1 -W 1 -q "$1" >/dev/null 2>&1
}

start_br3
vt_wait 15 "br3-lan reaches hq-lan" br3_lan_ping "${VT_HOST4[hq]}" ||
	vt_fail "br3-lan cannot reach hq-lan with the written config; br3 log: $(tail -n 20 "$br3_log")"
timeout 5 ip netns exec "$(vt_ns hq-lan)" ping -c 1 -W 2 -q 10.4.0.2 >/dev/null ||
	vt_fail "hq-lan cannot reach br3-lan"
vt_pass "a site started with exactly $out_file reaches hq-lan (and back)"

# 4. hq restarted still knows br3; its config stays valid.
ip netns exec "$(vt_ns hq)" "$VPND" -c "$hq_conf" -n >"$VT_TMP/check.out" 2>&1 ||
	vt_fail "hq's config is no longer valid: $(cat "$VT_TMP/check.out")"
vt_stop hq || vt_fail "hq: vpnd exited with $?"
vt_start hq
vt_json_true hq '"10.4.0.0/24" in peer("br3")["allowed_ips"]' || vt_fail "hq forgot br3 across a restart"
# br3 still holds the session the old hq had; its restart makes it call at once.
kill -TERM "${VT_PID[br3]}" && vt_reap "${VT_PID[br3]}" 10 || vt_fail "br3's vpnd did not stop cleanly"
start_br3
vt_wait 15 "br3-lan reaches hq-lan after hq's restart" br3_lan_ping "${VT_HOST4[hq]}" ||
	vt_fail "br3-lan cannot reach hq-lan after hq restarted"
vt_pass "hq restarted knows br3, vpnd -n accepts its config, br3-lan reaches hq-lan"

# 5. Without --endpoint, hq's public-endpoint is the branch's way in.
echo 'public-endpoint = "hq.example.net:51820"' >>"$hq_conf"
ctl reload
[ "$rc" = 0 ] || vt_fail "reload with public-endpoint: $err"
[ "$(vt_json hq 'd["public_endpoint"]')" = "hq.example.net:51820" ] || vt_fail "show --json public_endpoint"
ctl branch add br4 --out "$VT_TMP/br4.conf"
[ "$rc" = 0 ] || vt_fail "branch add br4 (no --endpoint, no --subnet): $err"
grep -q '^ *endpoint *= "hq.example.net:51820"$' "$VT_TMP/br4.conf" &&
	grep -qF '"10.99.0.4/24"' "$VT_TMP/br4.conf" ||
	vt_fail "br4's config: $(grep -v private-key "$VT_TMP/br4.conf")"
vt_pass "without --endpoint the branch uses hq's public-endpoint; br4 got 10.99.0.4"
