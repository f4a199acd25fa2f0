/* vpnctl: global options, then a table of subcommands, as in wireguard-tools' wg.c. Words
 * are matched as in OpenBSD's ospfctl: any unambiguous prefix names a command ("sh" is
 * show, "st" status), an exact name always wins. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "subcommands.h"
#include "token.h"
#include "vpnd/control.h"

static int help_main(int argc, char *argv[], const char *sock);

static const struct {
	const char *name;
	int (*fn)(int argc, char *argv[], const char *sock);
	const char *description;
} subcommands[] = {
    {"show", show_main, "Shows the interface and its peers"},
    {"status", status_main, "One line per peer and a summary; the exit status tells the worst"},
    {"reload", reload_main, "Re-reads the configuration file and applies the difference"},
    {"genkey", genkey_main, "Generates a new private key and writes it to stdout"},
    {"genpsk", genpsk_main, "Generates a new preshared key and writes it to stdout"},
    {"pubkey", pubkey_main, "Reads a private key from stdin and writes its public key"},
    {"metrics", metrics_main, "Prints the daemon's counters in the Prometheus text format"},
    {"audit", audit_main, "Verifies audit log files: chain, signatures, how the log ends"},
    {"revoke", revoke_main, "Ends a peer's sessions now and refuses its key from then on"},
    {"unrevoke", unrevoke_main, "Takes a key off the revocation list; its peer is accepted again"},
    {"rotate-key", rotate_key_main, "Writes a next private key and prints its public key"},
    {"peer", peer_main, "Adds or removes a peer of the running daemon, until the next reload"},
    {"branch", branch_main, "Onboards a branch: keys, address, HQ's config, the branch's config"},
    {"help", help_main, "Shows this help, or a command's"},
};

/* What `vpnctl COMMAND --help` adds to the description: the arguments and what they do.
 * A command missing here shows its description alone. */
