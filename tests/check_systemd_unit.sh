#!/bin/bash
# check_systemd_unit.sh UNIT SBINDIR VPND VPNCTL MANPAGE...
#
# The generated vpnd@.service (UNIT) runs the binaries installed in SBINDIR with the
# instance's config and control socket, keeps the hardening this daemon is meant to
# have, and passes `systemd-analyze verify` (with its Documentation= man pages looked
# up among MANPAGE...) and `systemd-analyze security` with an exposure of at most 3.0.
# systemd-analyze checks that the commands exist, so it verifies a copy of the unit
# that runs the built VPND and VPNCTL instead. Exit 77 (SKIP) without systemd-analyze.
set -euo pipefail

if [ $# -lt 4 ]; then
	echo "usage: $0 UNIT SBINDIR VPND VPNCTL MANPAGE..." >&2
	exit 2
fi
unit=$1 sbindir=$2
# meson passes build outputs relative to the build dir; the unit needs absolute paths.
vpnd=$(readlink -f "$3") vpnctl=$(readlink -f "$4")
shift 4

if ! command -v systemd-analyze >/dev/null; then
	echo "SKIP: systemd-analyze is not installed (Debian package systemd)"
	exit 77
fi

fail=0
bad() {
	echo "FAIL: $*"
	fail=1
}

# The value of KEY= in the unit (the last one, as systemd reads it).
value() { sed -n "s/^$1=//p" "$unit" | tail -n 1; }

# --- what the unit runs -------------------------------------------------------------
[ "$(value Type)" = notify ] || bad "Type=$(value Type), expected notify (vpnd sends READY=1)"
want="$sbindir/vpnd -c /etc/vpnd/%i.conf"
[ "$(value ExecStart)" = "$want" ] || bad "ExecStart=$(value ExecStart), expected $want"
# vpnd's default control socket is /run/vpnd/<interface>.sock; the instance is named
# after the interface (see the unit's header and vpnd(8)).
want="$sbindir/vpnctl -s /run/vpnd/%i.sock reload"
[ "$(value ExecReload)" = "$want" ] || bad "ExecReload=$(value ExecReload), expected $want"

# --- hardening that must stay -------------------------------------------------------
required=(
	"User=vpnd"
	"AmbientCapabilities=CAP_NET_ADMIN CAP_NET_BIND_SERVICE"
	"CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_BIND_SERVICE"
	"NoNewPrivileges=yes"
	"ProtectSystem=strict"
	"ProtectHome=yes"
	"PrivateTmp=yes"
	"RestrictAddressFamilies=AF_INET AF_INET6 AF_NETLINK AF_UNIX"
	"DeviceAllow=/dev/net/tun rw"
	"DevicePolicy=closed"
	"StateDirectory=vpnd"
	"RuntimeDirectory=vpnd wireguard"
	"RuntimeDirectoryPreserve=yes"
	"ConfigurationDirectory=vpnd"
	"ProtectKernelModules=yes"
	"ProtectKernelTunables=yes"
	"ProtectControlGroups=yes"
	"RestrictNamespaces=yes"
	"LockPersonality=yes"
	"MemoryDenyWriteExecute=yes"
	"SystemCallArchitectures=native"
)
for line in "${required[@]}"; do
	grep -qxF "$line" "$unit" || bad "the unit lacks '$line'"
done
# These would take the TUN device or the host's network away from the daemon.
for key in PrivateDevices PrivateNetwork PrivateUsers DynamicUser; do
	if grep -q "^$key=" "$unit"; then bad "$key= breaks a TUN/netlink daemon"; fi
done

# --- systemd-analyze ----------------------------------------------------------------
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/units" "$tmp/man"
sed -e "s#^ExecStart=$sbindir/vpnd #ExecStart=$vpnd #" \
	-e "s#^ExecReload=$sbindir/vpnctl #ExecReload=$vpnctl #" "$unit" >"$tmp/units/vpnd@.service"
for page in "$@"; do
	section=${page##*.}
	mkdir -p "$tmp/man/man$section"
	cp "$page" "$tmp/man/man$section/"
done

# verify exits 0 on some warnings (an unknown key): any output is a failure too.
rc=0
out=$(cd "$tmp/units" && MANPATH="$tmp/man" systemd-analyze verify "$tmp/units/vpnd@.service" 2>&1) || rc=$?
if [ "$rc" != 0 ] || [ -n "$out" ]; then
	bad "systemd-analyze verify (exit $rc):"
	printf '%s\n' "$out"
else
	echo "ok: systemd-analyze verify"
fi

rc=0
out=$(systemd-analyze security --offline=yes --threshold=30 "$tmp/units/vpnd@.service" 2>&1) || rc=$?
if [ "$rc" != 0 ]; then
	bad "systemd-analyze security: exposure above 3.0 (exit $rc):"
	printf '%s\n' "$out"
else
	echo "ok: systemd-analyze security: $(grep -o 'Overall exposure level.*' <<<"$out")"
fi

exit "$fail"
