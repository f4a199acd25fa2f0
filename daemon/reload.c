/* Live reload: read the config again, refuse it whole if anything is wrong, otherwise
 * apply only the difference so that unchanged peers keep their sessions. Also the
 * bookkeeping of routes and addresses on the TUN, shared with startup and shutdown. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <sodium.h>

#include "audit_events.h"
#include "log.h"
#include "notify.h"
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

/* The network an interface address implies: the kernel already routes it on the TUN. */
static void connected_prefix(const struct vpnd_address *a, struct vpnd_prefix *out)
{
	unsigned bytes = a->family == AF_INET ? 4 : 16;

	memset(out, 0, sizeof(*out));
	out->family = a->family;
	out->len = a->prefixlen;
	memcpy(out->addr, a->addr, bytes);
	for (unsigned bit = a->prefixlen; bit < bytes * 8; bit++)
		out->addr[bit / 8] &= (uint8_t)~(0x80 >> (bit % 8));
}

int vpnd_prefixes_from_config(const struct vpnd_config *c, struct vpnd_prefix_set *routes,
			      struct vpnd_prefix_set *addresses)
{
	struct vpnd_prefix_set connected = {0};
	struct vpnd_prefix p;
	int ret = 0;

	for (unsigned i = 0; i < c->n_addresses && !ret; i++) {
		memset(&p, 0, sizeof(p));
		p.family = c->addresses[i].family;
		p.len = c->addresses[i].prefixlen;
		memcpy(p.addr, c->addresses[i].addr, 16);
		ret = vpnd_prefix_set_add(addresses, &p);
		connected_prefix(&c->addresses[i], &p);
		if (!ret)
			ret = vpnd_prefix_set_add(&connected, &p);
	}
	for (unsigned i = 0; i < c->n_peers && !ret; i++) {
		const struct vpnd_peer_conf *pc = &c->peers[i];
		for (unsigned j = 0; j < pc->n_allowed_ips && !ret; j++) {
			memset(&p, 0, sizeof(p));
			p.family = pc->allowed_ips[j].family;
			p.len = pc->allowed_ips[j].cidr;
			memcpy(p.addr, pc->allowed_ips[j].addr, 16);
			/* Replacing the kernel's own connected route would lose its
			 * preferred source address; it already points at the TUN. */
			if (!vpnd_prefix_set_has(&connected, &p))
				ret = vpnd_prefix_set_add(routes, &p);
		}
	}
	vpnd_prefix_set_free(&connected);
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

	/* Removals first, so a prefix that moves between forms never collides. */
	for (unsigned i = 0; i < have->count;) {
		struct vpnd_prefix *p = &have->items[i];
		if (vpnd_prefix_set_has(want, p)) {
			i++;
			continue;
		}
		ret = routes ? vpnd_netlink_route(rt->nl, rt->ifindex, false, p->family, p->addr,
						  p->len)
			     : vpnd_netlink_address(rt->nl, rt->ifindex, false, p->family,
						    p->addr, p->len);
		if (ret < 0)
			log_warn("%s: removing %s %s: %s", rt->ifname, what, prefix_str(p, buf),
				 strerror(-ret));
		have->items[i] = have->items[--have->count];
	}
	for (unsigned i = 0; i < want->count; i++) {
		const struct vpnd_prefix *p = &want->items[i];
		if (vpnd_prefix_set_has(have, p))
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
		if ((ret = vpnd_prefix_set_add(have, p)) < 0 && !first_err)
			first_err = ret;
	}
	return first_err;
}

static bool same_allowed_ips(const struct wg_peer *p, const struct vpnd_peer_conf *pc)
{
	if (p->n_allowed_ips != pc->n_allowed_ips)
		return false;
	for (unsigned i = 0; i < pc->n_allowed_ips; i++) {
		bool found = false;
		for (unsigned j = 0; j < p->n_allowed_ips && !found; j++)
			found = p->allowed_ips[j].family == pc->allowed_ips[i].family &&
				p->allowed_ips[j].cidr == pc->allowed_ips[i].cidr &&
				memcmp(p->allowed_ips[j].addr, pc->allowed_ips[i].addr, 16) == 0;
		if (!found)
			return false;
	}
	return true;
}

