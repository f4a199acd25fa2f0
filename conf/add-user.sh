#!/bin/sh
# Run by `meson install`: on a live system (no --destdir) and as root, create the vpnd
# account at once from the installed sysusers.d file ($1) instead of at the next boot.
# A staged install (DESTDIR) leaves that to whoever installs the package.
set -eu
[ -z "${DESTDIR:-}" ] || exit 0
getent passwd vpnd >/dev/null && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "vpnd: not root, the account vpnd was not created: run systemd-sysusers $1" >&2
	exit 0
fi
if command -v systemd-sysusers >/dev/null; then
	systemd-sysusers "$1"
else
	useradd --system --no-create-home --shell /usr/sbin/nologin vpnd
fi
echo "vpnd: created the account vpnd"
