#!/bin/bash
# t02: 20 MB over TCP from br1-lan to hq-lan and from hq-lan to br2-lan (behind NAT)
# arrive byte-identical (sha256).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
vt_init 240
vt_need_vpnd
vt_topology
vt_keys
vt_mesh_up

vt_wait_lan_ping br1 hq 4 30 || vt_fail "br1-lan cannot ping hq-lan"
vt_wait_lan_ping hq br2 4 60 || vt_fail "hq-lan cannot ping br2-lan (br2 keepalive?)"

vt_tcp_xfer br1 hq $((20 * 1024 * 1024)) 4 || vt_fail "20 MB br1-lan -> hq-lan"
vt_pass "20 MB br1-lan -> hq-lan"
vt_tcp_xfer hq br2 $((20 * 1024 * 1024)) 4 || vt_fail "20 MB hq-lan -> br2-lan"
vt_pass "20 MB hq-lan -> br2-lan"

rx=$(vt_json hq 'peer("br1")["rx_bytes"]')
[ "$rx" -ge $((20 * 1024 * 1024)) ] || vt_fail "hq counts only $rx bytes received from br1"
tx=$(vt_json hq 'peer("br2")["tx_bytes"]')
[ "$tx" -ge $((20 * 1024 * 1024)) ] || vt_fail "hq counts only $tx bytes sent to br2"
vt_pass "byte counters: hq rx from br1 $rx, tx to br2 $tx"
