#!/bin/bash
# t13: metrics-listen serves GET /metrics from inside hq's namespace (its own loopback):
# the counters for br1 follow a known amount of traffic and agree with `vpnctl show
# --json`; handshakes, up and the handshake age tell the session's story; promtool
# accepts the text, and the same text from `vpnctl metrics`; other paths and methods
# are refused. A port that cannot be had stops startup with a clear message, and a
# reload moves, refuses or removes the listener.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
vt_init 240
vt_need_vpnd
command -v curl >/dev/null || vt_fail "curl is not installed (.ci/install-deps)"
command -v promtool >/dev/null || vt_fail "promtool is not installed (Debian package prometheus)"
vt_topology
vt_keys
VT_PEERS_OF=([hq]=br1 [br1]=hq)

PORT=9586

# with_metrics SITE LISTEN: SITE's config with metrics-listen = LISTEN ("" = none).
with_metrics() {
	local f
	f=$(vt_conf "$1")
	vt_write_conf "$1"
	[ -z "$2" ] || sed -i "/^interface = /a metrics-listen = \"$2\"" "$f"
}

# scrape SITE PORT [CURL-ARGS...]: GET /metrics inside SITE's namespace.
scrape() {
	local s=$1 port=$2
	shift 2
	vt_in "$s" curl -sS --max-time 5 "$@" "http://127.0.0.1:$port/metrics"
}

# http_code SITE PORT PATH [CURL-ARGS...]: the status of one request.
http_code() {
	local s=$1 port=$2 path=$3
	shift 3
	vt_in "$s" curl -s -o /dev/null --max-time 5 -w '%{http_code}' "$@" "http://127.0.0.1:$port$path"
}

# value FILE NAME [LABEL=VALUE]: the value of the sample NAME{...} carrying that label
# (empty if there is none).
value() {
	awk -v name="$2" -v lab="${3:-}" '
		index($1, name "{") == 1 && (lab == "" || index($1, lab)) { print $2; n++ }
		END { if (n > 1) exit 1 }' "$1"
}

# occupy SITE PORT: another program listens on 127.0.0.1:PORT in SITE (pid in $blocker).
occupy() {
	vt_bg ip netns exec "$(vt_ns "$1")" "$VT_PY" -c '
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past our own TIME_WAITs
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen()
time.sleep(120)' "$2"
	blocker=$VT_BGPID
	vt_wait 10 "a listener on $2 in $1" vt_port_listening "$1" "$2" || vt_fail "cannot occupy $2"
}

check_promtool() {
	local what=$1 file=$2 out
	out=$(promtool check metrics <"$file" 2>&1) || vt_fail "promtool rejects $what: $out"
	[ -z "$out" ] || vt_fail "promtool complains about $what: $out"
	vt_pass "promtool accepts $what ($(grep -c '^vpnd_' "$file") samples)"
}

# 1. A port that is taken stops startup, with the address and the reason, undone.
occupy hq "$PORT"
with_metrics hq "127.0.0.1:$PORT"
rc=0
out=$(timeout 20 ip netns exec "$(vt_ns hq)" "$VPND" -c "$(vt_conf hq)" </dev/null 2>&1) || rc=$?
[ "$rc" != 0 ] && [ "$rc" != 124 ] || vt_fail "vpnd started (exit $rc) although port $PORT is taken"
grep -q "metrics-listen 127.0.0.1:$PORT: cannot serve HTTP there: Address already in use" <<<"$out" ||
	vt_fail "no clear message for the taken port: $out"
if ip -n "$(vt_ns hq)" link show "$VT_IFNAME" >/dev/null 2>&1; then
	vt_fail "the failed start left $VT_IFNAME behind"
fi
[ ! -e "$(vt_sock hq)" ] || vt_fail "the failed start left its control socket behind"
vt_bg_stop "$blocker"
vt_pass "a taken port stops startup: $(grep 'metrics-listen' <<<"$out" | head -n 1)"

