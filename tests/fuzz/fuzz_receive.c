/* Fuzz target: the whole receive path. Two engines hold a live session; each input is
 * either a raw datagram arriving at B from A's address, or (first byte odd) an inner
 * packet that A encrypts and B then decrypts, so IP parsing and cryptokey routing are
 * reached past the authentication that random bytes alone never pass. */
#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "tunnel/engine.h"

struct side {
	struct wg_engine *engine;
	struct wg_peer *peer;
	struct wg_endpoint addr;
	uint8_t out[4][2048];
	size_t out_len[4];
	unsigned n_out;
};

static struct side a, b;
static struct wg_time now = {.mono_ns = 1000000000000ULL, .real_ns = 1700000000000000000ULL};

static int capture(void *ctx, const struct wg_endpoint *to, const uint8_t *buf, size_t len)
{
	struct side *s = ctx;
	(void)to;
	if (s->n_out < 4 && len <= sizeof(s->out[0])) {
		memcpy(s->out[s->n_out], buf, len);
		s->out_len[s->n_out++] = len;
	}
	return 0;
}

static void deliver(void *ctx, struct wg_peer *from, const uint8_t *pkt, size_t len)
{
	(void)ctx;
	(void)from;
	(void)pkt;
	(void)len;
}

/* Move everything in flight until both sides are quiet (bounded). */
static void pump(void)
{
	for (int round = 0; round < 8 && (a.n_out || b.n_out); round++) {
		struct side *from[2] = {&a, &b}, *to[2] = {&b, &a};
		for (int i = 0; i < 2; i++) {
			unsigned n = from[i]->n_out;
			uint8_t bufs[4][2048];
			size_t lens[4];
			memcpy(bufs, from[i]->out, sizeof(bufs));
			memcpy(lens, from[i]->out_len, sizeof(lens));
			from[i]->n_out = 0;
			for (unsigned j = 0; j < n; j++)
				wg_engine_receive(to[i]->engine, &from[i]->addr, bufs[j], lens[j], now);
		}
	}
}

static void side_init(struct side *s, const char *ip)
{
	struct wg_engine_io io = {.ctx = s, .send_datagram = capture, .deliver_packet = deliver};
	struct wg_engine_settings set = {.rekey_after_time = 120, .mtu = 1420};
	uint8_t priv[32];

	s->engine = wg_engine_new(&io, &set);
	randombytes_buf(priv, sizeof(priv));
	wg_engine_set_private_key(s->engine, priv);
	sodium_memzero(priv, sizeof(priv));
	s->addr.addr.in4.sin_family = AF_INET;
	s->addr.addr.in4.sin_port = htons(51820);
	inet_pton(AF_INET, ip, &s->addr.addr.in4.sin_addr);
}

static void link_sides(struct side *s, struct side *other, const char *prefix, bool endpoint)
{
	struct wg_peer_config c = {.name = "other"};
	struct wg_allowed_ip ip = {.family = AF_INET, .cidr = 16};

	memcpy(c.public_key, wg_engine_public_key(other->engine), 32);
	if (endpoint)
		c.endpoint = other->addr;
	s->peer = wg_engine_add_peer(s->engine, &c, now);
	inet_pton(AF_INET, prefix, ip.addr);
	wg_engine_peer_set_allowed_ips(s->engine, s->peer, &ip, 1);
}

static void setup(void)
{
	if (sodium_init() < 0)
		__builtin_trap();
	side_init(&a, "192.0.2.1");
	side_init(&b, "192.0.2.2");
	link_sides(&a, &b, "10.2.0.0", true);
	link_sides(&b, &a, "10.1.0.0", false);
	wg_engine_peer_connect(a.engine, a.peer, now);
	pump();
	if (!b.peer->keypairs.current)
		__builtin_trap(); /* the harness itself must hold a live session */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	uint8_t buf[2048];

	if (!ready) {
		setup();
		ready = true;
	}
	if (!size || size > sizeof(buf))
		return 0;
	now.mono_ns += 1000000; /* time moves, timers may fire */
	now.real_ns += 1000000;
	if (data[0] & 1) {
		memcpy(buf, data + 1, size - 1);
		wg_engine_send(a.engine, buf, size - 1, now);
	} else {
		memcpy(buf, data + 1, size - 1);
		wg_engine_receive(b.engine, &a.addr, buf, size - 1, now);
	}
	wg_engine_tick(a.engine, now);
	wg_engine_tick(b.engine, now);
	pump();
	return 0;
}
