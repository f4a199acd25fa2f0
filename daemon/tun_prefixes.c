/* The routes and addresses vpnd puts on its TUN device: what the configuration (or the
 * engine's peers, after runtime changes) asks for, and bringing the kernel in line with
 * that, removing exactly what vpnd installed. Startup, reload, shutdown and the runtime
 * peer commands all go through here. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include "log.h"
#include "prefix_hash.h"
#include "runtime.h"

static bool prefix_eq(const struct vpnd_prefix *a, const struct vpnd_prefix *b)
{
	return a->family == b->family && a->len == b->len &&
	       memcmp(a->addr, b->addr, a->family == AF_INET ? 4 : 16) == 0;
}

bool vpnd_prefix_set_has(const struct vpnd_prefix_set *s, const struct vpnd_prefix *p)
{
	for (unsigned i = 0; i < s->count; i++)
		if (prefix_eq(&s->items[i], p))
			return true;
	return false;
}

int vpnd_prefix_set_add(struct vpnd_prefix_set *s, const struct vpnd_prefix *p)
{
	struct vpnd_prefix *grown;

	if (vpnd_prefix_set_has(s, p))
		return 0;
	grown = realloc(s->items, (s->count + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	s->items = grown;
	s->items[s->count++] = *p;
	return 0;
}

int vpnd_prefix_set_copy(struct vpnd_prefix_set *dst, const struct vpnd_prefix_set *src)
{
	*dst = (struct vpnd_prefix_set){0};
	if (!src->count)
		return 0;
	dst->items = malloc(src->count * sizeof(*dst->items));
	if (!dst->items)
		return -ENOMEM;
	memcpy(dst->items, src->items, src->count * sizeof(*dst->items));
	dst->count = src->count;
	return 0;
}

/* The network an interface address implies: the kernel already routes it on the TUN. */
static void connected_prefix(const struct vpnd_address *a, struct vpnd_prefix *out)
{
	unsigned bytes = a->family == AF_INET ? 4 : 16;

	memset(out, 0, sizeof(*out));
	out->family = a->family;
	out->len = a->prefixlen;
	memcpy(out->addr, a->addr, bytes);
	for (unsigned bit = a->prefixlen; bit < bytes * 8; bit++)
		out->addr[bit / 8] &= (uint8_t) ~(0x80 >> (bit % 8));
}

static int connected_of(const struct vpnd_config *c, struct vpnd_prefix_set *connected,
			struct vpnd_prefix_set *addresses)
{
	struct vpnd_prefix p;
	int ret = 0;

	for (unsigned i = 0; i < c->n_addresses && !ret; i++) {
		if (addresses) {
			memset(&p, 0, sizeof(p));
			p.family = c->addresses[i].family;
			p.len = c->addresses[i].prefixlen;
			memcpy(p.addr, c->addresses[i].addr, 16);
			ret = vpnd_prefix_set_add(addresses, &p);
		}
		connected_prefix(&c->addresses[i], &p);
		if (!ret)
			ret = vpnd_prefix_set_add(connected, &p);
	}
	return ret;
}

/* A route for ip unless the kernel's own connected route covers exactly it: replacing
 * that one would lose its preferred source address, and it already points at the TUN.
 * seen holds the routes so far, so that 10,000 peers' routes are not each compared with
 * all the others; NULL (no memory for it) searches the set itself. */
static int add_route(struct vpnd_prefix_set *routes, struct vpnd_prefix_hash *seen,
		     const struct vpnd_prefix_set *connected, const struct wg_allowed_ip *ip)
{
	struct vpnd_prefix p;
	int ret;

	memset(&p, 0, sizeof(p));
	p.family = ip->family;
	p.len = ip->cidr;
	memcpy(p.addr, ip->addr, ip->family == AF_INET ? 4 : 16);
	if (vpnd_prefix_set_has(connected, &p))
		return 0;
	if (!seen)
		return vpnd_prefix_set_add(routes, &p);
	ret = vpnd_prefix_hash_insert(seen, &p);
	return ret <= 0 ? ret : vpnd_prefix_set_append(routes, &p);
}

int vpnd_prefixes_from_config(const struct vpnd_config *c, struct vpnd_prefix_set *routes,
			      struct vpnd_prefix_set *addresses)
{
	struct vpnd_prefix_set connected = {0};
	struct vpnd_prefix_hash seen;
	int ret = connected_of(c, &connected, addresses);
	bool fast = vpnd_prefix_hash_of_set(&seen, routes) == 0;

