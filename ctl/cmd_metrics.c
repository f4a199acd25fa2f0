/* vpnctl metrics: the daemon's counters in the Prometheus text format, the same text its
 * metrics-listen endpoint serves, for hosts where no HTTP port is wanted (a node
 * exporter's textfile collector can take it from here). */
#include "ctl_client.h"
#include "subcommands.h"

int metrics_main(int argc, char *argv[], const char *sock)
{
	if (argc != 1) {
		vpnctl_error("usage: vpnctl [-s SOCKET] %s", argv[0]);
		return 1;
	}
	return ctl_run(sock, "metrics");
}
