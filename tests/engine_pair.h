/* Two engines wired back to back through in-memory queues, with a fake clock: the
 * harness for test_engine and test_timers. Site A is 10.1.0.0/24 at 192.0.2.1:51820,
 * site B is 10.2.0.0/24 at 192.0.2.2:51820. */
#ifndef VPND_TESTS_ENGINE_PAIR_H
#define VPND_TESTS_ENGINE_PAIR_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/ip.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "tunnel/engine.h"
#include "tunnel/messages.h"

#define PAIR_QUEUE 512
/* The io.send_unsealed of engines site_init makes (test_engine_batch): an expression. */
#ifndef PAIR_SEND_UNSEALED
#define PAIR_SEND_UNSEALED NULL
#endif
#define PAIR_EVENTS 256

struct datagram {
	uint8_t buf[2048];
	size_t len;
};

struct site {
	struct wg_engine *engine;
	struct wg_peer *peer; /* the other site as seen from here */
	struct wg_endpoint addr;
	struct site *other;
	/* datagrams sent by this site, not yet delivered */
	struct datagram out[PAIR_QUEUE];
	unsigned n_out;
	unsigned sent_by_type[5];
	bool blackhole; /* datagrams vanish */
	/* packets delivered to this site's LAN */
	struct datagram delivered[PAIR_QUEUE];
	unsigned n_delivered;
	enum wg_event events[PAIR_EVENTS];
	unsigned n_events;
	char last_detail[128]; /* of the latest event that had one */
	uint8_t priv[32], pub[32];
};

struct pair {
	struct site a, b;
	struct wg_time now;
};

static inline int site_send(void *ctx, const struct wg_endpoint *to, const uint8_t *buf, size_t len)
{
	struct site *s = ctx;
	(void)to;
	if (len > sizeof(s->out[0].buf) || s->n_out == PAIR_QUEUE)
		return -ENOBUFS;
	if (buf[0] >= 1 && buf[0] <= 4)
		s->sent_by_type[buf[0]]++;
	if (s->blackhole)
		return 0;
	memcpy(s->out[s->n_out].buf, buf, len);
	s->out[s->n_out++].len = len;
	return 0;
}

static inline void site_deliver(void *ctx, struct wg_peer *from, const uint8_t *pkt, size_t len)
{
	struct site *s = ctx;
	(void)from;
	if (s->n_delivered < PAIR_QUEUE && len <= sizeof(s->delivered[0].buf)) {
		memcpy(s->delivered[s->n_delivered].buf, pkt, len);
		s->delivered[s->n_delivered++].len = len;
	}
}

static inline void site_event(void *ctx, enum wg_event ev, const struct wg_peer *p, const char *d)
{
	struct site *s = ctx;
	(void)p;
	if (d)
		snprintf(s->last_detail, sizeof(s->last_detail), "%s", d);
	if (s->n_events < PAIR_EVENTS)
		s->events[s->n_events++] = ev;
}

static inline unsigned site_count_events(const struct site *s, enum wg_event ev)
{
	unsigned n = 0;
	for (unsigned i = 0; i < s->n_events; i++)
		n += s->events[i] == ev;
	return n;
}

static inline void site_addr(struct wg_endpoint *ep, const char *ip)
{
	memset(ep, 0, sizeof(*ep));
	ep->addr.in4.sin_family = AF_INET;
	ep->addr.in4.sin_port = htons(51820);
	inet_pton(AF_INET, ip, &ep->addr.in4.sin_addr);
}

static inline void allowed(struct wg_allowed_ip *ip, const char *prefix, uint8_t cidr)
{
	memset(ip, 0, sizeof(*ip));
	ip->family = AF_INET;
	ip->cidr = cidr;
	inet_pton(AF_INET, prefix, ip->addr);
}

static inline void site_init(struct site *s, const char *ip, unsigned rekey)
{
	struct wg_engine_io io = {.ctx = s,
				  .send_datagram = site_send,
				  .deliver_packet = site_deliver,
				  .event = site_event,
				  .send_unsealed = PAIR_SEND_UNSEALED};
	struct wg_engine_settings set = {.rekey_after_time = rekey, .mtu = 1420};

	s->engine = wg_engine_new(&io, &set);
	assert_non_null(s->engine);
	randombytes_buf(s->priv, 32);
	s->priv[0] &= 248;
	s->priv[31] = (s->priv[31] & 127) | 64;
	assert_int_equal(wg_engine_set_private_key(s->engine, s->priv), 0);
	memcpy(s->pub, wg_engine_public_key(s->engine), 32);
	site_addr(&s->addr, ip);
}

