/* Sites for the show tests (test_show, test_show_status): engines whose datagrams are
 * recorded rather than sent, peers added through the engine's API, a real handshake
 * between two engines, and HQ with two branches in the states a report must tell apart.
 * Times are offsets in seconds from fixed wall and monotonic clocks. Include after
 * <cmocka.h>. */
#ifndef VPND_TESTS_SHOW_SITES_H
#define VPND_TESTS_SHOW_SITES_H

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "daemon/show.h"
#include "tunnel/engine.h"
#include "tunnel/peer.h"
#include "vpnd/key.h"

#define SEC	1000000000ULL
#define REAL_T0 (1700000000ULL * SEC)
#define MONO_T0 (5000ULL * SEC)

#define MAX_SENT 64

struct site {
	struct wg_engine *engine;
	uint8_t priv[32], pub[32];
	struct wg_endpoint addr;
	uint8_t sent[MAX_SENT][256];
	size_t sent_len[MAX_SENT];
	unsigned n_sent, n_delivered;
};

static inline int record_send(void *ctx, const struct wg_endpoint *to, const uint8_t *buf,
			      size_t len)
{
	struct site *s = ctx;

	(void)to;
	if (s->n_sent == MAX_SENT || len > sizeof(s->sent[0]))
		return -ENOBUFS;
	memcpy(s->sent[s->n_sent], buf, len);
	s->sent_len[s->n_sent++] = len;
	return 0;
}

static inline void record_deliver(void *ctx, struct wg_peer *from, const uint8_t *pkt, size_t len)
{
	struct site *s = ctx;

	(void)from, (void)pkt, (void)len;
	s->n_delivered++;
}

static inline struct wg_time at(uint64_t offset_s)
{
	return (struct wg_time){.mono_ns = MONO_T0 + offset_s * SEC,
				.real_ns = REAL_T0 + offset_s * SEC};
}

static inline void site_init(struct site *s, const char *ip)
{
	struct wg_engine_io io = {
	    .ctx = s, .send_datagram = record_send, .deliver_packet = record_deliver};
	struct wg_engine_settings set = {.rekey_after_time = 120, .mtu = 1420};

	memset(s, 0, sizeof(*s));
	s->engine = wg_engine_new(&io, &set);
	assert_non_null(s->engine);
	randombytes_buf(s->priv, sizeof(s->priv));
	vpnd_key_clamp(s->priv);
	crypto_scalarmult_curve25519_base(s->pub, s->priv);
	assert_int_equal(wg_engine_set_private_key(s->engine, s->priv), 0);
	s->addr.addr.in4.sin_family = AF_INET;
	s->addr.addr.in4.sin_port = htons(51820);
	assert_int_equal(inet_pton(AF_INET, ip, &s->addr.addr.in4.sin_addr), 1);
}

static inline void prefix(struct wg_allowed_ip *ip, const char *text, uint8_t cidr)
{
	memset(ip, 0, sizeof(*ip));
	ip->family = strchr(text, ':') ? AF_INET6 : AF_INET;
	ip->cidr = cidr;
	assert_int_equal(inet_pton(ip->family, text, ip->addr), 1);
}

static inline struct wg_peer *add_peer(struct site *s, const char *name, const uint8_t pub[32],
				       const char *endpoint, uint16_t keepalive,
				       struct wg_allowed_ip *ips, unsigned n_ips)
{
	struct wg_peer_config cfg = {.name = name, .persistent_keepalive = keepalive};
	struct wg_peer *p;

	memcpy(cfg.public_key, pub, 32);
	if (endpoint)
		assert_int_equal(wg_endpoint_parse(&cfg.endpoint, endpoint), 0);
	p = wg_engine_add_peer(s->engine, &cfg, at(0));
	assert_non_null(p);
	assert_int_equal(wg_engine_peer_set_allowed_ips(s->engine, p, ips, n_ips), 0);
	return p;
}

/* A gateway with two branches: br1 with endpoint, two prefixes and a keepalive (the
 * engine starts its handshake at once), br2 with neither endpoint nor keepalive. */
struct hq {
	struct site site;
	uint8_t br1_pub[32], br2_pub[32];
	struct wg_peer *br1, *br2;
};

static inline void hq_init(struct hq *h)
{
	struct wg_allowed_ip ips[2];
	uint8_t priv[32];

	site_init(&h->site, "192.0.2.1");
	for (int i = 0; i < 2; i++) {
		randombytes_buf(priv, sizeof(priv));
		vpnd_key_clamp(priv);
		crypto_scalarmult_curve25519_base(i ? h->br2_pub : h->br1_pub, priv);
	}
	prefix(&ips[0], "10.2.0.0", 24);
	prefix(&ips[1], "fd02::", 64);
	h->br1 = add_peer(&h->site, "br1", h->br1_pub, "203.0.113.10:51820", 25, ips, 2);
	/* Host bits set in the configured prefix: shown as the prefix the table uses. */
	prefix(&ips[0], "10.99.0.7", 16);
	h->br2 = add_peer(&h->site, "br2", h->br2_pub, NULL, 0, ips, 1);
}

static inline struct vpnd_show_input hq_input(struct hq *h, uint64_t offset_s)
{
	return (struct vpnd_show_input){.interface = "vpn0",
					.listen_port = 51820,
					.engine = h->site.engine,
					.now_real_ns = REAL_T0 + offset_s * SEC,
					.now_mono_ns = MONO_T0 + offset_s * SEC};
}

/* Carry datagrams between a and b until both are quiet (a handshake: initiation one way,
 * response the other). Returns how many were carried. */
static inline unsigned sites_exchange(struct site *a, struct site *b, struct wg_time t)
{
	unsigned moved = 0;

	for (int round = 0; round < 4 && (a->n_sent || b->n_sent); round++) {
		for (unsigned i = 0; i < a->n_sent; i++, moved++)
			wg_engine_receive(b->engine, &a->addr, a->sent[i], a->sent_len[i], t);
		a->n_sent = 0;
		for (unsigned i = 0; i < b->n_sent; i++, moved++)
			wg_engine_receive(a->engine, &b->addr, b->sent[i], b->sent_len[i], t);
		b->n_sent = 0;
	}
	return moved;
}

#endif
