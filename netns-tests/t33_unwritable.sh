#!/bin/bash
# t33: disk trouble never stops the tunnel. HQ's audit log and state directory live on a
# 1 MiB tmpfs (mounted in this test's own mount namespace). When it is full, vpnd says
# which file and why (log line with the errno's name; show, show --json "storage",
# /metrics vpnd_storage_*), keeps forwarding the LANs' traffic, survives a SIGKILL and a
# restart on the full disk, and writes again once there is room (the audit log records
# how many events it lost and still verifies). First, the audit log and a state file
# are made immutable (unwritable even for root) before a start: vpnd starts anyway,
# reports both, and opens them once they can be written again.
set -euo pipefail
# A private mount namespace, so that the small disk is ours alone and goes with us.
if [ "$(id -u)" = 0 ] && [ "${VT_T33_UNSHARED:-}" != 1 ]; then
	command -v unshare >/dev/null || {
		echo "SKIP: needs unshare (util-linux)"
		exit 77
	}
	VT_T33_UNSHARED=1 exec unshare --mount --propagation private bash "$0" "$@"
fi
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
vt_init 120
vt_need_vpnd
command -v chattr >/dev/null || vt_skip "needs chattr (e2fsprogs)"

DISK=$VT_TMP/disk
mkdir "$DISK"
mount -t tmpfs -o size=1m,mode=0700 vt-t33-disk "$DISK" || vt_skip "cannot mount a tmpfs"
# Unmount before lib.sh's cleanup removes the temp dir (which then holds an empty dir).
trap 'rc=$?; set +e; chattr -i "$DISK"/hq.audit "$DISK"/hq.state/* 2>/dev/null; umount -l "$DISK" 2>/dev/null; (exit $rc); vt__on_exit' EXIT

vt_topology
vt_keys
AUDIT=$DISK/hq.audit
STATE=$DISK/hq.state
ENDPOINTS=$STATE/$VT_IFNAME.endpoints
for s in hq br1 br2; do vt_write_conf "$s"; done
conf=$(vt_conf hq)
sed -i -e "s|^audit-log = .*|audit-log = \"$AUDIT\"|" -e '/^state-directory/d' "$conf"
echo "state-directory = \"$STATE\"" >>"$conf"
for s in hq br1 br2; do vt_start "$s"; done
vt_wait_lan_ping br1 hq 4 20 || vt_fail "br1-lan cannot reach hq-lan"
vt_wait_lan_ping br2 hq 4 20 || vt_fail "br2-lan cannot reach hq-lan"
vt_wait 5 "hq writes br2's endpoint" grep -qs "^${VT_PUBKEY[br2]} " "$ENDPOINTS" ||
	vt_fail "no endpoint of br2 in $ENDPOINTS"

# store_is STORE WRITING [ERRNO]: show --json's storage.STORE has writing = WRITING
# (True/False) and, if given, its last error is ERRNO about a file under $DISK.
store_is() {
	local e="d['storage']['$1']"
	vt_json_true hq "$e['writing'] == $2${3:+ and $e['last_error']['errno'] == '$3' and $e['last_error']['file'].startswith('$DISK/')}"
}
storage() { vt_json hq "d['storage']"; }
metric() { vt_ctl hq metrics | grep -F "$1" | awk '{ print $2 }'; }
logged() { grep -qF -- "$1" "$(vt_logfile hq)"; }
# events N: N control commands, each a record in the audit log.
events() { for ((i = 0; i < $1; i++)); do vt_ctl hq show >/dev/null; done; }
lan_ok() {
	vt_ping_lossless br1 hq 4 20 0.05 || vt_fail "$1: br1-lan lost pings to hq-lan"
	vt_ping_lossless br2 hq 4 20 0.05 || vt_fail "$1: br2-lan lost pings to hq-lan"
}
store_is audit_log True && store_is state_directory True ||
	vt_fail "storage not healthy at the start: $(storage)"

# ---- 1. Unwritable audit log and state file at start
vt_stop hq || vt_fail "hq did not stop cleanly"
chattr +i "$AUDIT" "$ENDPOINTS"
vt_start hq
vt_wait_lan_ping br1 hq 4 6 || vt_fail "br1-lan not back with an unwritable audit log"
vt_wait_lan_ping br2 hq 4 6 || vt_fail "br2-lan not back with an unwritable audit log"
store_is audit_log False EPERM || vt_fail "the immutable audit log is not reported: $(storage)"
logged "audit log $AUDIT: cannot open it: Operation not permitted (EPERM); vpnd runs without it" ||
	vt_fail "no log line naming $AUDIT and EPERM"
