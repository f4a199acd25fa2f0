# shellcheck shell=bash disable=SC2034
# netns-tests/lib.sh: the shared test topology and helpers of every netns scenario.
#
#  hq-lan ── hq ──┐                  ┌── br1 ── br1-lan
#  10.1.0.0/24    │    "internet"    │          10.2.0.0/24
#                 ├── namespace  ────┤
#                 │   (inet)         └── nat ── br2 ── br2-lan
#                                               10.3.0.0/24
#
# A scenario sources this file, calls vt_init (traps, per-run temp dir, watchdog), then
# vt_topology, vt_keys, vt_write_conf/vt_start per site, and asserts with vt_wait and
# vt_json. Everything it makes carries the run's prefix (vt<PID>-…) and is removed by
# the EXIT trap: the namespaces it created, the processes it started, its temp dir.
# Traffic goes only to addresses of these namespaces.
#
# Addresses (they exist only inside this run's namespaces):
#   underlay  hq 198.51.100.2 fd00:1::2   br1 203.0.113.2 fd00:2::2
#             nat 192.0.2.2 fd00:3::2 (public side), br2 192.168.100.2 fd00:4::2 (behind it)
#             with VT_HQ_UPLINKS=2, hq's second uplink 198.18.1.2 fd00:5::2 (inet .1/::1)
#   tunnel    hq 10.99.0.1 fd99::1   br1 10.99.0.2 fd99::2   br2 10.99.0.3 fd99::3
#   LANs      hq 10.1.0.0/24 fd01::/64   br1 10.2.0.0/24 fd02::/64   br2 10.3.0.0/24 fd03::/64
#             gateway .1/::1, host .2/::2
#
# Requires bash >= 4.3, root, iproute2, nftables, python3; VPND and VPNCTL name the
# binaries under test (meson sets them).

VT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VT_TOOLS="$VT_DIR/tools"
: "${VPND:=$VT_DIR/../build/daemon/vpnd}"
: "${VPNCTL:=$VT_DIR/../build/ctl/vpnctl}"
: "${IMPAIR:=$VT_DIR/../build/netns-tests/impair}"
: "${FLOOD:=$VT_DIR/../build/netns-tests/flood}"
if [ -x /usr/bin/python3 ]; then VT_PY=/usr/bin/python3; else VT_PY=python3; fi

VT_ID=$$
VT_PFX="vt$VT_ID"
VT_IFNAME=vpn0 # the TUN device of vpnd in every site
VT_TMP=
VT_NAMESPACES=()
VT_BG_PIDS=()
VT_WATCHDOG=
VT_FAILED=0
VT_LOG_TAIL=${VT_LOG_TAIL:-150}

VT_ALL_SITES=(hq br1 br2)
declare -A VT_PUB4=([hq]=198.51.100.2 [br1]=203.0.113.2 [br2]=192.168.100.2)
declare -A VT_PUB6=([hq]=fd00:1::2 [br1]=fd00:2::2 [br2]=fd00:4::2)
VT_NAT_PUB4=192.0.2.2
VT_NAT_PUB6=fd00:3::2
# hq's second uplink (wan2), built when VT_HQ_UPLINKS=2: failover between two ISPs.
VT_HQ2_PUB4=198.18.1.2
VT_HQ2_PUB6=fd00:5::2
declare -A VT_PORT=([hq]=51820 [br1]=51821 [br2]=51822)
declare -A VT_TUN4=([hq]=10.99.0.1 [br1]=10.99.0.2 [br2]=10.99.0.3)
declare -A VT_TUN6=([hq]=fd99::1 [br1]=fd99::2 [br2]=fd99::3)
declare -A VT_LAN4=([hq]=10.1.0.0/24 [br1]=10.2.0.0/24 [br2]=10.3.0.0/24)
declare -A VT_LAN6=([hq]=fd01::/64 [br1]=fd02::/64 [br2]=fd03::/64)
declare -A VT_GW4=([hq]=10.1.0.1 [br1]=10.2.0.1 [br2]=10.3.0.1)
declare -A VT_GW6=([hq]=fd01::1 [br1]=fd02::1 [br2]=fd03::1)
declare -A VT_HOST4=([hq]=10.1.0.2 [br1]=10.2.0.2 [br2]=10.3.0.2)
declare -A VT_HOST6=([hq]=fd01::2 [br1]=fd02::2 [br2]=fd03::2)

# Knobs a scenario sets before vt_write_conf / vt_wg_start.
VT_UNDERLAY=${VT_UNDERLAY:-4} # 4 or 6: address family of the peers' endpoints
VT_PSK=${VT_PSK:-0}           # 1: every pair of sites shares a preshared key
VT_REKEY=${VT_REKEY:-}        # rekey-after-time for every site (empty: the default)
declare -A VT_REKEY_SITE=()   # per-site rekey-after-time
declare -A VT_PEERS_OF=()     # per-site peer list (default: every other site)
# Per "SITE/PEER" overrides of one peer section:
declare -A VT_OVR_KEY=()       # public-key written for PEER
declare -A VT_OVR_PSK=()       # preshared-key-file ("" = none)
declare -A VT_OVR_ENDPOINT=()  # endpoint ("none" = no endpoint)
declare -A VT_OVR_KEEPALIVE=() # persistent-keepalive
declare -A VT_OVR_ALLOWED=()   # allowed-ips written for PEER (space-separated prefixes)
declare -A VT_OVR_PEERCONF=()  # extra lines inside the peer section for PEER
declare -A VT_EXTRA_CONF=()    # extra top-level lines for SITE's config (e.g. a policy)
VT_HQ_UPLINKS=${VT_HQ_UPLINKS:-1} # 2: hq gets a second uplink (set before vt_topology)
# The account vpnd becomes once set up (`user` in every site's config): vpnd's own
# default, so every scenario runs the daemon unprivileged. Another than root gets the
# per-run files (vt_own): vpnd reads keys at reload, writes state, audit log and sockets
# as that user. VT_USER=root runs them without the drop.
VT_USER=${VT_USER:-vpnd}
VT_NETNS_ETC=()                  # /etc/netns/<namespace> directories made (vt_netns_etc)

