/* vpnctl revoke NAME and vpnctl unrevoke KEY: the daemon ends a peer's sessions and
 * refuses its key from then on, recording it in its revocation list, or takes a key off
 * that list. */
#include <stdio.h>
#include <string.h>

#include "ctl_client.h"
#include "subcommands.h"
#include "vpnd/key.h"
#include "vpnd/limits.h"

/* The one operand of a command that takes no options ("--" allowed before it), or NULL
 * after saying what is wrong. */
static const char *operand(int argc, char *argv[], const char *what)
{
	int i = 1;

	if (i < argc && !strcmp(argv[i], "--"))
		i++;
	else if (i < argc && argv[i][0] == '-') {
		vpnctl_error("%s: unknown option '%s' (usage: vpnctl [-s SOCKET] %s %s)", argv[0],
			     argv[i], argv[0], what);
		return NULL;
	}
	if (argc - i != 1) {
		vpnctl_error("usage: vpnctl [-s SOCKET] %s %s", argv[0], what);
		return NULL;
	}
	return argv[i];
}

int revoke_main(int argc, char *argv[], const char *sock)
{
	char request[16 + VPND_PEER_NAME_MAX];
	const char *peer = operand(argc, argv, "PEER");

	if (!peer || !ctl_check_peer_name(peer))
		return 1;
	snprintf(request, sizeof(request), "revoke %s", peer);
	return ctl_run(sock, request);
}

int unrevoke_main(int argc, char *argv[], const char *sock)
{
	char request[16 + VPND_KEY_B64_LEN];
	const char *key = operand(argc, argv, "KEY");
	uint8_t bin[VPND_KEY_LEN];

	if (!key)
		return 1;
	/* Not quoted back: a private key typed here by mistake must not be echoed. */
	if (!vpnd_key_from_base64(bin, key)) {
		vpnctl_error("%s: KEY is a base64 public key (%d characters ending in '='), as "
			     "`vpnctl show` and the revocation list print it",
			     argv[0], VPND_KEY_B64_LEN);
		return 1;
	}
	snprintf(request, sizeof(request), "unrevoke %.*s", VPND_KEY_B64_LEN,
		 key + strspn(key, " \t\n"));
	return ctl_run(sock, request);
}
