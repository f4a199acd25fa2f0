/* vpnctl reload: the daemon re-reads its config file and reports what it did or, one
 * line each, why it refused (the running state is then unchanged). */
#include "ctl_client.h"
#include "subcommands.h"

int reload_main(int argc, char *argv[], const char *sock)
{
	if (argc != 1) {
		vpnctl_error("usage: vpnctl [-s SOCKET] %s", argv[0]);
		return 1;
	}
	return ctl_run(sock, "reload");
}
