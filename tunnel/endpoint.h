/* Where a peer is reached on the underlay, and from which of our addresses. Replies go
 * out from the local address the peer last reached, so multi-homed gateways and NATs
 * see one consistent flow. */
#ifndef VPND_TUNNEL_ENDPOINT_H
#define VPND_TUNNEL_ENDPOINT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct wg_endpoint {
	union {
		struct sockaddr sa;
		struct sockaddr_in in4;
		struct sockaddr_in6 in6;
	} addr; /* sa_family == AF_UNSPEC: none */
	union {
		struct in_addr src4;
		struct in6_addr src6;
	} src;		 /* our address the datagram arrived on; valid if has_src */
	int src_ifindex; /* for IPv6 link-local and for pinning the route */
	bool has_src;
};

#define WG_ENDPOINT_STRLEN (INET6_ADDRSTRLEN + 8)

/* Same remote address and port (the local source is not compared). */
bool wg_endpoint_eq(const struct wg_endpoint *a, const struct wg_endpoint *b);
/* "192.0.2.1:51820" or "[2001:db8::1]:51820"; "(none)" for AF_UNSPEC. IPv4-mapped IPv6
 * addresses are shown as IPv4. */
const char *wg_endpoint_format(const struct wg_endpoint *ep, char buf[WG_ENDPOINT_STRLEN]);
/* The remote address and port as bytes (IP then port in network order) for cookies;
 * returns the length (6 or 18), 0 for AF_UNSPEC. */
size_t wg_endpoint_addr_bytes(const struct wg_endpoint *ep, uint8_t out[18]);
/* Parse a numeric "ip:port" or "[ipv6]:port": 0 or -EINVAL. */
int wg_endpoint_parse(struct wg_endpoint *ep, const char *s);

#endif
