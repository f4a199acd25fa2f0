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
/* Close every connection and the socket, and unlink its path. */
void vpnd_control_close(struct vpnd_control *ctl);

/* Split one request line (without its newline, NUL-terminated, modified in place) into
 * words: 0, or -EINVAL with a reason in *why (empty line, non-printable byte, double
 * space, too many words). */
int vpnd_control_parse_request(char *line, int *argc, char **argv, int max_argv,
			       const char **why);

#endif