declare -A VT_PRIV_FILE=() VT_PUBKEY=() VT_PID=() VT_KIND=()

# ---------------------------------------------------------------------------- basics

# vt_log MESSAGE: a timestamped progress line; kept to be repeated after the diagnostics.
vt_log() {
	local line
	line=$(printf '[%s] %s' "$(date +%T.%3N)" "$*")
	printf '%s\n' "$line"
	[ ! -d "$VT_TMP" ] || printf '%s\n' "$line" >>"$VT_TMP/progress.txt"
}

vt_fail() {
	vt_log "FAIL: $*"
	VT_FAILED=1
	exit 1
}

vt_pass() { vt_log "ok: $*"; }

# vt_q CMD...: run CMD with its output discarded.
vt_q() { "$@" >/dev/null 2>&1; }

# vt_skip REASON: exit 77, which meson reports as SKIP.
vt_skip() {
	vt_log "SKIP: $*"
	exit 77
}

# vt_ns NAME: the namespace of NAME (inet, nat, hq, br1, br2, hq-lan, br1-lan, br2-lan).
vt_ns() { printf '%s-%s' "$VT_PFX" "$1"; }

# vt_in NAME CMD...: run CMD inside NAME's namespace.
vt_in() {
	local n=$1
	shift
	ip netns exec "$(vt_ns "$n")" "$@"
}

# wireguard-go's device in SITE: unique per run and site, as its UAPI socket path
# (/var/run/wireguard/NAME.sock) is shared by all namespaces.
vt_wgif() { printf 'wg%s%s%s' "$VT_ID" "${1:0:1}" "${1: -1}"; }

vt_conf() { printf '%s/%s.conf' "$VT_TMP" "$1"; }
vt_sock() { printf '%s/%s.sock' "$VT_TMP" "$1"; }
# SITE's UAPI socket (for wg), under SITE.run/ which stands in for /run (see t12).
vt_uapi_sock() { printf '%s/%s.run/wireguard/%s.sock' "$VT_TMP" "$1" "$VT_IFNAME"; }
vt_logfile() { printf '%s/%s.log' "$VT_TMP" "$1"; }

# vt_netns_etc NAME: make /etc/netns/<NAME's namespace>/, whose files (hosts, resolv.conf)
# `ip netns exec` shows to the processes it starts in place of those in /etc, and have the
# cleanup remove it; its path is left in VT_NETNS_ETC_DIR. Call it directly, not in $(...).
# Change such a file in place (> FILE), never by renaming over it: a process keeps seeing
# the file that was there when it started.
vt_netns_etc() {
	VT_NETNS_ETC_DIR=/etc/netns/$(vt_ns "$1")
	mkdir -p "$VT_NETNS_ETC_DIR" || vt_fail "cannot create $VT_NETNS_ETC_DIR"
	VT_NETNS_ETC+=("$VT_NETNS_ETC_DIR")
}
# SITE's state directory (revocation list, rotated keys, timestamp floor).
vt_state_dir() { printf '%s/%s.state' "$VT_TMP" "$1"; }

# vt_wait SECONDS DESCRIPTION CMD...: poll CMD every 0.2 s until it succeeds; 1 if it
# never did within SECONDS.
vt_wait() {
	local secs=$1 desc=$2
	shift 2
	local deadline=$(($(date +%s) + secs))
	while :; do
		if "$@"; then return 0; fi
		if (($(date +%s) >= deadline)); then
			vt_log "timed out after ${secs}s waiting for: $desc"
			return 1
		fi
		sleep 0.2
	done
}

# vt_bg CMD...: start CMD in the background (output to files is the caller's business),
# remember its PID in VT_BGPID for vt_bg_stop and for the cleanup.
vt_bg() {
	"$@" &
	VT_BGPID=$!
	VT_BG_PIDS+=("$VT_BGPID")
}