	for (unsigned i = 0; i < c->n_peers && !ret; i++) {
		const struct vpnd_peer_conf *pc = &c->peers[i];
		for (unsigned j = 0; j < pc->n_allowed_ips && !ret; j++)
			ret =
			    add_route(routes, fast ? &seen : NULL, &connected, &pc->allowed_ips[j]);
	}
	vpnd_prefix_hash_free(&seen);
	vpnd_prefix_set_free(&connected);
	return ret;
}

int vpnd_routes_from_engine(const struct vpnd_runtime *rt, struct vpnd_prefix_set *routes)
{
	struct vpnd_prefix_set connected = {0};
	struct vpnd_prefix_hash seen;
	int ret = connected_of(rt->config, &connected, NULL);
	bool fast = vpnd_prefix_hash_of_set(&seen, routes) == 0;

	for (const struct wg_peer *p = wg_engine_peers(rt->engine); p && !ret; p = p->next)
		for (unsigned j = 0; j < p->n_allowed_ips && !ret; j++)
			ret =
			    add_route(routes, fast ? &seen : NULL, &connected, &p->allowed_ips[j]);
	vpnd_prefix_hash_free(&seen);
	vpnd_prefix_set_free(&connected);
	return ret;
}

int vpnd_runtime_sync_routes(struct vpnd_runtime *rt)
{
	struct vpnd_prefix_set want = {0};
	int ret = vpnd_routes_from_engine(rt, &want);

	if (ret == 0)
		ret = vpnd_runtime_sync_prefixes(rt, &rt->routes, &want, true);
	vpnd_prefix_set_free(&want);
	return ret;
}

static const char *prefix_str(const struct vpnd_prefix *p, char buf[INET6_ADDRSTRLEN + 5])
{
	char ip[INET6_ADDRSTRLEN];

	inet_ntop(p->family, p->addr, ip, sizeof(ip));
	snprintf(buf, INET6_ADDRSTRLEN + 5, "%s/%u", ip, p->len);
	return buf;
}

int vpnd_runtime_sync_prefixes(struct vpnd_runtime *rt, struct vpnd_prefix_set *have,
			       const struct vpnd_prefix_set *want, bool routes)
{
	const char *what = routes ? "route" : "address";
	char buf[INET6_ADDRSTRLEN + 5];
	int ret, first_err = 0;
	/* Membership by hash, not by walking the sets: 10,000 routes each way. have_h is
	 * `have` as it was: what loop two skips is what was there and is still wanted. */
	struct vpnd_prefix_hash want_h = {0}, have_h = {0};
	bool fast = vpnd_prefix_hash_of_set(&want_h, want) == 0 &&
		    vpnd_prefix_hash_of_set(&have_h, have) == 0;

	/* Removals first, so a prefix that moves between forms never collides. */
	for (unsigned i = 0; i < have->count;) {
		struct vpnd_prefix *p = &have->items[i];
		if (fast ? vpnd_prefix_hash_has(&want_h, p) : vpnd_prefix_set_has(want, p)) {
			i++;
			continue;
		}
		ret = routes ? vpnd_netlink_route(rt->nl, rt->ifindex, false, p->family, p->addr,
						  p->len)
			     : vpnd_netlink_address(rt->nl, rt->ifindex, false, p->family, p->addr,
						    p->len);
		if (ret < 0)
			log_warn("%s: removing %s %s: %s", rt->ifname, what, prefix_str(p, buf),
				 strerror(-ret));
		have->items[i] = have->items[--have->count];
	}
	for (unsigned i = 0; i < want->count; i++) {
		const struct vpnd_prefix *p = &want->items[i];
		if (fast ? vpnd_prefix_hash_has(&have_h, p) : vpnd_prefix_set_has(have, p))
			continue;
		ret = routes ? vpnd_netlink_route(rt->nl, rt->ifindex, true, p->family, p->addr,
						  p->len)
			     : vpnd_netlink_address(rt->nl, rt->ifindex, true, p->family, p->addr,
						    p->len);
		if (ret < 0) {
			log_err("%s: adding %s %s: %s", rt->ifname, what, prefix_str(p, buf),
				strerror(-ret));
			if (!first_err)
				first_err = ret;
			continue;
		}
		ret = fast ? vpnd_prefix_set_append(have, p) : vpnd_prefix_set_add(have, p);
		if (ret < 0 && !first_err)
			first_err = ret;
	}
	vpnd_prefix_hash_free(&want_h);
	vpnd_prefix_hash_free(&have_h);
	return first_err;
}
