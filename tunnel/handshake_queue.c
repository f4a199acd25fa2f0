/* A fixed ring of copied handshake messages; see handshake_queue.h. */
#include "handshake_queue.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int wg_handshake_queue_init(struct wg_handshake_queue *q, unsigned cap, unsigned reserve)
{
	memset(q, 0, sizeof(*q));
	if (!cap || reserve >= cap)
		return -EINVAL;
	q->items = calloc(cap, sizeof(*q->items));
	if (!q->items)
		return -ENOMEM;
	q->cap = cap;
	q->reserve = reserve;
	return 0;
}

void wg_handshake_queue_free(struct wg_handshake_queue *q)
{
	free(q->items);
	memset(q, 0, sizeof(*q));
}

bool wg_handshake_queue_push(struct wg_handshake_queue *q, const struct wg_endpoint *from,
			     const uint8_t *msg, size_t len, uint64_t now_ns, bool priority)
{
	unsigned limit = priority ? q->cap : q->cap - q->reserve;
	struct wg_handshake_queue_item *it;

	if (len > WG_HANDSHAKE_QUEUE_MSG_MAX || q->count >= limit) {
		q->dropped++;
		return false;
	}
	it = &q->items[(q->head + q->count) % q->cap];
	it->from = *from;
	it->arrived_ns = now_ns;
	it->len = (uint16_t)len;
	memcpy(it->msg, msg, len);
	if (++q->count > q->high_water)
		q->high_water = q->count;
	return true;
}

struct wg_handshake_queue_item *wg_handshake_queue_peek(struct wg_handshake_queue *q)
{
	return q->count ? &q->items[q->head] : NULL;
}

void wg_handshake_queue_pop(struct wg_handshake_queue *q)
{
	if (!q->count)
		return;
	q->head = (q->head + 1) % q->cap;
	q->count--;
}
