/* Peers found by public key among thousands: a sorted array of (key, item), built once
 * and searched by bisection, where a walk over every peer per lookup would make matching
 * two peer lists quadratic (a reload of 10,000 peers took seconds). Public keys are no
 * secret, so they are compared in variable time. */
#ifndef VPND_DAEMON_KEY_INDEX_H
#define VPND_DAEMON_KEY_INDEX_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "tunnel/engine.h"

struct vpnd_key_entry {
	const uint8_t *key; /* 32 bytes, owned by the item; must outlive the index */
	void *item;
};

struct vpnd_key_index {
	struct vpnd_key_entry *v;
	unsigned n, cap;
	bool ready; /* built and sorted; false after a failed build: search linearly */
};

/* Index the configuration's peers by public key (items: struct vpnd_peer_conf *), or the
 * engine's peers by their key and, during a key rotation, their next key (items: struct
 * wg_peer *). 0, or -ENOMEM with the index left not ready. */
int vpnd_key_index_config(struct vpnd_key_index *x, const struct vpnd_config *c);
int vpnd_key_index_engine(struct vpnd_key_index *x, const struct wg_engine *e);
/* The item with this key, or NULL. The index must be ready. */
void *vpnd_key_index_find(const struct vpnd_key_index *x, const uint8_t key[32]);
void vpnd_key_index_free(struct vpnd_key_index *x);

#endif
