#!/bin/bash
# t20: the site policy at HQ, default deny. br1 may reach HQ's LAN (allow "br1 -> local");
# br2 may not (deny "br2 -> local"): its packets are dropped, the rule's counter (show
# --json, metrics), the policy_denied drop and the audit log say so, and the log says it
# once, not per packet. Branch to branch through HQ falls to the default until a reload
# allows "br1 <-> br2"; the reload keeps the counters. A policy naming a peer that does
# not exist is a `vpnd -n` error on its line, and a reload to it is refused.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
vt_init 120
vt_need_vpnd
vt_topology
vt_keys

VT_PEERS_OF[br1]=hq
VT_PEERS_OF[br2]=hq
VT_OVR_ALLOWED[br1/hq]="$(vt_peer_allowed hq) ${VT_LAN4[br2]} ${VT_LAN6[br2]}"
VT_OVR_ALLOWED[br2/hq]="$(vt_peer_allowed hq) ${VT_LAN4[br1]} ${VT_LAN6[br1]}"
# hq_policy ALLOW-RULES: HQ's networks and policy, deny "br2 -> local" always.
hq_policy() {
	VT_EXTRA_CONF[hq]="networks = {\"${VT_LAN4[hq]}\", \"${VT_LAN6[hq]}\"}
policy {
    default = \"deny\"
    allow = {$1}
    deny = {\"br2 -> local\"}
}"
	vt_write_conf hq
}
hq_policy '"br1 -> local"'
vt_mesh_up

rule_denied() { vt_json hq "[r['denied'] for r in d['policy']['rules'] if r['rule'] == '$1'][0]"; }
default_denied() { vt_json hq "d['policy']['default_denied']"; }
policy_drops() { vt_json hq "d['drops']['policy_denied']"; }
metric() {
	vt_ctl hq metrics | grep -F "vpnd_policy_denied_total{interface=\"$VT_IFNAME\",rule=\"$1\"}" |
		awk '{ print $NF }'
}

[ "$(vt_json hq "d['policy']['default']")" = deny ] || vt_fail "show --json: policy default is not deny"
grep -q "^    deny br2 -> local" <<<"$(vt_ctl hq show)" || vt_fail "vpnctl show does not list the deny rule"

# The allowed pair.
vt_wait_lan_ping br1 hq 4 20 || vt_fail "br1-lan cannot reach hq-lan (allowed by br1 -> local)"
vt_ping_lossless br1 hq 6 5 0.05 || vt_fail "br1-lan -> hq-lan over IPv6 (allowed)"
vt_pass "allowed: br1-lan -> hq-lan"

# The denied pair: br2 reaches HQ (its handshake completes), its LAN packets do not.
vt_wait 20 "br2's session with hq" vt_json_true hq "peer('br2')['handshakes'] > 0" ||
	vt_fail "br2 never completed a handshake with hq"
r0=$(rule_denied "br2 -> local")
p0=$(policy_drops)
! vt_in br2-lan ping -c 5 -i 0.1 -W 1 -q "${VT_HOST4[hq]}" >/dev/null ||
	vt_fail "br2-lan reached hq-lan despite deny br2 -> local"
! vt_in hq-lan ping -c 2 -i 0.1 -W 1 -q "${VT_HOST4[br2]}" >/dev/null ||
	vt_fail "hq-lan got answers from br2-lan: its replies are br2 -> local"
r1=$(rule_denied "br2 -> local")
p1=$(policy_drops)
[ $((r1 - r0)) -ge 7 ] || vt_fail "rule 'br2 -> local' denied $((r1 - r0)) packets, expected >= 7"
[ $((p1 - p0)) -ge 7 ] || vt_fail "policy_denied drops moved by $((p1 - p0)), expected >= 7"
[ "$(vt_json hq "peer('br2')['drops']['policy_denied']")" -ge 7 ] ||
	vt_fail "br2's own policy_denied drops did not move"
[ "$(metric "br2 -> local")" = "$r1" ] ||
	vt_fail "metric for 'br2 -> local' is '$(metric "br2 -> local")', show says $r1"
vt_pass "denied: br2 -> local dropped $((r1 - r0)) packets, counted on its rule and as policy_denied"

# One log line (rate-limited), one audit record for the burst.
n=$(grep -c "policy denied br2 -> local" "$(vt_logfile hq)" || true)
[ "$n" -ge 1 ] && [ "$n" -le 4 ] || vt_fail "hq logged $n policy denial lines for a burst (expected 1..4)"
grep -q '"event":"policy-denied".*"rule":"br2 -> local"' "$VT_TMP/hq.audit" ||
	vt_fail "no policy-denied record in hq's audit log"
vt_pass "denials logged in $n line(s) and audited"

# Branch to branch through HQ: no rule, default deny.
d0=$(default_denied)
! vt_lan_ping br1 br2 4 1 || vt_fail "br1-lan reached br2-lan through hq under default deny"
[ "$(default_denied)" -gt "$d0" ] || vt_fail "default_denied did not move for br1 -> br2"
vt_pass "br1 -> br2 (relayed) denied by the default"

# A policy naming a peer that does not exist: a config error with its line.
hq_policy '"br1 -> local", "br1 <-> br3"'
conf=$(vt_conf hq)
line=$(grep -n 'br1 <-> br3' "$conf" | cut -d: -f1)
out=$(timeout 10 "$VPND" -c "$conf" -n 2>&1) && vt_fail "vpnd -n accepted a policy naming br3"
grep -q "^$conf:$line: allow: 'br1 <-> br3': no peer is named 'br3'" <<<"$out" ||
	vt_fail "vpnd -n said '$out', expected $conf:$line: ... no peer is named 'br3'"
vt_pass "unknown peer: $out"
out=$(vt_ctl hq reload 2>&1) && vt_fail "reload accepted a policy naming br3"
grep -q "$conf:$line: " <<<"$out" || vt_fail "reload refused without the line: $out"
vt_pass "reload to it refused: $out"

# A reload that allows br1 <-> br2 takes effect; the counters go on.
hq_policy '"br1 -> local", "br1 <-> br2"'
vt_ctl hq reload >/dev/null || vt_fail "reload of a good policy failed"
vt_json_true hq "any(r['rule'] == 'br1 <-> br2' for r in d['policy']['rules'])" ||
	vt_fail "show --json does not list the reloaded rule"
[ "$(rule_denied "br2 -> local")" -ge "$r1" ] || vt_fail "the reload reset the counter of 'br2 -> local'"
vt_wait_lan_ping br1 br2 4 5 || vt_fail "br1-lan cannot reach br2-lan after the reload"
vt_ping_lossless br2 br1 4 5 0.05 || vt_fail "br2-lan -> br1-lan after the reload"
! vt_lan_ping br2 hq 4 1 || vt_fail "br2-lan reached hq-lan after the reload"
vt_pass "reload: br1 <-> br2 allowed, br2 -> local still denied, counters kept"