# 2. Serving: before any traffic br1 is down and has no handshake age.
with_metrics hq "127.0.0.1:$PORT"
vt_start hq
vt_write_conf br1
vt_start br1
m0="$VT_TMP/m0.prom"
scrape hq "$PORT" >"$m0" || vt_fail "cannot scrape http://127.0.0.1:$PORT/metrics in hq"
[ "$(value "$m0" vpnd_build_info)" = 1 ] || vt_fail "no vpnd_build_info: $(head -c 300 "$m0")"
[ "$(value "$m0" vpnd_peer_up 'peer="br1"')" = 0 ] || vt_fail "br1 up before any handshake"
[ -z "$(value "$m0" vpnd_peer_last_handshake_age_seconds 'peer="br1"')" ] ||
	vt_fail "a handshake age for br1 before any handshake"
grep -q "public_key=\"${VT_PUBKEY[br1]}\"" "$m0" || vt_fail "br1's public key is not a label"
check_promtool "the scrape before traffic" "$m0"

# 3. A known amount of traffic: 20 pings of 1000 bytes from br1-lan to hq-lan.
vt_wait_lan_ping br1 hq 4 30 || vt_fail "br1-lan cannot ping hq-lan"
m1="$VT_TMP/m1.prom"
scrape hq "$PORT" >"$m1" || vt_fail "scrape failed"
out="$VT_TMP/ping-20.out"
timeout 60 ip netns exec "$(vt_ns br1-lan)" ping -4 -c 20 -s 1000 -i 0.1 -W 2 -q \
	"$(vt_host hq 4)" >"$out" 2>&1 || true
[ "$(vt_ping_stats "$out")" = "20 20" ] || vt_fail "pings lost: $(vt_ping_stats "$out")"
j1=$(vt_json hq 'json.dumps(peer("br1"))')
m2="$VT_TMP/m2.prom"
scrape hq "$PORT" >"$m2" || vt_fail "scrape failed"
j2=$(vt_json hq 'json.dumps(peer("br1"))')

