/* Endpoint entries and the failover rule. An entry is checked completely when the config
 * is read (vpnd -n reports a bad one with its line), but a host name is only looked up
 * later, off the event loop (resolver.c): a name that does not resolve yet is a peer
 * that waits, not a config that fails. */
#include "endpoint_list.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tunnel/messages.h"

/* Decimal 1..65535, nothing else. */
static bool parse_port(const char *s, uint16_t *port)
{
	unsigned long v = 0;
	size_t n;

	for (n = 0; s[n]; n++) {
		if (s[n] < '0' || s[n] > '9' || n >= 5)
			return false;
		v = v * 10 + (unsigned long)(s[n] - '0');
	}
	if (n == 0 || v == 0 || v > 65535)
		return false;
	*port = (uint16_t)v;
	return true;
}

/* Labels of 1..63 letters, digits, '-' and '_' (names in hosts files have them), joined
 * by dots, an optional final dot; no label starts with '-'. A host made of digits and
 * dots only is a mistyped IPv4 address, which a resolver would try as a name. */
static const char *host_name_problem(const char *h)
{
	size_t label = 0, len = strlen(h);
	bool only_digits = true;

	if (len > (size_t)VPND_ENDPOINT_HOST_MAX + (len && h[len - 1] == '.'))
		return "is longer than a host name may be (253)";
	for (size_t i = 0; i < len; i++) {
		char c = h[i];

		if (c == '.') {
			if (!label)
				return "has an empty label";
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return "has a character a host name cannot have";
		if (c == '-' && !label)
			return "has a label that starts with '-'";
		if (++label > 63)
			return "has a label longer than 63 characters";
		if (c < '0' || c > '9')
			only_digits = false;
	}
	if (only_digits)
		return "is not an IPv4 address";
	return NULL;
}

int vpnd_endpoint_parse(const char *text, struct vpnd_endpoint_entry *e, char *why, size_t whylen)
{
	const char *host = text, *end, *port_s, *problem;
	size_t hlen;

	memset(e, 0, sizeof(*e));
	if (text[0] == '[') {
		host = text + 1;
		end = strchr(host, ']');
		if (!end || end[1] != ':') {
			snprintf(why, whylen, "is not [IPV6-ADDRESS]:PORT");
			return -EINVAL;
		}
		port_s = end + 2;
	} else {
		end = strrchr(text, ':');
		if (!end) {
			snprintf(why, whylen, "has no port (write HOST:PORT)");
			return -EINVAL;
		}
		if (memchr(text, ':', (size_t)(end - text))) {
			snprintf(why, whylen,
				 "is ambiguous: write an IPv6 address as [ADDRESS]:PORT");
			return -EINVAL;
		}
		port_s = end + 1;
	}
	hlen = (size_t)(end - host);
	if (hlen == 0) {
		snprintf(why, whylen, "has no host");
		return -EINVAL;
	}
	if (hlen >= sizeof(e->host)) {
		snprintf(why, whylen, "has too long a host (a name is at most %d characters)",
			 VPND_ENDPOINT_HOST_MAX);
		return -EINVAL;
	}
	if (!parse_port(port_s, &e->port)) {
		snprintf(why, whylen, "has port '%s', a port is 1..65535", port_s);
		return -EINVAL;
	}
	memcpy(e->host, host, hlen);
	e->host[hlen] = '\0';

	if (text[0] == '[') {
		if (inet_pton(AF_INET6, e->host, &e->addr.addr.in6.sin6_addr) != 1) {
			snprintf(why, whylen, "has '%s', which is not an IPv6 address", e->host);
			return -EINVAL;
		}
		e->addr.addr.in6.sin6_family = AF_INET6;
		e->addr.addr.in6.sin6_port = htons(e->port);
		e->numeric = true;
		return 0;
	}
	if (inet_pton(AF_INET, e->host, &e->addr.addr.in4.sin_addr) == 1) {
		e->addr.addr.in4.sin_family = AF_INET;
		e->addr.addr.in4.sin_port = htons(e->port);
		e->numeric = true;
		return 0;
	}
	problem = host_name_problem(e->host);
	if (problem) {
		snprintf(why, whylen, "has host '%s', which %s", e->host, problem);
		return -EINVAL;
	}
	e->addr.addr.sa.sa_family = AF_UNSPEC;
	return 0;
}

const char *vpnd_endpoint_text(const struct vpnd_endpoint_entry *e,
			       char buf[VPND_ENDPOINT_TEXT_MAX])
{
	if (e->numeric && e->addr.addr.sa.sa_family == AF_INET6)
		snprintf(buf, VPND_ENDPOINT_TEXT_MAX, "[%s]:%u", e->host, (unsigned)e->port);
	else
		snprintf(buf, VPND_ENDPOINT_TEXT_MAX, "%s:%u", e->host, (unsigned)e->port);
	return buf;
}

void vpnd_failover_initiated(struct vpnd_failover *f, uint64_t now_ns)
{
	/* The engine sends the next initiation no sooner than WG_REKEY_TIMEOUT after this
	 * one, whatever asks for it: judging a little earlier lets the next one go to
	 * wherever the judgement points. */
	f->unanswered++;
	f->check_at =
	    now_ns + (uint64_t)WG_REKEY_TIMEOUT * WG_NSEC_PER_SEC - VPND_FAILOVER_MARGIN_NS;
}

void vpnd_failover_completed(struct vpnd_failover *f)
{
	f->unanswered = 0;
	f->check_at = 0;
}

enum vpnd_failover_action vpnd_failover_check(struct vpnd_failover *f, uint64_t now_ns)
{
	if (!f->check_at || now_ns < f->check_at)
		return VPND_FAILOVER_NONE;
	f->check_at = 0;
	if (f->unanswered >= 2) {
		/* The next endpoint gets its own two retry periods. */
		f->unanswered = 0;
		return VPND_FAILOVER_NEXT;
	}
	return f->unanswered ? VPND_FAILOVER_RESOLVE : VPND_FAILOVER_NONE;
}

unsigned vpnd_failover_next(const bool *usable, unsigned n, unsigned cur)
{
	for (unsigned step = 1; step < n; step++) {
		unsigned i = (cur + step) % n;

		if (usable[i])
			return i;
	}
	return cur;
}