# vt_alive PID: the process exists and is not a zombie.
vt_alive() {
	[ -e "/proc/$1" ] || return 1
	! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# vt_reap PID SECONDS: wait (bounded) for PID, one of our children, to exit; return its
# exit status, or 124 if it was still running (it is then killed). A reaped PID is
# forgotten, so the cleanup never signals a number the system may have reused.
vt_reap() {
	local pid=$1 secs=$2 rc=0
	if ! vt_wait "$secs" "process $pid to exit" eval '! vt_alive '"$pid"; then
		kill -KILL "$pid" 2>/dev/null
		rc=124
	fi
	if [ "$rc" = 124 ]; then
		wait "$pid" 2>/dev/null
	else
		wait "$pid" 2>/dev/null || rc=$?
	fi
	vt__forget "$pid"
	return $rc
}

vt__forget() {
	local i
	for i in "${!VT_BG_PIDS[@]}"; do
		[ "${VT_BG_PIDS[$i]}" != "$1" ] || unset 'VT_BG_PIDS[i]'
	done
}

# vt_bg_stop PID: SIGTERM one background helper and reap it (bounded).
vt_bg_stop() {
	kill -TERM "$1" 2>/dev/null || true
	vt_reap "$1" 5 || true
}

# ---------------------------------------------------------------------- init / cleanup

# vt_init [SECONDS]: check we can run, make the temp dir, install the traps, start the
# watchdog that aborts the whole script after SECONDS (default 240).
vt_init() {
	local secs=${1:-240}
	[ "$(id -u)" = 0 ] || vt_skip "needs root (network namespaces)"
	command -v ip >/dev/null || vt_skip "needs iproute2"
	VT_TMP=$(mktemp -d "${TMPDIR:-/tmp}/vpnd-netns.XXXXXX")
	chmod 700 "$VT_TMP"
	trap vt__on_exit EXIT
	trap 'vt_log "interrupted"; exit 130' INT
	trap 'vt_log "terminated (watchdog or test runner)"; exit 143' TERM
	trap 'exit 129' HUP
	trap '' PIPE # a closed stdout must not skip the cleanup
	vt__watchdog "$secs"
	vt_log "run $VT_PFX, temp dir $VT_TMP, time limit ${secs}s"
}

vt_need_vpnd() {
	[ -x "$VPND" ] || vt_fail "VPND=$VPND is not an executable (build first)"
	[ -x "$VPNCTL" ] || vt_fail "VPNCTL=$VPNCTL is not an executable (build first)"
}

vt__watchdog() {
	local secs=$1 main=$$
	(
		trap 'kill "$sp" 2>/dev/null; exit 0' TERM
		sleep "$secs" >/dev/null 2>&1 &
		sp=$!
		wait "$sp"
		echo "WATCHDOG: ${secs}s elapsed, aborting $main" >&2
		kill -TERM "$main" 2>/dev/null
		# The shell runs its trap once its foreground command returns; if that one
		# hangs, end our children (the trap then cleans up the rest).
		sleep 15 >/dev/null 2>&1 &
		sp=$!
		wait "$sp"
		pkill -TERM -P "$main" 2>/dev/null
	) &
	VT_WATCHDOG=$!
}

vt__on_exit() {
	local rc=$?
	trap - EXIT INT TERM
	set +e
	if [ "$rc" != 0 ] && [ "$rc" != 77 ]; then
		VT_FAILED=1
		vt_dump
		# Test runners often show only the end of a long output: repeat the story.
		if [ -f "$VT_TMP/progress.txt" ]; then
			echo "----- the test's progress, again (last 25 lines)"
			tail -n 25 "$VT_TMP/progress.txt"
		fi
	fi
	vt__cleanup
	if [ "$VT_FAILED" = 1 ] && [ "$rc" = 0 ]; then rc=1; fi
	if [ "$rc" = 0 ]; then vt_log "PASS"; elif [ "$rc" != 77 ]; then vt_log "FAILED (exit $rc)"; fi
	exit "$rc"
}

vt__cleanup() {
	local s pid
	for s in "${!VT_PID[@]}"; do
		pid=${VT_PID[$s]}
		[ -n "$pid" ] || continue
		kill -TERM "$pid" 2>/dev/null && vt_reap "$pid" 10 >/dev/null
	done
	for pid in "${VT_BG_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null && vt_reap "$pid" 5 >/dev/null
	done
	for s in "${!VT_KIND[@]}"; do
		[ "${VT_KIND[$s]}" = vpnd ] || rm -f "/var/run/wireguard/$(vt_wgif "$s").sock"
	done
	# Every daemon has exited: anything a sanitizer wrote fails the test, even when
	# everything it checked passed.
	if [ -n "$VT_TMP" ] && grep -lE 'ERROR: (Address|Leak)Sanitizer|runtime error:' \
		"$VT_TMP"/*.log >/dev/null 2>&1; then
		VT_FAILED=1
		vt_log "FAIL: a sanitizer reported in a daemon's log:"
		grep -hE -A12 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$VT_TMP"/*.log | head -n 60
	fi
	for s in "${VT_NETNS_ETC[@]}"; do
		rm -rf -- "$s"
	done
	for s in "${VT_NAMESPACES[@]}"; do
		ip netns del "$s" 2>/dev/null
	done
	if [ -n "$VT_WATCHDOG" ]; then
		kill -TERM "$VT_WATCHDOG" 2>/dev/null
		wait "$VT_WATCHDOG" 2>/dev/null
	fi
	if [ -n "$VT_TMP" ] && [ -d "$VT_TMP" ]; then
		if [ "$VT_FAILED" = 1 ] && [ -n "${VT_KEEP:-}" ]; then
			vt_log "kept $VT_TMP"
		else
			rm -rf "$VT_TMP"
		fi
	fi
}

# vt_dump: everything that helps to understand a failure: every daemon's log, its view
# of the peers, and the gateways' addresses and routes.
vt_dump() {
	local s ns f
	echo "======================== diagnostics ($VT_PFX) ========================"
	for s in "${VT_ALL_SITES[@]}"; do
		[ -n "${VT_KIND[$s]:-}" ] || continue
		ns=$(vt_ns "$s")
		f=$(vt_logfile "$s")
		echo "----- $s (${VT_KIND[$s]}): last $VT_LOG_TAIL lines of $f"
		[ -f "$f" ] && tail -n "$VT_LOG_TAIL" "$f"
		if [ "${VT_KIND[$s]}" = vpnd ]; then
			echo "----- $s: vpnctl show"
			timeout 5 "$VPNCTL" -s "$(vt_sock "$s")" show 2>&1
			echo "----- $s: vpnctl show --json (compacted)"
			timeout 5 "$VPNCTL" -s "$(vt_sock "$s")" show --json 2>&1 | "$VT_PY" -c '
import json, sys
t = sys.stdin.read()
try:
    print(json.dumps(json.loads(t), separators=(",", ":")))
except ValueError:
    print(t)
'
		else
			echo "----- $s: wg show"
			timeout 5 ip netns exec "$ns" wg show "$(vt_wgif "$s")" 2>&1
		fi
	done
	for s in hq br1 br2; do
		ns=$(vt_ns "$s")
		[ -e "/run/netns/$ns" ] || continue
		echo "----- $s: ip addr / ip route / ip -6 route"
		ip -n "$ns" -br addr 2>&1
		ip -n "$ns" route 2>&1
		ip -n "$ns" -6 route 2>&1
	done
	for f in "$VT_TMP"/*.out; do
		[ -f "$f" ] || continue
		echo "----- $(basename "$f") (last 40 lines)"
		tail -n 40 "$f"
	done
	echo "======================================================================="
}

# -------------------------------------------------------------------------- topology

vt__addns() {
	local ns
	ns=$(vt_ns "$1")
	ip netns add "$ns" || vt_fail "cannot create namespace $ns"
	VT_NAMESPACES+=("$ns")
	ip -n "$ns" link set lo up
	# Before any interface exists, so every new one inherits the defaults.
	ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=0 \
		net.ipv4.conf.default.rp_filter=0 net.ipv6.conf.all.accept_dad=0 \
		net.ipv6.conf.default.accept_dad=0 >/dev/null
	if [ "${2:-}" = router ]; then
		ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1 \
			net.ipv6.conf.all.forwarding=1 >/dev/null
	fi
}

# vt__link A IFA B IFB: a veth pair, IFA in A's namespace, IFB in B's, both up.
vt__link() {
	ip -n "$(vt_ns "$1")" link add "$2" type veth peer name "$4" netns "$(vt_ns "$3")" ||
		vt_fail "cannot create veth $1/$2 - $3/$4"
	ip -n "$(vt_ns "$1")" link set "$2" up
	ip -n "$(vt_ns "$3")" link set "$4" up
}

# vt__addr NAME IF ADDR...: add addresses (IPv6 without duplicate address detection).
vt__addr() {
	local n=$1 dev=$2 a
	shift 2
	for a in "$@"; do
		case $a in
		*:*) ip -n "$(vt_ns "$n")" addr add "$a" dev "$dev" nodad ;;
		*) ip -n "$(vt_ns "$n")" addr add "$a" dev "$dev" ;;
		esac || vt_fail "cannot add $a to $n/$dev"
	done
}

# vt__route NAME [-6] ROUTE...
vt__route() {
	local n=$1 fam=-4
	shift
	if [ "$1" = -6 ]; then
		fam=-6
		shift
	fi
	ip -n "$(vt_ns "$n")" "$fam" route add "$@" || vt_fail "$n: ip $fam route add $*"
}

# vt_topology: build all eight namespaces, the links, the addresses, the routes and the
# NAT in front of br2.
vt_topology() {
	local s
	vt__addns inet router
	vt__addns nat router
	for s in hq br1 br2; do
		vt__addns "$s" router
		vt__addns "$s-lan"
	done

	# the internet: inet routes between hq, br1 and nat's public side
	vt__link inet to-hq hq wan
	vt__addr inet to-hq 198.51.100.1/24 fd00:1::1/64
	vt__addr hq wan 198.51.100.2/24 fd00:1::2/64
	if [ "$VT_HQ_UPLINKS" = 2 ]; then
		vt__link inet to-hq2 hq wan2
		vt__addr inet to-hq2 198.18.1.1/24 fd00:5::1/64
		vt__addr hq wan2 "$VT_HQ2_PUB4/24" "$VT_HQ2_PUB6/64"
	fi
	if [ -n "${VT_IMPAIR:-}" ]; then
		# br1's line to the internet runs through a namespace where vt_impair bridges
		# it with loss, delay, reordering or corruption; addresses stay the same.
		vt__addns imp
		vt__link inet to-br1 imp line0
		vt__link imp line1 br1 wan
		# A link carries frames of at most its MTU: the kernel must cut GSO
		# super-packets (vpnd's UDP GSO, forwarded TSO) before they reach the relay,
		# as a real NIC would, rather than hand it 64 KiB frames.
		vt_in inet ethtool -K to-br1 gso off tso off tx-udp-segmentation off >/dev/null ||
			vt_fail "ethtool: cannot turn segmentation offload off on inet/to-br1"
		vt_in br1 ethtool -K wan gso off tso off tx-udp-segmentation off >/dev/null ||
			vt_fail "ethtool: cannot turn segmentation offload off on br1/wan"
		vt_impair
	else
		vt__link inet to-br1 br1 wan
	fi
	vt__addr inet to-br1 203.0.113.1/24 fd00:2::1/64
	vt__addr br1 wan 203.0.113.2/24 fd00:2::2/64
	vt__link inet to-nat nat wan
	vt__addr inet to-nat 192.0.2.1/24 fd00:3::1/64
	vt__addr nat wan 192.0.2.2/24 fd00:3::2/64
	# IPv6 is routed to br2 without translation; IPv4 is masqueraded.
	vt__route inet -6 fd00:4::/64 via fd00:3::2
	vt__link nat lan br2 wan
	vt__addr nat lan 192.168.100.1/24 fd00:4::1/64
	vt__addr br2 wan 192.168.100.2/24 fd00:4::2/64
	vt__route nat default via 192.0.2.1
	vt__route nat -6 default via fd00:3::1
	vt__route hq default via 198.51.100.1
	vt__route hq -6 default via fd00:1::1
	if [ "$VT_HQ_UPLINKS" = 2 ]; then
		# Second choice: in use once the first uplink is down (its routes go with it).
		vt__route hq default via 198.18.1.1 metric 100
		vt__route hq -6 default via fd00:5::1 metric 100
	fi
	vt__route br1 default via 203.0.113.1
	vt__route br1 -6 default via fd00:2::1
	vt__route br2 default via 192.168.100.1
	vt__route br2 -6 default via fd00:4::1
	ip netns exec "$(vt_ns nat)" nft -f - <<-'EOF' || vt_fail "nat: nftables masquerade"
		table ip nat {
			chain postrouting {
				type nat hook postrouting priority srcnat; policy accept;
				oifname "wan" masquerade
			}
		}
	EOF

	# the site LANs: one host behind each gateway
	for s in hq br1 br2; do
		vt__link "$s" lan "$s-lan" eth0
		vt__addr "$s" lan "${VT_GW4[$s]}/24" "${VT_GW6[$s]}/64"
		vt__addr "$s-lan" eth0 "${VT_HOST4[$s]}/24" "${VT_HOST6[$s]}/64"
		vt__route "$s-lan" default via "${VT_GW4[$s]}"
		vt__route "$s-lan" -6 default via "${VT_GW6[$s]}"
	done

	# the underlay works before any VPN runs
	vt_wait 10 "underlay: hq reaches br1" \
		vt_q vt_in hq ping -c 1 -W 1 -q "${VT_PUB4[br1]}" ||
		vt_fail "underlay broken: hq cannot ping br1"
	vt_wait 10 "underlay: br2 reaches hq through the NAT" \
		vt_q vt_in br2 ping -c 1 -W 1 -q "${VT_PUB4[hq]}" ||
		vt_fail "underlay broken: br2 cannot ping hq"
	vt_wait 10 "underlay v6: br2 reaches hq" \
		vt_q vt_in br2 ping -6 -c 1 -W 1 -q "${VT_PUB6[hq]}" ||
		vt_fail "underlay broken: br2 cannot ping hq over IPv6"
	if [ "$VT_HQ_UPLINKS" = 2 ]; then
		vt_wait 10 "underlay: br2 reaches hq's second uplink" \
			vt_q vt_in br2 ping -c 1 -W 1 -q "$VT_HQ2_PUB4" ||
			vt_fail "underlay broken: br2 cannot ping $VT_HQ2_PUB4"
	fi
	vt_log "topology up"
}

# vt_extra_branches N: after vt_topology and before vt_keys, add branches br3..br(N+2),
# each a gateway namespace on its own link to inet with a LAN host behind it:
#   underlay  brK 198.18.K.2/24 fd00:100:K::2/64 (inet side .1/::1), UDP port 51820+K
#   tunnel    10.99.0.(K+1) fd99::(K+1)   LAN 10.20.K.0/24 fd20:0:K::/64 (gateway .1, host .2)
# HQ lists them as peers (every other site, by default); each lists only HQ, and br1 and
# br2 keep exactly the peers they had, so the three original sites are unchanged.
vt_extra_branches() {
	local n=$1 k s
	[ -n "${VT_PEERS_OF[br1]+x}" ] || VT_PEERS_OF[br1]="hq br2"
	[ -n "${VT_PEERS_OF[br2]+x}" ] || VT_PEERS_OF[br2]="hq br1"
	for ((k = 3; k < n + 3; k++)); do
		s=br$k
		vt__addns "$s" router
		vt__addns "$s-lan"
		vt__link inet "to-$s" "$s" wan
		vt__addr inet "to-$s" "198.18.$k.1/24" "fd00:100:$k::1/64"
		vt__addr "$s" wan "198.18.$k.2/24" "fd00:100:$k::2/64"
		vt__route "$s" default via "198.18.$k.1"
		vt__route "$s" -6 default via "fd00:100:$k::1"
		vt__link "$s" lan "$s-lan" eth0
		VT_PUB4[$s]=198.18.$k.2
		VT_PUB6[$s]=fd00:100:$k::2
		VT_PORT[$s]=$((51820 + k))
		VT_TUN4[$s]=10.99.0.$((k + 1))
		VT_TUN6[$s]=fd99::$(printf %x $((k + 1)))
		VT_LAN4[$s]=10.20.$k.0/24
		VT_LAN6[$s]=fd20:0:$k::/64
		VT_GW4[$s]=10.20.$k.1
		VT_GW6[$s]=fd20:0:$k::1
		VT_HOST4[$s]=10.20.$k.2
		VT_HOST6[$s]=fd20:0:$k::2
		vt__addr "$s" lan "${VT_GW4[$s]}/24" "${VT_GW6[$s]}/64"
		vt__addr "$s-lan" eth0 "${VT_HOST4[$s]}/24" "${VT_HOST6[$s]}/64"
		vt__route "$s-lan" default via "${VT_GW4[$s]}"
		vt__route "$s-lan" -6 default via "${VT_GW6[$s]}"
		[ -n "${VT_PEERS_OF[$s]+x}" ] || VT_PEERS_OF[$s]=hq
		VT_ALL_SITES+=("$s")
	done
	vt_wait 10 "underlay: hq reaches br$((n + 2))" \
		vt_q vt_in hq ping -c 1 -W 1 -q "${VT_PUB4[br$((n + 2))]}" ||
		vt_fail "underlay broken: hq cannot ping br$((n + 2))"
	vt_log "$n extra branches up (br3..br$((n + 2)))"
}

# vt_impair [IMPAIR-OPTIONS...]: (re)start the relay on br1's line (topology built with
# VT_IMPAIR=1) with these impairments; none = a clean line. Its counters go to
# $VT_TMP/impair.log when it stops.
VT_IMPAIR_PID=
vt_impair() {
	[ -x "$IMPAIR" ] || vt_fail "IMPAIR=$IMPAIR is not an executable (build first)"
	local started
	[ -z "$VT_IMPAIR_PID" ] || vt_bg_stop "$VT_IMPAIR_PID"
	started=$(grep -c bridging "$VT_TMP/impair.log" 2>/dev/null || true)
	vt_bg ip netns exec "$(vt_ns imp)" "$IMPAIR" -a line0 -b line1 "$@" >>"$VT_TMP/impair.log" 2>&1
	VT_IMPAIR_PID=$VT_BGPID
	vt_wait 5 "impair relay up" \
		eval '[ "$(grep -c bridging "$VT_TMP/impair.log")" -gt "${started:-0}" ]' ||
		vt_fail "impair relay did not start"
	vt_log "br1's line: ${*:-clean}"
}

# ---------------------------------------------------------------------- keys, configs

vt_genkey() { "$VPNCTL" genkey; }
vt_pubkey() { "$VPNCTL" pubkey; }
vt_genpsk() { "$VPNCTL" genpsk; }

# vt_keys: a private key file (0600) and public key per site, and one preshared key file
# per pair of sites (used when VT_PSK=1).
vt_keys() {
	local s t f
	[ -x "$VPNCTL" ] || vt_fail "VPNCTL=$VPNCTL is not an executable"
	for s in "${VT_ALL_SITES[@]}"; do
		f="$VT_TMP/$s.key"
		(umask 077 && vt_genkey >"$f") || vt_fail "vpnctl genkey failed"
		chmod 600 "$f"
		VT_PRIV_FILE[$s]=$f
		VT_PUBKEY[$s]=$(vt_pubkey <"$f") || vt_fail "vpnctl pubkey failed"
		[ ${#VT_PUBKEY[$s]} = 44 ] || vt_fail "vpnctl pubkey printed '${VT_PUBKEY[$s]}'"
	done
	for s in hq br1; do
		for t in br1 br2; do
			[ "$s" != "$t" ] || continue
			f="$VT_TMP/psk-$s-$t"
			(umask 077 && vt_genpsk >"$f") || vt_fail "vpnctl genpsk failed"
			chmod 600 "$f"
		done
	done
}

# The pair's preshared key file (sites in any order).
vt_pskfile() {
	case "$1/$2" in
	hq/br1 | br1/hq) echo "$VT_TMP/psk-hq-br1" ;;
	hq/br2 | br2/hq) echo "$VT_TMP/psk-hq-br2" ;;
	*) echo "$VT_TMP/psk-br1-br2" ;;
	esac
}

vt_peers_of() {
	local s=$1 t out=()
	if [ -n "${VT_PEERS_OF[$s]+x}" ]; then
		echo "${VT_PEERS_OF[$s]}"
		return
	fi
	for t in "${VT_ALL_SITES[@]}"; do
		[ "$t" = "$s" ] || out+=("$t")
	done
	echo "${out[@]}"
}

# The endpoint SITE uses for PEER: br2 is behind the NAT, so nobody can name it.
vt_peer_endpoint() {
	local s=$1 p=$2 k="$1/$2"
	if [ -n "${VT_OVR_ENDPOINT[$k]+x}" ]; then
		[ "${VT_OVR_ENDPOINT[$k]}" = none ] || echo "${VT_OVR_ENDPOINT[$k]}"
		return
	fi
	[ "$p" != br2 ] || return 0
	if [ "$VT_UNDERLAY" = 6 ]; then
		echo "[${VT_PUB6[$p]}]:${VT_PORT[$p]}"
	else
		echo "${VT_PUB4[$p]}:${VT_PORT[$p]}"
	fi
}

vt_peer_keepalive() {
	local k="$1/$2"
	if [ -n "${VT_OVR_KEEPALIVE[$k]+x}" ]; then
		echo "${VT_OVR_KEEPALIVE[$k]}"
	elif [ "$1" = br2 ]; then
		echo 25
	else
		echo 0
	fi
}

vt_peer_pubkey() {
	local k="$1/$2"
	if [ -n "${VT_OVR_KEY[$k]+x}" ]; then echo "${VT_OVR_KEY[$k]}"; else echo "${VT_PUBKEY[$2]}"; fi
}

vt_peer_psk() {
	local k="$1/$2"
	if [ -n "${VT_OVR_PSK[$k]+x}" ]; then
		echo "${VT_OVR_PSK[$k]}"
	elif [ "$VT_PSK" = 1 ]; then
		vt_pskfile "$1" "$2"
	fi
}

# Inner addresses that belong to PEER: its tunnel address and its LAN, v4 and v6.
vt_peer_allowed() {
	echo "${VT_TUN4[$1]}/32" "${VT_TUN6[$1]}/128" "${VT_LAN4[$1]}" "${VT_LAN6[$1]}"
}

# vt_write_conf SITE: write SITE's vpnd config from the tables and the knobs above.
vt_write_conf() {
	local s=$1 f p a ep ka psk rekey list
	f=$(vt_conf "$s")
	rekey=${VT_REKEY_SITE[$s]:-$VT_REKEY}
	# Revocations, rotated keys, the timestamp floor: per site, never /var/lib/vpnd.
	mkdir -p "$(vt_state_dir "$s")" && chmod 700 "$(vt_state_dir "$s")"
	# Made now, so that vt_own gives it to VT_USER before vpnd creates the socket in it.
	mkdir -p "$(dirname "$(vt_uapi_sock "$s")")"
	{
		echo "# $s, written by netns-tests/lib.sh"
		echo "interface = \"$VT_IFNAME\""
		echo "user = \"$VT_USER\""
		echo "private-key-file = \"${VT_PRIV_FILE[$s]}\""
		echo "listen-port = ${VT_PORT[$s]}"
		echo "address = {\"${VT_TUN4[$s]}/24\", \"${VT_TUN6[$s]}/64\"}"
		echo "control-socket = \"$(vt_sock "$s")\""
		echo "uapi-socket = \"$(vt_uapi_sock "$s")\""
		echo "audit-log = \"$VT_TMP/$s.audit\""
		echo "state-directory = \"$(vt_state_dir "$s")\""
		[ -z "$rekey" ] || echo "rekey-after-time = $rekey"
		[ -z "${VT_EXTRA_CONF[$s]:-}" ] || echo "${VT_EXTRA_CONF[$s]}"
		for p in $(vt_peers_of "$s"); do
			echo
			echo "peer \"$p\" {"
			echo "    public-key = \"$(vt_peer_pubkey "$s" "$p")\""
			psk=$(vt_peer_psk "$s" "$p")
			[ -z "$psk" ] || echo "    preshared-key-file = \"$psk\""
			ep=$(vt_peer_endpoint "$s" "$p")
			[ -z "$ep" ] || echo "    endpoint = \"$ep\""
			list=
			for a in ${VT_OVR_ALLOWED[$s/$p]:-$(vt_peer_allowed "$p")}; do
				list+="${list:+, }\"$a\""
			done
			echo "    allowed-ips = {$list}"
			ka=$(vt_peer_keepalive "$s" "$p")
			[ "$ka" = 0 ] || echo "    persistent-keepalive = $ka"
			[ -z "${VT_OVR_PEERCONF[$s/$p]:-}" ] || echo "${VT_OVR_PEERCONF[$s/$p]}"
			echo "}"
		done
	} >"$f"
	vt_own
}

# vt_own: with VT_USER other than root, everything in $VT_TMP (keys, configs, state and
# audit directories, socket directories) and $VT_TMP itself belongs to that account.
# Called before vpnd starts and before each vt_ctl, so files a test adds are covered.
# Only files owned by someone else are changed, never sockets (a chown changes a file's
# ctime, which tests compare; vpnd removes its sockets through the directory's rights);
# files a test made immutable stay as they are.
vt_own() {
	[ "$VT_USER" = root ] ||
		find "$VT_TMP" ! -type s ! -user "$VT_USER" -exec chown "$VT_USER:" {} + 2>/dev/null ||
		true
}

# --------------------------------------------------------------------------- vpnd

# vt_start SITE: run vpnd in SITE's namespace (log in $VT_TMP/SITE.log) and wait until it
# answers on its control socket and its TUN device is up.
vt_start() {
	vt_launch "$1"
	vt_wait_ready "$1" || vt_fail "vpnd in $1 did not become ready"
	vt_log "$1: vpnd running (pid ${VT_PID[$1]})"
}

# vt_launch SITE: start vpnd in SITE's namespace like vt_start, without waiting for it
# (vt_wait_ready does), so that several start at once.
vt_launch() {
	local s=$1 log
	log=$(vt_logfile "$s")
	[ -f "$(vt_conf "$s")" ] || vt_write_conf "$s"
	vt_own
	echo "===== vpnd -c $(vt_conf "$s") started $(date +%T.%3N)" >>"$log"
	ip netns exec "$(vt_ns "$s")" "$VPND" -c "$(vt_conf "$s")" </dev/null >>"$log" 2>&1 &
	VT_PID[$s]=$!
	VT_KIND[$s]=vpnd
}

vt__ready() {
	vt_alive "${VT_PID[$1]}" || return 2
	timeout 5 "$VPNCTL" -s "$(vt_sock "$1")" show --json >/dev/null 2>&1 &&
		ip -n "$(vt_ns "$1")" link show "$VT_IFNAME" 2>/dev/null | grep -q '[<,]UP[,>]'
}

vt_wait_ready() {
	local s=$1 deadline=$(($(date +%s) + 20)) rc
	while :; do
		vt__ready "$s" && return 0
		rc=$?
		if [ "$rc" = 2 ]; then
			vt_log "vpnd in $s exited during startup"
			return 1
		fi
		(($(date +%s) < deadline)) || return 1
		sleep 0.2
	done
}

# vt_stop SITE: SIGTERM SITE's daemon and wait (bounded) for it; returns its exit status.
vt_stop() {
	local s=$1 pid rc=0
	pid=${VT_PID[$s]:-}
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null
	vt_reap "$pid" 15 || rc=$?
	VT_PID[$s]=
	[ "$rc" != 124 ] || vt_log "$s: daemon did not exit within 15s of SIGTERM"
	return $rc
}

# vt_alive_site SITE: its daemon still runs.
vt_alive_site() { [ -n "${VT_PID[$1]:-}" ] && vt_alive "${VT_PID[$1]}"; }

vt_ctl() {
	local s=$1
	shift
	vt_own
	timeout 10 "$VPNCTL" -s "$(vt_sock "$s")" "$@"
}

# vt_json SITE EXPR: evaluate the Python expression EXPR over SITE's `show --json` (as d;
# peer(NAME) is that peer's object) and print it (strings raw, the rest as JSON).
vt_json() {
	local out
	out=$(timeout 5 "$VPNCTL" -s "$(vt_sock "$1")" show --json) || return 1
	printf '%s' "$out" | "$VT_PY" -c '
import json, sys
d = json.load(sys.stdin)
def peer(name):
    for p in d["peers"]:
        if p["name"] == name:
            return p
    raise SystemExit("no peer named %r" % name)
v = eval(sys.argv[1], {"d": d, "peer": peer, "json": json})
print(v if isinstance(v, str) else json.dumps(v))
' "$2"
}

# vt_json_true SITE EXPR: EXPR is true (for vt_wait).
vt_json_true() { [ "$(vt_json "$1" "bool($2)" 2>/dev/null)" = true ]; }

# --------------------------------------------------------------------- wireguard-go

# vt_wg_start SITE: run wireguard-go in SITE's namespace in place of vpnd, configured from
# the same tables as vt_write_conf (keys, peers, endpoints, overrides), with the tunnel
# addresses and the peers' routes that vpnd would install.
vt_wg_start() {
	local s=$1 ns log p args a psk ep ka dev
	ns=$(vt_ns "$s")
	dev=$(vt_wgif "$s")
	log=$(vt_logfile "$s")
	command -v wireguard-go >/dev/null || vt_fail "wireguard-go is not installed"
	rm -f "/var/run/wireguard/$dev.sock"
	ip netns exec "$ns" env WG_PROCESS_FOREGROUND=1 LOG_LEVEL=verbose \
		wireguard-go -f "$dev" </dev/null >>"$log" 2>&1 &
	VT_PID[$s]=$!
	VT_KIND[$s]=wireguard-go
	vt_wait 10 "wireguard-go in $s" eval "[ -S /var/run/wireguard/$dev.sock ]" ||
		vt_fail "wireguard-go did not start in $s"
	args=(private-key "${VT_PRIV_FILE[$s]}" listen-port "${VT_PORT[$s]}")
	for p in $(vt_peers_of "$s"); do
		args+=(peer "$(vt_peer_pubkey "$s" "$p")")
		psk=$(vt_peer_psk "$s" "$p")
		[ -z "$psk" ] || args+=(preshared-key "$psk")
		ep=$(vt_peer_endpoint "$s" "$p")
		[ -z "$ep" ] || args+=(endpoint "$ep")
		ka=$(vt_peer_keepalive "$s" "$p")
		[ "$ka" = 0 ] || args+=(persistent-keepalive "$ka")
		args+=(allowed-ips "$(vt_peer_allowed "$p" | tr ' ' ',')")
	done
	ip netns exec "$ns" wg set "$dev" "${args[@]}" || vt_fail "$s: wg set ${args[*]}"
	ip -n "$ns" addr add "${VT_TUN4[$s]}/24" dev "$dev"
	ip -n "$ns" addr add "${VT_TUN6[$s]}/64" dev "$dev" nodad
	ip -n "$ns" link set "$dev" mtu 1420 up
	for p in $(vt_peers_of "$s"); do
		for a in $(vt_peer_allowed "$p"); do
			case $a in
			*/32 | */128) ;; # inside the tunnel subnets, already on-link
			*) ip -n "$ns" route add "$a" dev "$dev" ;;
			esac
		done
	done
	vt_log "$s: wireguard-go running (pid ${VT_PID[$s]})"
}

