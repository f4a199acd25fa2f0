#!/bin/bash
# t14: the audit log. hq and br1 run and handshake; hq gets control commands, a reload
# that adds a peer, a reload that is refused, a SIGHUP reload that removes it, and a
# handshake from a site it does not know (br2). After a clean stop, `vpnctl audit verify`
# says "N records verified" and the log holds each of those events (the config's hash
# is the BLAKE2b of its bytes). Then each kind of tampering, on a copy, makes verify
# fail and name the line touched. br1 rotates its log every 4 KiB: its files, oldest
# first, verify as one chain.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
vt_init 240
vt_need_vpnd
vt_topology
vt_keys
VT_PEERS_OF=([hq]=br1 [br1]=hq [br2]=hq)

HQLOG=$VT_TMP/hq.audit
BRLOG=$VT_TMP/br1.audit

# has LOG PATTERN: some line of LOG (or of its rotated files) matches the grep -E PATTERN.
has() { grep -Eq -- "$2" "$1" "$1".[0-9]* 2>/dev/null; }
need() { has "$1" "$2" || vt_fail "$(basename "$1") has no record matching: $2"; }

vt_write_conf hq
vt_write_conf br1
echo "audit-rotate-size = 4096" >>"$(vt_conf br1)"
vt_start hq
vt_start br1
vt_wait_lan_ping br1 hq 4 30 || vt_fail "br1-lan cannot reach hq-lan"
vt_wait 10 "hq records the handshake" has "$HQLOG" '"event":"handshake-completed","peer":"br1"' ||
	vt_fail "no handshake-completed record for br1 in hq's audit log"

# Control commands, reloads (applied, refused, by SIGHUP).
vt_ctl hq show >/dev/null
VT_PEERS_OF[hq]="br1 br2"
vt_write_conf hq
vt_ctl hq reload >/dev/null || vt_fail "reload adding br2 failed"
cp "$(vt_conf hq)" "$VT_TMP/hq.conf.good"
echo "mtu = 1" >>"$(vt_conf hq)"
if vt_ctl hq reload 2>/dev/null; then vt_fail "a reload with mtu = 1 was applied"; fi
VT_PEERS_OF[hq]=br1
vt_write_conf hq
kill -HUP "${VT_PID[hq]}"
vt_wait 10 "hq applies the SIGHUP reload" has "$HQLOG" '"event":"peer-removed","peer":"br2"' ||
	vt_fail "no peer-removed record after SIGHUP"

# A site hq does not know knocks.
vt_write_conf br2
vt_start br2
vt_wait 20 "hq records a refused handshake" has "$HQLOG" \
	'"event":"handshake-refused","peer":null,"reason":"unknown public key from ' ||
	vt_fail "no handshake-refused record for br2's unknown key"

# A running daemon's log verifies with --live (its tail may not be signed yet).
out=$("$VPNCTL" audit verify --live "$HQLOG" 2>&1) || vt_fail "audit verify --live on a running log: $out"
vt_log "live: $(head -n 1 <<<"$out")"

# br1's log rotates at 4 KiB: every control command is a record.
for _ in $(seq 60); do vt_ctl br1 show >/dev/null; done

for s in br2 br1 hq; do vt_stop "$s" || vt_fail "$s: vpnd exited with $?"; done

# ---- the log says what happened
need "$HQLOG" '"event":"audit-file","key":"[0-9a-f]{32}","reason":"new"'
need "$HQLOG" '"event":"daemon-start","version":"[^"]+","pid":[0-9]+,"interface":"vpn0"'
need "$HQLOG" '"event":"config-loaded","path":"[^"]*hq.conf","blake2b":"[0-9a-f]{64}","peers":1'
need "$HQLOG" '"event":"peer-added","peer":"br1","public_key":"'"${VT_PUBKEY[br1]//+/\\+}"'"'
need "$HQLOG" '"event":"control-command","uid":0,"command":"show","args":"","result":"ok"'
need "$HQLOG" '"event":"control-command","uid":0,"command":"reload","args":"","result":"ok"'
need "$HQLOG" '"event":"peer-added","peer":"br2"'
need "$HQLOG" '"event":"config-refused","path":"[^"]*hq.conf","blake2b":"[0-9a-f]{64}","problems":[0-9]+,"first_problem":"[^"]*mtu'
need "$HQLOG" '"event":"control-command","uid":0,"command":"reload","args":"","result":"error"'
need "$HQLOG" '"event":"signal","signal":"SIGHUP","uid":0,"pid":[0-9]+'
need "$HQLOG" '"event":"signal","signal":"SIGTERM","uid":0,"pid":[0-9]+'
need "$HQLOG" '"event":"daemon-stop","reason":"Terminated"'
need "$HQLOG" '"event":"audit-close","reason":"stop"'
# The refused config's hash is the hash of what was refused; the last loaded one, of the file.
refused=$(grep -o '"event":"config-refused","path":"[^"]*","blake2b":"[0-9a-f]*"' "$HQLOG" | sed 's/.*"blake2b":"//; s/"$//')
loaded=$(grep -o '"event":"config-loaded","path":"[^"]*","blake2b":"[0-9a-f]*"' "$HQLOG" | tail -n 1 | sed 's/.*"blake2b":"//; s/"$//')
[ "$loaded" = "$(b2sum -l 256 "$(vt_conf hq)" | cut -d' ' -f1)" ] ||
	vt_fail "config-loaded hash $loaded is not the BLAKE2b-256 of hq.conf"
