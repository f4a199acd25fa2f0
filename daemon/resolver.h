/* Host name lookups off the event loop. getaddrinfo() may wait on a DNS server for many
 * seconds; a worker thread does that, and the answers come back through an eventfd in
 * the daemon's epoll set, so the event loop never waits and the engine stays
 * single-threaded (the callback runs on the event loop's thread). */
#ifndef VPND_DAEMON_RESOLVER_H
#define VPND_DAEMON_RESOLVER_H

#include <stdint.h>

#include "tunnel/endpoint.h"

struct vpnd_resolver;

struct vpnd_resolved {
	uint64_t id;		 /* as submitted */
	int gai_error;		 /* 0, or getaddrinfo's EAI_* code */
	int sys_errno;		 /* with EAI_SYSTEM */
	struct wg_endpoint addr; /* the first address getaddrinfo prefers, with the port */
};

typedef void (*vpnd_resolver_done_fn)(void *ctx, const struct vpnd_resolved *res);

/* The answers are handed to done(ctx, ...) from the event loop. NULL with errno. */
struct vpnd_resolver *vpnd_resolver_new(int epfd, vpnd_resolver_done_fn done, void *ctx);
/* Queue a lookup of host (port goes into the answer). 0 or -errno. The worker thread is
 * started with the first lookup. */
int vpnd_resolver_submit(struct vpnd_resolver *r, uint64_t id, const char *host, uint16_t port);
/* Why a lookup failed, for a log line. */
const char *vpnd_resolved_strerror(const struct vpnd_resolved *res);
/* Forget queued lookups; a lookup in progress is abandoned (its thread ends when
 * getaddrinfo returns) rather than waited for. NULL is fine. */
void vpnd_resolver_free(struct vpnd_resolver *r);

#endif
