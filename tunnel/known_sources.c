#include "known_sources.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "peer.h"

void wg_known_sources_init(struct wg_known_sources *k)
{
	memset(k, 0, sizeof(*k));
	k->dirty = true;
	randombytes_buf(k->key, sizeof(k->key));
}

void wg_known_sources_free(struct wg_known_sources *k)
{
	free(k->slots);
	k->slots = NULL;
	k->capacity = 0;
}

static uint64_t hash_of(const struct wg_known_sources *k, const struct wg_endpoint *ep)
{
	uint8_t bytes[18];
	size_t n = wg_endpoint_addr_bytes(ep, bytes);
	uint64_t h;

	if (!n)
		return 0;
	crypto_shorthash((uint8_t *)&h, bytes, n, k->key);
	return h ? h : 1;
}

static void rebuild(struct wg_known_sources *k, const struct wg_peer *peers)
{
	size_t n = 0, cap = 16;
	uint64_t *slots;

	for (const struct wg_peer *p = peers; p; p = p->next)
		n++;
	while (cap < 2 * n)
		cap *= 2;
	slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return; /* keep the old set; try again next time */
	for (const struct wg_peer *p = peers; p; p = p->next) {
		uint64_t h = hash_of(k, &p->endpoint);
		size_t i = h & (cap - 1);
		if (!h)
			continue;
		while (slots[i] && slots[i] != h)
			i = (i + 1) & (cap - 1);
		slots[i] = h;
	}
	free(k->slots);
	k->slots = slots;
	k->capacity = cap;
	k->dirty = false;
}

bool wg_known_sources_contains(struct wg_known_sources *k, const struct wg_peer *peers,
			       const struct wg_endpoint *ep)
{
	uint64_t h;
	size_t i;

	if (k->dirty)
		rebuild(k, peers);
	h = hash_of(k, ep);
	if (!h || !k->capacity)
		return false;
	for (i = h & (k->capacity - 1); k->slots[i]; i = (i + 1) & (k->capacity - 1))
		if (k->slots[i] == h)
			return true;
	return false;
}
