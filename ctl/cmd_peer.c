/* vpnctl peer add | remove: change the running peers for now, not the config file. The
 * daemon checks everything again; here the arguments are put into the request's form,
 * the preshared key is read from its file (the daemon may not see the caller's files)
 * and a host name is resolved. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ctl_client.h"
#include "endpoint_arg.h"
#include "files.h"
#include "subcommands.h"
#include "token.h"
#include "vpnd/control.h"
#include "vpnd/key.h"

static int peer_add(int argc, char *argv[], const char *sock);
static int peer_remove(int argc, char *argv[], const char *sock);

static const struct {
	const char *name;
	int (*fn)(int argc, char *argv[], const char *sock);
} actions[] = {{"add", peer_add}, {"remove", peer_remove}};

enum add_option { OPT_PUBLIC_KEY, OPT_ALLOWED_IPS, OPT_ENDPOINT, OPT_KEEPALIVE, OPT_PSK_FILE };

static const struct {
	const char *name;
	enum add_option id;
} add_options[] = {
    {"--public-key", OPT_PUBLIC_KEY},	    {"--allowed-ips", OPT_ALLOWED_IPS},
    {"--endpoint", OPT_ENDPOINT},	    {"--keepalive", OPT_KEEPALIVE},
    {"--preshared-key-file", OPT_PSK_FILE},
};

#define ADD_USAGE                                                                                  \
	"usage: vpnctl [-s SOCKET] peer add NAME --public-key KEY --allowed-ips "                  \
	"CIDR[,CIDR...] [--endpoint HOST:PORT] [--keepalive SECONDS] "                             \
	"[--preshared-key-file FILE]"

static int peer_remove(int argc, char *argv[], const char *sock)
{
	char request[32 + VPND_CTL_MAX_REQUEST];

	if (argc != 2) {
		vpnctl_error("usage: vpnctl [-s SOCKET] peer remove NAME");
		return 1;
	}
	if (!ctl_check_peer_name(argv[1]))
		return 1;
	snprintf(request, sizeof(request), "peer-remove %s", argv[1]);
	return ctl_run(sock, request);
}

/* A word of the request: printable ASCII, no blank. */
static bool one_word(const char *option, const char *v)
{
	for (const char *p = v; *p; p++) {
		if (*p <= 0x20 || *p >= 0x7f) {
			vpnctl_error("%s '%s': blanks and control characters cannot be part of it",
				     option, v);
			return false;
		}
	}
	if (!*v)
		vpnctl_error("%s: the value is empty", option);
	return *v != '\0';
}

static int peer_add(int argc, char *argv[], const char *sock)
{
	const char *values[sizeof(add_options) / sizeof(add_options[0])] = {0};
	char endpoint[ENDPOINT_ARG_MAX], psk_b64[VPND_KEY_B64_LEN + 1];
	char request[VPND_CTL_MAX_REQUEST + 1];
	uint8_t key[VPND_KEY_LEN], psk[VPND_KEY_LEN];
	const char *name = NULL;
	size_t n;
	int ret = 1, o;

	for (int i = 1; i < argc; i++) {
		char *eq = NULL;

		if (argv[i][0] != '-') {
			if (name) {
				vpnctl_error("unexpected argument '%s' (%s)", argv[i], ADD_USAGE);
				return 1;
			}
			name = argv[i];
			continue;
		}
		/* --option=value or --option value */
		if ((eq = strchr(argv[i], '=')))
			*eq = '\0';
		o = ctl_token_find(CTL_TOKEN_TABLE(add_options), argv[i], "peer add option");
		if (o < 0)
			return 1;
		if (!eq && i + 1 == argc) {
			vpnctl_error("%s needs a value (%s)", add_options[o].name, ADD_USAGE);
			return 1;
		}
		values[add_options[o].id] = eq ? eq + 1 : argv[++i];
	}
	if (!name || !values[OPT_PUBLIC_KEY] || !values[OPT_ALLOWED_IPS]) {
		vpnctl_error("%s", ADD_USAGE);
		return 1;
	}
	if (!ctl_check_peer_name(name))
		return 1;
	if (!vpnd_key_from_base64(key, values[OPT_PUBLIC_KEY])) {
		vpnctl_error("--public-key '%s' is not a base64 key (44 characters)",
			     values[OPT_PUBLIC_KEY]);
		return 1;
	}
	if (!one_word("--allowed-ips", values[OPT_ALLOWED_IPS]) ||
	    (values[OPT_KEEPALIVE] && !one_word("--keepalive", values[OPT_KEEPALIVE])))
		return 1;
	if (values[OPT_ENDPOINT] &&
	    ctl_resolve_endpoint("--endpoint", values[OPT_ENDPOINT], endpoint) < 0)
		return 1;
	n = (size_t)snprintf(request, sizeof(request), "peer-add %s %s %s", name,
			     values[OPT_PUBLIC_KEY], values[OPT_ALLOWED_IPS]);
	if (values[OPT_ENDPOINT] && n < sizeof(request))
		n += (size_t)snprintf(request + n, sizeof(request) - n, " endpoint=%s", endpoint);
	if (values[OPT_KEEPALIVE] && n < sizeof(request))
		n += (size_t)snprintf(request + n, sizeof(request) - n, " keepalive=%s",
				      values[OPT_KEEPALIVE]);
	if (values[OPT_PSK_FILE]) {
		if (ctl_read_key_file(values[OPT_PSK_FILE], psk) < 0)
			goto out;
		vpnd_key_to_base64(psk_b64, psk);
		if (n < sizeof(request))
			n += (size_t)snprintf(request + n, sizeof(request) - n, " preshared-key=%s",
					      psk_b64);
	}
	if (n >= VPND_CTL_MAX_REQUEST) {
		vpnctl_error("the request is longer than %d bytes: too many --allowed-ips",
			     VPND_CTL_MAX_REQUEST - 1);
		goto out;
	}
	ret = ctl_run(sock, request);
out:
	sodium_memzero(psk, sizeof(psk));
	sodium_memzero(psk_b64, sizeof(psk_b64));
	sodium_memzero(request, sizeof(request));
	return ret;
}

int peer_main(int argc, char *argv[], const char *sock)
{
	int a;

	if (argc < 2) {
		vpnctl_error("usage: vpnctl [-s SOCKET] peer add|remove NAME ...");
		return 1;
	}
	a = ctl_token_find(CTL_TOKEN_TABLE(actions), argv[1], "peer action");
	if (a < 0)
		return 1;
	argv[1] = (char *)actions[a].name;
	return actions[a].fn(argc - 1, argv + 1, sock);
}
