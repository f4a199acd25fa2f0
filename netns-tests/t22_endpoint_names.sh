#!/bin/bash
# t22: endpoints as host names. br1 names hq "hq.vt-test:51820", resolved through br1's
# own hosts file (/etc/netns/<br1's namespace>/hosts, which `ip netns exec` shows vpnd as
# /etc/hosts). The name is missing at start: vpnd says so, runs, and the peer waits; once
# the name is added the tunnel comes up. Then hq's underlay address moves twice and the
# hosts file with it: br1 follows by its periodic lookup (endpoint-refresh = 2), and,
# after a restart with endpoint-refresh = 0, by the lookup that unanswered handshakes
# trigger. hq never speaks first (it only answers), so only a lookup can find it.
# Malformed entries are still FILE:LINE errors for vpnd -n.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
vt_init 120
vt_need_vpnd

# vpnd -n: a bad port and an empty host, each on its line; a name that resolves nowhere
# is fine.
bad="$VT_TMP/bad-endpoints.conf"
key="$VT_TMP/check.key"
(umask 077 && vt_genkey >"$key")
other=$(vt_genkey | vt_pubkey)
cat >"$bad" <<EOF
interface = "vpn0"
private-key-file = "$key"
peer "hq" {
    public-key = "$other"
    endpoint = {"hq-isp1.vt-test:51820",
                "hq-isp2.vt-test:0",
                ":51820"}
}
EOF
out=$("$VPND" -n -c "$bad" 2>&1) && vt_fail "vpnd -n accepted bad endpoints: $out"
if ! grep -qx "$bad:6: endpoint: 'hq-isp2.vt-test:0' has port '0', a port is 1..65535" <<<"$out" ||
	! grep -qx "$bad:7: endpoint: ':51820' has no host" <<<"$out"; then
	vt_fail "vpnd -n said: $out"
fi
[ "$(wc -l <<<"$out")" = 2 ] || vt_fail "vpnd -n reported more than the two entries: $out"
vt_pass "vpnd -n reports bad entries with their lines"

vt_topology
vt_keys
VT_PEERS_OF[hq]=br1
VT_PEERS_OF[br1]=hq
VT_OVR_ENDPOINT[br1/hq]=hq.vt-test:51820
VT_OVR_ENDPOINT[hq/br1]=none
# A short rekey-after-time makes br1 start a handshake as soon as it sends over a
# session older than 2 s: how a failing endpoint is noticed without waiting 15 s.
VT_REKEY_SITE[br1]=2
VT_EXTRA_CONF[br1]="endpoint-refresh = 2"

# br1's hosts file, without the name yet; and no DNS server (a name missing from hosts
# fails at once instead of waiting for one).
vt_netns_etc br1
hosts=$VT_NETNS_ETC_DIR/hosts
printf '127.0.0.1 localhost\n' >"$hosts"
printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' >"$VT_NETNS_ETC_DIR/resolv.conf"
vt_write_conf hq
vt_write_conf br1
"$VPND" -n -c "$(vt_conf br1)" >/dev/null || vt_fail "br1's config does not check"
vt_start hq
vt_start br1

vt_wait 5 "br1 to warn that hq.vt-test does not resolve" \
	grep -q "peer hq: endpoint hq.vt-test:51820 does not resolve" "$(vt_logfile br1)" ||
	vt_fail "br1 did not warn about the unresolved name"
[ "$(vt_json br1 'peer("hq")["endpoint"]')" = null ] || vt_fail "br1 has an endpoint for hq"
[ "$(vt_json br1 'peer("hq")["endpoints"]')" = '["hq.vt-test:51820"]' ] ||
	vt_fail "br1: endpoints $(vt_json br1 'peer("hq")["endpoints"]')"
vt_pass "an unresolved name at start: warned, vpnd runs, the peer waits"

printf '127.0.0.1 localhost\n%s hq.vt-test\n' "${VT_PUB4[hq]}" >"$hosts"
vt_wait 10 "br1 to resolve hq.vt-test" \
	vt_json_true br1 "peer('hq')['endpoint'] == '${VT_PUB4[hq]}:51820'" ||
	vt_fail "br1 never resolved hq.vt-test"
vt_wait_lan_ping br1 hq 4 10 || vt_fail "br1-lan cannot reach hq-lan once the name resolves"
vt_pass "the name resolved later and the tunnel came up"

# hq_moves ADDR: hq's underlay address becomes ADDR (the old one is gone), and br1's hosts
# file says so. No traffic meanwhile, so that hq has nothing to send from its new address.
hq_moves() {
	local old
	old=$(vt_in hq ip -4 -o addr show dev wan | awk '{print $4}')
	vt_in hq ip addr del "$old" dev wan
	vt_in hq ip addr add "$1/24" dev wan
	vt_in hq ip route replace default via 198.51.100.1
	printf '127.0.0.1 localhost\n%s hq.vt-test\n' "$1" >"$hosts"
	vt_log "hq moved from $old to $1"
}

hq_moves 198.51.100.3
vt_wait 6 "br1 to follow hq by its periodic lookup" \
	vt_json_true br1 "peer('hq')['endpoint'] == '198.51.100.3:51820'" ||
	vt_fail "br1 did not follow hq to 198.51.100.3 (endpoint-refresh = 2)"
vt_wait_lan_ping br1 hq 4 10 || vt_fail "br1-lan cannot reach hq-lan at hq's new address"
vt_pass "periodic lookup: br1 followed hq to 198.51.100.3"

# Without periodic lookups, only failing handshakes can make br1 look again.
vt_stop br1
VT_EXTRA_CONF[br1]="endpoint-refresh = 0"
vt_write_conf br1
vt_start br1
vt_wait_lan_ping br1 hq 4 10 || vt_fail "br1-lan cannot reach hq-lan after br1's restart"
hq_moves 198.51.100.4
# Pings every ~0.7 s keep br1 sending, so its handshakes start as soon as they may.
ping_once() {
	vt_in br1-lan ping -4 -c 1 -W 0.5 -q "$(vt_host hq 4)" >/dev/null 2>&1
}
t0=$(date +%s)
vt_wait 20 "ping br1-lan -> hq-lan after hq's second move" ping_once ||
	vt_fail "br1 never found hq at 198.51.100.4 (no lookup after failed handshakes?)"
[ "$(vt_json br1 'peer("hq")["endpoint"]')" = 198.51.100.4:51820 ] ||
	vt_fail "br1: hq's endpoint is $(vt_json br1 'peer("hq")["endpoint"]')"
vt_pass "failed handshakes: br1 looked hq.vt-test up again, back in $(($(date +%s) - t0)) s"
grep -q "peer hq: endpoint hq.vt-test:51820 now resolves to 198.51.100.4:51820" \
	"$(vt_logfile br1)" || vt_fail "br1 did not log the new address"