static const struct {
	const char *name, *args, *details;
} command_help[] = {
    {"show", "[--json | --dot] [PEER]",
     "  (none)   the interface and every peer, laid out like `wg show`\n"
     "  PEER     that peer alone\n"
     "  --json   the interface and every peer as one JSON document, for scripts\n"
     "  --dot    the sites as a Graphviz graph: vpnctl show --dot | dot -Tpng > sites.png\n"},
    {"status", "[PEER]",
     "  One line per peer (or PEER alone): state, endpoint, latest handshake, bytes\n"
     "  received and sent; then a summary such as \"3 peers: 2 up, 1 down\".\n"
     "  A peer is up with a current session, connecting while a handshake is in flight\n"
     "  without one, down otherwise. Exit status, for monitoring:\n"
     "    0  every peer is up (or there are none)\n"
     "    1  vpnd could not be asked (no socket, no answer, bad arguments)\n"
     "    2  none is down, but at least one is still connecting\n"
     "    3  at least one peer is down\n"},
    {"reload", "", "  Problems in the file are printed as FILE:LINE; nothing changes then.\n"},
    {"genkey", "", "  Example: umask 077; vpnctl genkey > /etc/vpnd/vpn0.key\n"},
    {"genpsk", "", "  Example: umask 077; vpnctl genpsk > /etc/vpnd/branch.psk\n"},
    {"pubkey", "< PRIVATE-KEY-FILE", ""},
    {"metrics", "", "  The same text as the metrics-listen endpoint serves.\n"},
    {"audit", "verify [--key PUBFILE]... [--live] [FILE...]",
     "  Checks the hash chain across the files, given oldest first, and every checkpoint's\n"
     "  signature; names the first line edited, removed or reordered, or prints\n"
     "  \"N records verified\". No daemon is needed.\n"
     "  FILE     default: the only *.audit in /var/lib/vpnd, after its rotated files\n"
     "  --key    the audit public key (repeat for files of older keys); default\n"
     "           BASE.key.pub beside the log\n"
     "  --live   accept a log that ends after its last checkpoint (vpnd running)\n"},
    {"revoke", "PEER",
     "  The peer's sessions end and their keys are wiped at once; its handshakes are\n"
     "  refused (counted as drops \"revoked\", logged, audited) and nothing is sent to it.\n"
     "  Its key is added to the revocation list (revoked-keys-file), so this outlives\n"
     "  reloads and restarts until `vpnctl unrevoke KEY`.\n"},
    {"unrevoke", "KEY",
     "  KEY (base64, as the revocation list and show print it) leaves the list; a\n"
     "  configured peer with that key is accepted again at once.\n"},
    {"rotate-key", "",
     "  vpnd writes a new private key to PRIVATE-KEY-FILE.next (mode 0600) and this\n"
     "  prints its public key. Give it to the other sites as next-public-key (they\n"
     "  reload), then point private-key-file here at the new file and reload.\n"},
    {"peer", "add NAME --public-key KEY --allowed-ips CIDR[,CIDR...] [OPTIONS] | remove NAME",
     "  Changes the running daemon only: the config file is not touched, and the next\n"
     "  reload or restart brings back the file's peers.\n"
     "  remove NAME                 the peer's sessions end and its routes go at once\n"
     "  add NAME                    a new peer, with its routes on the TUN\n"
     "    --public-key KEY          its base64 public key (required)\n"
     "    --allowed-ips CIDR,...    its inner addresses and networks (required)\n"
     "    --endpoint HOST:PORT      where it is reached (a name is resolved here)\n"
     "    --keepalive SECONDS       persistent keepalive (default 0, off)\n"
     "    --preshared-key-file FILE a preshared key (the file must be mode 0600)\n"},
    {"branch", "add NAME [--subnet CIDR[,CIDR...]]... [--endpoint HOST:PORT] --out FILE",
     "  Run on HQ. Makes the branch's key pair and a preshared key, picks the next free\n"
     "  tunnel address in the network of HQ's first address (and of its first address of\n"
     "  the other family), adds the peer to HQ's config file (the preshared key in a\n"
     "  0600 file beside it) and reloads HQ; if HQ refuses, its file is put back. Then\n"
     "  FILE (mode 0600, must not exist) is the branch's complete config: on the branch,\n"
     "  vpnd -c FILE.\n"
     "  --subnet CIDR        the branch's LAN(s): routed to it by HQ, its `networks`\n"
     "  --endpoint HOST:PORT where the branch reaches HQ (default: HQ's public-endpoint)\n"
     "  --out FILE           the branch's config file to write\n"
     "  --hq-name NAME       HQ's peer name in the branch's config (default hq)\n"
     "  --interface NAME     the branch's TUN device (default vpn0)\n"},
    {"help", "[COMMAND]", ""},
};

/* Commands that work without the daemon: their usage leaves out -s SOCKET. */
static const char *const offline_commands[] = {"genkey", "genpsk", "pubkey", "audit", "help"};

/* Global options; -s and its argument, and the short forms, are handled in main. */
static const struct {
	const char *name;
} long_options[] = {{"--socket"}, {"--help"}, {"--version"}};

#define N_SUBCOMMANDS (sizeof(subcommands) / sizeof(subcommands[0]))

