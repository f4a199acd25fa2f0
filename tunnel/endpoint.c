/* Endpoint helpers. A dual-stack socket reports IPv4 peers as IPv4-mapped IPv6, so
 * the text form and the cookie bytes treat a mapped address as the IPv4 address it
 * carries: the same peer reads the same whichever socket it arrived on. */
#include "endpoint.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

bool wg_endpoint_eq(const struct wg_endpoint *a, const struct wg_endpoint *b)
{
	if (a->addr.sa.sa_family != b->addr.sa.sa_family)
		return false;
	switch (a->addr.sa.sa_family) {
	case AF_INET:
		return a->addr.in4.sin_port == b->addr.in4.sin_port &&
		       a->addr.in4.sin_addr.s_addr == b->addr.in4.sin_addr.s_addr;
	case AF_INET6:
		/* fe80::1 on two links is two different hosts. */
		return a->addr.in6.sin6_port == b->addr.in6.sin6_port &&
		       a->addr.in6.sin6_scope_id == b->addr.in6.sin6_scope_id &&
		       memcmp(&a->addr.in6.sin6_addr, &b->addr.in6.sin6_addr,
			      sizeof(struct in6_addr)) == 0;
	default:
		return true;
	}
}

const char *wg_endpoint_format(const struct wg_endpoint *ep, char buf[WG_ENDPOINT_STRLEN])
{
	char ip[INET6_ADDRSTRLEN];
	const struct in6_addr *a6 = &ep->addr.in6.sin6_addr;

	switch (ep->addr.sa.sa_family) {
	case AF_INET:
		inet_ntop(AF_INET, &ep->addr.in4.sin_addr, ip, sizeof(ip));
		snprintf(buf, WG_ENDPOINT_STRLEN, "%s:%u", ip, ntohs(ep->addr.in4.sin_port));
		break;
	case AF_INET6:
		if (IN6_IS_ADDR_V4MAPPED(a6)) {
			inet_ntop(AF_INET, &a6->s6_addr[12], ip, sizeof(ip));
			snprintf(buf, WG_ENDPOINT_STRLEN, "%s:%u", ip,
				 ntohs(ep->addr.in6.sin6_port));
		} else {
			inet_ntop(AF_INET6, a6, ip, sizeof(ip));
			snprintf(buf, WG_ENDPOINT_STRLEN, "[%s]:%u", ip,
				 ntohs(ep->addr.in6.sin6_port));
		}
		break;
	default:
		snprintf(buf, WG_ENDPOINT_STRLEN, "(none)");
		break;
	}
	return buf;
}

size_t wg_endpoint_addr_bytes(const struct wg_endpoint *ep, uint8_t out[18])
{
	const struct in6_addr *a6 = &ep->addr.in6.sin6_addr;

	switch (ep->addr.sa.sa_family) {
	case AF_INET:
		memcpy(out, &ep->addr.in4.sin_addr, 4);
		memcpy(out + 4, &ep->addr.in4.sin_port, 2);
		return 6;
	case AF_INET6:
		if (IN6_IS_ADDR_V4MAPPED(a6)) {
			memcpy(out, &a6->s6_addr[12], 4);
			memcpy(out + 4, &ep->addr.in6.sin6_port, 2);
			return 6;
		}
		memcpy(out, a6, 16);
		memcpy(out + 16, &ep->addr.in6.sin6_port, 2);
		return 18;
	default:
		return 0;
	}
}

/* Decimal 1..65535, nothing else: no sign, no spaces, no trailing junk. */
static int parse_port(const char *s, uint16_t *port)
{
	unsigned long v = 0;
	size_t n = 0;

	for (; s[n]; ++n) {
		if (s[n] < '0' || s[n] > '9' || n >= 5)
			return -EINVAL;
		v = v * 10 + (unsigned long)(s[n] - '0');
	}
	if (n == 0 || v == 0 || v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

int wg_endpoint_parse(struct wg_endpoint *ep, const char *s)
{
	struct wg_endpoint out;
	char host[INET6_ADDRSTRLEN];
	const char *h, *colon;
	size_t hlen;
	uint16_t port;
	bool v6;

	if (!s)
		return -EINVAL;
	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		h = s + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
		v6 = true;
	} else {
		/* An unbracketed IPv6 address would make the port ambiguous. */
		colon = strchr(s, ':');
		if (!colon || strchr(colon + 1, ':'))
			return -EINVAL;
		h = s;
		hlen = (size_t)(colon - s);
		v6 = false;
	}
	if (hlen == 0 || hlen >= sizeof(host) || parse_port(colon + 1, &port))
		return -EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = '\0';

	memset(&out, 0, sizeof(out));
	if (v6) {
		if (inet_pton(AF_INET6, host, &out.addr.in6.sin6_addr) != 1)
			return -EINVAL;
		out.addr.in6.sin6_family = AF_INET6;
		out.addr.in6.sin6_port = htons(port);
	} else {
		if (inet_pton(AF_INET, host, &out.addr.in4.sin_addr) != 1)
			return -EINVAL;
		out.addr.in4.sin_family = AF_INET;
		out.addr.in4.sin_port = htons(port);
	}
	*ep = out;
	return 0;
}