field() { "$VT_PY" -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
for dir in receive transmit; do
	a=$(value "$m1" "vpnd_peer_${dir}_packets_total" 'peer="br1"')
	b=$(value "$m2" "vpnd_peer_${dir}_packets_total" 'peer="br1"')
	[ -n "$a" ] && [ -n "$b" ] || vt_fail "no ${dir} packet counter for br1"
	((b - a >= 20)) || vt_fail "${dir} packets for br1 grew by $((b - a)), not 20"
	a=$(value "$m1" "vpnd_peer_${dir}_bytes_total" 'peer="br1"')
	b=$(value "$m2" "vpnd_peer_${dir}_bytes_total" 'peer="br1"')
	# Each ping is 1028 bytes of IP inside at least 32 bytes of WireGuard.
	((b - a >= 20 * 1060)) || vt_fail "${dir} bytes for br1 grew by $((b - a)) only"
	key=rx_bytes
	[ "$dir" = receive ] || key=tx_bytes
	lo=$(field "$j1" "$key")
	hi=$(field "$j2" "$key")
	((lo <= b && b <= hi)) ||
		vt_fail "${dir} bytes $b outside show --json's $lo..$hi taken around the scrape"
	vt_pass "br1 ${dir}: +$(($(value "$m2" "vpnd_peer_${dir}_packets_total" 'peer="br1"') - \
		$(value "$m1" "vpnd_peer_${dir}_packets_total" 'peer="br1"'))) packets, $b bytes (show: $lo..$hi)"
done
h=$(value "$m2" vpnd_peer_handshakes_total 'peer="br1"')
((h >= 1)) || vt_fail "br1: $h handshakes"
[ "$h" = "$(field "$j2" handshakes)" ] || vt_fail "handshakes $h, show --json says $(field "$j2" handshakes)"
((${h} <= $(value "$m2" vpnd_handshakes_total))) || vt_fail "vpnd_handshakes_total below br1's"
[ "$(value "$m2" vpnd_peer_up 'peer="br1"')" = 1 ] || vt_fail "br1 not up after traffic"
age=$(value "$m2" vpnd_peer_last_handshake_age_seconds 'peer="br1"')
[ -n "$age" ] && "$VT_PY" -c 'import sys; sys.exit(not 0 <= float(sys.argv[1]) < 60)' "$age" ||
	vt_fail "handshake age '$age'"
vt_pass "br1: $h handshake(s), up, latest $age s ago"
check_promtool "the scrape after traffic" "$m2"

# 4. vpnctl metrics prints the same families, and promtool accepts it too.
c="$VT_TMP/ctl.prom"
vt_ctl hq metrics >"$c" || vt_fail "vpnctl metrics failed"
check_promtool "vpnctl metrics" "$c"
diff <(grep '^#' "$m2") <(grep '^#' "$c") >/dev/null || vt_fail "vpnctl metrics has other families"
diff <(sed 's/ .*//' "$m2") <(sed 's/ .*//' "$c") >/dev/null ||
	vt_fail "vpnctl metrics has other samples than GET /metrics"
vt_pass "vpnctl metrics: the same $(grep -c '^# TYPE' "$c") families and samples"

# 5. HTTP: HEAD works, other paths 404, other methods 405; garbage does not hurt.
[ "$(http_code hq "$PORT" /metrics -I)" = 200 ] || vt_fail "HEAD /metrics"
[ "$(http_code hq "$PORT" /)" = 404 ] || vt_fail "GET / is not 404"
[ "$(http_code hq "$PORT" /metrics -X POST -d x=1)" = 405 ] || vt_fail "POST is not 405"
[ "$(http_code hq "$PORT" /metrics -X DELETE)" = 405 ] || vt_fail "DELETE is not 405"
vt_in hq "$VT_PY" -c '
import os, socket
for n in (1, 7, 100, 5000, 40000):
    s = socket.create_connection(("127.0.0.1", '"$PORT"'), timeout=3)
    try:
        s.sendall(os.urandom(n))
        s.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    s.close()'
scrape hq "$PORT" >/dev/null || vt_fail "no scrape after garbage"
vt_alive_site hq || vt_fail "vpnd in hq died"
vt_pass "HEAD 200, / 404, POST/DELETE 405, garbage survived"

# 6. Reload: move to another port; a taken port refuses the reload (the old listener
# stays); no metrics-listen stops serving.
NEW=9587
with_metrics hq "127.0.0.1:$NEW"
vt_ctl hq reload >/dev/null || vt_fail "reload to port $NEW failed"
scrape hq "$NEW" >/dev/null || vt_fail "port $NEW does not serve after reload"
if scrape hq "$PORT" >/dev/null 2>&1; then vt_fail "port $PORT still serves after the move"; fi
vt_pass "reload moved metrics to port $NEW"

occupy hq "$PORT"
with_metrics hq "127.0.0.1:$PORT"
if out=$(vt_ctl hq reload 2>&1); then vt_fail "reload to a taken port succeeded: $out"; fi
grep -q "metrics-listen 127.0.0.1:$PORT: cannot serve HTTP there" <<<"$out" ||
	vt_fail "reload refusal does not say why: $out"
scrape hq "$NEW" >/dev/null || vt_fail "port $NEW stopped serving after a refused reload"
vt_bg_stop "$blocker"
vt_pass "a taken port refuses the reload: $out"

with_metrics hq ""
vt_ctl hq reload >/dev/null || vt_fail "reload without metrics-listen failed"
if scrape hq "$NEW" >/dev/null 2>&1; then vt_fail "port $NEW still serves without metrics-listen"; fi
grep -q '^vpnd_peer_up{' <<<"$(vt_ctl hq metrics)" || vt_fail "vpnctl metrics needs no listener"
vt_lan_ping br1 hq 4 3 || vt_fail "the tunnel suffered from the reloads"
vt_pass "reload without metrics-listen stops serving; vpnctl metrics still works"
