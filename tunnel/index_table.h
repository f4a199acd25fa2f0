/* Local session indices: the 32-bit numbers peers put in response, cookie and data
 * messages so we find the handshake or keypair they are for without trying keys. */
#ifndef VPND_TUNNEL_INDEX_TABLE_H
#define VPND_TUNNEL_INDEX_TABLE_H

#include <stddef.h>
#include <stdint.h>

struct wg_peer;
struct wg_keypair;

enum wg_index_kind {
	WG_INDEX_HANDSHAKE = 1, /* awaits a response; names the peer */
	WG_INDEX_KEYPAIR = 2,	/* a session; names the keypair */
};

struct wg_index_entry {
	uint32_t index;
	uint8_t kind; /* 0 = empty slot */
	struct wg_peer *peer;
	struct wg_keypair *keypair;
};

/* Open addressing with linear probing, kept at most half full. */
struct wg_index_table {
	struct wg_index_entry *slots;
	size_t capacity; /* power of two */
	size_t count;
};

int wg_index_table_init(struct wg_index_table *t);
void wg_index_table_free(struct wg_index_table *t);
/* Insert under a fresh random index not in use; returns it, or 0 on allocation failure
 * (0 is never handed out, so it can mean "none"). */
uint32_t wg_index_table_insert(struct wg_index_table *t, enum wg_index_kind kind,
			       struct wg_peer *peer, struct wg_keypair *kp);
struct wg_index_entry *wg_index_table_lookup(struct wg_index_table *t, uint32_t index);
/* Re-point an existing index at a keypair (a handshake became a session). */
void wg_index_table_replace(struct wg_index_table *t, uint32_t index, struct wg_keypair *kp);
void wg_index_table_remove(struct wg_index_table *t, uint32_t index);

#endif
