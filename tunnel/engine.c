/* The engine's public face: its peers, keys and routing table, the Noise callbacks,
 * the clock. The packet paths live in send.c and receive.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "engine_impl.h"
#include "vpnd/secret_memory.h"

static struct wg_handshake *lookup_static(void *ctx, const uint8_t pub[WG_KEY_LEN])
{
	struct wg_engine *e = ctx;
	struct wg_peer *p = wg_engine_find_peer(e, pub);

	/* A revoked key is refused before any more Diffie-Hellman is spent on it. */
	if (p && p->revoked) {
		e->refused_revoked = p;
		return NULL;
	}
	return p ? &p->handshake : NULL;
}

static struct wg_handshake *lookup_index(void *ctx, uint32_t idx)
{
	struct wg_engine *e = ctx;
	struct wg_index_entry *ent = wg_index_table_lookup(&e->index, idx);

	return ent && ent->kind == WG_INDEX_HANDSHAKE ? &ent->peer->handshake : NULL;
}

/* A handshake holds at most one index awaiting a response: a new one replaces it. An
 * index that already became a keypair's stays with the keypair. */
static void drop_pending_index(struct wg_engine *e, struct wg_handshake *hs)
{
	struct wg_index_entry *ent = wg_index_table_lookup(&e->index, hs->local_index);

	if (ent && ent->kind == WG_INDEX_HANDSHAKE && ent->peer == hs->owner)
		wg_index_table_remove(&e->index, hs->local_index);
}

static uint32_t index_assign(void *ctx, struct wg_handshake *hs)
{
	struct wg_engine *e = ctx;

	drop_pending_index(e, hs);
	return wg_index_table_insert(&e->index, WG_INDEX_HANDSHAKE, hs->owner, NULL);
}

static void index_drop(void *ctx, uint32_t idx)
{
	struct wg_engine *e = ctx;
	struct wg_index_entry *ent = wg_index_table_lookup(&e->index, idx);

	if (ent && ent->kind == WG_INDEX_HANDSHAKE)
		wg_index_table_remove(&e->index, idx);
}

void wg_engine_event(struct wg_engine *e, enum wg_event ev, const struct wg_peer *p,
		     const char *detail)
{
	if (e->io.event)
		e->io.event(e->io.ctx, ev, p, detail);
}

void wg_engine_drop(struct wg_engine *e, struct wg_peer *p, enum wg_drop_reason why)
{
	e->stats.drops[why]++;
	if (p)
		p->stats.drops[why]++;
}

void wg_engine_note_drop(struct wg_engine *e, enum wg_drop_reason why)
{
	wg_engine_drop(e, NULL, why);
}

static void clamp_settings(struct wg_engine_settings *s)
{
	if (s->rekey_after_time < 1 || s->rekey_after_time > WG_REKEY_AFTER_TIME)
		s->rekey_after_time = WG_REKEY_AFTER_TIME;
	if (s->mtu < 576 || s->mtu > WG_MESSAGE_MAX_SIZE - WG_DATA_OVERHEAD)
		s->mtu = 1420;
}

struct wg_engine *wg_engine_new(const struct wg_engine_io *io,
				const struct wg_engine_settings *settings)
{
	/* Guarded, locked pages: the engine holds the static private key, the cookie
	 * secret and the plaintext scratch buffer (vpnd/secret_memory.h). */
	struct wg_engine *e = vpnd_secret_calloc(sizeof(*e));

	if (!e)
		return NULL;
	if (wg_index_table_init(&e->index) < 0 || wg_ratelimiter_init(&e->ratelimiter) < 0 ||
	    wg_peer_index_init(&e->peer_index) < 0) {
		wg_index_table_free(&e->index);
		wg_ratelimiter_free(&e->ratelimiter);
		wg_peer_index_free(&e->peer_index);
		vpnd_secret_free(e);
		return NULL;
	}
	e->io = *io;
	e->settings = *settings;
	clamp_settings(&e->settings);
	e->noise.cb = (struct wg_noise_callbacks){.ctx = e,
						  .lookup_static = lookup_static,
						  .lookup_index = lookup_index,
						  .index_assign = index_assign,
						  .index_drop = index_drop};
	wg_allowedips_init(&e->allowedips);
	wg_allowedips_init(&e->local);
	wg_known_sources_init(&e->known_sources);
	return e;
}

