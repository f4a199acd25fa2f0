/* Shared by the data-plane micro-benchmarks (bench_transport, bench_handshake): clocks,
 * and engines whose datagrams land in an in-memory mailbox that the benchmark empties
 * itself, so it decides what is timed. Only the public engine API is used: the numbers
 * stay comparable while the engine's insides change. */
#ifndef VPND_TESTS_BENCH_ENGINES_H
#define VPND_TESTS_BENCH_ENGINES_H

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "tunnel/engine.h"
#include "tunnel/messages.h"

#define BENCH_MAILBOX 64

/* CPU seconds of the whole process: "per core" whatever threads the engine may use. */
static inline double bench_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline double bench_wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct bench_node {
	struct wg_engine *engine;
	struct wg_peer *peer; /* the other side, for two-node setups */
	struct wg_endpoint addr;
	uint8_t mail[BENCH_MAILBOX][2048];
	size_t mail_len[BENCH_MAILBOX];
	unsigned n_mail;
	unsigned long long mail_overflow;
	unsigned long long delivered, delivered_bytes;
	uint8_t priv[32];
};

static inline int bench_node_send(void *ctx, const struct wg_endpoint *to, const uint8_t *buf,
				  size_t len)
{
	struct bench_node *n = ctx;
	(void)to;
	if (n->n_mail == BENCH_MAILBOX || len > sizeof(n->mail[0])) {
		n->mail_overflow++;
		return -ENOBUFS;
	}
	memcpy(n->mail[n->n_mail], buf, len);
	n->mail_len[n->n_mail++] = len;
	return 0;
}

static inline void bench_node_deliver(void *ctx, struct wg_peer *from, const uint8_t *pkt,
				      size_t len)
{
	struct bench_node *n = ctx;
	(void)from;
	(void)pkt;
	n->delivered++;
	n->delivered_bytes += len;
}

/* ipv4: the node's underlay address (port 51820). Exits on failure: a benchmark that
 * cannot set up has nothing to report. */
static inline void bench_node_init(struct bench_node *n, const char *ipv4)
{
	struct wg_engine_io io = {.ctx = n,
				  .send_datagram = bench_node_send,
				  .deliver_packet = bench_node_deliver,
				  .event = NULL};
	struct wg_engine_settings set = {.rekey_after_time = 120, .mtu = 1420};

	memset(n, 0, sizeof(*n));
	n->engine = wg_engine_new(&io, &set);
	randombytes_buf(n->priv, sizeof(n->priv));
	n->priv[0] &= 248;
	n->priv[31] = (n->priv[31] & 127) | 64;
	if (!n->engine || wg_engine_set_private_key(n->engine, n->priv) < 0) {
		fprintf(stderr, "bench: cannot create an engine\n");
		exit(1);
	}
	n->addr.addr.in4.sin_family = AF_INET;
	n->addr.addr.in4.sin_port = htons(51820);
	inet_pton(AF_INET, ipv4, &n->addr.addr.in4.sin_addr);
}

static inline void bench_node_free(struct bench_node *n)
{
	wg_engine_free(n->engine);
	sodium_memzero(n->priv, sizeof(n->priv));
}

/* Add `other` as a peer of n with allowed-ips prefix/cidr (IPv4); endpoint when
 * with_endpoint. */
static inline struct wg_peer *bench_add_peer(struct bench_node *n, const char *name,
					     const uint8_t pub[32], const struct wg_endpoint *ep,
					     const char *prefix, uint8_t cidr, struct wg_time now)
{
	struct wg_peer_config c = {.name = name};
	struct wg_allowed_ip ip = {.family = AF_INET, .cidr = cidr};
	struct wg_peer *p;

	memcpy(c.public_key, pub, 32);
	if (ep)
		c.endpoint = *ep;
	p = wg_engine_add_peer(n->engine, &c, now);
	inet_pton(AF_INET, prefix, ip.addr);
	if (!p || wg_engine_peer_set_allowed_ips(n->engine, p, &ip, 1) < 0) {
		fprintf(stderr, "bench: cannot add peer %s\n", name);
		exit(1);
	}
	return p;
}

/* Hand every datagram in from's mailbox to `to`, as sent from from's address. */
static inline unsigned bench_deliver_mail(struct bench_node *from, struct bench_node *to,
					  struct wg_time now)
{
	unsigned n = from->n_mail;

	from->n_mail = 0;
	for (unsigned i = 0; i < n; i++)
		wg_engine_receive(to->engine, &from->addr, from->mail[i], from->mail_len[i], now);
	return n;
}

/* An IPv4 packet of len bytes (experimental protocol 253) from src to dst. */
static inline void bench_ipv4(uint8_t *buf, size_t len, const char *src, const char *dst)
{
	memset(buf, 0xa5, len);
	buf[0] = 0x45;
	buf[1] = 0;
	buf[2] = (uint8_t)(len >> 8);
	buf[3] = (uint8_t)len;
	memset(buf + 4, 0, 4);
	buf[8] = 64;
	buf[9] = 253;
	buf[10] = buf[11] = 0;
	inet_pton(AF_INET, src, buf + 12);
	inet_pton(AF_INET, dst, buf + 16);
}

#endif
