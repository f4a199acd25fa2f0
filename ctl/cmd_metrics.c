/* vpnctl metrics: the daemon's counters in the Prometheus text format, the same text its
 * metrics-listen endpoint serves, for hosts where no HTTP port is wanted (a node
 * exporter's textfile collector can take it from here). */
#include "ctl_client.h"
#include "subcommands.h"

int metrics_main(int argc, char *argv[], const char *sock)
{
	struct ctl_reply reply;
	int ret;

	if (argc != 1) {
		vpnctl_error("usage: vpnctl [-s SOCKET] %s", argv[0]);
		return 1;
	}
	if (ctl_call(sock, "metrics", &reply) < 0)
		return 1;
	ret = ctl_print_reply(&reply);
	ctl_reply_free(&reply);
	return ret;
}
