/* Several engines on one in-memory underlay, datagrams routed by destination endpoint,
 * with a fake clock: the harness for the relay tests (a hub and its branches). Node i
 * sits at 192.0.2.(i+1):51820 and owns the LAN 10.i.0.0/24. Each node has a policy
 * callback that denies the pairs the test lists. */
#ifndef VPND_TESTS_ENGINE_MESH_H
#define VPND_TESTS_ENGINE_MESH_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/ip.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "tunnel/engine.h"
#include "tunnel/messages.h"

#define MESH_NODES 4
#define MESH_QUEUE 256
#define MESH_DENY  4

struct mesh_datagram {
	uint8_t buf[2048];
	size_t len;
	struct wg_endpoint to;
};

/* A denied direction: peer names, "local" for the local side. */
struct mesh_rule {
	const char *from, *to;
};

struct mesh_node {
	struct wg_engine *engine;
	struct wg_endpoint addr;
	uint8_t priv[32], pub[32];
	struct mesh_datagram out[MESH_QUEUE];
	unsigned n_out;
	struct mesh_datagram delivered[MESH_QUEUE];
	unsigned n_delivered;
	struct mesh_rule deny[MESH_DENY];
	unsigned n_deny;
	unsigned policy_calls;
	unsigned n_rotated;
};

struct mesh {
	struct mesh_node node[MESH_NODES];
	unsigned n;
	struct wg_time now;
};

static inline int mesh_send(void *ctx, const struct wg_endpoint *to, const uint8_t *buf, size_t len)
{
	struct mesh_node *n = ctx;

	if (len > sizeof(n->out[0].buf) || n->n_out == MESH_QUEUE)
		return -ENOBUFS;
	memcpy(n->out[n->n_out].buf, buf, len);
	n->out[n->n_out].len = len;
	n->out[n->n_out++].to = *to;
	return 0;
}

static inline void mesh_deliver(void *ctx, struct wg_peer *from, const uint8_t *pkt, size_t len)
{
	struct mesh_node *n = ctx;

	(void)from;
	if (n->n_delivered < MESH_QUEUE && len <= sizeof(n->delivered[0].buf)) {
		memcpy(n->delivered[n->n_delivered].buf, pkt, len);
		n->delivered[n->n_delivered++].len = len;
	}
}

static inline bool mesh_policy(void *ctx, const struct wg_peer *from, const struct wg_peer *to,
			       const uint8_t *pkt, size_t len)
{
	struct mesh_node *n = ctx;
	const char *to_name = to ? to->name : "local";

	(void)pkt;
	(void)len;
	n->policy_calls++;
	for (unsigned i = 0; i < n->n_deny; i++)
		if (strcmp(n->deny[i].from, from->name) == 0 && strcmp(n->deny[i].to, to_name) == 0)
			return false;
	return true;
}

static inline void mesh_event(void *ctx, enum wg_event ev, const struct wg_peer *p,
			      const char *detail)
{
	struct mesh_node *n = ctx;

	(void)p;
	(void)detail;
	if (ev == WG_EVENT_KEY_ROTATED)
		n->n_rotated++;
}

static inline void mesh_init(struct mesh *m, unsigned nodes)
{
	memset(m, 0, sizeof(*m));
	m->n = nodes;
	m->now.mono_ns = 1000 * WG_NSEC_PER_SEC;
	m->now.real_ns = 1700000000ULL * WG_NSEC_PER_SEC;
	for (unsigned i = 0; i < nodes; i++) {
		struct mesh_node *n = &m->node[i];
		struct wg_engine_io io = {.ctx = n,
					  .send_datagram = mesh_send,
					  .deliver_packet = mesh_deliver,
					  .event = mesh_event,
					  .policy_allows = mesh_policy};
		struct wg_engine_settings set = {.rekey_after_time = 120, .mtu = 1420};
		char ip[32];

		n->engine = wg_engine_new(&io, &set);
		assert_non_null(n->engine);
		randombytes_buf(n->priv, 32);
		n->priv[0] &= 248;
		n->priv[31] = (n->priv[31] & 127) | 64;
		assert_int_equal(wg_engine_set_private_key(n->engine, n->priv), 0);
		memcpy(n->pub, wg_engine_public_key(n->engine), 32);
		snprintf(ip, sizeof(ip), "192.0.2.%u", i + 1);
		n->addr.addr.in4.sin_family = AF_INET;
		n->addr.addr.in4.sin_port = htons(51820);
		inet_pton(AF_INET, ip, &n->addr.addr.in4.sin_addr);
	}
}

static inline void mesh_free(struct mesh *m)
{
	for (unsigned i = 0; i < m->n; i++)
		wg_engine_free(m->node[i].engine);
}

