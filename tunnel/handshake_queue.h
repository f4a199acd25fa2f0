/* Handshake messages waiting for their turn. A handshake costs a responder four X25519
 * operations (about 140 µs here) against about 1.5 µs for a transport packet, so
 * handshakes are not handled where they arrive in a receive batch: they are copied
 * here, and the event loop works through them after the batch's transport data, a
 * bounded slice at a time (daemon/datapath.c). The queue is bounded, so a flood costs
 * memory fixed at start and, once the queue is full, a copy-free drop per datagram.
 *
 * The last `reserve` places are kept for messages from addresses that are some peer's
 * current endpoint: a flood from spoofed sources fills the rest, while a branch that
 * restarts at the address HQ knows it by still gets in. */
#ifndef VPND_TUNNEL_HANDSHAKE_QUEUE_H
#define VPND_TUNNEL_HANDSHAKE_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "endpoint.h"

/* The largest handshake message, an initiation. */
#define WG_HANDSHAKE_QUEUE_MSG_MAX 148

struct wg_handshake_queue_item {
	struct wg_endpoint from;
	uint64_t arrived_ns; /* monotonic */
	uint16_t len;
	uint8_t msg[WG_HANDSHAKE_QUEUE_MSG_MAX];
};

struct wg_handshake_queue {
	struct wg_handshake_queue_item *items; /* a ring of cap items, allocated once */
	unsigned cap, reserve, head, count;
	unsigned high_water; /* the most ever waiting at once */
	uint64_t dropped;    /* pushes refused because the queue was full */
};

/* cap places, reserve of them (< cap) for priority messages. 0 or -ENOMEM / -EINVAL. */
int wg_handshake_queue_init(struct wg_handshake_queue *q, unsigned cap, unsigned reserve);
/* Handshake messages hold nothing secret (the static key and timestamp in them are
 * encrypted to the responder), so what is queued is freed without a wipe. */
void wg_handshake_queue_free(struct wg_handshake_queue *q);
/* Copy a message in. false when there is no room for it (counted in q->dropped) or it
 * is longer than WG_HANDSHAKE_QUEUE_MSG_MAX. A message without priority finds no room
 * once cap - reserve are waiting. */
bool wg_handshake_queue_push(struct wg_handshake_queue *q, const struct wg_endpoint *from,
			     const uint8_t *msg, size_t len, uint64_t now_ns, bool priority);
/* The oldest message, or NULL; it stays valid until the next pop or push. */
struct wg_handshake_queue_item *wg_handshake_queue_peek(struct wg_handshake_queue *q);
void wg_handshake_queue_pop(struct wg_handshake_queue *q);

static inline unsigned wg_handshake_queue_len(const struct wg_handshake_queue *q)
{
	return q->count;
}

#endif
