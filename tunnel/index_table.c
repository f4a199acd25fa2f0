#include "index_table.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#define INITIAL_CAPACITY 64

/* Indices are uniformly random, so the low bits are already a good hash. */
static size_t slot_of(const struct wg_index_table *t, uint32_t index)
{
	return (index * 2654435761u) & (t->capacity - 1);
}

int wg_index_table_init(struct wg_index_table *t)
{
	t->capacity = INITIAL_CAPACITY;
	t->count = 0;
	t->slots = calloc(t->capacity, sizeof(*t->slots));
	return t->slots ? 0 : -ENOMEM;
}

void wg_index_table_free(struct wg_index_table *t)
{
	free(t->slots);
	t->slots = NULL;
	t->capacity = t->count = 0;
}

static void place(struct wg_index_table *t, const struct wg_index_entry *e)
{
	size_t i = slot_of(t, e->index);

	while (t->slots[i].kind)
		i = (i + 1) & (t->capacity - 1);
	t->slots[i] = *e;
}

static int grow(struct wg_index_table *t)
{
	struct wg_index_entry *old = t->slots;
	size_t old_cap = t->capacity;

	t->slots = calloc(old_cap * 2, sizeof(*t->slots));
	if (!t->slots) {
		t->slots = old;
		return -ENOMEM;
	}
	t->capacity = old_cap * 2;
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].kind)
			place(t, &old[i]);
	free(old);
	return 0;
}

struct wg_index_entry *wg_index_table_lookup(struct wg_index_table *t, uint32_t index)
{
	size_t i;

	if (!index || !t->capacity)
		return NULL;
	for (i = slot_of(t, index); t->slots[i].kind; i = (i + 1) & (t->capacity - 1))
		if (t->slots[i].index == index)
			return &t->slots[i];
	return NULL;
}

uint32_t wg_index_table_insert(struct wg_index_table *t, enum wg_index_kind kind,
			       struct wg_peer *peer, struct wg_keypair *kp)
{
	struct wg_index_entry e = {.kind = kind, .peer = peer, .keypair = kp};

	if ((t->count + 1) * 2 > t->capacity && grow(t) < 0)
		return 0;
	do
		e.index = randombytes_random();
	while (!e.index || wg_index_table_lookup(t, e.index));
	place(t, &e);
	t->count++;
	return e.index;
}

void wg_index_table_replace(struct wg_index_table *t, uint32_t index, struct wg_keypair *kp)
{
	struct wg_index_entry *e = wg_index_table_lookup(t, index);

	if (e) {
		e->kind = WG_INDEX_KEYPAIR;
		e->keypair = kp;
	}
}

void wg_index_table_remove(struct wg_index_table *t, uint32_t index)
{
	struct wg_index_entry *e = wg_index_table_lookup(t, index);
	size_t hole, i;

	if (!e)
		return;
	/* Backward-shift deletion keeps every probe chain unbroken without tombstones. */
	hole = (size_t)(e - t->slots);
	memset(e, 0, sizeof(*e));
	t->count--;
	for (i = (hole + 1) & (t->capacity - 1); t->slots[i].kind; i = (i + 1) & (t->capacity - 1)) {
		size_t home = slot_of(t, t->slots[i].index);
		/* Move the entry into the hole unless its home lies cyclically in (hole, i]. */
		bool stays = (hole < i) ? (home > hole && home <= i) : (home > hole || home <= i);
		if (!stays) {
			t->slots[hole] = t->slots[i];
			memset(&t->slots[i], 0, sizeof(t->slots[i]));
			hole = i;
		}
	}
}
