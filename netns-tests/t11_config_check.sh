#!/bin/bash
# t11: `vpnd -c FILE -n` accepts a good config ("configuration OK", exit 0) and rejects
# bad ones with FILE:LINE messages: a world-readable key file, a bad prefix, a bad key.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
vt_init 60
vt_need_vpnd
vt_keys
conf=$(vt_conf hq)
vt_write_conf hq

out=$(timeout 10 "$VPND" -c "$conf" -n 2>&1) || vt_fail "vpnd -n rejected a good config: $out"
grep -q "configuration OK" <<<"$out" || vt_fail "vpnd -n printed '$out', expected 'configuration OK'"
vt_pass "good config: $out"

# expect_error WHAT FILE PATTERN: vpnd -n fails and prints a line matching PATTERN.
expect_error() {
	local out rc=0
	out=$(timeout 10 "$VPND" -c "$2" -n 2>&1) || rc=$?
	[ "$rc" != 0 ] || vt_fail "vpnd -n accepted $1"
	[ "$rc" != 124 ] || vt_fail "vpnd -n hung on $1"
	grep -Eq -- "$3" <<<"$out" || vt_fail "$1: message '$out' does not match /$3/"
	vt_pass "$1: $out"
}

chmod 644 "${VT_PRIV_FILE[hq]}"
expect_error "a world-readable private key" "$conf" "$conf(:[0-9]+)?: "
chmod 600 "${VT_PRIV_FILE[hq]}"

bad="$VT_TMP/bad-prefix.conf"
sed 's|"10.2.0.0/24"|"10.2.0.0/33"|' "$conf" >"$bad"
line=$(grep -n '10.2.0.0/33' "$bad" | cut -d: -f1)
expect_error "allowed-ips 10.2.0.0/33" "$bad" "$bad:$line: .*10\.2\.0\.0/33"

bad="$VT_TMP/bad-key.conf"
sed "s|public-key = \"${VT_PUBKEY[br1]}\"|public-key = \"not-a-key\"|" "$conf" >"$bad"
line=$(grep -n 'not-a-key' "$bad" | cut -d: -f1)
expect_error "a malformed public key" "$bad" "$bad:$line: "