static const struct vpnd_peer_conf *find_conf_by_key(const struct vpnd_config *c,
						     const uint8_t key[32])
{
	for (unsigned i = 0; i < c->n_peers; i++)
		if (sodium_memcmp(c->peers[i].public_key, key, 32) == 0)
			return &c->peers[i];
	return NULL;
}

static bool same_endpoint_spec(const struct vpnd_peer_conf *a, const struct vpnd_peer_conf *b)
{
	if (!a || !a->endpoint_spec || !b->endpoint_spec)
		return (!a || !a->endpoint_spec) && !b->endpoint_spec;
	return strcmp(a->endpoint_spec, b->endpoint_spec) == 0 &&
	       wg_endpoint_eq(&a->endpoint, &b->endpoint);
}

/* Bring a running peer in line with its new configuration, touching its sessions only
 * when its identity (preshared key) changed. */
static int update_peer(struct vpnd_runtime *rt, struct wg_peer *p,
		       const struct vpnd_peer_conf *old, const struct vpnd_peer_conf *pc,
		       struct wg_time now, unsigned *changed)
{
	bool touched = false;
	int ret;

	if (strcmp(p->name, pc->name) != 0) {
		snprintf(p->name, sizeof(p->name), "%s", pc->name);
		touched = true;
	}
	if (!old || old->has_preshared_key != pc->has_preshared_key ||
	    sodium_memcmp(old->preshared_key, pc->preshared_key, 32) != 0) {
		wg_engine_peer_set_preshared_key(rt->engine, p,
						 pc->has_preshared_key ? pc->preshared_key : NULL);
		touched = true;
	}
	/* A roamed endpoint is the truth; only a changed configured one overrides it. */
	if (!same_endpoint_spec(old, pc) && pc->endpoint.addr.sa.sa_family != AF_UNSPEC) {
		wg_engine_peer_set_endpoint(rt->engine, p, &pc->endpoint);
		touched = true;
	}
	if (p->persistent_keepalive != pc->persistent_keepalive) {
		wg_engine_peer_set_keepalive(rt->engine, p, pc->persistent_keepalive, now);
		touched = true;
	}
	if (!same_allowed_ips(p, pc)) {
		ret = wg_engine_peer_set_allowed_ips(rt->engine, p, pc->allowed_ips,
						     pc->n_allowed_ips);
		if (ret < 0)
			return ret;
		touched = true;
	}
	*changed += touched;
	return 0;
}

/* metrics-listen: a changed address is served before the reload changes anything else,
 * so that one that cannot be served refuses the reload whole. 0 or -1. */
static int reload_metrics_listen(struct vpnd_runtime *rt, const struct vpnd_config *oc,
				 const struct vpnd_config *nc, struct vpnd_reply *r)
{
	int ret;

	if (!oc->metrics_listen == !nc->metrics_listen &&
	    (!nc->metrics_listen || strcmp(oc->metrics_listen, nc->metrics_listen) == 0))
		return 0;
	ret = vpnd_metrics_http_listen(rt->metrics, nc->metrics_listen ? &nc->metrics_addr : NULL);
	if (ret < 0) {
		vpnd_reply_error(r, "metrics-listen %s: cannot serve HTTP there: %s; running "
				    "configuration kept", nc->metrics_listen, strerror(-ret));
		log_err("reload refused: metrics-listen %s: %s", nc->metrics_listen, strerror(-ret));
		return -1;
	}
	if (nc->metrics_listen)
		log_notice("metrics-listen %s: serving GET /metrics (TCP port %u)",
			   nc->metrics_listen, (unsigned)vpnd_metrics_http_port(rt->metrics));
	else
		log_notice("metrics-listen removed: no longer serving metrics");
	return 0;
}