void wg_engine_free(struct wg_engine *e)
{
	if (!e)
		return;
	while (e->peers)
		wg_engine_remove_peer(e, e->peers);
	wg_allowedips_free(&e->allowedips);
	wg_allowedips_free(&e->local);
	wg_index_table_free(&e->index);
	wg_ratelimiter_free(&e->ratelimiter);
	wg_peer_index_free(&e->peer_index);
	wg_known_sources_free(&e->known_sources);
	vpnd_secret_free(e); /* wipes it */
}

void wg_engine_update_settings(struct wg_engine *e, const struct wg_engine_settings *settings)
{
	e->settings = *settings;
	clamp_settings(&e->settings);
}

int wg_engine_set_private_key(struct wg_engine *e, const uint8_t priv[32])
{
	int ret;

	if (e->noise.identity.has_identity &&
	    sodium_memcmp(e->noise.identity.static_private, priv, WG_KEY_LEN) == 0)
		return 0;
	ret = wg_noise_set_private_key(&e->noise, priv);
	if (ret < 0)
		return ret;
	wg_cookie_checker_init(&e->cookie_checker, e->noise.identity.static_public);
	/* Every session was authenticated with the old identity. Nothing answers a
	 * handshake made with it any more either, so the next one may go at once (a key
	 * rotation then costs one round trip, not a REKEY_TIMEOUT). */
	for (struct wg_peer *p = e->peers; p; p = p->next) {
		wg_peer_clear_keypairs(e, p);
		wg_peer_clear_handshake(e, p);
		wg_noise_handshake_refresh_static(&e->noise, &p->handshake);
		p->last_sent_handshake = 0;
	}
	return 0;
}

const uint8_t *wg_engine_public_key(const struct wg_engine *e)
{
	return e->noise.identity.static_public;
}

void wg_engine_reindex_peer(struct wg_engine *e, struct wg_peer *p, bool remove_only)
{
	for (unsigned i = 0; i < p->n_indexed; i++) {
		wg_peer_index_remove(&e->peer_index, p->indexed_keys[i], p);
		sodium_memzero(p->indexed_keys[i], sizeof(p->indexed_keys[i]));
	}
	p->n_indexed = 0;
	if (remove_only)
		return;
	memcpy(p->indexed_keys[p->n_indexed++], p->handshake.remote_static, WG_KEY_LEN);
	if (p->has_next_key)
		memcpy(p->indexed_keys[p->n_indexed++], p->next_key, WG_KEY_LEN);
	for (unsigned i = 0; i < p->n_indexed; i++)
		if (wg_peer_index_add(&e->peer_index, p->indexed_keys[i], p) < 0)
			e->peer_index_broken = true;
}

struct wg_peer *wg_engine_find_peer(const struct wg_engine *e, const uint8_t public_key[32])
{
	if (!e->peer_index_broken)
		return wg_peer_index_find(&e->peer_index, public_key);
	for (struct wg_peer *p = e->peers; p; p = p->next) {
		if (sodium_memcmp(p->handshake.remote_static, public_key, WG_KEY_LEN) == 0)
			return p;
		if (p->has_next_key && sodium_memcmp(p->next_key, public_key, WG_KEY_LEN) == 0)
			return p;
	}
	return NULL;
}

struct wg_peer *wg_engine_find_peer_by_name(const struct wg_engine *e, const char *name)
{
	for (struct wg_peer *p = e->peers; p; p = p->next)
		if (strcmp(p->name, name) == 0)
			return p;
	return NULL;
}

struct wg_peer *wg_engine_peers(const struct wg_engine *e)
{
	return e->peers;
}

const struct wg_device_stats *wg_engine_stats(const struct wg_engine *e)
{
	return &e->stats;
}

struct wg_peer *wg_engine_add_peer(struct wg_engine *e, const struct wg_peer_config *cfg,
				   struct wg_time now)
{
	struct wg_peer *p, **tail;

