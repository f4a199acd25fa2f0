/* Zero-downtime key rotation: a peer may carry a next public key. Handshakes from either
 * key are accepted; the first session derived with the next key makes it the peer's
 * only key, so the old one is refused from then on. As initiator we cannot know which
 * key the other side holds, so while a next key is set, retries alternate between the
 * two: a peer that already switched is reached one retry later at worst. */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "engine_impl.h"

/* Sessions made with a next key that is no longer accepted end with it. */
static void drop_next_key_sessions(struct wg_engine *e, struct wg_peer *p)
{
	struct wg_keypair **slots[] = {&p->keypairs.previous, &p->keypairs.current,
				       &p->keypairs.next};

	for (size_t i = 0; i < sizeof(slots) / sizeof(slots[0]); i++) {
		struct wg_keypair *kp = *slots[i];

		if (kp && kp->with_next_static) {
			wg_index_table_remove(&e->index, kp->local_index);
			wg_keypair_free(kp);
			*slots[i] = NULL;
		}
	}
}

int wg_engine_peer_set_next_key(struct wg_engine *e, struct wg_peer *p, const uint8_t *next)
{
	struct wg_peer *holder;
	int ret;

	if (next) {
		if (p->has_next_key && sodium_memcmp(p->next_key, next, WG_KEY_LEN) == 0)
			return 0;
		holder = wg_engine_find_peer(e, next);
		if (holder && holder != p)
			return -EEXIST;
		/* The peer's current key as its own next key would make nothing rotate. */
		if (sodium_memcmp(next, p->handshake.remote_static, WG_KEY_LEN) == 0)
			return -EEXIST;
	}
	ret = wg_noise_handshake_set_next(&e->noise, &p->handshake, next);
	if (ret < 0)
		return ret;
	if (p->has_next_key)
		drop_next_key_sessions(e, p);
	if (!next) {
		sodium_memzero(p->next_key, sizeof(p->next_key));
		sodium_memzero(&p->cookie_next, sizeof(p->cookie_next));
		p->has_next_key = false;
		wg_engine_reindex_peer(e, p, false);
		return 0;
	}
	memcpy(p->next_key, next, WG_KEY_LEN);
	wg_cookie_maker_init(&p->cookie_next, next);
	p->has_next_key = true;
	wg_engine_reindex_peer(e, p, false);
	return 0;
}

struct wg_cookie_maker *wg_peer_cookie(struct wg_peer *p)
{
	return p->has_next_key && p->handshake.use_next ? &p->cookie_next : &p->cookie;
}

void wg_key_rotation_pick(struct wg_peer *p, bool is_retry)
{
	if (!p->has_next_key) {
		p->handshake.use_next = false;
		return;
	}
	/* A fresh attempt starts with the key that answered last; a retry means it did
	 * not answer, so try the other one. */
	if (is_retry)
		p->handshake.use_next = !p->handshake.use_next;
}

/* Sessions made with the old key end: the point of rotating may be that it leaked. */
static void drop_other_keypairs(struct wg_engine *e, struct wg_peer *p, struct wg_keypair *keep)
{
	struct wg_keypair **slots[] = {&p->keypairs.previous, &p->keypairs.current,
				       &p->keypairs.next};

	for (size_t i = 0; i < sizeof(slots) / sizeof(slots[0]); i++) {
		struct wg_keypair *kp = *slots[i];

		if (kp && kp != keep) {
			wg_index_table_remove(&e->index, kp->local_index);
			wg_keypair_free(kp);
			*slots[i] = NULL;
		}
	}
}

void wg_key_rotation_session_derived(struct wg_engine *e, struct wg_peer *p, struct wg_keypair *kp)
{
	if (!kp->with_next_static)
		return;
	/* From now on the next key is simply the key. */
	kp->with_next_static = false;
	if (!p->has_next_key)
		return;
	wg_noise_handshake_promote_next(&p->handshake);
	p->cookie = p->cookie_next;
	sodium_memzero(&p->cookie_next, sizeof(p->cookie_next));
	sodium_memzero(p->next_key, sizeof(p->next_key));
	p->has_next_key = false;
	drop_other_keypairs(e, p, kp);
	wg_engine_reindex_peer(e, p, false);
	wg_engine_event(e, WG_EVENT_KEY_ROTATED, p, NULL);
}