void vpnctl_error(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* One line whatever the words quoted in it hold. */
	for (char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	fflush(stdout);
	fprintf(stderr, "vpnctl: %s\n", msg);
}

static void show_usage(FILE *f)
{
	fprintf(f, "Usage: vpnctl [-s SOCKET] COMMAND [ARGS]\n\n");
	fprintf(f, "Commands (any unambiguous prefix will do: \"vpnctl st\" is status):\n");
	for (size_t i = 0; i < N_SUBCOMMANDS; i++)
		fprintf(f, "  %-8s %s\n", subcommands[i].name, subcommands[i].description);
	fprintf(f, "\nOptions:\n");
	fprintf(f, "  -s, --socket SOCKET  the control socket (default: the only one in %s/)\n",
		VPND_RUN_DIR);
	fprintf(f, "  -h, --help           this help\n");
	fprintf(f, "  -V, --version        the version of vpnctl\n");
	fprintf(f, "\n\"vpnctl COMMAND --help\" or \"vpnctl help COMMAND\" explains a command.\n");
}

static bool offline(const char *name)
{
	for (size_t i = 0; i < sizeof(offline_commands) / sizeof(offline_commands[0]); i++)
		if (!strcmp(offline_commands[i], name))
			return true;
	return false;
}

static void show_command_help(size_t c)
{
	const char *name = subcommands[c].name;

	for (size_t i = 0; i < sizeof(command_help) / sizeof(command_help[0]); i++) {
		if (strcmp(command_help[i].name, name))
			continue;
		printf("Usage: vpnctl%s %s%s%s\n\n%s.\n%s%s", offline(name) ? "" : " [-s SOCKET]",
		       name, *command_help[i].args ? " " : "", command_help[i].args,
		       subcommands[c].description, *command_help[i].details ? "\n" : "",
		       command_help[i].details);
		return;
	}
	printf("vpnctl %s: %s.\n", name, subcommands[c].description);
}

static int help_main(int argc, char *argv[], const char *sock)
{
	int c;

	(void)sock;
	if (argc > 2) {
		vpnctl_error("usage: vpnctl %s [COMMAND]", argv[0]);
		return 1;
	}
	if (argc == 1) {
		show_usage(stdout);
		return 0;
	}
	c = ctl_token_find(CTL_TOKEN_TABLE(subcommands), argv[1], "command");
	if (c < 0)
		return 1;
	show_command_help((size_t)c);
	return 0;
}

/* "COMMAND ... --help" anywhere before a "--" asks for the command's help. */
static bool wants_help(int argc, char *argv[])
{
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return true;
	return false;
}

int main(int argc, char *argv[])
{
	const char *sock = NULL;
	int i = 1, c;

	if (sodium_init() < 0) {
		vpnctl_error("cannot initialise libsodium");
		return 1;
	}
	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *opt = argv[i];

		if (!strcmp(opt, "--")) {
			i++;
			break;
		} else if (!strcmp(opt, "-h")) {
			show_usage(stdout);
			return 0;
		} else if (!strcmp(opt, "-V")) {
			printf("vpnctl %s\n", VPND_VERSION);
			return 0;
		} else if (!strcmp(opt, "-s")) {
			if (++i == argc) {
				vpnctl_error("option '-s' needs a socket path");
				return 1;
			}
			sock = argv[i];
			continue;
		} else if (!strncmp(opt, "-s", 2) && opt[2] != '-') {
			sock = opt + 2;
			continue;
		} else if (!strncmp(opt, "--socket=", 9)) {
			sock = opt + 9;
			continue;
		} else if (strncmp(opt, "--", 2) || !opt[2]) {
			vpnctl_error("unknown option '%s' (valid options: -s SOCKET, -h, -V, "
				     "--socket, --help, --version)",
				     opt);
			return 1;
		}
		c = ctl_token_find(CTL_TOKEN_TABLE(long_options), opt, "option");
		if (c < 0)
			return 1;
		if (!strcmp(long_options[c].name, "--help")) {
			show_usage(stdout);
			return 0;
		} else if (!strcmp(long_options[c].name, "--version")) {
			printf("vpnctl %s\n", VPND_VERSION);
			return 0;
		}
		if (++i == argc) {
			vpnctl_error("option '%s' needs a socket path", opt);
			return 1;
		}
		sock = argv[i];
	}
	if (i == argc) {
		vpnctl_error("no command given (try 'vpnctl help')");
		return 1;
	}
	c = ctl_token_find(CTL_TOKEN_TABLE(subcommands), argv[i], "command");
	if (c < 0)
		return 1;
	if (wants_help(argc - i, argv + i)) {
		show_command_help((size_t)c);
		return 0;
	}
	/* The command sees its full name, so its messages say "show", not "sh". */
	argv[i] = (char *)subcommands[c].name;
	return subcommands[c].fn(argc - i, argv + i, sock);
}