# vt_wg_latest SITE PEER: seconds since epoch of the latest handshake with PEER
# (0 = never), as wireguard-go reports it.
vt_wg_latest() {
	vt_in "$1" wg show "$(vt_wgif "$1")" latest-handshakes |
		awk -v k="$(vt_peer_pubkey "$1" "$2")" '$1 == k { print $2 }'
}

# ------------------------------------------------------------------------ traffic

vt_host() { # vt_host SITE 4|6: the LAN host's address
	if [ "${2:-4}" = 6 ]; then echo "${VT_HOST6[$1]}"; else echo "${VT_HOST4[$1]}"; fi
}

# vt_lan_ping FROM TO [4|6] [COUNT] [PING-OPTIONS...]: ping TO's LAN host from FROM's.
vt_lan_ping() {
	local from=$1 to=$2 fam=${3:-4} count=${4:-1}
	shift $(($# < 4 ? $# : 4))
	timeout $((count * 2 + 10)) ip netns exec "$(vt_ns "$from-lan")" \
		ping "-$fam" -c "$count" -W 2 -q "$@" "$(vt_host "$to" "$fam")" >/dev/null 2>&1
}

# vt_wait_lan_ping FROM TO [4|6] [SECONDS]: poll until one ping gets through.
vt_wait_lan_ping() {
	vt_wait "${4:-20}" "ping $1-lan -> $2-lan (IPv${3:-4})" vt_lan_ping "$1" "$2" "${3:-4}" 1
}

# vt_ping_stats FILE: "transmitted received" from a ping output.
vt_ping_stats() {
	sed -n 's/^\([0-9]*\) packets transmitted, \([0-9]*\) \(packets \)\{0,1\}received.*/\1 \2/p' "$1"
}

# vt_ping_lossless FROM TO [4|6] [COUNT] [INTERVAL]: COUNT pings from FROM's LAN host to
# TO's (output in $VT_TMP/ping-FROM-TO.out); succeed only if every one was answered.
vt_ping_lossless() {
	local from=$1 to=$2 fam=${3:-4} count=${4:-3} iv=${5:-0.2} out st
	out="$VT_TMP/ping-$from-$to.out"
	timeout $((count + 30)) ip netns exec "$(vt_ns "$from-lan")" \
		ping "-$fam" -c "$count" -i "$iv" -W 2 -q "$(vt_host "$to" "$fam")" >"$out" 2>&1 || true
	st=$(vt_ping_stats "$out")
	vt_log "ping $from-lan -> $to-lan (IPv$fam): ${st:-no statistics} (transmitted received)"
	[ "$st" = "$count $count" ]
}

# vt_port_listening NAME PORT [tcp|udp]: something listens on PORT in NAME's namespace.
vt_port_listening() {
	local opt=-ltnH
	[ "${3:-tcp}" = tcp ] || opt=-lunH
	vt_in "$1" ss "$opt" "sport = :$2" 2>/dev/null | grep -q .
}

# vt_tcp_xfer FROM TO BYTES [4|6]: send BYTES random bytes over TCP from FROM's LAN host
# to TO's; succeed if they arrive byte-identical (sha256).
vt_tcp_xfer() {
	local from=$1 to=$2 bytes=$3 fam=${4:-4} port=5001 src dst pid rc=0 listen connect
	src="$VT_TMP/xfer-$from-$to.src"
	dst="$VT_TMP/xfer-$from-$to.dst"
	head -c "$bytes" /dev/urandom >"$src"
	rm -f "$dst"
	if [ "$fam" = 6 ]; then
		listen="TCP6-LISTEN:$port,reuseaddr"
		connect="TCP6:[$(vt_host "$to" 6)]:$port"
	else
		listen="TCP4-LISTEN:$port,reuseaddr"
		connect="TCP4:$(vt_host "$to" 4):$port"
	fi
	timeout 120 ip netns exec "$(vt_ns "$to-lan")" socat -u "$listen" "CREATE:$dst" \
		</dev/null >>"$VT_TMP/socat.out" 2>&1 &
	pid=$!
	VT_BG_PIDS+=("$pid")
	vt_wait 10 "TCP listener in $to-lan" vt_port_listening "$to-lan" "$port" ||
		return 1
	timeout 100 ip netns exec "$(vt_ns "$from-lan")" socat -u "OPEN:$src" "$connect" \
		</dev/null >>"$VT_TMP/socat.out" 2>&1 || {
		vt_log "sender socat failed ($from-lan -> $to-lan)"
		rc=1
	}
	vt_reap "$pid" 30 || {
		vt_log "receiver socat failed ($to-lan)"
		rc=1
	}
	if [ "$rc" = 0 ]; then
		local a b
		a=$(sha256sum <"$src" | cut -d' ' -f1)
		b=$(sha256sum <"$dst" | cut -d' ' -f1)
		if [ "$a" != "$b" ]; then
			vt_log "TCP $from-lan -> $to-lan: sha256 differ ($(stat -c %s "$dst") of $bytes bytes arrived)"
			rc=1
		else
			vt_log "TCP $from-lan -> $to-lan (IPv$fam): $bytes bytes, sha256 $a"
		fi
	fi
	rm -f "$src" "$dst"
	return $rc
}

# vt_mesh_up [SITES...]: write configs and start vpnd in every site (default all three).
vt_mesh_up() {
	local s sites=("$@")
	[ ${#sites[@]} -gt 0 ] || sites=("${VT_ALL_SITES[@]}")
	for s in "${sites[@]}"; do vt_write_conf "$s"; done
	for s in "${sites[@]}"; do vt_start "$s"; done
}

# vpn_json SITE EXPR: another name for vt_json.
vpn_json() { vt_json "$@"; }
