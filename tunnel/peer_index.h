/* Peers by static public key: the responder's question for every handshake
 * initiation, and the daemon's for every configured peer at load. A hash table keyed
 * with a secret SipHash key, so that keys an attacker chooses cannot be made to
 * collide; a walk over every peer made a 10,000-peer gateway spend more time finding
 * the peer than doing the Diffie-Hellman. */
#ifndef VPND_TUNNEL_PEER_INDEX_H
#define VPND_TUNNEL_PEER_INDEX_H

#include <stddef.h>
#include <stdint.h>

struct wg_peer;

struct wg_peer_index_slot {
	uint8_t key[32];
	struct wg_peer *peer; /* NULL: empty; TOMBSTONE: deleted */
};

struct wg_peer_index {
	struct wg_peer_index_slot *slots;
	size_t cap, used; /* used counts tombstones too */
	uint8_t hash_key[16];
};

int wg_peer_index_init(struct wg_peer_index *x);
void wg_peer_index_free(struct wg_peer_index *x);
/* Map key to peer (replacing what it mapped to). 0 or -ENOMEM. */
int wg_peer_index_add(struct wg_peer_index *x, const uint8_t key[32], struct wg_peer *peer);
/* Forget key if it maps to peer. */
void wg_peer_index_remove(struct wg_peer_index *x, const uint8_t key[32],
			  const struct wg_peer *peer);
struct wg_peer *wg_peer_index_find(const struct wg_peer_index *x, const uint8_t key[32]);

#endif
