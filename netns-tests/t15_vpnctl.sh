#!/bin/bash
# shellcheck disable=SC2015 # "check && check || vt_fail" is meant: fail when any check fails
# t15: vpnctl as an operator and a monitoring script use it, against a real vpnd at hq.
# `status` exits 3 while a site is down, 2 for a site still connecting, 0 once every site
# is up, 1 when vpnd is gone; `show NAME` reports that site alone; `show --dot` is a graph
# Graphviz renders; command prefixes work, and mistakes give one-line errors.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
vt_init 150
vt_need_vpnd
command -v dot >/dev/null || vt_fail "dot is not installed (Debian package graphviz, .ci/install-deps)"
vt_topology
vt_keys
for s in "${VT_ALL_SITES[@]}"; do vt_write_conf "$s"; done

# st SITE ARGS...: vpnctl ARGS at SITE; sets out, err, rc.
st() {
	local s=$1
	shift
	rc=0
	out=$(vt_ctl "$s" "$@" 2>"$VT_TMP/ctl.err") || rc=$?
	err=$(cat "$VT_TMP/ctl.err")
}

# expect_rc WANT WHAT: the last st's exit status is WANT.
expect_rc() {
	[ "$rc" = "$1" ] || vt_fail "$2: exit status $rc, expected $1; stdout:
$out
stderr: $err"
}

# expect_line REGEX WHAT: some line of the last st's stdout matches REGEX (grep -E).
expect_line() {
	grep -Eq -- "$1" <<<"$out" || vt_fail "$2: no line matches '$1' in:
$out"
}

# expect_error REGEX ARGS...: vpnctl ARGS at hq fails, stdout empty, one stderr line.
expect_error() {
	local re=$1
	shift
	st hq "$@"
	[ "$rc" != 0 ] && [ -z "$out" ] && [ "$(wc -l <"$VT_TMP/ctl.err")" = 1 ] &&
		grep -Eq -- "^vpnctl: $re" <<<"$err" ||
		vt_fail "vpnctl $*: exit $rc, stdout '$out', stderr '$err' (want 'vpnctl: $re')"
	vt_pass "vpnctl $*: $err"
}

# 1. hq alone: nobody answers; br1 and br2 are down.
vt_start hq
st hq status
expect_rc 3 "status with every peer down"
expect_line '^PEER +STATE +ENDPOINT +HANDSHAKE +RX +TX$' "status header"
expect_line "^br1 +down +${VT_PUB4[br1]}:${VT_PORT[br1]} +never +0 B +0 B$" "status br1 down"
expect_line '^br2 +down +\(none\) +never +0 B +0 B$' "status br2 down"
expect_line '^2 peers: 2 down$' "status summary"
grep -q overall <<<"$out" && vt_fail "status printed the protocol's overall line: $out"
down_out=$out
st hq st
[ "$rc" = 3 ] && [ "$out" = "$down_out" ] || vt_fail "'vpnctl st' differs from 'vpnctl status'"
vt_pass "status exits 3 with every peer down; 'st' is status"

# 2. Traffic for br1 starts a handshake nobody answers: connecting.
vt_lan_ping hq br1 4 1 || true
vt_wait 10 "hq to try br1" vt_json_true hq 'peer("br1")["state"] == "connecting"' ||
	vt_fail "hq's br1 never became connecting"
st hq status br1
expect_rc 2 "status br1 while connecting"
expect_line "^br1 +connecting +${VT_PUB4[br1]}:${VT_PORT[br1]} +never " "status br1 connecting"
expect_line '^1 peer: 1 connecting$' "status br1 summary"
st hq status
expect_rc 3 "status with br1 connecting and br2 down"
expect_line '^2 peers: 1 connecting, 1 down$' "status summary"
vt_pass "status exits 2 for a peer connecting, 3 while another is down"

# 3. The branches come up: br2's keepalive reaches hq, hq's retries reach br1.
vt_start br1
vt_start br2
all_up() { vt_ctl hq status >/dev/null 2>&1; }
vt_wait 30 "every peer of hq up (vpnctl status exits 0)" all_up ||
	vt_fail "vpnctl status at hq never exited 0: $(vt_ctl hq status 2>&1)"
st hq status
expect_rc 0 "status with every peer up"
expect_line "^br1 +up +${VT_PUB4[br1]}:${VT_PORT[br1]} +(Now|[0-9]+ seconds? ago) +[0-9.]+ [KM]?i?B +[0-9.]+ [KM]?i?B$" \
	"status br1 up"