	if (wg_engine_find_peer(e, cfg->public_key)) {
		errno = EEXIST;
		return NULL;
	}
	if (e->noise.identity.has_identity &&
	    sodium_memcmp(cfg->public_key, e->noise.identity.static_public, WG_KEY_LEN) == 0) {
		errno = EINVAL;
		return NULL;
	}
	if (cfg->has_next_public_key &&
	    (wg_engine_find_peer(e, cfg->next_public_key) ||
	     sodium_memcmp(cfg->next_public_key, cfg->public_key, WG_KEY_LEN) == 0)) {
		errno = EEXIST;
		return NULL;
	}
	p = wg_peer_create(e, cfg);
	if (!p)
		return NULL;
	if (cfg->has_next_public_key) {
		int ret = wg_engine_peer_set_next_key(e, p, cfg->next_public_key);

		if (ret < 0) {
			wg_peer_destroy(e, p);
			errno = -ret;
			return NULL;
		}
	}
	tail = e->peers_last ? &e->peers_last->next : &e->peers;
	*tail = p;
	e->peers_last = p;
	wg_engine_reindex_peer(e, p, false);
	e->known_sources.dirty = true;
	/* A persistent keepalive means "keep this tunnel open": start at once. */
	if (p->persistent_keepalive)
		wg_send_keepalive(e, p, now);
	return p;
}

static void remove_own_prefixes(struct wg_engine *e, struct wg_peer *p);

