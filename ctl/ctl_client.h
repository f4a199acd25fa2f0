/* vpnctl's side of the control protocol (include/vpnd/control.h): find the socket, send
 * one request, read the status line and the body. Every wait is bounded, so vpnctl
 * never hangs on a stuck daemon. */
#ifndef VPND_CTL_CLIENT_H
#define VPND_CTL_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#define CTL_TIMEOUT_MS 10000

struct ctl_reply {
	bool ok;    /* status line "ok" (else "error") */
	char *body; /* NUL-terminated */
	size_t len;
};

/* The socket to use: sock if given, else the only *.sock in VPND_RUN_DIR. A malloc'd
 * path, or NULL after printing why. */
char *ctl_find_socket(const char *sock);
/* Send `request` (one line, without its newline) and read the whole reply. 0, or -1
 * after printing why. */
int ctl_call(const char *sock, const char *request, struct ctl_reply *reply);
void ctl_reply_free(struct ctl_reply *reply);
/* Whether name can travel as one word of a request (printable ASCII, no space, at most
 * VPND_PEER_NAME_MAX characters); if not, prints why and returns false. */
bool ctl_check_peer_name(const char *name);
/* The body of an ok reply goes to stdout; an error's lines go to stderr, each prefixed
 * "vpnctl: ". Returns the exit status: 0 for ok, 1 otherwise. */
int ctl_print_reply(const struct ctl_reply *reply);
/* ctl_call, then ctl_print_reply: the whole of most commands. The exit status. */
int ctl_run(const char *sock, const char *request);

#endif
