#!/bin/bash
# shellcheck disable=SC2015 # "check && check || fail" is meant: fail when any check fails
# vpnctl's command line against a stand-in for vpnd: a small server on a Unix socket that
# records each request line and answers it from a table. Checks the token table (prefixes,
# ambiguity, exact names), help, one-line errors, what each command sends, the exit
# status `status` derives from the reply's "overall" line, and the bash completion.
# Needs bash and python3; no root, no network. Usage: test_vpnctl.sh [VPNCTL [COMPLETION]]
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VPNCTL=${1:-${VPNCTL:-$here/../build/ctl/vpnctl}}
COMPLETION=${2:-$here/../ctl/vpnctl.bash-completion}
tmp=$(mktemp -d /tmp/test_vpnctl.XXXXXX)
sock=$tmp/vpn0.sock
server_pid=
failures=0

cleanup() {
	[ -z "$server_pid" ] || kill "$server_pid" 2>/dev/null
	[ -z "$server_pid" ] || wait "$server_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*"
	failures=$((failures + 1))
}
pass() { echo "ok: $*"; }

# The stand-in: answers from $tmp/replies/<request with spaces as '_'> (the file holds
# the whole reply, status line included), "error\nunknown command" otherwise.
mkdir -p "$tmp/replies"
python3 - "$sock" "$tmp/replies" "$tmp/requests" <<'EOF' &
import os, socket, sys
path, replies, log = sys.argv[1:4]
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(8)
while True:
    conn, _ = srv.accept()
    with conn:
        data = b""
        while not data.endswith(b"\n"):
            chunk = conn.recv(4096)
            if not chunk:
                break
            data += chunk
        line = data.decode("ascii", "replace").rstrip("\n")
        with open(log, "a") as f:
            f.write(line + "\n")
        name = os.path.join(replies, line.replace(" ", "_"))
        if os.path.isfile(name):
            with open(name, "rb") as f:
                conn.sendall(f.read())
        else:
            conn.sendall(b"error\nunknown command '" + line.encode() + b"'\n")
EOF
server_pid=$!
for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
[ -S "$sock" ] || {
	echo "FAIL: the stand-in server did not start"
	exit 1
}

reply() { printf '%b' "$2" >"$tmp/replies/$1"; }
last_request() { tail -n 1 "$tmp/requests"; }

# run ARGS...: vpnctl with the stand-in's socket; sets out, err, rc.
run() {
	out=$("$VPNCTL" -s "$sock" "$@" 2>"$tmp/err")
	rc=$?
	err=$(cat "$tmp/err")
}

# expect_error RC-PATTERN STDERR-PATTERN ARGS...: fails with one line "vpnctl: ..." on
# stderr matching the pattern, nothing on stdout.
expect_error() {
	local pat=$1
	shift
	run "$@"
	# shellcheck disable=SC2053 # $pat is a glob on purpose
	if [ "$rc" = 0 ] || [ -n "$out" ] || [ "$(printf '%s\n' "$err" | wc -l)" != 1 ] ||
		[[ $err != "vpnctl: "* ]] || [[ $err != $pat ]]; then
		fail "vpnctl $*: rc $rc, stdout '$out', stderr '$err' (want one line like '$pat')"
	else
		pass "vpnctl $*: $err"
	fi
}

