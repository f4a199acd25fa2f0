#!/bin/bash
# t04: br2 sits behind a masquerading NAT and has no LAN traffic at all; its persistent
# keepalive alone lets hq (which has no endpoint for br2) reach br2's LAN, and hq sees
# br2 at the NAT's public address.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
vt_init 180
vt_need_vpnd
vt_topology
vt_keys
vt_mesh_up

ka=$(vt_json br2 'peer("hq")["persistent_keepalive"]')
[ "$ka" = 25 ] || vt_fail "br2: persistent_keepalive of hq is $ka, expected 25"

# Nothing is sent from br2-lan. Allow one keepalive interval and some.
vt_wait 60 "hq to learn br2's endpoint" vt_json_true hq 'peer("br2")["endpoint"] is not None' ||
	vt_fail "hq never heard from br2 (endpoint stays null)"
ep=$(vt_json hq 'peer("br2")["endpoint"]')
case $ep in
"$VT_NAT_PUB4":*) vt_pass "hq sees br2 at the NAT's public address: $ep" ;;
*) vt_fail "hq: br2's endpoint is '$ep', expected $VT_NAT_PUB4:PORT (not ${VT_PUB4[br2]})" ;;
esac

vt_wait_lan_ping hq br2 4 20 || vt_fail "hq-lan cannot reach br2-lan"
vt_ping_lossless hq br2 4 5 0.2 || vt_fail "hq-lan -> br2-lan lost pings"
vt_pass "hq-lan reaches br2-lan, which never sent first"

vt_wait 30 "br1 to learn br2's endpoint" vt_json_true br1 'peer("br2")["endpoint"] is not None' ||
	vt_fail "br1 never heard from br2"
vt_wait_lan_ping br1 br2 4 20 || vt_fail "br1-lan cannot reach br2-lan"
vt_pass "br1-lan reaches br2-lan, which never sent first"
