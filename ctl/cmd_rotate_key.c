/* vpnctl rotate-key: the daemon writes a new private key beside its current one
 * (<private-key-file>.next, mode 0600) and answers with its public key and the file's
 * path. The private key never crosses the control socket. The public key goes to stdout
 * alone, so that a script can take it; what to do with it goes to stderr. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ctl_client.h"
#include "subcommands.h"
#include "vpnd/key.h"

int rotate_key_main(int argc, char *argv[], const char *sock)
{
	struct ctl_reply reply;
	const char *nl, *path;
	uint8_t key[VPND_KEY_LEN];
	char pub[VPND_KEY_B64_LEN + 1];
	bool valid = false;
	int ret = 1;

	if (argc != 1) {
		vpnctl_error("usage: vpnctl [-s SOCKET] %s", argv[0]);
		return 1;
	}
	if (ctl_call(sock, "rotate-key", &reply) < 0)
		return 1;
	if (!reply.ok) {
		ret = ctl_print_reply(&reply);
		goto out;
	}
	/* "PUBLIC-KEY\nPATH\n" */
	nl = strchr(reply.body, '\n');
	path = nl ? nl + 1 : NULL;
	if (nl && (size_t)(nl - reply.body) == VPND_KEY_B64_LEN && strchr(path, '\n')) {
		memcpy(pub, reply.body, VPND_KEY_B64_LEN);
		pub[VPND_KEY_B64_LEN] = '\0';
		valid = vpnd_key_from_base64(key, pub);
	}
	if (!valid) {
		vpnctl_error("%s: vpnd's reply is not a public key and a path", argv[0]);
		goto out;
	}
	printf("%s\n", pub);
	if (fflush(stdout) != 0) {
		vpnctl_error("cannot write to stdout");
		goto out;
	}
	fprintf(stderr,
		"vpnctl: the new private key is in %.*s (mode 0600). To switch to it:\n"
		"  1. on each site that has this gateway as a peer, add to its peer section\n"
		"       next-public-key = \"%s\"\n"
		"     and reload there (both keys are accepted from then on);\n"
		"  2. here, point private-key-file at the new file (or move it over the old\n"
		"     one) and reload: each site switches at its next handshake.\n"
		"  3. later, on each site, make it public-key and remove next-public-key.\n",
		(int)strcspn(path, "\n"), path, pub);
	ret = 0;
out:
	ctl_reply_free(&reply);
	return ret;
}