static inline void mesh_prefix(struct wg_allowed_ip *ip, const char *prefix, uint8_t cidr)
{
	memset(ip, 0, sizeof(*ip));
	ip->family = strchr(prefix, ':') ? AF_INET6 : AF_INET;
	ip->cidr = cidr;
	inet_pton(ip->family, prefix, ip->addr);
}

/* Node `at` gets node `other` as peer `name`, with up to eight allowed prefixes
 * ("10.2.0.0/24"), and its endpoint when `with_endpoint`. */
static inline struct wg_peer *mesh_link(struct mesh *m, unsigned at, unsigned other,
					const char *name, bool with_endpoint,
					const char *const *prefixes)
{
	struct wg_peer_config cfg = {.name = name};
	struct wg_allowed_ip ips[8];
	struct wg_peer *p;
	unsigned n = 0;

	memcpy(cfg.public_key, m->node[other].pub, 32);
	if (with_endpoint)
		cfg.endpoint = m->node[other].addr;
	p = wg_engine_add_peer(m->node[at].engine, &cfg, m->now);
	assert_non_null(p);
	for (; prefixes && prefixes[n] && n < 8; n++) {
		char buf[64];
		char *slash;

		snprintf(buf, sizeof(buf), "%s", prefixes[n]);
		slash = strchr(buf, '/');
		assert_non_null(slash);
		*slash = '\0';
		mesh_prefix(&ips[n], buf, (uint8_t)atoi(slash + 1));
	}
	assert_int_equal(wg_engine_peer_set_allowed_ips(m->node[at].engine, p, ips, n), 0);
	return p;
}

static inline struct mesh_node *mesh_node_at(struct mesh *m, const struct wg_endpoint *ep)
{
	for (unsigned i = 0; i < m->n; i++)
		if (wg_endpoint_eq(&m->node[i].addr, ep))
			return &m->node[i];
	return NULL;
}

/* Deliver everything in flight until every queue is empty; returns datagrams moved. */
static inline unsigned mesh_pump(struct mesh *m)
{
	unsigned moved = 0;

	for (int round = 0; round < 64; round++) {
		bool any = false;

		for (unsigned i = 0; i < m->n; i++) {
			struct mesh_node *src = &m->node[i];

			while (src->n_out) {
				struct mesh_datagram d = src->out[0];
				struct mesh_node *dst = mesh_node_at(m, &d.to);

				memmove(&src->out[0], &src->out[1],
					(src->n_out - 1) * sizeof(src->out[0]));
				src->n_out--;
				any = true;
				moved++;
				if (dst)
					wg_engine_receive(dst->engine, &src->addr, d.buf, d.len,
							  m->now);
			}
		}
		if (!any)
			break;
	}
	return moved;
}

static inline void mesh_run(struct mesh *m, double seconds, double step)
{
	long steps = (long)(seconds / step + 0.5);

	for (long s = 0; s < steps; s++) {
		uint64_t ns = (uint64_t)(step * 1e9);

		m->now.mono_ns += ns;
		m->now.real_ns += ns;
		for (unsigned i = 0; i < m->n; i++)
			wg_engine_tick(m->node[i].engine, m->now);
		mesh_pump(m);
	}
}

/* An IPv4 packet with a valid header checksum, `ttl`, and a payload of `tag` bytes. */
static inline size_t mesh_ipv4(uint8_t *buf, size_t len, const char *src, const char *dst,
			       uint8_t ttl, uint8_t tag)
{
	struct iphdr *ip = (struct iphdr *)buf;
	uint32_t sum = 0;

	memset(buf, tag, len);
	memset(ip, 0, sizeof(*ip));
	ip->version = 4;
	ip->ihl = 5;
	ip->tot_len = htons((uint16_t)len);
	ip->ttl = ttl;
	ip->protocol = 253; /* experimental */
	inet_pton(AF_INET, src, &ip->saddr);
	inet_pton(AF_INET, dst, &ip->daddr);
	for (int i = 0; i < 20; i += 2)
		sum += (uint32_t)(buf[i] << 8 | buf[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	ip->check = htons((uint16_t)~sum);
	return len;
}

/* Whether an IPv4 header sums to all ones, i.e. its checksum is right. */
static inline bool mesh_ipv4_checksum_ok(const uint8_t *buf)
{
	uint32_t sum = 0;

	for (int i = 0; i < 20; i += 2)
		sum += (uint32_t)(buf[i] << 8 | buf[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum == 0xffff;
}

static inline void mesh_send_ipv4(struct mesh *m, unsigned from, const char *src, const char *dst,
				  uint8_t ttl, uint8_t tag)
{
	uint8_t pkt[120];

	wg_engine_send(m->node[from].engine, pkt, mesh_ipv4(pkt, sizeof(pkt), src, dst, ttl, tag),
		       m->now);
}

#endif
