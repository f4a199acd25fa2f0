/* vpnctl reload: the daemon re-reads its config file and reports what it did or, one
 * line each, why it refused (the running state is then unchanged). */
#include "ctl_client.h"
#include "subcommands.h"

int reload_main(int argc, char *argv[], const char *sock)
{
	struct ctl_reply reply;
	int ret;

	if (argc != 1) {
		vpnctl_error("usage: vpnctl [-s SOCKET] %s", argv[0]);
		return 1;
	}
	if (ctl_call(sock, "reload", &reply) < 0)
		return 1;
	ret = ctl_print_reply(&reply);
	ctl_reply_free(&reply);
	return ret;
}
