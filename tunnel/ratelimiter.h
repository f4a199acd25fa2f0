/* Per-source rate limit for handshake messages that proved their address with a cookie
 * while the interface is under load (as the Linux module's ratelimiter): a token bucket
 * per IPv4 address or IPv6 /64, so one source cannot monopolise handshake processing. */
#ifndef VPND_TUNNEL_RATELIMITER_H
#define VPND_TUNNEL_RATELIMITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "endpoint.h"

#define WG_RATELIMIT_PACKETS_PER_SECOND 20
#define WG_RATELIMIT_BURST		5
/* Sources tracked at once (memory fixed at 24 bytes each). A source idle long enough for
 * its bucket to refill is forgotten; when a probe window is full, its least recently
 * used source is, so a spoofing flood can only make buckets start full again. */
#define WG_RATELIMIT_TABLE_SIZE 8192

struct wg_ratelimit_entry {
	uint64_t key;	   /* hash of the source; 0 = free */
	uint64_t last_ns;  /* last refill */
	uint64_t tokens;   /* in ns of credit: one packet costs 1 s / PACKETS_PER_SECOND */
};

struct wg_ratelimiter {
	struct wg_ratelimit_entry *table;
	uint8_t secret[16]; /* keys the source hash so collisions cannot be aimed */
};

int wg_ratelimiter_init(struct wg_ratelimiter *r);
void wg_ratelimiter_free(struct wg_ratelimiter *r);
/* Whether one more handshake message from this source may be processed now. */
bool wg_ratelimiter_allow(struct wg_ratelimiter *r, const struct wg_endpoint *from, uint64_t now);

#endif
