/* A configuration's peers found by public key among thousands: a sorted array of (key,
 * peer), built once and searched by bisection, where a walk over every peer per lookup
 * makes matching two peer lists quadratic (a reload of 10,000 peers took over 10 s).
 * Public keys are no secret, so they are compared in variable time. */
#ifndef VPND_DAEMON_KEY_INDEX_H
#define VPND_DAEMON_KEY_INDEX_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

struct vpnd_key_entry {
	const uint8_t *key; /* 32 bytes, owned by the item; must outlive the index */
	void *item;
};

struct vpnd_key_index {
	struct vpnd_key_entry *v;
	unsigned n, cap;
	bool ready; /* built and sorted; false after a failed build: search linearly */
};

/* Index the configuration's peers by public key (items: struct vpnd_peer_conf *). 0, or
 * -ENOMEM with the index left not ready. */
int vpnd_key_index_config(struct vpnd_key_index *x, const struct vpnd_config *c);
/* The item with this key, or NULL. The index must be ready. */
void *vpnd_key_index_find(const struct vpnd_key_index *x, const uint8_t key[32]);
void vpnd_key_index_free(struct vpnd_key_index *x);

#endif
