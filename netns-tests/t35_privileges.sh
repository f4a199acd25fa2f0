#!/bin/bash
# t35: least privilege. HQ and br1 are started as root with `user = "vpnd"` and drop to
# that account once set up: in /proc/PID/task/*/status every thread shows vpnd's uid and
# gid and no other group, exactly CAP_NET_ADMIN + CAP_NET_BIND_SERVICE permitted and
# effective, an empty bounding, inheritable and ambient set, NoNewPrivs 1 and Seccomp 2.
# br1-lan then reaches hq-lan; a reload adding an allowed-ip installs its route; metrics
# are scraped; `vpnctl revoke br1` writes the revocation list (as vpnd); a reload moving
# listen-port to 851 binds it (CAP_NET_BIND_SERVICE kept). br2 is started the way the
# systemd unit does it (as vpnd with the two capabilities ambient) and ends the same. A
# config naming a missing account stops vpnd at once, naming the fix.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
vt_init 90
vt_need_vpnd
getent passwd vpnd >/dev/null || vt_fail "no account vpnd on this machine (.ci/install-deps makes it)"
command -v setpriv >/dev/null || vt_fail "setpriv is not installed (util-linux)"
VT_USER=vpnd
UID_VPND=$(id -u vpnd)
GID_VPND=$(id -g vpnd)
METRICS=127.0.0.1:9586
vt_topology
vt_keys

VT_PEERS_OF[hq]="br1 br2"
VT_PEERS_OF[br1]=hq
VT_PEERS_OF[br2]=hq
VT_EXTRA_CONF[hq]="metrics-listen = \"$METRICS\""

# Capability names by bit (linux/capability.h), to print what a mask holds.
CAPS=(chown dac_override dac_read_search fowner fsetid kill setgid setuid setpcap
	linux_immutable net_bind_service net_broadcast net_admin net_raw ipc_lock ipc_owner
	sys_module sys_rawio sys_chroot sys_ptrace sys_pacct sys_admin sys_boot sys_nice
	sys_resource sys_time sys_tty_config mknod lease audit_write audit_control setfcap
	mac_override mac_admin syslog wake_alarm block_suspend audit_read perfmon bpf
	checkpoint_restore)
