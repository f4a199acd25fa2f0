/* vpnctl show [--json] [PEER]: the daemon renders the report; we only pass it through. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ctl_client.h"
#include "subcommands.h"
#include "vpnd/control.h"
#include "vpnd/limits.h"

/* What can travel as one word of a request line. */
static bool sendable_word(const char *s)
{
	if (!*s || strlen(s) > VPND_PEER_NAME_MAX)
		return false;
	for (; *s; s++)
		if (*s <= 0x20 || *s > 0x7e)
			return false;
	return true;
}

int show_main(int argc, char *argv[], const char *sock)
{
	const char *peer = NULL;
	char request[16 + VPND_PEER_NAME_MAX];
	struct ctl_reply reply;
	bool json = false;
	int ret;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (argv[i][0] == '-' || peer) {
			vpnctl_error("usage: vpnctl [-s SOCKET] %s [--json] [PEER]", argv[0]);
			return 1;
		} else {
			peer = argv[i];
		}
	}
	if (json && peer) {
		vpnctl_error("%s --json reports every peer; it takes no PEER", argv[0]);
		return 1;
	}
	if (peer && !sendable_word(peer)) {
		vpnctl_error("'%s' is not a peer name (printable ASCII without spaces, at most %d "
			     "characters)",
			     peer, VPND_PEER_NAME_MAX);
		return 1;
	}
	if (json)
		snprintf(request, sizeof(request), "show-json");
	else if (peer)
		snprintf(request, sizeof(request), "show %s", peer);
	else
		snprintf(request, sizeof(request), "show");
	if (ctl_call(sock, request, &reply) < 0)
		return 1;
	ret = ctl_print_reply(&reply);
	ctl_reply_free(&reply);
	return ret;
}
