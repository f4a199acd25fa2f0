/* A configuration's peers by public key: sorted (key, item) pairs and bisection. */
#include "key_index.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int add(struct vpnd_key_index *x, const uint8_t *key, void *item)
{
	if (x->n == x->cap) {
		unsigned cap = x->cap ? x->cap * 2 : 64;
		struct vpnd_key_entry *v = reallocarray(x->v, cap, sizeof(*v));

		if (!v)
			return -ENOMEM;
		x->v = v;
		x->cap = cap;
	}
	x->v[x->n++] = (struct vpnd_key_entry){key, item};
	return 0;
}

static int entry_cmp(const void *a, const void *b)
{
	return memcmp(((const struct vpnd_key_entry *)a)->key,
		      ((const struct vpnd_key_entry *)b)->key, 32);
}

static int finish(struct vpnd_key_index *x, int ret)
{
	if (ret < 0) {
		vpnd_key_index_free(x);
		return ret;
	}
	if (x->n)
		qsort(x->v, x->n, sizeof(*x->v), entry_cmp);
	x->ready = true;
	return 0;
}

int vpnd_key_index_config(struct vpnd_key_index *x, const struct vpnd_config *c)
{
	int ret = 0;

	*x = (struct vpnd_key_index){0};
	for (unsigned i = 0; i < c->n_peers && !ret; i++)
		ret = add(x, c->peers[i].public_key, &c->peers[i]);
	return finish(x, ret);
}

void *vpnd_key_index_find(const struct vpnd_key_index *x, const uint8_t key[32])
{
	struct vpnd_key_entry want = {key, NULL}, *hit;

	if (!x->n)
		return NULL;
	hit = bsearch(&want, x->v, x->n, sizeof(*x->v), entry_cmp);
	return hit ? hit->item : NULL;
}

void vpnd_key_index_free(struct vpnd_key_index *x)
{
	free(x->v);
	*x = (struct vpnd_key_index){0};
}