cap_names() {
	local mask=$((16#$1)) i out=
	for ((i = 0; i < 64; i++)); do
		((mask >> i & 1)) || continue
		out+="${out:+,}${CAPS[$i]:-cap$i}"
	done
	echo "${out:-none}"
}
KEPT=$(printf '%016x' $(((1 << 12) | (1 << 10)))) # net_admin, net_bind_service

# check_tasks SITE [BOUNDING]: every thread of SITE's vpnd holds exactly what it should.
# The bounding set is empty (BOUNDING 0) after vpnd's own switch from root; started as the
# account with the kept capabilities alone (the unit's way), it cannot empty it (that
# needs CAP_SETPCAP) and it stays those (BOUNDING kept).
check_tasks() {
	local s=$1 want_bnd=${2:-0} pid=${VT_PID[$1]} st f n=0 uid gid grp prm eff bnd inh amb nnp sec
	[ "$want_bnd" = 0 ] || want_bnd=$KEPT
	for st in /proc/"$pid"/task/*/status; do
		f=$(cat "$st") || vt_fail "$s: cannot read $st"
		uid=$(awk '/^Uid:/ { print $2, $3, $4, $5 }' <<<"$f")
		gid=$(awk '/^Gid:/ { print $2, $3, $4, $5 }' <<<"$f")
		grp=$(awk '/^Groups:/ { $1 = ""; print }' <<<"$f" | tr -d ' ')
		prm=$(awk '/^CapPrm:/ { print $2 }' <<<"$f")
		eff=$(awk '/^CapEff:/ { print $2 }' <<<"$f")
		bnd=$(awk '/^CapBnd:/ { print $2 }' <<<"$f")
		inh=$(awk '/^CapInh:/ { print $2 }' <<<"$f")
		amb=$(awk '/^CapAmb:/ { print $2 }' <<<"$f")
		nnp=$(awk '/^NoNewPrivs:/ { print $2 }' <<<"$f")
		sec=$(awk '/^Seccomp:/ { print $2 }' <<<"$f")
		[ "$uid" = "$UID_VPND $UID_VPND $UID_VPND $UID_VPND" ] || vt_fail "$s $st: Uid $uid"
		[ "$gid" = "$GID_VPND $GID_VPND $GID_VPND $GID_VPND" ] || vt_fail "$s $st: Gid $gid"
		[ -z "$grp" ] || vt_fail "$s $st: supplementary groups $grp"
		[ "$prm" = "$KEPT" ] || vt_fail "$s $st: CapPrm $prm ($(cap_names "$prm"))"
		[ "$eff" = "$KEPT" ] || vt_fail "$s $st: CapEff $eff ($(cap_names "$eff"))"
		[ $((16#$bnd)) = $((16#$want_bnd)) ] || vt_fail "$s $st: CapBnd $bnd ($(cap_names "$bnd"))"
		[ $((16#$inh)) = 0 ] || vt_fail "$s $st: CapInh $inh ($(cap_names "$inh"))"
		[ $((16#$amb)) = 0 ] || vt_fail "$s $st: CapAmb $amb ($(cap_names "$amb"))"
		[ "$nnp" = 1 ] || vt_fail "$s $st: NoNewPrivs $nnp"
		[ "$sec" = 2 ] || vt_fail "$s $st: Seccomp $sec (2 = filter)"
		n=$((n + 1))
	done
	vt_pass "$s: $n threads, each uid/gid vpnd ($UID_VPND/$GID_VPND), no groups, capabilities $(cap_names "$KEPT") (0x$KEPT), bounding $(cap_names "$want_bnd"), inheritable and ambient empty, NoNewPrivs 1, Seccomp 2"
}

# No warning about files the account cannot reach: lib.sh gave them all to it.
no_access_warnings() {
	! grep -E "is not (readable|writable) by user" "$(vt_logfile "$1")" ||
		vt_fail "$1: vpnd warns about files user vpnd cannot reach"
}

for s in hq br1; do
	vt_write_conf "$s"
	vt_start "$s"
	grep -q "running as user vpnd (uid $UID_VPND, gid $GID_VPND) with CAP_NET_ADMIN and CAP_NET_BIND_SERVICE only" \
		"$(vt_logfile "$s")" || vt_fail "$s: no log line about the switch to vpnd"
	grep -Eq "seccomp: [0-9]+ system calls allowed" "$(vt_logfile "$s")" ||
		vt_fail "$s: no log line about the seccomp list"
	check_tasks "$s"
	no_access_warnings "$s"
done
vt_log "$(grep -Eo "seccomp: [0-9]+ system calls allowed.*" "$(vt_logfile hq)" | head -n 1)"
vt_wait_lan_ping br1 hq 4 20 || vt_fail "br1-lan cannot reach hq-lan"
vt_pass "br1-lan reaches hq-lan"

# ---- br2 as the systemd unit starts it: the account already, two ambient capabilities
# (a copy of vpnd the account can execute, wherever the build directory is)
cp "$VPND" "$VT_TMP/vpnd-unit"
cat >"$VT_TMP/as-unit.sh" <<EOF
#!/bin/sh
exec setpriv --reuid=vpnd --regid=vpnd --clear-groups \
	--inh-caps=-all,+net_admin,+net_bind_service --ambient-caps=-all,+net_admin,+net_bind_service \
	--bounding-set=-all,+net_admin,+net_bind_service "$VT_TMP/vpnd-unit" "\$@"
EOF
chmod 755 "$VT_TMP/as-unit.sh"
real_vpnd=$VPND
VPND=$VT_TMP/as-unit.sh
vt_write_conf br2
vt_start br2
VPND=$real_vpnd
check_tasks br2 kept
no_access_warnings br2
vt_wait_lan_ping br2 hq 4 20 || vt_fail "br2-lan cannot reach hq-lan"
vt_pass "br2 (started as the unit starts it) reaches hq-lan"

# ---- reload as vpnd: the config and the key file are read again, a route is added
VT_OVR_ALLOWED[hq/br1]="$(vt_peer_allowed br1) 10.20.0.0/24"
vt_write_conf hq
out=$(vt_ctl hq reload) || vt_fail "vpnctl reload failed: $out"
ip -n "$(vt_ns hq)" route show dev "$VT_IFNAME" | grep -q '^10\.20\.0\.0/24' ||
	vt_fail "the route for the new allowed-ip 10.20.0.0/24 is missing after the reload"
vt_pass "reload as vpnd: the new allowed-ip's route 10.20.0.0/24 is on $VT_IFNAME"
vt_wait_lan_ping br1 hq 4 10 || vt_fail "br1-lan lost hq-lan after the reload"

# ---- metrics over HTTP
body=$(vt_in hq curl -sS --max-time 5 "http://$METRICS/metrics") || vt_fail "GET /metrics failed"
grep -q '^vpnd_peer_handshakes_total{.*peer="br1"' <<<"$body" ||
	grep -q '^vpnd_' <<<"$body" || vt_fail "GET /metrics has no vpnd_ metric"
vt_pass "GET /metrics: $(grep -c '^vpnd_' <<<"$body") samples"

# ---- revoke: the list is written by vpnd, after the drop
if grep -qw revoke <<<"$("$VPNCTL" help 2>&1)"; then
	out=$(vt_ctl hq revoke br1) || vt_fail "vpnctl revoke br1 failed: $out"
	LIST=$(vt_state_dir hq)/$VT_IFNAME.revoked
	[ "$(stat -c %U "$LIST" 2>/dev/null)" = vpnd ] ||
		vt_fail "$LIST: $(stat -c '%U %a' "$LIST" 2>&1), expected a file of vpnd's"
	vt_json_true hq "peer('br1')['revoked'] == True" || vt_fail "br1 is not revoked"
	vt_pass "revoke br1: $out; $LIST written by vpnd"
else
	vt_log "vpnctl has no revoke command: not checked"
fi

# ---- listen-port below 1024 on reload: CAP_NET_BIND_SERVICE is still there
sed -i 's/^listen-port = .*/listen-port = 851/' "$(vt_conf hq)"
out=$(vt_ctl hq reload) || vt_fail "reload to listen-port 851 failed: $out"
vt_port_listening hq 851 udp || vt_fail "hq does not listen on UDP port 851 after the reload"
vt_pass "reload to listen-port 851 binds it as vpnd"
check_tasks hq

# ---- a missing account: vpnd stops at once, with the fix
conf=$VT_TMP/missing-user.conf
sed 's/^user = .*/user = "vt-no-such-user"/' "$(vt_conf br1)" >"$conf"
sed -i -e "s#^control-socket = .*#control-socket = \"$VT_TMP/missing.sock\"#" \
	-e "s#^uapi-socket = .*#uapi-socket = \"$VT_TMP/missing-uapi.sock\"#" "$conf"
rc=0
out=$(vt_in br1-lan timeout 10 "$VPND" -c "$conf" 2>&1) || rc=$?
[ "$rc" != 0 ] && [ "$rc" != 124 ] || vt_fail "vpnd with a missing account: exit $rc"
grep -q "$conf:3: user: there is no account 'vt-no-such-user' on this system: create it (useradd --system --no-create-home --shell /usr/sbin/nologin vt-no-such-user) or set user" <<<"$out" ||
	vt_fail "no clear error for the missing account: $out"
! ip -n "$(vt_ns br1-lan)" link show "$VT_IFNAME" >/dev/null 2>&1 ||
	vt_fail "the refused start left a TUN device behind"
vt_pass "a missing account stops startup: $(grep -o 'user: there is no account.*' <<<"$out" | head -c 100)..."

for s in hq br1 br2; do
	vt_stop "$s" || vt_fail "$s: vpnd exited with status $? on SIGTERM"
	[ ! -e "$(vt_sock "$s")" ] || vt_fail "$s: the control socket stayed behind"
	[ ! -e "$(vt_uapi_sock "$s")" ] || vt_fail "$s: the uapi socket stayed behind"
done
vt_pass "every daemon exits 0 as vpnd and removes its sockets"
