/* A hash set of prefixes: open addressing, linear probing, at most half full. */
#include "prefix_hash.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Only the bytes that make the prefix: an IPv4 prefix's last 12 address bytes are not. */
static unsigned addr_bytes(const struct vpnd_prefix *p)
{
	return p->family == AF_INET ? 4 : 16;
}

static bool same(const struct vpnd_prefix *a, const struct vpnd_prefix *b)
{
	return a->family == b->family && a->len == b->len &&
	       memcmp(a->addr, b->addr, addr_bytes(a)) == 0;
}

/* FNV-1a: routes are our own configuration, not an attacker's choice. */
static unsigned hash(const struct vpnd_prefix *p)
{
	uint32_t h = 2166136261u;

	h = (h ^ (uint32_t)p->family) * 16777619u;
	h = (h ^ p->len) * 16777619u;
	for (unsigned i = 0; i < addr_bytes(p); i++)
		h = (h ^ p->addr[i]) * 16777619u;
	return h;
}

static unsigned find_slot(const struct vpnd_prefix_hash *h, const struct vpnd_prefix *p)
{
	unsigned i = hash(p) & (h->cap - 1);

	while (h->slots[i].family && !same(&h->slots[i], p))
		i = (i + 1) & (h->cap - 1);
	return i;
}

static int grow(struct vpnd_prefix_hash *h)
{
	struct vpnd_prefix_hash bigger = {.cap = h->cap ? h->cap * 2 : 64};

	bigger.slots = calloc(bigger.cap, sizeof(*bigger.slots));
	if (!bigger.slots)
		return -ENOMEM;
	for (unsigned i = 0; i < h->cap; i++)
		if (h->slots[i].family)
			bigger.slots[find_slot(&bigger, &h->slots[i])] = h->slots[i];
	bigger.count = h->count;
	free(h->slots);
	*h = bigger;
	return 0;
}

int vpnd_prefix_hash_insert(struct vpnd_prefix_hash *h, const struct vpnd_prefix *p)
{
	unsigned i;

	if ((h->count + 1) * 2 > h->cap && grow(h) < 0)
		return -ENOMEM;
	i = find_slot(h, p);
	if (h->slots[i].family)
		return 0;
	h->slots[i] = *p;
	h->count++;
	return 1;
}

bool vpnd_prefix_hash_has(const struct vpnd_prefix_hash *h, const struct vpnd_prefix *p)
{
	return h->cap && h->slots[find_slot(h, p)].family;
}

int vpnd_prefix_hash_of_set(struct vpnd_prefix_hash *h, const struct vpnd_prefix_set *s)
{
	*h = (struct vpnd_prefix_hash){0};
	for (unsigned i = 0; i < s->count; i++) {
		if (vpnd_prefix_hash_insert(h, &s->items[i]) < 0) {
			vpnd_prefix_hash_free(h);
			return -ENOMEM;
		}
	}
	return 0;
}

void vpnd_prefix_hash_free(struct vpnd_prefix_hash *h)
{
	free(h->slots);
	*h = (struct vpnd_prefix_hash){0};
}

int vpnd_prefix_set_append(struct vpnd_prefix_set *s, const struct vpnd_prefix *p)
{
	struct vpnd_prefix *grown = realloc(s->items, (s->count + 1) * sizeof(*grown));

	if (!grown)
		return -ENOMEM;
	s->items = grown;
	s->items[s->count++] = *p;
	return 0;
}
