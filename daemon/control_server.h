/* The control socket: a Unix stream socket, one connection struct per client, one request
 * per connection (protocol in include/vpnd/control.h). */
#ifndef VPND_DAEMON_CONTROL_SERVER_H
#define VPND_DAEMON_CONTROL_SERVER_H

#include <stddef.h>
#include <sys/types.h>

#include "reply.h"

/* argv[0] is the command; the caller's uid comes from SO_PEERCRED. */
typedef void (*vpnd_control_handler)(void *ctx, int argc, char **argv, uid_t caller,
				     struct vpnd_reply *r);

struct vpnd_control_command {
	const char *name;
	int min_args, max_args; /* not counting argv[0] */
	vpnd_control_handler handler;
};

struct vpnd_control;

/* Create the socket at path with the given mode (the directory is created 0755 if
 * missing). A stale socket file nobody listens on is replaced; a live one is -EADDRINUSE.
 * cmds ends with a {NULL} entry. Returns NULL with errno set. */
struct vpnd_control *vpnd_control_open(int epfd, const char *path, unsigned mode,
				       const struct vpnd_control_command *cmds, void *ctx);
/* Close every connection and the socket, and unlink its path (if it is still ours).
 * Call it outside the dispatch of an epoll batch that may hold this server's events,
 * and never from one of its own command handlers. */
void vpnd_control_close(struct vpnd_control *ctl);

/* A client that has not been answered and gone within this time is disconnected, so
 * that stuck clients cannot hold the VPND_CTL_MAX_CLIENTS slots. Default
 * VPND_CTL_CLIENT_TIMEOUT_MS; tests shorten it. */
#define VPND_CTL_CLIENT_TIMEOUT_MS 30000
#define VPND_CTL_MAX_CLIENTS	   64
void vpnd_control_set_client_timeout(struct vpnd_control *ctl, unsigned ms);

/* Split one request line (without its newline, NUL-terminated, modified in place) into
 * words: 0, or -EINVAL with a reason in *why (empty line, non-printable byte, double
 * space, too many words). */
int vpnd_control_parse_request(char *line, int *argc, char **argv, int max_argv, const char **why);

#endif
