/* vpnctl show [--json | --dot] [PEER]: the daemon renders the report (text like `wg show`,
 * the JSON document of the contract, or a Graphviz graph); we only pass it through. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ctl_client.h"
#include "subcommands.h"
#include "token.h"
#include "vpnd/control.h"
#include "vpnd/limits.h"

enum show_format { SHOW_TEXT, SHOW_JSON, SHOW_DOT };

static const struct {
	const char *name;
	enum show_format format;
	const char *request; /* for the whole interface */
} show_options[] = {
    {"--json", SHOW_JSON, "show-json"},
    {"--dot", SHOW_DOT, "show-dot"},
};

int show_main(int argc, char *argv[], const char *sock)
{
	const char *peer = NULL, *option = NULL;
	char request[16 + VPND_PEER_NAME_MAX];
	enum show_format format = SHOW_TEXT;
	struct ctl_reply reply;
	bool operands = false;
	int ret, o;

	for (int i = 1; i < argc; i++) {
		if (!operands && !strcmp(argv[i], "--")) {
			operands = true;
		} else if (!operands && argv[i][0] == '-') {
			o = ctl_token_find(CTL_TOKEN_TABLE(show_options), argv[i], "show option");
			if (o < 0)
				return 1;
			if (option && strcmp(option, show_options[o].name)) {
				vpnctl_error("%s: %s and %s exclude each other", argv[0], option,
					     show_options[o].name);
				return 1;
			}
			option = show_options[o].name;
			format = show_options[o].format;
			snprintf(request, sizeof(request), "%s", show_options[o].request);
		} else if (peer) {
			vpnctl_error("%s: unexpected argument '%s' after PEER '%s' (usage: vpnctl "
				     "[-s SOCKET] %s [--json | --dot] [PEER])",
				     argv[0], argv[i], peer, argv[0]);
			return 1;
		} else {
			peer = argv[i];
		}
	}
	if (option && peer) {
		vpnctl_error("%s %s reports every peer; it takes no PEER (got '%s')", argv[0],
			     option, peer);
		return 1;
	}
	if (peer && !ctl_check_peer_name(peer))
		return 1;
	if (peer)
		snprintf(request, sizeof(request), "show %s", peer);
	else if (format == SHOW_TEXT)
		snprintf(request, sizeof(request), "show");
	if (ctl_call(sock, request, &reply) < 0)
		return 1;
	ret = ctl_print_reply(&reply);
	ctl_reply_free(&reply);
	return ret;
}
