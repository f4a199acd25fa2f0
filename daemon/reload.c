/* Live reload: read the config again, refuse it whole if anything is wrong, otherwise
 * apply only the difference so that unchanged peers keep their sessions.
 *
 * The order is what makes "refused" mean "nothing changed": first everything that can
 * still fail (the listen port, the MTU, the addresses, the metrics listener), each undone
 * when a later one fails; then what cannot fail for a config that loaded (keys, peers,
 * routes), which is only logged if the kernel or memory lets it down. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "audit_events.h"
#include "endpoints.h"
#include "key_index.h"
#include "log.h"
#include "notify.h"
#include "runtime.h"

/* What the first phase changed, so that a refusal can put it back. */
struct undo {
	struct wg_udp old_udp; /* the sockets before a listen-port change; fd -1: none */
	bool udp_moved;
	bool mtu_set;
	bool addresses_set;
	struct vpnd_prefix_set old_addresses;
};

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

/* Matching thousands of peers pair by pair is quadratic (10,000 took over 10 s): look keys
 * up in a sorted index, or walk as above when there was no memory for one. */
static const struct vpnd_peer_conf *conf_by_key(const struct vpnd_key_index *idx,
						const struct vpnd_config *c, const uint8_t key[32])
{
	return idx->ready ? vpnd_key_index_find(idx, key) : find_conf_by_key(c, key);
}

static bool same_endpoint_spec(const struct vpnd_peer_conf *a, const struct vpnd_peer_conf *b)
{
	if (!a || !a->endpoint_spec || !b->endpoint_spec)
		return (!a || !a->endpoint_spec) && !b->endpoint_spec;
	return strcmp(a->endpoint_spec, b->endpoint_spec) == 0 &&
	       wg_endpoint_eq(&a->endpoint, &b->endpoint);
}

/* The engine's preshared key is the truth: `vpnctl peer add` or the UAPI may have set
 * another one than the applied file's. All zeros is none. */
static bool same_preshared_key(const struct wg_peer *p, const struct vpnd_peer_conf *pc)
{
	static const uint8_t none[32];

	return sodium_memcmp(p->handshake.preshared_key,
			     pc->has_preshared_key ? pc->preshared_key : none, 32) == 0;
}

/* Bring a running peer in line with its new configuration, touching its sessions only
 * when its identity (preshared key) changed. */