vt_wait 5 "the endpoints file reported unwritable" \
	logged "state file $ENDPOINTS: cannot write: Operation not permitted (EPERM)" ||
	vt_fail "no log line naming $ENDPOINTS and EPERM"
store_is state_directory False EPERM || vt_fail "the immutable state file is not reported: $(storage)"
lan_ok "unwritable files"
vt_pass "unwritable audit log and state file: vpnd runs and reports both"
chattr -i "$AUDIT" "$ENDPOINTS"
vt_wait 40 "the audit log opens" eval 'events 1; store_is audit_log True' ||
	vt_fail "the audit log is not opened once writable: $(storage)"
vt_wait 10 "the state file is written" store_is state_directory True ||
	vt_fail "the state file is not written once writable: $(storage)"
logged "audit log $AUDIT: open now, after" || vt_fail "no log line saying the audit log opened"
grep -q '"event":"audit-reopen"' "$AUDIT" || vt_fail "no audit-reopen record"
out=$("$VPNCTL" audit verify --live "$AUDIT" 2>&1) || vt_fail "the audit log does not verify: $out"
vt_pass "writable again: audit log opened and continued ($out), state file written"

# ---- 2. The disk fills up while vpnd runs
dd if=/dev/zero of="$DISK/fill" bs=16k 2>/dev/null || true
vt_log "disk full: $(df -h --output=used,avail "$DISK" | tail -n 1)"
events 60
vt_wait 5 "hq reports the audit log failing" store_is audit_log False ENOSPC ||
	vt_fail "show --json does not report ENOSPC for the audit log: $(storage)"
logged "audit log $AUDIT: cannot write: No space left on device (ENOSPC)" ||
	vt_fail "no log line naming $AUDIT and ENOSPC"
[ "$(metric 'vpnd_storage_writing{interface="vpn0",store="audit_log"}')" = 0 ] ||
	vt_fail "metric vpnd_storage_writing for the audit log is not 0"
lost=$(metric 'vpnd_audit_events_lost_total{interface="vpn0"}')
[ "${lost:-0}" -gt 0 ] || vt_fail "vpnd_audit_events_lost_total is ${lost:-missing}"
grep -q "audit log: cannot write $AUDIT: No space left on device (ENOSPC)" <<<"$(vt_ctl hq show)" ||
	vt_fail "vpnctl show does not tell that the audit log fails"
lan_ok "disk full"
vt_pass "full disk: reported ($lost audit events lost so far), LAN traffic unaffected"

# ---- 3. A crash on the full disk, and the restart
kill -KILL "${VT_PID[hq]}"
vt_reap "${VT_PID[hq]}" 5 || true
VT_PID[hq]=
vt_start hq
vt_wait_lan_ping br1 hq 4 6 || vt_fail "br1-lan not back within 6 s of a restart on a full disk"
vt_wait_lan_ping br2 hq 4 6 || vt_fail "br2-lan not back within 6 s of a restart on a full disk"
vt_wait 5 "the state directory reported full" store_is state_directory False ENOSPC ||
	vt_fail "show --json does not report ENOSPC for the state directory: $(storage)"
vt_wait 5 "hq logs the endpoints file failing" \
	logged "state file $ENDPOINTS: cannot write: No space left on device (ENOSPC)" ||
	vt_fail "no log line naming $ENDPOINTS and ENOSPC"
store_is audit_log False ENOSPC || vt_fail "the audit log should still fail: $(storage)"
vt_pass "restart on a full disk: vpnd runs, both branches back, audit log and state file reported"

# ---- 4. Space returns
rm -f "$DISK/fill"
vt_wait 10 "the audit log writes again" eval 'events 1; store_is audit_log True' ||
	vt_fail "the audit log does not write again: $(storage)"
vt_wait 10 "the state file is written again" store_is state_directory True ||
	vt_fail "the state file is not written again: $(storage)"
logged "state file $ENDPOINTS: written again" || vt_fail "no log line saying the state file works again"
grep -q '"event":"audit-lost","count":[1-9]' "$AUDIT" || vt_fail "no audit-lost record in $AUDIT"
grep -q "^${VT_PUBKEY[br2]} " "$ENDPOINTS" || vt_fail "br2's endpoint is not in $ENDPOINTS"
out=$("$VPNCTL" audit verify --live "$AUDIT" 2>&1) || vt_fail "the audit log does not verify: $out"
vt_pass "space back: both write again; $(grep -o '"event":"audit-lost","count":[0-9]*' "$AUDIT" | tail -n 1); $out"
