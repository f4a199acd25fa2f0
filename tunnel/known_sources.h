/* The set of underlay addresses our peers were last seen at. Under load, a handshake from
 * one of them is a branch coming back, not the anonymous flood, and gets its cookie reply
 * ahead of the global budget. Membership is by keyed 64-bit hash: a false positive only
 * grants a cookie reply, never a session. Rebuilt lazily after endpoints change. */
#ifndef VPND_TUNNEL_KNOWN_SOURCES_H
#define VPND_TUNNEL_KNOWN_SOURCES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "endpoint.h"

struct wg_peer;

struct wg_known_sources {
	uint64_t *slots; /* 0 = empty */
	size_t capacity; /* power of two, at least twice the entries */
	bool dirty;
	uint8_t key[16];
};

void wg_known_sources_init(struct wg_known_sources *k);
void wg_known_sources_free(struct wg_known_sources *k);
/* Whether ep is the endpoint of one of the peers in the list starting at `peers`. */
bool wg_known_sources_contains(struct wg_known_sources *k, const struct wg_peer *peers,
			       const struct wg_endpoint *ep);

#endif
