/* The daemon's side of endpoints: lookups planned per configured host name (at start,
 * every endpoint-refresh seconds, sooner while a name does not resolve, and when
 * handshakes go unanswered), their answers applied to the engine, and failover. Its
 * deadlines live in a timerfd of its own; lookup answers arrive through the resolver's
 * eventfd. Both run on the event loop, between engine calls. */
#include "endpoints.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "audit.h"
#include "config.h"
#include "log.h"
#include "resolver.h"
#include "tunnel/messages.h"

/* A name that does not resolve is tried again after 1, 2, 4 ... seconds, at most this. */
#define RETRY_MAX_NS (60 * WG_NSEC_PER_SEC)

static uint64_t mono_now(void)
{
	struct timespec ts;

	/* The clock vpnd_now() and the engine's timers use. */
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * WG_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static int name_cmp(const void *a, const void *b)
{
	const struct vpnd_peer_endpoints *x = a, *y = b;

	return strcmp(x->name, y->name);
}

const struct vpnd_peer_endpoints *vpnd_endpoints_find(const struct vpnd_endpoints *eps,
						      const char *name)
{
	struct vpnd_peer_endpoints key;

	if (!eps || !eps->n_peers || strlen(name) >= sizeof(key.name))
		return NULL;
	snprintf(key.name, sizeof(key.name), "%s", name);
	return bsearch(&key, eps->peers, eps->n_peers, sizeof(*eps->peers), name_cmp);
}

static struct vpnd_peer_endpoints *find_mut(struct vpnd_endpoints *eps, const char *name)
{
	return (struct vpnd_peer_endpoints *)vpnd_endpoints_find(eps, name);
}

/* ---- the timerfd ---------------------------------------------------------------------- */

static void rearm(struct vpnd_endpoints *eps)
{
	struct itimerspec its = {0};
	uint64_t next = UINT64_MAX;

	for (unsigned i = 0; i < eps->n_peers; i++) {
		const struct vpnd_peer_endpoints *pe = &eps->peers[i];

		if (pe->failover.check_at && pe->failover.check_at < next)
			next = pe->failover.check_at;
		for (unsigned j = 0; j < pe->n; j++)
			if (pe->list[j].lookup_at && pe->list[j].lookup_at < next)
				next = pe->list[j].lookup_at;
	}
	if (next == UINT64_MAX)
		next = 0;
	if (next == eps->timer_armed)
		return;
	its.it_value.tv_sec = (time_t)(next / WG_NSEC_PER_SEC);
	its.it_value.tv_nsec = (long)(next % WG_NSEC_PER_SEC);
	if (timerfd_settime(eps->timer_src.fd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
		eps->timer_armed = next;
}

/* ---- lookups -------------------------------------------------------------------------- */

/* A lookup is named by the generation of peers[], the peer and the entry, so an answer
 * finds its entry without a search and one for a replaced list is recognised. */
static uint64_t lookup_id(const struct vpnd_endpoints *eps, unsigned peer, unsigned entry)
{
	return (uint64_t)eps->generation << 32 | (uint64_t)peer << 3 | entry;
}

static void start_lookup(struct vpnd_endpoints *eps, unsigned peer, unsigned entry, bool force)
{
	struct vpnd_peer_endpoints *pe = &eps->peers[peer];
	struct vpnd_endpoint_state *st = &pe->list[entry];
	int ret;

	if (st->entry.numeric)
		return;
	st->force |= force;
	if (st->lookup_id)
		return; /* one in flight answers this too */
	st->lookup_at = 0;
	st->lookup_id = lookup_id(eps, peer, entry);
	ret = vpnd_resolver_submit(eps->resolver, st->lookup_id, st->entry.host, st->entry.port);
	if (ret < 0) {
		log_err("peer %s: cannot look up %s: %s; trying again in a second", pe->name,
			st->entry.host, strerror(-ret));
		st->lookup_id = 0;
		st->lookup_at = mono_now() + WG_NSEC_PER_SEC;
	}
}

static void lookup_names(struct vpnd_endpoints *eps, unsigned peer, bool force_current)
{
	struct vpnd_peer_endpoints *pe = &eps->peers[peer];

	for (unsigned j = 0; j < pe->n; j++)
		start_lookup(eps, peer, j, force_current && j == pe->cur);
}

static void apply_answer(struct vpnd_endpoints *eps, struct vpnd_peer_endpoints *pe, unsigned entry,
			 const struct wg_endpoint *addr);

/* Handshakes go unanswered: the names are looked up again, and their answer replaces
 * wherever the peer has roamed to; an address in use is put back at once. */
static void recheck(struct vpnd_endpoints *eps, unsigned peer)
{
	struct vpnd_peer_endpoints *pe = &eps->peers[peer];
	struct vpnd_endpoint_state *st = &pe->list[pe->cur];

	if (st->entry.numeric) {
		st->force = true;
		apply_answer(eps, pe, pe->cur, &st->entry.addr);
	}
	lookup_names(eps, peer, true);
}

/* Point the engine's peer at addr, as a configured endpoint would be. */
static void set_engine_endpoint(struct vpnd_endpoints *eps, struct wg_peer *p,
				const struct wg_endpoint *addr)
{
	bool had = p->endpoint.addr.sa.sa_family != AF_UNSPEC;
	struct wg_endpoint ep = *addr;

	ep.has_src = false; /* the kernel picks our source address for a new destination */
	wg_engine_peer_set_endpoint(eps->engine, p, &ep);
	/* A peer with a persistent keepalive starts its tunnel when added; one that had no
	 * address then starts now. */
	if (!had && p->persistent_keepalive) {
		struct timespec r;

		clock_gettime(CLOCK_REALTIME, &r);
		wg_engine_peer_connect(
		    eps->engine, p,
		    (struct wg_time){.mono_ns = mono_now(),
				     .real_ns = (uint64_t)r.tv_sec * WG_NSEC_PER_SEC +
						(uint64_t)r.tv_nsec});
	}
}

/* The entry in use must have an address when another one has: a name whose lookup
 * failed is passed over (one still being looked up for the first time is waited for, so
 * that the first entry is the one used from the start). A peer without an address gets
 * the one in use. */
static void settle(struct vpnd_endpoints *eps, struct vpnd_peer_endpoints *pe)
{
	const struct vpnd_endpoint_state *st = &pe->list[pe->cur];
	bool usable[VPND_MAX_ENDPOINTS];
	struct wg_peer *p;

	if (st->addr.addr.sa.sa_family == AF_UNSPEC) {
		if (!st->failures)
			return;
		for (unsigned j = 0; j < pe->n; j++)
			usable[j] = pe->list[j].addr.addr.sa.sa_family != AF_UNSPEC;
		pe->cur = vpnd_failover_next(usable, pe->n, pe->cur);
		if (!usable[pe->cur])
			return;
	}
	p = wg_engine_find_peer_by_name(eps->engine, pe->name);
	if (p && p->endpoint.addr.sa.sa_family == AF_UNSPEC)
		set_engine_endpoint(eps, p, &pe->list[pe->cur].addr);
}

/* An answer for list[entry]: remember it, and when that entry is the one in use, move
 * the peer to it unless the peer has roamed away from what we last gave it (then the
 * peer's own packets know better, until handshakes fail: force). */
static void apply_answer(struct vpnd_endpoints *eps, struct vpnd_peer_endpoints *pe, unsigned entry,
			 const struct wg_endpoint *addr)
{
	struct vpnd_endpoint_state *st = &pe->list[entry];
	char now_s[WG_ENDPOINT_STRLEN], was_s[WG_ENDPOINT_STRLEN], text[VPND_ENDPOINT_TEXT_MAX];
	struct wg_endpoint old = st->addr;
	bool force = st->force, known = old.addr.sa.sa_family != AF_UNSPEC;
	struct wg_peer *p;

	st->addr = *addr;
	st->force = false;
	vpnd_endpoint_text(&st->entry, text);
	if (!known)
		log_info("peer %s: endpoint %s resolves to %s", pe->name, text,
			 wg_endpoint_format(addr, now_s));
	else if (!wg_endpoint_eq(&old, addr))
		log_notice("peer %s: endpoint %s now resolves to %s (was %s)", pe->name, text,
			   wg_endpoint_format(addr, now_s), wg_endpoint_format(&old, was_s));
	if (entry != pe->cur) {
		settle(eps, pe);
		return;
	}
	p = wg_engine_find_peer_by_name(eps->engine, pe->name);
	if (!p || wg_endpoint_eq(&p->endpoint, addr))
		return;
	if (p->endpoint.addr.sa.sa_family == AF_UNSPEC || force ||
	    (known && wg_endpoint_eq(&p->endpoint, &old))) {
		/* A new address gets its own retry periods before failover (reset first: the
		 * handshake setting it may start counts already). */
		pe->failover.unanswered = 0;
		set_engine_endpoint(eps, p, addr);
	}
}

static void on_answer(void *ctx, const struct vpnd_resolved *res)
{
	struct vpnd_endpoints *eps = ctx;
	unsigned peer = (unsigned)(res->id & 0xffffffffu) >> 3, entry = res->id & 7;
	struct vpnd_peer_endpoints *pe;
	struct vpnd_endpoint_state *st;
	char text[VPND_ENDPOINT_TEXT_MAX];
	uint64_t now = mono_now(), wait;

	if ((uint32_t)(res->id >> 32) != eps->generation || peer >= eps->n_peers)
		return;
	pe = &eps->peers[peer];
	if (entry >= pe->n || pe->list[entry].lookup_id != res->id)
		return;
	st = &pe->list[entry];
	st->lookup_id = 0;
	if (!res->gai_error) {
		st->failures = 0;
		st->lookup_at = eps->refresh_ns ? now + eps->refresh_ns : 0;
		apply_answer(eps, pe, entry, &res->addr);
		rearm(eps);
		return;
	}
	/* A failed lookup keeps the address there was: DNS trouble is no reason to lose a
	 * tunnel. A name without one is tried again soon, doubling the wait; one with an
	 * address waits for its next refresh (or for failing handshakes), but no longer
	 * than that doubling would. */
	st->failures++;
	wait = st->failures >= 7 ? RETRY_MAX_NS : WG_NSEC_PER_SEC << (st->failures - 1);
	if (st->addr.addr.sa.sa_family != AF_UNSPEC && (!eps->refresh_ns || eps->refresh_ns < wait))
		wait = eps->refresh_ns;
	st->lookup_at = wait ? now + wait : 0;
	vpnd_endpoint_text(&st->entry, text);
	if (st->failures == 1 && st->addr.addr.sa.sa_family == AF_UNSPEC)
		log_warn("peer %s: endpoint %s does not resolve (%s); the peer waits for it, "
			 "looking it up again from time to time",
			 pe->name, text, vpnd_resolved_strerror(res));
	else if (st->failures == 1)
		log_warn("peer %s: endpoint %s does not resolve now (%s); keeping %s", pe->name,
			 text, vpnd_resolved_strerror(res),
			 wg_endpoint_format(&st->addr, (char[WG_ENDPOINT_STRLEN]){0}));
	settle(eps, pe);
	rearm(eps);
}

/* ---- failover ------------------------------------------------------------------------- */

static void fail_over(struct vpnd_endpoints *eps, unsigned peer)
{
	struct vpnd_peer_endpoints *pe = &eps->peers[peer];
	char from[VPND_ENDPOINT_TEXT_MAX], to[VPND_ENDPOINT_TEXT_MAX], addr[WG_ENDPOINT_STRLEN];
	bool usable[VPND_MAX_ENDPOINTS];
	unsigned next;
	struct wg_peer *p;

	for (unsigned j = 0; j < pe->n; j++)
		usable[j] = pe->list[j].addr.addr.sa.sa_family != AF_UNSPEC;
	next = vpnd_failover_next(usable, pe->n, pe->cur);
	p = wg_engine_find_peer_by_name(eps->engine, pe->name);
	if (next == pe->cur || !p) {
		/* Nowhere else to go: perhaps the name has moved. */
		recheck(eps, peer);
		return;
	}
	vpnd_endpoint_text(&pe->list[pe->cur].entry, from);
	vpnd_endpoint_text(&pe->list[next].entry, to);
	wg_endpoint_format(&pe->list[next].addr, addr);
	log_warn("peer %s: no handshake answered over %s for %d seconds: trying %s%s%s%s", pe->name,
		 from, 2 * WG_REKEY_TIMEOUT, to, pe->list[next].entry.numeric ? "" : " (",
		 pe->list[next].entry.numeric ? "" : addr, pe->list[next].entry.numeric ? "" : ")");
	vpnd_audit_event("endpoint-failover", VPND_AUDIT_STR("peer", pe->name),
			 VPND_AUDIT_STR("from", from), VPND_AUDIT_STR("to", to),
			 VPND_AUDIT_STR("address", addr));
	pe->cur = next;
	set_engine_endpoint(eps, p, &pe->list[next].addr);
	/* The one left behind may come back at another address by the time we return. */
	lookup_names(eps, peer, false);
}

void vpnd_endpoints_run(struct vpnd_endpoints *eps, uint64_t now)
{
	for (unsigned i = 0; i < eps->n_peers; i++) {
		struct vpnd_peer_endpoints *pe = &eps->peers[i];

		switch (vpnd_failover_check(&pe->failover, now)) {
		case VPND_FAILOVER_NONE:
			break;
		case VPND_FAILOVER_RESOLVE:
			recheck(eps, i);
			break;
		case VPND_FAILOVER_NEXT:
			fail_over(eps, i);
			break;
		}
		for (unsigned j = 0; j < pe->n; j++)
			if (pe->list[j].lookup_at && pe->list[j].lookup_at <= now)
				start_lookup(eps, i, j, false);
	}
	rearm(eps);
}

static void on_timer(struct vpnd_event_source *src, uint32_t events)
{
	struct vpnd_endpoints *eps = (struct vpnd_endpoints *)src;
	uint64_t expirations;
	(void)events;

	while (read(src->fd, &expirations, sizeof(expirations)) > 0)
		;
	eps->timer_armed = 0;
	vpnd_endpoints_run(eps, mono_now());
}

void vpnd_endpoints_note_event(struct vpnd_endpoints *eps, enum wg_event ev,
			       const struct wg_peer *p, uint64_t now_ns)
{
	struct vpnd_peer_endpoints *pe;

	if (!eps || !p)
		return;
	if (ev != WG_EVENT_HANDSHAKE_INITIATED && ev != WG_EVENT_HANDSHAKE_COMPLETE)
		return;
	pe = find_mut(eps, p->name);
	if (!pe)
		return;
	if (ev == WG_EVENT_HANDSHAKE_COMPLETE) {
		vpnd_failover_completed(&pe->failover);
		return;
	}
	vpnd_failover_initiated(&pe->failover, now_ns);
	if (!eps->timer_armed || pe->failover.check_at < eps->timer_armed)
		rearm(eps);
}

/* ---- configuration -------------------------------------------------------------------- */

static void free_peer(struct vpnd_peer_endpoints *pe)
{
	free(pe->spec);
	free(pe->list);
}

static const struct vpnd_peer_endpoints *old_state(const struct vpnd_endpoints *eps,
						   const struct vpnd_peer_conf *pc)
{
	for (unsigned i = 0; i < eps->n_peers; i++)
		if (sodium_memcmp(eps->peers[i].public_key, pc->public_key, 32) == 0)
			return &eps->peers[i];
	return NULL;
}

/* The peer's state under cfg: the old one when its list is the same, else a new one. */
static int build_peer(const struct vpnd_endpoints *eps, const struct vpnd_peer_conf *pc,
		      struct vpnd_peer_endpoints *pe, uint64_t now)
{
	const struct vpnd_peer_endpoints *old = old_state(eps, pc);

	memset(pe, 0, sizeof(*pe));
	snprintf(pe->name, sizeof(pe->name), "%s", pc->name);
	memcpy(pe->public_key, pc->public_key, 32);
	pe->spec = strdup(pc->endpoint_spec);
	pe->list = calloc(pc->n_endpoints, sizeof(*pe->list));
	if (!pe->spec || !pe->list) {
		free_peer(pe);
		return -ENOMEM;
	}
	pe->n = pc->n_endpoints;
	if (old && old->n == pe->n && strcmp(old->spec, pe->spec) == 0) {
		memcpy(pe->list, old->list, pe->n * sizeof(*pe->list));
		pe->cur = old->cur;
		pe->failover = old->failover;
		/* Lookups in flight belong to the old list: ask again. */
		for (unsigned j = 0; j < pe->n; j++) {
			if (pe->list[j].lookup_id) {
				pe->list[j].lookup_id = 0;
				pe->list[j].lookup_at = now;
			}
		}
		return 0;
	}
	for (unsigned j = 0; j < pe->n; j++) {
		struct vpnd_endpoint_state *st = &pe->list[j];

		st->entry = pc->endpoints[j];
		st->addr = st->entry.addr;
		if (!st->entry.numeric) {
			st->addr.addr.sa.sa_family = AF_UNSPEC;
			st->lookup_at = now;
			/* A configured name is where the peer is, until it says otherwise: its
			 * first answer replaces an endpoint the peer had (roamed to, remembered
			 * from the last run, or given by the list this one replaces). */
			st->force = true;
		}
	}
	return 0;
}

int vpnd_endpoints_configure(struct vpnd_endpoints *eps, const struct vpnd_config *cfg,
			     uint64_t now)
{
	struct vpnd_peer_endpoints *peers;
	unsigned n = 0;

	if (!eps)
		return 0;
	peers = calloc(cfg->n_peers ? cfg->n_peers : 1, sizeof(*peers));
	if (!peers)
		return -ENOMEM;
	for (unsigned i = 0; i < cfg->n_peers; i++) {
		if (!cfg->peers[i].n_endpoints)
			continue;
		if (build_peer(eps, &cfg->peers[i], &peers[n], now) < 0) {
			while (n)
				free_peer(&peers[--n]);
			free(peers);
			return -ENOMEM;
		}
		n++;
	}
	for (unsigned i = 0; i < eps->n_peers; i++)
		free_peer(&eps->peers[i]);
	free(eps->peers);
	qsort(peers, n, sizeof(*peers), name_cmp);
	eps->peers = peers;
	eps->n_peers = n;
	eps->generation++;
	eps->refresh_ns = (uint64_t)cfg->endpoint_refresh * WG_NSEC_PER_SEC;

	for (unsigned i = 0; i < n; i++) {
		struct vpnd_peer_endpoints *pe = &peers[i];

		/* A peer (re)added without an address, while we know one, gets it now. */
		settle(eps, pe);
		/* A resolved name waits for its next refresh no longer than the (perhaps
		 * changed) interval; 0 plans none. */
		for (unsigned j = 0; j < pe->n; j++) {
			struct vpnd_endpoint_state *st = &pe->list[j];
			uint64_t due = eps->refresh_ns ? now + eps->refresh_ns : 0;

			if (st->entry.numeric || st->failures || st->lookup_id ||
			    st->addr.addr.sa.sa_family == AF_UNSPEC ||
			    (st->lookup_at && st->lookup_at <= now))
				continue;
			if (!due || !st->lookup_at || due < st->lookup_at)
				st->lookup_at = due;
		}
	}
	vpnd_endpoints_run(eps, now);
	return 0;
}

/* ---- life ----------------------------------------------------------------------------- */

struct vpnd_endpoints *vpnd_endpoints_new(int epfd, struct wg_engine *engine)
{
	struct vpnd_endpoints *eps = calloc(1, sizeof(*eps));
	int fd, ret;

	if (!eps)
		return NULL;
	eps->epfd = epfd;
	eps->engine = engine;
	eps->resolver = vpnd_resolver_new(epfd, on_answer, eps);
	if (!eps->resolver) {
		ret = errno;
		free(eps);
		errno = ret;
		return NULL;
	}
	fd = timerfd_create(CLOCK_BOOTTIME, TFD_NONBLOCK | TFD_CLOEXEC);
	eps->timer_src.fd = fd;
	eps->timer_src.handler = on_timer;
	if (fd < 0 || (ret = vpnd_event_add(epfd, &eps->timer_src, EPOLLIN)) < 0) {
		ret = fd < 0 ? errno : -ret;
		if (fd >= 0)
			close(fd);
		vpnd_resolver_free(eps->resolver);
		free(eps);
		errno = ret;
		return NULL;
	}
	return eps;
}

void vpnd_endpoints_free(struct vpnd_endpoints *eps)
{
	if (!eps)
		return;
	vpnd_resolver_free(eps->resolver);
	vpnd_event_del(eps->epfd, &eps->timer_src);
	close(eps->timer_src.fd);
	for (unsigned i = 0; i < eps->n_peers; i++)
		free_peer(&eps->peers[i]);
	free(eps->peers);
	free(eps);
}
