/* vpnctl status [PEER]: one line per site and a summary, rendered by the daemon, and an
 * exit status for monitoring scripts. The daemon ends its reply with the line
 * "overall STATE" (include/vpnd/control.h); we keep that line to ourselves and turn the
 * state into the exit status. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ctl_client.h"
#include "subcommands.h"
#include "vpnd/control.h"
#include "vpnd/limits.h"

/* Exit statuses; 1 (vpnd not reachable, bad arguments) is every command's failure. A
 * peer "connecting" has no session yet but a handshake in flight: a healthy site passes
 * through it within a round trip (or a few 5-second retries), so it gets its own status,
 * which a monitor may tolerate once and alarm on when it persists. */
#define STATUS_ALL_UP	  0
#define STATUS_CONNECTING 2
#define STATUS_DOWN	  3

static const struct {
	const char *state;
	int exit_status;
} overall_states[] = {
    {"up", STATUS_ALL_UP},
    {"connecting", STATUS_CONNECTING},
    {"down", STATUS_DOWN},
};

/* The exit status the reply's last line asks for, and the length of the body before that
 * line; -1 when the line is missing or unknown. */
static int overall(const struct ctl_reply *reply, size_t *printable)
{
	const char *body = reply->body, *last;
	size_t len = reply->len, n;

	if (len < 2 || body[len - 1] != '\n')
		return -1;
	for (last = body + len - 1; last > body && last[-1] != '\n'; last--)
		;
	n = strlen(VPND_CTL_STATUS_OVERALL);
	if ((size_t)(body + len - last) <= n || memcmp(last, VPND_CTL_STATUS_OVERALL, n))
		return -1;
	for (size_t i = 0; i < sizeof(overall_states) / sizeof(overall_states[0]); i++) {
		size_t sl = strlen(overall_states[i].state);

		if ((size_t)(body + len - 1 - (last + n)) == sl &&
		    !memcmp(last + n, overall_states[i].state, sl)) {
			*printable = (size_t)(last - body);
			return overall_states[i].exit_status;
		}
	}
	return -1;
}

int status_main(int argc, char *argv[], const char *sock)
{
	char request[16 + VPND_PEER_NAME_MAX];
	const char *peer = NULL;
	struct ctl_reply reply;
	bool operands = false;
	size_t printable = 0;
	int ret;

	for (int i = 1; i < argc; i++) {
		if (!operands && !strcmp(argv[i], "--")) {
			operands = true;
		} else if (!operands && argv[i][0] == '-') {
			vpnctl_error("%s: unknown option '%s' (%s takes no options; usage: vpnctl "
				     "[-s SOCKET] %s [PEER])",
				     argv[0], argv[i], argv[0], argv[0]);
			return 1;
		} else if (peer) {
			vpnctl_error("%s: unexpected argument '%s' after PEER '%s' (usage: vpnctl "
				     "[-s SOCKET] %s [PEER])",
				     argv[0], argv[i], peer, argv[0]);
			return 1;
		} else {
			peer = argv[i];
		}
	}
	if (peer && !ctl_check_peer_name(peer))
		return 1;
	if (peer)
		snprintf(request, sizeof(request), "status %s", peer);
	else
		snprintf(request, sizeof(request), "status");
	if (ctl_call(sock, request, &reply) < 0)
		return 1;
	if (!reply.ok) {
		ret = ctl_print_reply(&reply);
	} else if ((ret = overall(&reply, &printable)) < 0) {
		vpnctl_error("vpnd's status reply does not end with an '%sSTATE' line",
			     VPND_CTL_STATUS_OVERALL);
		ret = 1;
	} else if (fwrite(reply.body, 1, printable, stdout) != printable || fflush(stdout)) {
		vpnctl_error("cannot write to stdout");
		ret = 1;
	}
	ctl_reply_free(&reply);
	return ret;
}