static int update_peer(struct vpnd_runtime *rt, struct wg_peer *p, const struct vpnd_peer_conf *old,
		       const struct vpnd_peer_conf *pc, struct wg_time now, unsigned *changed)
{
	bool touched = false;
	int ret;

	if (strcmp(p->name, pc->name) != 0) {
		snprintf(p->name, sizeof(p->name), "%s", pc->name);
		touched = true;
	}
	if (!same_preshared_key(p, pc)) {
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
	/* Key rotation: a next key added, changed or withdrawn; sessions are kept. */
	if (p->has_next_key != pc->has_next_public_key ||
	    (pc->has_next_public_key && sodium_memcmp(p->next_key, pc->next_public_key, 32) != 0)) {
		ret = wg_engine_peer_set_next_key(
		    rt->engine, p, pc->has_next_public_key ? pc->next_public_key : NULL);
		if (ret < 0)
			return ret;
		touched = true;
	}
	*changed += touched;
	return 0;
}

/* metrics-listen: a changed address is served before the reload changes what cannot be
 * undone, so that one that cannot be served refuses the reload whole. 0 or -1. */
static int reload_metrics_listen(struct vpnd_runtime *rt, const struct vpnd_config *oc,
				 const struct vpnd_config *nc, struct vpnd_reply *r)
{
	int ret;

	if (!oc->metrics_listen == !nc->metrics_listen &&
	    (!nc->metrics_listen || strcmp(oc->metrics_listen, nc->metrics_listen) == 0))
		return 0;
	ret = vpnd_metrics_http_listen(rt->metrics, nc->metrics_listen ? &nc->metrics_addr : NULL);
	if (ret < 0) {
		vpnd_reply_error(r,
				 "metrics-listen %s: cannot serve HTTP there: %s; running "
				 "configuration kept",
				 nc->metrics_listen, strerror(-ret));
		log_err("reload refused: metrics-listen %s: %s", nc->metrics_listen,
			strerror(-ret));
		return -1;
	}
	if (nc->metrics_listen)
		log_notice("metrics-listen %s: serving GET /metrics (TCP port %u)",
			   nc->metrics_listen, (unsigned)vpnd_metrics_http_port(rt->metrics));
	else
		log_notice("metrics-listen removed: no longer serving metrics");
	return 0;
}

/* The new sockets are bound before the old ones are let go: a port that cannot be had
 * refuses the reload and the tunnel keeps listening where it did. 0 or -1. */
static int reload_listen_port(struct vpnd_runtime *rt, const struct vpnd_config *oc,
			      const struct vpnd_config *nc, struct undo *u, struct vpnd_reply *r)
{
	int ret;

	if (nc->listen_port == oc->listen_port)
		return 0;
	ret = vpnd_runtime_udp_move(rt, nc->listen_port, &u->old_udp);
	if (ret < 0) {
		vpnd_reply_error(r,
				 "%s: listen-port %u: cannot bind that UDP port: %s; still "
				 "listening on %u, running configuration kept",
				 nc->path, nc->listen_port, strerror(-ret), oc->listen_port);
		log_err("reload refused: listen-port %u: %s", nc->listen_port, strerror(-ret));
		return -1;
	}
	u->udp_moved = true;
	log_notice("listen-port %u: now listening on UDP port %u (was %u)", nc->listen_port,
		   rt->udp.port, u->old_udp.port);
	return 0;
}

static int reload_mtu(struct vpnd_runtime *rt, const struct vpnd_config *oc,
		      const struct vpnd_config *nc, struct undo *u, struct vpnd_reply *r)
{
	int ret;

	if (nc->mtu == oc->mtu)
		return 0;
	ret = vpnd_netlink_set_mtu(rt->nl, rt->ifindex, nc->mtu);
	if (ret < 0) {
		vpnd_reply_error(r,
				 "%s: mtu %u: the kernel refused it for %s: %s; running "
				 "configuration kept",
				 nc->path, nc->mtu, rt->ifname, strerror(-ret));
		log_err("reload refused: %s: setting MTU %u: %s", rt->ifname, nc->mtu,
			strerror(-ret));
		return -1;
	}
	u->mtu_set = true;
	log_notice("%s: MTU %u (was %u)", rt->ifname, nc->mtu, oc->mtu);
	return 0;
}

static int reload_addresses(struct vpnd_runtime *rt, const struct vpnd_config *nc,
			    const struct vpnd_prefix_set *want, struct undo *u,
			    struct vpnd_reply *r)
{
	int ret;

	if (vpnd_prefix_set_copy(&u->old_addresses, &rt->addresses) < 0) {
		vpnd_reply_error(r, "out of memory; running configuration kept");
		return -1;
	}
	u->addresses_set = true;
	ret = vpnd_runtime_sync_prefixes(rt, &rt->addresses, want, false);
	if (ret < 0) {
		vpnd_reply_error(r,
				 "%s: address: the kernel refused an address for %s: %s (see "
				 "the log); running configuration kept",
				 nc->path, rt->ifname, strerror(-ret));
		log_err("reload refused: addresses of %s could not all be set", rt->ifname);
		return -1;
	}
	return 0;
}

/* A refusal after the first phase began: put back what it changed. */
static void undo(struct vpnd_runtime *rt, const struct vpnd_config *oc, struct undo *u)
{
	if (u->addresses_set)
		vpnd_runtime_sync_prefixes(rt, &rt->addresses, &u->old_addresses, false);
	if (u->mtu_set)
		vpnd_netlink_set_mtu(rt->nl, rt->ifindex, oc->mtu);
	if (u->udp_moved)
		vpnd_runtime_udp_restore(rt, &u->old_udp);
	u->addresses_set = u->mtu_set = u->udp_moved = false;
}

static void reload_peers(struct vpnd_runtime *rt, const struct vpnd_config *oc,
			 const struct vpnd_config *nc, struct vpnd_reply *r)
{
	unsigned added = 0, removed = 0, changed = 0;
	struct wg_time now = vpnd_now();
	struct vpnd_key_index nidx, oidx;
	struct wg_peer *p, *next;
	int ret;

	vpnd_key_index_config(&nidx, nc);
	vpnd_key_index_config(&oidx, oc);
	/* Peers are identified by public key: a renamed peer keeps its sessions. */
	for (p = wg_engine_peers(rt->engine); p; p = next) {
		next = p->next;
		if (!conf_by_key(&nidx, nc, p->handshake.remote_static)) {
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
			ret = update_peer(rt, p, conf_by_key(&oidx, oc, pc->public_key), pc, now,
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
	vpnd_key_index_free(&nidx);
	vpnd_key_index_free(&oidx);
	vpnd_reply_printf(r, "reload applied: %u peer%s added, %u removed, %u changed\n", added,
			  added == 1 ? "" : "s", removed, changed);
	log_notice("reload applied from %s: %u added, %u removed, %u changed", nc->path, added,
		   removed, changed);
}

static int reload_apply(struct vpnd_runtime *rt, struct vpnd_reply *r)
{
	struct vpnd_config_errors errs = {0};
	struct vpnd_config *nc, *oc = rt->config;
	struct vpnd_prefix_set want_routes = {0}, want_addrs = {0};
	struct undo u = {.old_udp = {.fd4 = -1, .fd6 = -1}};
	struct wg_engine_settings settings;
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
	    strcmp(nc->control_socket, oc->control_socket) != 0) {
		vpnd_reply_error(r,
				 "%s: interface and control-socket need a restart to change; "
				 "running configuration kept",
				 nc->path);
		log_err("reload refused: interface or control-socket changed");
		vpnd_config_free(nc);
		return -1;
	}
	/* The revocation list is read again; rotated keys go into nc as at start. */
	if (vpnd_persistent_reload_begin(rt, nc, r) < 0) {
		vpnd_config_free(nc);
		return -1;
	}
	if (vpnd_prefixes_from_config(nc, &want_routes, &want_addrs) < 0) {
		vpnd_reply_error(r, "out of memory; running configuration kept");
		ret = -1;
		goto out;
	}

	/* Phase 1: what may fail, undone on a refusal. */
	if ((ret = reload_listen_port(rt, oc, nc, &u, r)) < 0 ||
	    (ret = reload_mtu(rt, oc, nc, &u, r)) < 0 ||
	    (ret = reload_addresses(rt, nc, &want_addrs, &u, r)) < 0 ||
	    (ret = reload_metrics_listen(rt, oc, nc, r)) < 0) {
		undo(rt, oc, &u);
		goto out;
	}
	if (u.udp_moved)
		wg_udp_close(&u.old_udp);

	/* Phase 2: the engine and the routes follow the file. */
	if (sodium_memcmp(nc->private_key, oc->private_key, 32) != 0) {
		if ((ret = wg_engine_set_private_key(rt->engine, nc->private_key)) < 0)
			log_err("new private key not usable: %s", strerror(-ret));
		else
			log_notice("private key changed: all sessions restart");
	}
	settings =
	    (struct wg_engine_settings){.rekey_after_time = nc->rekey_after_time, .mtu = nc->mtu};
	wg_engine_update_settings(rt->engine, &settings);
	rt->dp.mtu = nc->mtu; /* the packet path cuts TUN super-packets to it */
	reload_peers(rt, oc, nc, r);
	if (vpnd_endpoints_configure(rt->endpoints, nc, vpnd_now().mono_ns) < 0)
		log_err("reload: out of memory: the peers' endpoint lists stay as they were");
	vpnd_runtime_sync_prefixes(rt, &rt->routes, &want_routes, true);
	/* The policy and what `local` is: replaced whole, counters of unchanged rules kept;
	 * out of memory keeps the old ones (logged). */
	vpnd_policy_guard_install(&rt->policy, rt->engine, nc);

	rt->config = nc;
	vpnd_config_free(oc);
	vpnd_persistent_reload_commit(rt);
	ret = 0;
out:
	vpnd_prefix_set_free(&u.old_addresses);
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
