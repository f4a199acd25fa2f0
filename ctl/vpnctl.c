/* vpnctl: global options, then a table of subcommands, as in wireguard-tools' wg.c. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "subcommands.h"

static const struct {
	const char *name;
	int (*fn)(int argc, char *argv[], const char *sock);
	const char *description;
} subcommands[] = {
    {"show", show_main, "Shows the interface and its peers ([--json] [PEER])"},
    {"reload", reload_main, "Re-reads the configuration file and applies the difference"},
    {"genkey", genkey_main, "Generates a new private key and writes it to stdout"},
    {"genpsk", genpsk_main, "Generates a new preshared key and writes it to stdout"},
    {"pubkey", pubkey_main, "Reads a private key from stdin and writes its public key"},
};

void vpnctl_error(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("vpnctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void show_usage(FILE *f)
{
	fprintf(f, "Usage: vpnctl [-s SOCKET] <cmd> [<args>]\n\n");
	fprintf(f, "Available subcommands:\n");
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		fprintf(f, "  %-8s %s\n", subcommands[i].name, subcommands[i].description);
	fprintf(f, "\nSOCKET defaults to the only control socket in /run/vpnd/.\n");
}

int main(int argc, char *argv[])
{
	const char *sock = NULL;
	int i = 1;

	if (sodium_init() < 0) {
		vpnctl_error("cannot initialise libsodium");
		return 1;
	}
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			show_usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "-s") || !strcmp(argv[i], "--socket")) {
			if (++i == argc) {
				vpnctl_error("option '%s' needs a socket path", argv[i - 1]);
				return 1;
			}
			sock = argv[i];
		} else if (!strncmp(argv[i], "--socket=", 9)) {
			sock = argv[i] + 9;
		} else if (!strncmp(argv[i], "-s", 2)) {
			sock = argv[i] + 2;
		} else {
			vpnctl_error("unknown option '%s' (try 'vpnctl help')", argv[i]);
			return 1;
		}
	}
	if (i == argc) {
		vpnctl_error("no command given (try 'vpnctl help')");
		return 1;
	}
	if (!strcmp(argv[i], "help")) {
		show_usage(stdout);
		return 0;
	}
	for (size_t c = 0; c < sizeof(subcommands) / sizeof(subcommands[0]); c++)
		if (!strcmp(argv[i], subcommands[c].name))
			return subcommands[c].fn(argc - i, argv + i, sock);
	vpnctl_error("unknown command '%s' (try 'vpnctl help')", argv[i]);
	return 1;
}