[ "$refused" != "$loaded" ] || vt_fail "the refused config has the hash of the loaded one"
! grep -qF "$(head -c 44 "$HQLOG.key")" "$HQLOG" || vt_fail "the audit secret key is in the log"
[ "$(stat -c %a "$HQLOG.key")" = 600 ] || vt_fail "audit key file mode $(stat -c %a "$HQLOG.key")"
vt_pass "hq's audit log holds the handshake, reloads, refusals, control commands, start and stop"

# ---- the whole log verifies (key from the default hq.audit.key.pub)
out=$("$VPNCTL" audit verify "$HQLOG" 2>&1) || vt_fail "audit verify failed on an intact log: $out"
n=$(wc -l <"$HQLOG")
grep -q "^$n records verified" <<<"$out" || vt_fail "expected '$n records verified', got: $out"
vt_pass "vpnctl audit verify: $(head -n 1 <<<"$out")"

# ---- rotated files verify as one chain, oldest first
mapfile -t brfiles < <(printf '%s\n' "$BRLOG".[0-9]* | sort -V)
[ "${#brfiles[@]}" -ge 2 ] || vt_fail "br1's log did not rotate (files: ${brfiles[*]})"
out=$("$VPNCTL" audit verify "${brfiles[@]}" "$BRLOG" 2>&1) || vt_fail "br1's rotated log: $out"
vt_pass "br1: ${#brfiles[@]} rotated files + the current one: $(head -n 1 <<<"$out")"
if out=$("$VPNCTL" audit verify "${brfiles[@]:1}" "$BRLOG" 2>&1); then
	grep -q "not verified" <<<"$out" || vt_fail "no note that the oldest file was left out: $out"
fi
missing=("${brfiles[0]}" "${brfiles[@]:2}" "$BRLOG")
if out=$("$VPNCTL" audit verify "${missing[@]}" 2>&1); then vt_fail "a missing middle file went unnoticed"; fi
grep -q "${brfiles[2]:-$BRLOG}:1: records .* are missing before line 1" <<<"$out" ||
	vt_fail "a missing middle file reported as: $out"
vt_pass "a rotated file left out is reported"

# ---- tampering, each on a copy: verify fails and names the line
COPY=$VT_TMP/copy.audit
PUB=$HQLOG.key.pub
# tampered DESCRIPTION LINE: verify the copy; it must fail at COPY:LINE.
tampered() {
	local out
	if out=$("$VPNCTL" audit verify --key "$PUB" "$COPY" 2>&1); then
		vt_fail "$1 went unnoticed: $out"
	fi
	grep -q "^vpnctl: $COPY:$2: " <<<"$out" || vt_fail "$1: expected line $2, got: $out"
	vt_pass "$1: ${out//$VT_TMP\//}"
}

L=$(grep -n '"event":"config-refused"' "$HQLOG" | cut -d: -f1)
sed "${L}s/\"blake2b\":\"[0-9a-f]/\"blake2b\":\"x/" "$HQLOG" >"$COPY"
tampered "a byte edited in line $L" "$L"

sed 5d "$HQLOG" >"$COPY"
tampered "line 5 deleted" 5

awk 'NR == 6 { held = $0; next } { print } NR == 7 { print held }' "$HQLOG" >"$COPY"
tampered "lines 6 and 7 swapped" 6

head -n $((n - 3)) "$HQLOG" >"$COPY"
tampered "the last 3 lines cut off" $((n - 3))

head -c $(($(stat -c %s "$HQLOG") - 30)) "$HQLOG" >"$COPY"
tampered "the file cut in the middle of its last line" "$n"
