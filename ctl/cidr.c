/* Prefix arithmetic on 16-byte big-endian addresses (IPv4 uses the first 4). Picking a
 * free address jumps over each taken prefix whole, so a /64 costs no more than a /24. */
#include "cidr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned bits_of(int family)
{
	return family == AF_INET ? 32 : 128;
}

static void mask(uint8_t addr[16], unsigned len, unsigned bits)
{
	for (unsigned bit = len; bit < bits; bit++)
		addr[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
}

/* addr with every host bit of a /len set: the last address of its network. */
static void fill(uint8_t addr[16], unsigned len, unsigned bits)
{
	for (unsigned bit = len; bit < bits; bit++)
		addr[bit / 8] |= (uint8_t)(0x80u >> (bit % 8));
}

const char *cidr_parse(const char *s, struct cidr *out, bool host_ok)
{
	char host[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	char *end;
	unsigned long len;

	memset(out, 0, sizeof(*out));
	if (!slash && !host_ok)
		return "has no prefix length (write ADDRESS/LENGTH)";
	if (n >= sizeof(host))
		return "is not an IP address";
	memcpy(host, s, n);
	host[n] = '\0';
	if (inet_pton(AF_INET, host, out->addr) == 1)
		out->family = AF_INET;
	else if (inet_pton(AF_INET6, host, out->addr) == 1)
		out->family = AF_INET6;
	else
		return "is not an IP address";
	if (!slash) {
		out->len = bits_of(out->family);
		return NULL;
	}
	if (!slash[1] || strspn(slash + 1, "0123456789") != strlen(slash + 1) ||
	    strlen(slash + 1) > 3)
		return "has a bad prefix length";
	len = strtoul(slash + 1, &end, 10);
	if (len > bits_of(out->family))
		return out->family == AF_INET ? "has a prefix length over 32"
					      : "has a prefix length over 128";
	out->len = (unsigned)len;
	return NULL;
}

const char *cidr_format(char buf[CIDR_TEXT_MAX], const struct cidr *c)
{
	char ip[INET6_ADDRSTRLEN];

	inet_ntop(c->family, c->addr, ip, sizeof(ip));
	snprintf(buf, CIDR_TEXT_MAX, "%s/%u", ip, c->len);
	return buf;
}

struct cidr cidr_network(const struct cidr *c)
{
	struct cidr n = *c;

	mask(n.addr, n.len, bits_of(n.family));
	return n;
}

bool cidr_is_network(const struct cidr *c)
{
	struct cidr n = cidr_network(c);

	return memcmp(n.addr, c->addr, 16) == 0;
}

bool cidr_equal(const struct cidr *a, const struct cidr *b)
{
	return a->family == b->family && a->len == b->len && memcmp(a->addr, b->addr, 16) == 0;
}

bool cidr_contains_addr(const struct cidr *c, const uint8_t addr[16])
{
	uint8_t a[16];
	struct cidr n = cidr_network(c);

	memcpy(a, addr, 16);
	mask(a, c->len, bits_of(c->family));
	return memcmp(a, n.addr, 16) == 0;
}

bool cidr_within(const struct cidr *inner, const struct cidr *outer)
{
	return inner->family == outer->family && inner->len >= outer->len &&
	       cidr_contains_addr(outer, inner->addr);
}

bool cidr_overlap(const struct cidr *a, const struct cidr *b)
{
	return cidr_within(a, b) || cidr_within(b, a);
}

/* addr += 1; false when it wrapped past the family's last address. */
static bool increment(uint8_t addr[16], unsigned bits)
{
	for (int i = (int)bits / 8 - 1; i >= 0; i--)
		if (++addr[i] != 0)
			return true;
	return false;
}

bool cidr_next_free(const struct cidr *subnet, const struct cidr *used, size_t n_used,
		    const struct cidr *taken, size_t n_taken, struct cidr *out)
{
	unsigned bits = bits_of(subnet->family);
	struct cidr net = cidr_network(subnet);
	uint8_t cand[16], last[16];
	bool moved;

	memcpy(cand, net.addr, 16);
	memcpy(last, net.addr, 16);
	fill(last, net.len, bits);
	/* The network's own address is no host's; the broadcast address neither (IPv4). */
	if (subnet->len < bits && !increment(cand, bits))
		return false;
	if (subnet->family == AF_INET && subnet->len < 31)
		last[3]--; /* the last address ends in a 1 bit: no borrow */
	do {
		if (memcmp(cand, last, 16) > 0)
			return false;
		moved = false;
		for (size_t i = 0; i < n_used && !moved; i++) {
			if (used[i].family == subnet->family && !memcmp(used[i].addr, cand, 16)) {
				if (!increment(cand, bits))
					return false;
				moved = true;
			}
		}
		for (size_t i = 0; i < n_taken && !moved; i++) {
			if (taken[i].family != subnet->family ||
			    !cidr_contains_addr(&taken[i], cand))
				continue;
			/* Past the whole prefix at once. */
			memcpy(cand, taken[i].addr, 16);
			mask(cand, taken[i].len, bits);
			fill(cand, taken[i].len, bits);
			if (!increment(cand, bits))
				return false;
			moved = true;
		}
	} while (moved);
	memset(out, 0, sizeof(*out));
	out->family = subnet->family;
	memcpy(out->addr, cand, 16);
	out->len = subnet->len;
	return true;
}
