#!/bin/bash
# check_man.sh SRCDIR MANPAGE...
#
# Each man page built from conf/*.scd renders without a single warning (groff -ww, and
# man -l as a reader would see it), and the pages keep up with the code: vpnd.conf(5)
# has an entry, with its default (or "Required"), for every key daemon/config.c
# accepts; vpnctl(8) one for every subcommand in ctl/vpnctl.c's table; vpnd(8) one for
# every option in daemon/vpnd.c's getopt string. Exit 77 (SKIP) only if neither groff
# nor man is installed.
set -euo pipefail

if [ $# -lt 2 ]; then
	echo "usage: $0 SRCDIR MANPAGE..." >&2
	exit 2
fi
src=$1
shift

have_groff=0 have_man=0
command -v groff >/dev/null && have_groff=1
command -v man >/dev/null && have_man=1
if [ $have_groff = 0 ] && [ $have_man = 0 ]; then
	echo "SKIP: neither groff nor man is installed (Debian packages groff-base, man-db)"
	exit 77
fi

fail=0
bad() {
	echo "FAIL: $*"
	fail=1
}

# --- rendering ----------------------------------------------------------------------
declare -A built=()
for page in "$@"; do
	name=$(basename "$page")
	built[$name]=$page
	if [ ! -s "$page" ] || ! grep -q '^\.TH ' "$page"; then
		bad "$name: not a man page (no .TH line)"
		continue
	fi
	if [ $have_groff = 1 ]; then
		out=$(groff -ww -z -man -Tutf8 "$page" 2>&1) || bad "$name: groff failed"
		[ -z "$out" ] || bad "$name: groff warnings:"$'\n'"$out"
	fi
	if [ $have_man = 1 ]; then
		rc=0
		out=$(MANWIDTH=80 man --warnings -E UTF-8 -l "$page" 2>&1 >/dev/null) || rc=$?
		[ "$rc" = 0 ] || bad "$name: man -l exited $rc"
		[ -z "$out" ] || bad "$name: man -l warnings:"$'\n'"$out"
	fi
done
for name in vpnd.8 vpnctl.8 vpnd.conf.5; do
	[ -n "${built[$name]:-}" ] || bad "$name was not built"
done

# --- coverage -----------------------------------------------------------------------
# entry SCD WORD: the paragraph of the list entry whose term line starts with *WORD*
# (or *WORD followed by more of the term), up to the next unindented line.
entry() {
	awk -v w="$2" '
		index($0, "*" w "*") == 1 || index($0, "*" w " ") == 1 { on = 1; print; next }
		on && /^[^\t]/ { on = 0 }
		on { print }' "$1"
}

conf_scd=$src/conf/vpnd.conf.5.scd
keys=$(grep -oE 'CFG_[A-Z_]*\("[a-z][a-z0-9-]*"' "$src/daemon/config.c" | grep -v CFG_SEC |
	sed -E 's/.*"(.*)"/\1/' | sort -u)
[ -n "$keys" ] || bad "found no config keys in daemon/config.c"
for key in $keys; do
	text=$(entry "$conf_scd" "$key")
	if [ -z "$text" ]; then
		bad "vpnd.conf(5) does not document key '$key'"
	elif ! grep -qE 'Default:|Required\.' <<<"$text"; then
		bad "vpnd.conf(5): key '$key' has no 'Default:' (or 'Required.')"
	fi
done
echo "vpnd.conf(5): $(wc -w <<<"$keys") keys checked"

ctl_scd=$src/conf/vpnctl.8.scd
cmds=$(grep -oE '^[[:space:]]*\{"[a-z][a-z-]*",' "$src/ctl/vpnctl.c" | sed -E 's/.*"(.*)".*/\1/' |
	sort -u)
[ -n "$cmds" ] || bad "found no subcommands in ctl/vpnctl.c"
cmds=$(printf '%s\nhelp\n' "$cmds" | sort -u)
for cmd in $cmds; do
	[ -n "$(entry "$ctl_scd" "$cmd")" ] || bad "vpnctl(8) does not document '$cmd'"
done
echo "vpnctl(8): $(wc -w <<<"$cmds") commands checked"

vpnd_scd=$src/conf/vpnd.8.scd
opts=$(grep -oE 'getopt\(argc, argv, "[^"]*"' "$src/daemon/vpnd.c" | sed -E 's/.*"(.*)"/\1/' |
	tr -d ':' | grep -o .)
[ -n "$opts" ] || bad "found no getopt string in daemon/vpnd.c"
for o in $opts; do
	[ -n "$(entry "$vpnd_scd" "-$o")" ] || bad "vpnd(8) does not document option -$o"
done
echo "vpnd(8): $(wc -w <<<"$opts") options checked"

exit "$fail"