expect_line "^br2 +up +$VT_NAT_PUB4:[0-9]+ +(Now|[0-9]+ seconds? ago) " "status br2 up behind the NAT"
expect_line '^2 peers: 2 up$' "status summary"
vt_pass "status exits 0 with every peer up"

# 4. show NAME, by its prefix: that peer's block alone, as wg show lays it out.
vt_wait_lan_ping br1 hq 4 10 || vt_fail "br1-lan cannot reach hq-lan"
st hq sh br1
expect_rc 0 "show br1"
expect_line '^peer: br1$' "show br1"
expect_line '^  state: up$' "show br1 state"
expect_line "^  endpoint: ${VT_PUB4[br1]}:${VT_PORT[br1]}$" "show br1 endpoint"
expect_line '^  allowed ips: 10\.99\.0\.2/32, fd99::2/128, 10\.2\.0\.0/24, fd02::/64$' \
	"show br1 allowed ips"
expect_line '^  latest handshake: (Now|[0-9]+ seconds? ago)$' "show br1 handshake"
expect_line '^  transfer: [0-9.]+ [KM]?i?B received, [0-9.]+ [KM]?i?B sent$' "show br1 transfer"
grep -q 'br2' <<<"$out" && vt_fail "show br1 mentions br2: $out"
[ "$(vt_json hq 'peer("br1")["state"]')" = up ] || vt_fail "show --json: br1 is not up"
[ "$(vt_json hq 'sorted(peer("br1")["drops"]) == sorted(d["drops"])')" = true ] ||
	vt_fail "show --json: br1's drops do not list every reason"
vt_pass "show br1 and show --json report br1 with its state and drops"

# 5. show --dot: Graphviz parses it; both tunnels are drawn as up.
st hq show --dot
expect_rc 0 "show --dot"
printf '%s\n' "$out" >"$VT_TMP/hq.dot"
dot -Tsvg "$VT_TMP/hq.dot" >"$VT_TMP/hq.svg" 2>"$VT_TMP/dot.err" ||
	vt_fail "dot -Tsvg rejects vpnctl show --dot: $(cat "$VT_TMP/dot.err") in:
$out"
[ ! -s "$VT_TMP/dot.err" ] || vt_fail "dot warns: $(cat "$VT_TMP/dot.err")"
for w in "this gateway" ">br1<" ">br2<" "vpn0: 2 peers: 2 up"; do
	grep -q -- "$w" "$VT_TMP/hq.svg" || vt_fail "the rendered graph lacks '$w'"
done
[ "$(grep -c '^	"local" -- "peer:br[12]" \[label="up\\n.*color="#2e7d32"' "$VT_TMP/hq.dot")" = 2 ] ||
	vt_fail "show --dot does not draw both tunnels as up (green): $out"
vt_pass "show --dot renders with dot -Tsvg, both tunnels up"

# 6. Mistakes: one line on stderr, prefixed, non-zero; nothing on stdout.
expect_error "ambiguous command 's': could be show, status" s
expect_error "unknown command 'frob' \(valid commands: show, status, .*\)" frob
expect_error "unknown show option '--yaml' \(valid show options: --json, --dot\)" show --yaml
expect_error "no peer named 'nope'" show nope
expect_error "no peer named 'nope'" status nope
[ "$rc" = 1 ] || vt_fail "status of an unknown peer exits $rc, expected 1 (not a state)"

# 7. Bash completion asks this daemon for its peer names.
names=$(bash -c '. "$1"; COMP_WORDS=("$2" -s "$3" status ""); COMP_CWORD=4; _vpnctl
	printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " "' _ \
	"$VT_DIR/../ctl/vpnctl.bash-completion" "$VPNCTL" "$(vt_sock hq)")
[ "$names" = "br1 br2 " ] || vt_fail "completion offers '$names' as peers, expected br1 br2"
vt_pass "bash completion offers the daemon's peers"

# 8. No daemon: status fails with 1, which a monitor must not take for "up".
vt_stop hq || vt_fail "hq: vpnd exited with $?"
st hq status
expect_rc 1 "status without a daemon"
grep -q '^vpnctl: cannot connect to ' <<<"$err" || vt_fail "status without a daemon: '$err'"
vt_pass "status exits 1 when vpnd is not running"