/* a knows b's endpoint; b learns a's from its first handshake. */
static inline void pair_init_opts(struct pair *p, unsigned rekey, const uint8_t *psk_a,
				  const uint8_t *psk_b)
{
	struct wg_peer_config ca = {.name = "b"}, cb = {.name = "a"};
	struct wg_allowed_ip ip;

	memset(p, 0, sizeof(*p));
	p->now.mono_ns = 1000 * WG_NSEC_PER_SEC;
	p->now.real_ns = 1700000000ULL * WG_NSEC_PER_SEC;
	site_init(&p->a, "192.0.2.1", rekey);
	site_init(&p->b, "192.0.2.2", rekey);
	p->a.other = &p->b;
	p->b.other = &p->a;
	memcpy(ca.public_key, p->b.pub, 32);
	ca.endpoint = p->b.addr;
	if (psk_a) {
		ca.has_preshared_key = true;
		memcpy(ca.preshared_key, psk_a, 32);
	}
	memcpy(cb.public_key, p->a.pub, 32);
	if (psk_b) {
		cb.has_preshared_key = true;
		memcpy(cb.preshared_key, psk_b, 32);
	}
	p->a.peer = wg_engine_add_peer(p->a.engine, &ca, p->now);
	p->b.peer = wg_engine_add_peer(p->b.engine, &cb, p->now);
	assert_non_null(p->a.peer);
	assert_non_null(p->b.peer);
	allowed(&ip, "10.2.0.0", 24);
	assert_int_equal(wg_engine_peer_set_allowed_ips(p->a.engine, p->a.peer, &ip, 1), 0);
	allowed(&ip, "10.1.0.0", 24);
	assert_int_equal(wg_engine_peer_set_allowed_ips(p->b.engine, p->b.peer, &ip, 1), 0);
}

static inline void pair_init(struct pair *p)
{
	pair_init_opts(p, 120, NULL, NULL);
}

static inline void pair_free(struct pair *p)
{
	wg_engine_free(p->a.engine);
	wg_engine_free(p->b.engine);
}

/* Deliver everything in flight, both ways, until both queues are empty. Returns the
 * number of datagrams moved. */
static inline unsigned pair_pump(struct pair *p)
{
	unsigned moved = 0;
	struct datagram d;

	for (int round = 0; round < 64 && (p->a.n_out || p->b.n_out); round++) {
		struct site *sites[2] = {&p->a, &p->b};
		for (int i = 0; i < 2; i++) {
			struct site *s = sites[i];
			while (s->n_out) {
				d = s->out[0];
				memmove(&s->out[0], &s->out[1], (s->n_out - 1) * sizeof(s->out[0]));
				s->n_out--;
				wg_engine_receive(s->other->engine, &s->addr, d.buf, d.len, p->now);
				moved++;
			}
		}
	}
	return moved;
}

static inline void pair_advance(struct pair *p, double seconds)
{
	uint64_t ns = (uint64_t)(seconds * 1e9);
	p->now.mono_ns += ns;
	p->now.real_ns += ns;
}

/* Advance the clock in small steps, firing timers and pumping traffic. */
static inline void pair_run(struct pair *p, double seconds, double step)
{
	long steps = (long)(seconds / step + 0.5);

	for (long i = 0; i < steps; i++) {
		pair_advance(p, step);
		wg_engine_tick(p->a.engine, p->now);
		wg_engine_tick(p->b.engine, p->now);
		pair_pump(p);
	}
}

/* A UDP-less IPv4 packet of `len` bytes from src to dst with a recognisable payload. */
static inline size_t make_ipv4(uint8_t *buf, size_t len, const char *src, const char *dst,
			       uint8_t tag)
{
	struct iphdr *ip = (struct iphdr *)buf;

	memset(buf, tag, len);
	memset(ip, 0, sizeof(*ip));
	ip->version = 4;
	ip->ihl = 5;
	ip->tot_len = htons((uint16_t)len);
	ip->ttl = 64;
	ip->protocol = 253; /* experimental */
	inet_pton(AF_INET, src, &ip->saddr);
	inet_pton(AF_INET, dst, &ip->daddr);
	return len;
}

static inline void send_from(struct pair *p, struct site *s, uint8_t tag)
{
	uint8_t pkt[100];
	const char *src = s == &p->a ? "10.1.0.5" : "10.2.0.5";
	const char *dst = s == &p->a ? "10.2.0.9" : "10.1.0.9";
	wg_engine_send(s->engine, pkt, make_ipv4(pkt, sizeof(pkt), src, dst, tag), p->now);
}

#endif
