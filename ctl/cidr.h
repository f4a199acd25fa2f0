/* IP prefixes for vpnctl's planning (branch onboarding): parse, print, compare, and pick
 * the next free address of a subnet. Pure functions, no I/O. */
#ifndef VPND_CTL_CIDR_H
#define VPND_CTL_CIDR_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cidr {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	unsigned len;
};

/* "ADDRESS/LENGTH" and its NUL. */
#define CIDR_TEXT_MAX (INET6_ADDRSTRLEN + 4)

/* "ADDRESS/LENGTH"; a bare address is a host (/32, /128) when host_ok. NULL, or why not.
 * Host bits are kept as written. */
const char *cidr_parse(const char *s, struct cidr *out, bool host_ok);
const char *cidr_format(char buf[CIDR_TEXT_MAX], const struct cidr *c);
/* The network c lies in: host bits cleared. */
struct cidr cidr_network(const struct cidr *c);
/* c has no host bits set. */
bool cidr_is_network(const struct cidr *c);
bool cidr_equal(const struct cidr *a, const struct cidr *b);
/* Address addr (c's family) lies in c's network. */
bool cidr_contains_addr(const struct cidr *c, const uint8_t addr[16]);
/* inner's network lies wholly in outer's. */
bool cidr_within(const struct cidr *inner, const struct cidr *outer);
/* The networks share an address (one contains the other). */
bool cidr_overlap(const struct cidr *a, const struct cidr *b);

/* The lowest address of subnet's network that is usable for a host (IPv4: neither the
 * network nor the broadcast address; IPv6: not the subnet-router anycast address), is
 * none of `used` (addresses, compared whole) and lies in none of `taken` (prefixes of
 * subnet's family; others are ignored). Its length is subnet's. False when there is none. */
bool cidr_next_free(const struct cidr *subnet, const struct cidr *used, size_t n_used,
		    const struct cidr *taken, size_t n_taken, struct cidr *out);

#endif