static int reload_apply(struct vpnd_runtime *rt, struct vpnd_reply *r)
{
	struct vpnd_config_errors errs = {0};
	struct vpnd_config *nc, *oc = rt->config;
	struct vpnd_prefix_set want_routes = {0}, want_addrs = {0};
	struct wg_engine_settings settings;
	struct wg_time now = vpnd_now();
	unsigned added = 0, removed = 0, changed = 0;
	struct wg_peer *p, *next;
	int ret;

	nc = vpnd_config_load(oc->path, &errs);
	if (!nc) {
		for (unsigned i = 0; i < errs.count; i++)
			vpnd_reply_error(r, "%s", errs.lines[i]);
		log_err("reload refused: %u problem%s in %s; running configuration kept",
			errs.count, errs.count == 1 ? "" : "s", oc->path);
		for (unsigned i = 0; i < errs.count; i++)
			log_err("%s", errs.lines[i]);
		vpnd_config_errors_free(&errs);
		return -1;
	}
	/* What cannot change without recreating the device is refused, not half-done. */
	if (strcmp(nc->interface, oc->interface) != 0 ||
	    strcmp(nc->control_socket, oc->control_socket) != 0 ||
	    nc->listen_port != oc->listen_port) {
		vpnd_reply_error(r, "%s: interface, control-socket and listen-port need a restart "
				    "to change; running configuration kept", nc->path);
		log_err("reload refused: interface, control-socket or listen-port changed");
		vpnd_config_free(nc);
		return -1;
	}
	if (vpnd_prefixes_from_config(nc, &want_routes, &want_addrs) < 0) {
		vpnd_reply_error(r, "out of memory");
		ret = -1;
		goto out;
	}
	if ((ret = reload_metrics_listen(rt, oc, nc, r)) < 0)
		goto out;

	if (sodium_memcmp(nc->private_key, oc->private_key, 32) != 0) {
		wg_engine_set_private_key(rt->engine, nc->private_key);
		log_notice("private key changed: all sessions restart");
	}
	settings = (struct wg_engine_settings){.rekey_after_time = nc->rekey_after_time,
					       .mtu = nc->mtu};
	wg_engine_update_settings(rt->engine, &settings);
	if (nc->mtu != oc->mtu && (ret = vpnd_netlink_set_mtu(rt->nl, rt->ifindex, nc->mtu)) < 0)
		log_err("%s: setting MTU %u: %s", rt->ifname, nc->mtu, strerror(-ret));

	/* Peers are identified by public key: a renamed peer keeps its sessions. */
	for (p = wg_engine_peers(rt->engine); p; p = next) {
		next = p->next;
		if (!find_conf_by_key(nc, p->handshake.remote_static)) {
			log_info("peer %s removed", p->name);
			vpnd_audit_peer("peer-removed", p->name, p->handshake.remote_static);
			wg_engine_remove_peer(rt->engine, p);
			removed++;
		}
	}
	for (unsigned i = 0; i < nc->n_peers; i++) {
		const struct vpnd_peer_conf *pc = &nc->peers[i];
		p = wg_engine_find_peer(rt->engine, pc->public_key);
		if (p) {
			ret = update_peer(rt, p, find_conf_by_key(oc, pc->public_key), pc, now,
					  &changed);
		} else {
			ret = vpnd_runtime_add_peer(rt, pc, now);
			if (!ret) {
				log_info("peer %s added", pc->name);
				added++;
			}
		}
		if (ret < 0)
			log_err("peer %s: %s", pc->name, strerror(-ret));
	}
	vpnd_runtime_sync_prefixes(rt, &rt->addresses, &want_addrs, false);
	vpnd_runtime_sync_prefixes(rt, &rt->routes, &want_routes, true);

	rt->config = nc;
	vpnd_config_free(oc);
	vpnd_reply_printf(r, "reload applied: %u peer%s added, %u removed, %u changed\n", added,
			  added == 1 ? "" : "s", removed, changed);
	log_notice("reload applied from %s: %u added, %u removed, %u changed", nc->path, added,
		   removed, changed);
	ret = 0;
out:
	vpnd_prefix_set_free(&want_routes);
	vpnd_prefix_set_free(&want_addrs);
	if (ret < 0)
		vpnd_config_free(nc);
	return ret;
}

/* The service manager sees the reload begin and end, whatever its outcome, so that
 * `systemctl reload` waits for it and `systemctl status` tells which it was. */
int vpnd_runtime_reload(struct vpnd_runtime *rt, struct vpnd_reply *r)
{
	int ret;

	vpnd_notify_reloading();
	ret = reload_apply(rt, r);
	vpnd_audit_reloaded(rt->config, ret == 0, r);
	if (ret == 0)
		vpnd_notify_ready("%s: reload applied, %u peer%s", rt->ifname, rt->config->n_peers,
				  rt->config->n_peers == 1 ? "" : "s");
	else
		vpnd_notify_ready("%s: reload refused, running configuration kept", rt->ifname);
	return ret;
}
