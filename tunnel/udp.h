/* The underlay: UDP over IPv4 and IPv6. A dual-stack IPv6 socket carries both where the
 * host allows it; otherwise a second IPv4 socket is opened on the same port. The local
 * address each datagram arrived on is recorded (IP_PKTINFO/IPV6_PKTINFO) so replies
 * leave from it. */
#ifndef VPND_TUNNEL_UDP_H
#define VPND_TUNNEL_UDP_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "endpoint.h"

struct wg_udp {
	int fd6; /* -1 if IPv6 is unavailable */
	int fd4; /* -1 when fd6 is dual-stack */
	uint16_t port;
};

/* Bind to port (0 = any free port; the port chosen is stored in u->port). Non-blocking,
 * close-on-exec. 0 or -errno. */
int wg_udp_open(struct wg_udp *u, uint16_t port);
void wg_udp_close(struct wg_udp *u);
/* One datagram from fd (one of u's): its length, 0 when none is waiting, or -errno.
 * from gets the remote address (IPv4-mapped addresses are unmapped to AF_INET) and the
 * local destination address as its source. */
ssize_t wg_udp_recv(int fd, void *buf, size_t len, struct wg_endpoint *from);
/* Send from the endpoint's recorded source when it has one; if the kernel refuses that
 * source (address gone), retry without it and clear to->has_src. 0 or -errno. */
int wg_udp_send(struct wg_udp *u, struct wg_endpoint *to, const void *buf, size_t len);

/* The pieces wg_udp_send and wg_udp_recv are made of, shared with the batched path
 * (udp_batch.c): where a datagram to `to` goes, and whom a received one came from. */
struct wg_udp_destination {
	int fd;
	union {
		struct sockaddr sa;
		struct sockaddr_in in4;
		struct sockaddr_in6 in6;
	} addr;
	socklen_t addrlen;
	/* the pktinfo source (room for both kinds), then room for UDP_SEGMENT */
	char control[96] __attribute__((aligned(8)));
	size_t controllen;
};
int wg_udp_destination(const struct wg_udp *u, const struct wg_endpoint *to,
		       struct wg_udp_destination *d);
/* Whether a send error means the pktinfo source is no longer ours. */
bool wg_udp_source_refused(int err);
/* Fill from (remote address unmapped, local address from pktinfo). 0 or -EAFNOSUPPORT. */
int wg_udp_source(const struct sockaddr_storage *ss, struct msghdr *msg, struct wg_endpoint *from);

#endif