void wg_engine_remove_peer(struct wg_engine *e, struct wg_peer *p)
{
	struct wg_peer *before = NULL;

	for (struct wg_peer **pp = &e->peers; *pp; before = *pp, pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	if (e->peers_last == p)
		e->peers_last = before;
	wg_engine_reindex_peer(e, p, true);
	remove_own_prefixes(e, p);
	wg_peer_destroy(e, p);
	e->known_sources.dirty = true;
}

void wg_engine_peer_set_endpoint(struct wg_engine *e, struct wg_peer *p,
				 const struct wg_endpoint *ep)
{
	p->endpoint = *ep;
	e->known_sources.dirty = true;
}

void wg_engine_peer_set_keepalive(struct wg_engine *e, struct wg_peer *p, uint16_t seconds,
				  struct wg_time now)
{
	bool was_off = !p->persistent_keepalive;

	p->persistent_keepalive = seconds;
	if (!seconds)
		p->timers.persistent_keepalive = 0;
	else if (was_off)
		wg_send_keepalive(e, p, now);
}

void wg_engine_peer_set_preshared_key(struct wg_engine *e, struct wg_peer *p, const uint8_t *psk)
{
	uint8_t zero[WG_KEY_LEN] = {0};
	const uint8_t *want = psk ? psk : zero;

	if (sodium_memcmp(p->handshake.preshared_key, want, WG_KEY_LEN) == 0)
		return;
	wg_peer_clear_keypairs(e, p);
	wg_peer_clear_handshake(e, p);
	memcpy(p->handshake.preshared_key, want, WG_KEY_LEN);
}

static bool same_prefix(const struct wg_allowed_ip *a, const struct wg_allowed_ip *b)
{
	return a->family == b->family && a->cidr == b->cidr &&
	       memcmp(a->addr, b->addr, a->family == AF_INET ? 4 : 16) == 0;
}

/* A prefix that moves to p leaves its former owner's list. The trie says who held it,
 * so loading thousands of peers costs no walk over all of them per prefix. */
static void forget_prefix_elsewhere(struct wg_engine *e, struct wg_peer *owner,
				    const struct wg_allowed_ip *ip)
{
	struct wg_peer *q = wg_allowedips_get(&e->allowedips, ip->family, ip->addr, ip->cidr);

	if (!q || q == owner)
		return;
	for (unsigned i = 0; i < q->n_allowed_ips; i++) {
		if (same_prefix(&q->allowed_ips[i], ip)) {
			q->allowed_ips[i] = q->allowed_ips[--q->n_allowed_ips];
			break;
		}
	}
}

/* Take p's own prefixes out of the trie: one exact removal each rather than a walk of
 * the whole trie, which made loading n peers cost n^2. */
static void remove_own_prefixes(struct wg_engine *e, struct wg_peer *p)
{
	for (unsigned i = 0; i < p->n_allowed_ips; i++)
		(void)wg_allowedips_remove(&e->allowedips, p->allowed_ips[i].family,
					   p->allowed_ips[i].addr, p->allowed_ips[i].cidr, p);
}

int wg_engine_peer_set_allowed_ips(struct wg_engine *e, struct wg_peer *p,
				   const struct wg_allowed_ip *ips, unsigned n)
{
	struct wg_allowed_ip *copy = NULL;
	unsigned i;

	for (i = 0; i < n; i++)
		if ((ips[i].family != AF_INET || ips[i].cidr > 32) &&
		    (ips[i].family != AF_INET6 || ips[i].cidr > 128))
			return -EINVAL;
	if (n) {
		copy = malloc(n * sizeof(*copy));
		if (!copy)
			return -ENOMEM;
		memcpy(copy, ips, n * sizeof(*copy));
	}
	remove_own_prefixes(e, p);
	for (i = 0; i < n; i++) {
		forget_prefix_elsewhere(e, p, &ips[i]);
		if (wg_allowedips_insert(&e->allowedips, ips[i].family, ips[i].addr, ips[i].cidr,
					 p) < 0) {
			/* Out of memory half-way: put the old set back as far as we can. */
			for (unsigned j = 0; j < i; j++)
				(void)wg_allowedips_remove(&e->allowedips, ips[j].family,
							   ips[j].addr, ips[j].cidr, p);
			for (unsigned j = 0; j < p->n_allowed_ips; j++)
				wg_allowedips_insert(&e->allowedips, p->allowed_ips[j].family,
						     p->allowed_ips[j].addr, p->allowed_ips[j].cidr,
						     p);
			free(copy);
			return -ENOMEM;
		}
	}
	free(p->allowed_ips);
	p->allowed_ips = copy;
	p->n_allowed_ips = n;
	return 0;
}

void wg_engine_send(struct wg_engine *e, const uint8_t *pkt, size_t len, struct wg_time now)
{
	const uint8_t *dst;
	struct wg_peer *p;
	int family;

	if (len >= 20 && (pkt[0] >> 4) == 4) {
		family = AF_INET;
		dst = pkt + 16;
	} else if (len >= 40 && (pkt[0] >> 4) == 6) {
		family = AF_INET6;
		dst = pkt + 24;
	} else {
		wg_engine_drop(e, NULL, WG_DROP_MALFORMED);
		return;
	}
	p = wg_allowedips_lookup(&e->allowedips, family, dst);
	if (!p) {
		wg_engine_drop(e, NULL, WG_DROP_NO_ROUTE);
		return;
	}
	if (p->revoked) {
		wg_engine_drop(e, p, WG_DROP_REVOKED);
		return;
	}
	if (p->endpoint.addr.sa.sa_family == AF_UNSPEC) {
		wg_engine_drop(e, p, WG_DROP_NO_ENDPOINT);
		return;
	}
	wg_send_packet(e, p, pkt, len, now);
}

void wg_engine_peer_connect(struct wg_engine *e, struct wg_peer *p, struct wg_time now)
{
	struct wg_keypair *kp = p->keypairs.current;

	if (!kp || !kp->send_valid)
		wg_send_handshake_initiation(e, p, false, now);
}

void wg_engine_tick(struct wg_engine *e, struct wg_time now)
{
	for (struct wg_peer *p = e->peers; p; p = p->next)
		if (wg_timers_next_deadline(p) <= now.mono_ns)
			wg_timers_run(e, p, now.mono_ns, now.real_ns);
}

uint64_t wg_engine_next_deadline(const struct wg_engine *e)
{
	uint64_t best = UINT64_MAX;

	for (const struct wg_peer *p = e->peers; p; p = p->next) {
		uint64_t d = wg_timers_next_deadline(p);
		if (d < best)
			best = d;
	}
	return best;
}

void wg_engine_set_under_load(struct wg_engine *e, uint64_t until_ns)
{
	e->under_load_until = until_ns;
}
