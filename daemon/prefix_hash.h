/* A hash set of prefixes, for the route bookkeeping of thousands of peers: asking a
 * struct vpnd_prefix_set whether it holds a prefix walks it, so building or comparing
 * two sets of 10,000 routes that way is quadratic. Values are copied in, so the set stays
 * right whatever happens to the prefix sets it was built from. */
#ifndef VPND_DAEMON_PREFIX_HASH_H
#define VPND_DAEMON_PREFIX_HASH_H

#include <stdbool.h>

#include "runtime.h"

struct vpnd_prefix_hash {
	struct vpnd_prefix *slots; /* family 0: empty */
	unsigned cap, count;	   /* cap a power of two, at least twice count */
};

/* 1 if p was added, 0 if it was there already, -ENOMEM. */
int vpnd_prefix_hash_insert(struct vpnd_prefix_hash *h, const struct vpnd_prefix *p);
bool vpnd_prefix_hash_has(const struct vpnd_prefix_hash *h, const struct vpnd_prefix *p);
/* A hash set of the set's prefixes: 0 or -ENOMEM (h is then empty). */
int vpnd_prefix_hash_of_set(struct vpnd_prefix_hash *h, const struct vpnd_prefix_set *s);
void vpnd_prefix_hash_free(struct vpnd_prefix_hash *h);

/* Append p to s without looking for it first: for callers that know it is absent. 0 or
 * -ENOMEM. */
int vpnd_prefix_set_append(struct vpnd_prefix_set *s, const struct vpnd_prefix *p);

#endif
