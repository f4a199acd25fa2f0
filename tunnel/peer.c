/* Peers: creation, the three keypair slots, endpoint roaming and the staged-packet ring. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "engine_impl.h"
#include "peer.h"

struct wg_peer *wg_peer_create(struct wg_engine *e, const struct wg_peer_config *cfg)
{
	struct wg_peer *p = calloc(1, sizeof(*p));
	int ret;

	if (!p) {
		errno = ENOMEM;
		return NULL;
	}
	snprintf(p->name, sizeof(p->name), "%s", cfg->name ? cfg->name : "");
	ret = wg_noise_handshake_init(&e->noise, &p->handshake, cfg->public_key,
				      cfg->has_preshared_key ? cfg->preshared_key : NULL, p);
	if (ret < 0) {
		sodium_memzero(p, sizeof(*p));
		free(p);
		errno = -ret;
		return NULL;
	}
	wg_cookie_maker_init(&p->cookie, cfg->public_key);
	p->endpoint = cfg->endpoint;
	p->persistent_keepalive = cfg->persistent_keepalive;
	return p;
}

void wg_peer_purge_staged(struct wg_peer *p)
{
	struct wg_staged_packets *q = &p->staged;

	while (q->count) {
		unsigned i = q->head % WG_MAX_STAGED_PACKETS;
		sodium_memzero(q->buf[i], q->len[i]); /* plaintext of the LAN */
		free(q->buf[i]);
		q->buf[i] = NULL;
		q->head++;
		q->count--;
	}
	q->head = 0;
}

void wg_peer_destroy(struct wg_engine *e, struct wg_peer *p)
{
	wg_timers_stop(p);
	wg_peer_clear_keypairs(e, p);
	wg_peer_clear_handshake(e, p);
	wg_peer_purge_staged(p);
	free(p->staged.buf);
	free(p->staged.len);
	free(p->allowed_ips);
	sodium_memzero(p, sizeof(*p));
	free(p);
}

static void keypair_drop(struct wg_engine *e, struct wg_keypair *kp)
{
	if (!kp)
		return;
	wg_index_table_remove(&e->index, kp->local_index);
	wg_keypair_free(kp);
}

void wg_peer_add_keypair(struct wg_engine *e, struct wg_peer *p, struct wg_keypair *kp)
{
	struct wg_keypairs *k = &p->keypairs;

	kp->peer = p;
	wg_index_table_replace(&e->index, kp->local_index, kp);
	if (kp->i_am_the_initiator) {
		/* The initiator may use the new session at once. If an unconfirmed `next`
		 * is pending, it is older than this one: it becomes `previous` so packets
		 * already in flight under it still decrypt. */
		if (k->next) {
			keypair_drop(e, k->previous);
			k->previous = k->next;
			k->next = NULL;
			keypair_drop(e, k->current);
		} else {
			keypair_drop(e, k->previous);
			k->previous = k->current;
		}
		k->current = kp;
	} else {
		/* The responder waits for the initiator's first data packet, the proof that
		 * the initiator derived the same keys, before sending with them. */
		keypair_drop(e, k->next);
		k->next = kp;
		keypair_drop(e, k->previous);
		k->previous = NULL;
	}
}

bool wg_peer_received_with_keypair(struct wg_engine *e, struct wg_peer *p,
				   struct wg_keypair *kp)
{
	struct wg_keypairs *k = &p->keypairs;

	if (kp != k->next)
		return false;
	keypair_drop(e, k->previous);
	k->previous = k->current;
	k->current = k->next;
	k->next = NULL;
	return true;
}

void wg_peer_clear_keypairs(struct wg_engine *e, struct wg_peer *p)
{
	keypair_drop(e, p->keypairs.previous);
	keypair_drop(e, p->keypairs.current);
	keypair_drop(e, p->keypairs.next);
	memset(&p->keypairs, 0, sizeof(p->keypairs));
}

void wg_peer_clear_handshake(struct wg_engine *e, struct wg_peer *p)
{
	wg_noise_handshake_clear(&e->noise, &p->handshake);
}

void wg_peer_update_endpoint(struct wg_engine *e, struct wg_peer *p,
			     const struct wg_endpoint *from)
{
	char buf[WG_ENDPOINT_STRLEN];
	bool moved = !wg_endpoint_eq(&p->endpoint, from);

	p->endpoint = *from;
	if (moved)
		e->known_sources.dirty = true;
	if (moved)
		wg_engine_event(e, WG_EVENT_ENDPOINT_CHANGED, p, wg_endpoint_format(from, buf));
}

int wg_peer_stage_packet(struct wg_engine *e, struct wg_peer *p, const uint8_t *pkt, size_t len)
{
	struct wg_staged_packets *q = &p->staged;
	unsigned slot;
	uint8_t *copy;

	if (!q->buf) {
		q->buf = calloc(WG_MAX_STAGED_PACKETS, sizeof(*q->buf));
		q->len = calloc(WG_MAX_STAGED_PACKETS, sizeof(*q->len));
		if (!q->buf || !q->len) {
			free(q->buf);
			free(q->len);
			q->buf = NULL;
			q->len = NULL;
			wg_engine_drop(e, p, WG_DROP_QUEUE_FULL);
			return -ENOMEM;
		}
	}
	copy = malloc(len ? len : 1);
	if (!copy) {
		wg_engine_drop(e, p, WG_DROP_QUEUE_FULL);
		return -ENOMEM;
	}
	if (len)
		memcpy(copy, pkt, len);
	if (q->count == WG_MAX_STAGED_PACKETS) {
		/* Full: the oldest packet is the least useful one to deliver late. */
		unsigned old = q->head % WG_MAX_STAGED_PACKETS;
		sodium_memzero(q->buf[old], q->len[old]);
		free(q->buf[old]);
		q->buf[old] = NULL;
		q->head++;
		q->count--;
		wg_engine_drop(e, p, WG_DROP_QUEUE_FULL);
	}
	slot = (q->head + q->count) % WG_MAX_STAGED_PACKETS;
	q->buf[slot] = copy;
	q->len[slot] = (uint16_t)len;
	q->count++;
	return 0;
}