# ---- the token table: prefixes, exact names, ambiguity ----
reply show 'ok\ninterface: vpn0\n'
reply show-json 'ok\n{"interface": "vpn0", "peers": [\n    {\n      "name": "br1",\n      "state": "up"\n    },\n    {\n      "name": "br-2",\n      "state": "down"\n    }\n]}\n'
reply show-dot 'ok\ngraph "vpn0" {\n}\n'
reply show_br1 'ok\npeer: br1\n'
for args in "show:show" "sh:show" "s:" "st:status" "stat:status" "show --json:show-json" \
	"show --j:show-json" "sh --d:show-dot" "sh br1:show br1" "show -- br1:show br1"; do
	: >"$tmp/requests"
	want=${args#*:}
	# shellcheck disable=SC2086
	run ${args%%:*}
	got=$(last_request)
	if [ -z "$want" ]; then
		[ -z "$got" ] || fail "vpnctl ${args%%:*} sent '$got', want nothing"
	elif [ "$got" != "$want" ]; then
		fail "vpnctl ${args%%:*} sent '$got', want '$want' (stderr: $err)"
	else
		pass "vpnctl ${args%%:*} sends '$want'"
	fi
done
run show
[ "$rc" = 0 ] && [ "$out" = "interface: vpn0" ] || fail "show: rc $rc, stdout '$out'"

expect_error "vpnctl: ambiguous command 's': could be show, status" s
expect_error "vpnctl: ambiguous command 'gen': could be genkey, genpsk" gen
expect_error "vpnctl: unknown command 'frob' (valid commands: show, status, reload, *help*)" frob
expect_error "vpnctl: unknown show option '--bogus' (valid show options: --json, --dot)" \
	show --bogus
expect_error "vpnctl: ambiguous show option '-': could be --json, --dot" show -
expect_error "vpnctl: show: --json and --dot exclude each other" show --json --dot
expect_error "vpnctl: show --dot reports every peer; it takes no PEER (got 'br1')" \
	show --dot br1
expect_error "vpnctl: show: unexpected argument 'b' after PEER 'a'*" show a b
expect_error "vpnctl: status: unknown option '-x'*" status -x
expect_error "vpnctl: 'a?b' is not a peer name*" status "$(printf 'a\tb')"
expect_error "vpnctl: unknown option '-x' (valid options: *)" -x status
expect_error "vpnctl: no command given (try 'vpnctl help')"
reply show_nope 'error\nno peer named '"'"'nope'"'"'\n'
expect_error "vpnctl: no peer named 'nope'" show nope

# ---- help ----
run help
[ "$rc" = 0 ] && [[ $out == *"Commands (any unambiguous prefix"* ]] &&
	[[ $out == *"  status "* ]] || fail "vpnctl help: rc $rc: $out"
for args in "status --help" "st -h" "help st" "help status"; do
	# shellcheck disable=SC2086
	run $args
	if [ "$rc" != 0 ] || [[ $out != "Usage: vpnctl [-s SOCKET] status [PEER]"* ]] ||
		[[ $out != *"3  at least one peer is down"* ]]; then
		fail "vpnctl $args: rc $rc: $out $err"
	else
		pass "vpnctl $args prints status's help"
	fi
done
run show br1 --help
[ "$rc" = 0 ] && [[ $out == "Usage: vpnctl [-s SOCKET] show [--json | --dot] [PEER]"* ]] ||
	fail "show br1 --help: rc $rc: $out"
expect_error "vpnctl: unknown command 'nope' (valid commands: *)" help nope

# ---- status: the overall line becomes the exit status and is not printed ----
table='PEER  STATE  ENDPOINT  HANDSHAKE  RX  TX\nbr1   up     1.2.3.4:5  Now  0 B  0 B\n'
for case in "up:0:1 peer: 1 up" "connecting:2:1 peer: 1 connecting" \
	"down:3:2 peers: 1 up, 1 down"; do
	IFS=: read -r state want summary <<<"$case"
	reply status "ok\n$table$summary\noverall $state\n"
	run status
	if [ "$rc" != "$want" ] || [[ $out == *overall* ]] || [[ $out != *"$summary" ]] ||
		[ -n "$err" ]; then
		fail "status with overall $state: rc $rc (want $want), stdout '$out', stderr '$err'"
	else
		pass "status with overall $state exits $want"
	fi
done
reply status_br1 'ok\n1 peer: 1 connecting\noverall connecting\n'
run st br1
[ "$rc" = 2 ] && [ "$out" = "1 peer: 1 connecting" ] && [ "$(last_request)" = "status br1" ] ||
	fail "status br1: rc $rc, stdout '$out'"
reply status 'ok\n1 peer: 1 up\noverall sideways\n'
expect_error "vpnctl: vpnd's status reply does not end with an 'overall STATE' line" status
reply status 'ok\n1 peer: 1 up\n'
expect_error "vpnctl: vpnd's status reply does not end with an 'overall STATE' line" status
rm -f "$tmp/replies/status"
expect_error "vpnctl: unknown command 'status'" status
out=$("$VPNCTL" -s "$tmp/absent.sock" status 2>"$tmp/err")
rc=$?
[ "$rc" = 1 ] && grep -q "^vpnctl: cannot connect to $tmp/absent.sock" "$tmp/err" ||
	fail "status without a daemon: rc $rc, $(cat "$tmp/err")"

# ---- peer add / remove: the request each sends, errors before anything is sent ----
key=QSuOC0DJdi3ryKNYMg91poPamRvzjsHcyqA/H4gPhxw=
(umask 077 && printf '%s\n' "$key" >"$tmp/psk")
reply peer-remove_br1 'ok\npeer br1 removed (until the next reload or restart)\n'
for args in "peer remove br1:peer-remove br1" "peer rem br1:peer-remove br1" \
	"peer add n1 --public-key $key --allowed-ips 10.9.0.0/24,fd09::/64:peer-add n1 $key 10.9.0.0/24,fd09::/64" \
	"peer a n1 --all=10.9.0.0/24 --pub $key --end 127.0.0.1:51820 --keep 25:peer-add n1 $key 10.9.0.0/24 endpoint=127.0.0.1:51820 keepalive=25" \
	"peer add n1 --public-key $key --allowed-ips 10.9.0.0/24 --preshared-key-file $tmp/psk:peer-add n1 $key 10.9.0.0/24 preshared-key=$key" \
	"peer add n1 --public-key $key --allowed-ips 10.9.0.0/24 --endpoint [::1]:7:peer-add n1 $key 10.9.0.0/24 endpoint=[::1]:7"; do
	: >"$tmp/requests"
	# shellcheck disable=SC2086
	run ${args%%:peer-*}
	got=$(last_request)
	want=peer-${args#*:peer-}
	[ "$got" = "$want" ] && pass "vpnctl ${args%%:peer-*} sends '$want'" ||
		fail "vpnctl ${args%%:peer-*} sent '$got', want '$want' (stderr: $err)"
done
run peer remove br1
[ "$rc" = 0 ] && [ "$out" = "peer br1 removed (until the next reload or restart)" ] ||
	fail "peer remove br1: rc $rc, stdout '$out'"
: >"$tmp/requests"
expect_error "vpnctl: usage: vpnctl \[-s SOCKET\] peer add NAME --public-key KEY *" peer add n1 --public-key "$key"
expect_error "vpnctl: --public-key 'nokey' is not a base64 key (44 characters)" \
	peer add n1 --public-key nokey --allowed-ips 10.9.0.0/24
expect_error "vpnctl: unknown peer add option '--bogus' (valid peer add options: *)" \
	peer add n1 --bogus 1
expect_error "vpnctl: unknown peer action 'frob' (valid peer actions: add, remove)" peer frob
expect_error "vpnctl: usage: vpnctl \[-s SOCKET\] peer remove NAME" peer remove
expect_error "vpnctl: --endpoint 'nohost' is not HOST:PORT*" \
	peer add n1 --public-key "$key" --allowed-ips 10.9.0.0/24 --endpoint nohost
chmod 644 "$tmp/psk"
expect_error "vpnctl: $tmp/psk has mode 0644: a key file must not be accessible *" \
	peer add n1 --public-key "$key" --allowed-ips 10.9.0.0/24 --preshared-key-file "$tmp/psk"
[ ! -s "$tmp/requests" ] || fail "a refused peer command sent: $(cat "$tmp/requests")"

# ---- branch add: what it needs before it touches anything ----
expect_error "vpnctl: usage: vpnctl \[-s SOCKET\] branch add NAME *" branch add br3
expect_error "vpnctl: --out $tmp/psk exists already: it is never overwritten" \
	branch add br3 --out "$tmp/psk"
# The stand-in's show-json has no config_file: an older vpnd.
expect_error "vpnctl: vpnd does not report its config file and public key*" \
	branch add br3 --subnet 10.4.0.0/24 --endpoint h:1 --out "$tmp/br3.conf"
expect_error "vpnctl: --subnet '10.4.0.0' has no prefix length*" \
	branch add br3 --subnet 10.4.0.0 --out "$tmp/br3.conf"
[ ! -e "$tmp/br3.conf" ] || fail "a refused branch add wrote its --out file"

# ---- bash completion ----
bash -n "$COMPLETION" || fail "the completion script does not parse"
# complete WORDS...: COMPREPLY for the last word (possibly empty), one line, sorted.
complete_words() {
	bash -c '
		. "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		_vpnctl
		printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " "
	' complete "$COMPLETION" "$@" 2>&1
}
check_completion() {
	local want=$1 got
	shift
	got=$(complete_words "$@")
	if [ "$got" != "$want" ]; then
		fail "completing '$*': got '$got', want '$want'"
	else
		pass "completing '$*': $got"
	fi
}
check_completion "show status " "$VPNCTL" s
check_completion "genkey genpsk " "$VPNCTL" gen
check_completion "help " "$VPNCTL" he
check_completion "-s " "$VPNCTL" -s
check_completion "--json " "$VPNCTL" -s "$sock" show --j
check_completion "br-2 br1 " "$VPNCTL" -s "$sock" show ""
check_completion "br-2 " "$VPNCTL" -s "$sock" st br-
check_completion " " "$VPNCTL" -s "$sock" show --json ""
check_completion "status " "$VPNCTL" help sta
check_completion "verify " "$VPNCTL" audit v
check_completion "--live " "$VPNCTL" audit verify --l
check_completion "add remove " "$VPNCTL" peer ""
check_completion "br-2 br1 " "$VPNCTL" -s "$sock" peer remove ""
check_completion "--preshared-key-file --public-key " "$VPNCTL" peer add x --p
check_completion "--out " "$VPNCTL" branch add br3 --o
# The commands come from `vpnctl help`, so commands added later complete too.
printf '#!/bin/sh\nprintf "Usage: x\\n\\nCommands:\\n  zap      Zaps\\n  show     Shows\\n\\n"\n' \
	>"$tmp/fakectl"
chmod +x "$tmp/fakectl"
check_completion "zap " "$tmp/fakectl" z
check_completion " " "$VPNCTL" -s "$tmp/absent.sock" status ""

echo "$failures failure(s)"
[ "$failures" = 0 ]
