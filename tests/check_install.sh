#!/bin/bash
# check_install.sh BUILDDIR PREFIX SBINDIR MANDIR DATADIR UNITDIR COMPLETIONSDIR
#
# `meson install --destdir` of BUILDDIR into a temp dir delivers every file an operator
# needs, where the directory options say: vpnd and vpnctl, the systemd unit (running the
# installed vpnd), the three man pages, the example configs (identical to conf/) and
# vpnctl's bash completion. Nothing is installed under /etc, so a real configuration is
# never overwritten. Relative directories are taken relative to PREFIX, as meson does.
set -euo pipefail

if [ $# -ne 7 ]; then
	echo "usage: $0 BUILDDIR PREFIX SBINDIR MANDIR DATADIR UNITDIR COMPLETIONSDIR" >&2
	exit 2
fi
build=$1 prefix=$2
abs() { case $1 in /*) printf '%s' "$1" ;; *) printf '%s/%s' "$prefix" "$1" ;; esac; }
sbindir=$(abs "$3") mandir=$(abs "$4") datadir=$(abs "$5") unitdir=$(abs "$6")
completionsdir=$(abs "$7")
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT

# --no-rebuild: meson test has built everything; the test must not run ninja itself.
if ! out=$(meson install -C "$build" --destdir "$dest" --no-rebuild 2>&1); then
	printf '%s\n' "$out"
	echo "FAIL: meson install -C $build --destdir $dest"
	exit 1
fi

fail=0
bad() {
	echo "FAIL: $*"
	fail=1
}
want() { # want TEST PATH WHAT
	if test "$1" "$dest$2"; then echo "ok: $3: $2"; else bad "$3 not installed: $2"; fi
}

want -x "$sbindir/vpnd" "daemon"
want -x "$sbindir/vpnctl" "control tool"
want -f "$unitdir/vpnd@.service" "systemd unit"
want -s "$mandir/man8/vpnd.8" "man page"
want -s "$mandir/man8/vpnctl.8" "man page"
want -s "$mandir/man5/vpnd.conf.5" "man page"
want -f "$datadir/doc/vpnd/examples/hq.conf" "example"
want -f "$datadir/doc/vpnd/examples/branch.conf" "example"
want -f "$completionsdir/vpnctl" "bash completion"
# The account the unit's User= names: systemd-sysusers makes it from this file.
if [ -n "$(find "$dest" -path '*/sysusers.d/vpnd.conf' -type f)" ]; then
	echo "ok: sysusers.d entry: $(cd "$dest" && find . -path '*/sysusers.d/vpnd.conf')"
	grep -q '^u vpnd ' "$(find "$dest" -path '*/sysusers.d/vpnd.conf' | head -1)" ||
		bad "sysusers.d/vpnd.conf does not create the account vpnd"
else
	bad "sysusers.d/vpnd.conf not installed"
fi

# The unit runs what was installed, not a path of some other prefix.
if [ -f "$dest$unitdir/vpnd@.service" ]; then
	for key in ExecStart ExecReload; do
		cmd=$(sed -n "s/^$key=//p" "$dest$unitdir/vpnd@.service" | awk '{print $1}')
		[ -x "$dest$cmd" ] || bad "$key=$cmd is not an installed executable"
	done
fi
for f in hq.conf branch.conf; do
	cmp -s "$src/conf/$f" "$dest$datadir/doc/vpnd/examples/$f" ||
		bad "installed example $f differs from conf/$f"
done
for page in man8/vpnd.8 man8/vpnctl.8 man5/vpnd.conf.5; do
	[ ! -f "$dest$mandir/$page" ] || grep -q '^\.TH ' "$dest$mandir/$page" ||
		bad "$mandir/$page is not roff (no .TH line)"
done
if [ -e "$dest/etc" ] || [ -e "$dest$prefix/etc" ]; then
	bad "something was installed under etc/: $(cd "$dest" && find . -path '*etc/*' | head -5)"
fi

exit "$fail"
