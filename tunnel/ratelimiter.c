#include "ratelimiter.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#define PACKET_COST  (1000000000ULL / WG_RATELIMIT_PACKETS_PER_SECOND)
#define BUCKET_DEPTH (PACKET_COST * WG_RATELIMIT_BURST)
/* Linear probing distance before the table counts as full around a slot. */
#define PROBE_LIMIT 16

int wg_ratelimiter_init(struct wg_ratelimiter *r)
{
	r->table = calloc(WG_RATELIMIT_TABLE_SIZE, sizeof(*r->table));
	if (!r->table)
		return -ENOMEM;
	randombytes_buf(r->secret, sizeof(r->secret));
	return 0;
}

void wg_ratelimiter_free(struct wg_ratelimiter *r)
{
	free(r->table);
	r->table = NULL;
}

/* IPv4 by address, IPv6 by /64: one host usually owns a whole /64, and limiting by /128
 * would let it rotate addresses freely. */
static uint64_t source_key(const struct wg_ratelimiter *r, const struct wg_endpoint *from)
{
	uint8_t in[1 + 8];
	uint64_t key;
	const uint8_t *a6 = from->addr.in6.sin6_addr.s6_addr;

	memset(in, 0, sizeof(in));
	if (from->addr.sa.sa_family == AF_INET6 &&
	    !(memcmp(a6, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0)) {
		in[0] = 6;
		memcpy(in + 1, a6, 8);
	} else {
		in[0] = 4;
		if (from->addr.sa.sa_family == AF_INET6)
			memcpy(in + 1, a6 + 12, 4);
		else
			memcpy(in + 1, &from->addr.in4.sin_addr, 4);
	}
	crypto_shorthash((uint8_t *)&key, in, sizeof(in), r->secret);
	return key ? key : 1;
}

static struct wg_ratelimit_entry *slot(struct wg_ratelimiter *r, size_t i)
{
	return &r->table[i & (WG_RATELIMIT_TABLE_SIZE - 1)];
}

/* The source's entry within its probe window; else a free or idle slot there (an idle
 * source's bucket would be full again anyway); else the least recently used one. */
static struct wg_ratelimit_entry *find(struct wg_ratelimiter *r, uint64_t key, uint64_t now)
{
	size_t home = key, i;
	struct wg_ratelimit_entry *oldest = slot(r, home);

	for (i = 0; i < PROBE_LIMIT; i++)
		if (slot(r, home + i)->key == key)
			return slot(r, home + i);
	for (i = 0; i < PROBE_LIMIT; i++) {
		struct wg_ratelimit_entry *s = slot(r, home + i);
		if (!s->key || now - s->last_ns >= BUCKET_DEPTH) {
			oldest = s;
			break;
		}
		if (s->last_ns < oldest->last_ns)
			oldest = s;
	}
	oldest->key = 0;
	return oldest;
}

bool wg_ratelimiter_allow(struct wg_ratelimiter *r, const struct wg_endpoint *from, uint64_t now)
{
	uint64_t key = source_key(r, from);
	struct wg_ratelimit_entry *e = find(r, key, now);

	if (!e->key) {
		e->key = key;
		e->last_ns = now;
		e->tokens = BUCKET_DEPTH;
	} else {
		uint64_t refill = now - e->last_ns;
		e->last_ns = now;
		e->tokens = e->tokens + refill > BUCKET_DEPTH ? BUCKET_DEPTH : e->tokens + refill;
	}
	if (e->tokens < PACKET_COST)
		return false;
	e->tokens -= PACKET_COST;
	return true;
}
