/* Open addressing with linear probing over a power-of-two table, grown at half full.
 * Deleted slots become tombstones until the next rebuild. */
#include "peer_index.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#define TOMBSTONE ((struct wg_peer *)(uintptr_t)1)

static size_t slot_of(const struct wg_peer_index *x, const uint8_t key[32])
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v;

	crypto_shorthash(h, key, 32, x->hash_key);
	memcpy(&v, h, sizeof(v));
	return (size_t)v & (x->cap - 1);
}

int wg_peer_index_init(struct wg_peer_index *x)
{
	memset(x, 0, sizeof(*x));
	x->cap = 16;
	x->slots = calloc(x->cap, sizeof(*x->slots));
	if (!x->slots)
		return -ENOMEM;
	randombytes_buf(x->hash_key, sizeof(x->hash_key));
	return 0;
}

void wg_peer_index_free(struct wg_peer_index *x)
{
	free(x->slots);
	memset(x, 0, sizeof(*x));
}

static int rebuild(struct wg_peer_index *x, size_t cap)
{
	struct wg_peer_index_slot *old = x->slots;
	size_t old_cap = x->cap;

	x->slots = calloc(cap, sizeof(*x->slots));
	if (!x->slots) {
		x->slots = old;
		return -ENOMEM;
	}
	x->cap = cap;
	x->used = 0;
	for (size_t i = 0; i < old_cap; i++) {
		if (!old[i].peer || old[i].peer == TOMBSTONE)
			continue;
		size_t s = slot_of(x, old[i].key);
		while (x->slots[s].peer)
			s = (s + 1) & (x->cap - 1);
		x->slots[s] = old[i];
		x->used++;
	}
	free(old);
	return 0;
}

int wg_peer_index_add(struct wg_peer_index *x, const uint8_t key[32], struct wg_peer *peer)
{
	size_t s, free_slot = SIZE_MAX;

	if ((x->used + 1) * 2 > x->cap) {
		size_t live = 0;
		for (size_t i = 0; i < x->cap; i++)
			live += x->slots[i].peer && x->slots[i].peer != TOMBSTONE;
		/* Grow when full of live keys; when full of tombstones, rebuild in place. */
		if (rebuild(x, (live + 1) * 4 > x->cap ? x->cap * 2 : x->cap) < 0)
			return -ENOMEM;
	}
	for (s = slot_of(x, key); x->slots[s].peer; s = (s + 1) & (x->cap - 1)) {
		if (x->slots[s].peer == TOMBSTONE) {
			if (free_slot == SIZE_MAX)
				free_slot = s;
			continue;
		}
		if (memcmp(x->slots[s].key, key, 32) == 0) {
			x->slots[s].peer = peer;
			return 0;
		}
	}
	if (free_slot == SIZE_MAX) {
		free_slot = s;
		x->used++;
	}
	memcpy(x->slots[free_slot].key, key, 32);
	x->slots[free_slot].peer = peer;
	return 0;
}

static struct wg_peer_index_slot *find_slot(const struct wg_peer_index *x, const uint8_t key[32])
{
	for (size_t s = slot_of(x, key); x->slots[s].peer; s = (s + 1) & (x->cap - 1))
		if (x->slots[s].peer != TOMBSTONE && memcmp(x->slots[s].key, key, 32) == 0)
			return &x->slots[s];
	return NULL;
}

void wg_peer_index_remove(struct wg_peer_index *x, const uint8_t key[32],
			  const struct wg_peer *peer)
{
	struct wg_peer_index_slot *s = find_slot(x, key);

	if (s && s->peer == peer) {
		sodium_memzero(s->key, sizeof(s->key));
		s->peer = TOMBSTONE;
	}
}

struct wg_peer *wg_peer_index_find(const struct wg_peer_index *x, const uint8_t key[32])
{
	struct wg_peer_index_slot *s = find_slot(x, key);

	return s ? s->peer : NULL;
}
