/* The WireGuard UAPI on real engines: get against whole expected documents (also after
 * a real handshake between two engines), set line by line for every key and the ways
 * each can be wrong, with wireguard-go's errno numbers, the atomicity of a refused
 * request, the framing of a request stream fed whole, byte by byte and as random
 * garbage, and finally the socket server in-process (several requests on one
 * connection, limits, stale and live sockets, permissions). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "daemon/event.h"
#include "daemon/uapi.h"
#include "daemon/uapi_server.h"
#include "engine_pair.h"
#include "tunnel/engine.h"
#include "tunnel/peer.h"
#include "vpnd/key.h"
#include "vpnd/limits.h"

#define SEC 1000000000ULL

/* ---- a device around a real engine, with hooks that record what they are asked ---- */

struct dev {
	struct wg_engine *engine;
	uint8_t priv[32];
	uint16_t port;
	uint32_t fwmark;
	int fwmark_result; /* what the fwmark hook answers */
	unsigned pk_calls, mark_calls, changed_calls, set_calls;
	unsigned last_what;
	bool hooks; /* false: the optional hooks are NULL */
	uint8_t named_key[32];
	const char *name_for_key; /* what peer_name answers for named_key */
	struct vpnd_uapi_buf out;
};

static int io_send(void *ctx, const struct wg_endpoint *to, const uint8_t *buf, size_t len)
{
	(void)ctx, (void)to, (void)buf, (void)len;
	return 0;
}

static void io_deliver(void *ctx, struct wg_peer *from, const uint8_t *pkt, size_t len)
{
	(void)ctx, (void)from, (void)pkt, (void)len;
}

static int h_set_pk(void *ctx, const uint8_t key[32])
{
	struct dev *d = ctx;
	int ret = wg_engine_set_private_key(d->engine, key);

	d->pk_calls++;
	if (ret == 0)
		memcpy(d->priv, key, 32);
	return ret;
}

static int h_set_mark(void *ctx, uint32_t mark)
{
	struct dev *d = ctx;

	d->mark_calls++;
	if (d->fwmark_result)
		return d->fwmark_result;
	d->fwmark = mark;
	return 0;
}

static const char *h_name(void *ctx, const uint8_t key[32])
{
	struct dev *d = ctx;

	return memcmp(key, d->named_key, 32) == 0 ? d->name_for_key : NULL;
}

static void h_peer_set(void *ctx, const struct wg_peer *p, unsigned what)
{
	struct dev *d = ctx;

	(void)p;
	d->set_calls++;
	d->last_what = what;
}

static void h_changed(void *ctx)
{
	((struct dev *)ctx)->changed_calls++;
}

static void device_of(struct dev *d, struct vpnd_uapi_device *u)
{
	*u = (struct vpnd_uapi_device){
	    .engine = d->engine,
	    .private_key = d->priv,
	    .listen_port = d->port,
	    .fwmark = d->fwmark,
	    .now = {.mono_ns = 1000 * SEC, .real_ns = 1700000000ULL * SEC},
	    .ctx = d};
	if (d->hooks) {
		u->set_private_key = h_set_pk;
		u->set_fwmark = h_set_mark;
		u->peer_name = h_name;
		u->peer_set = h_peer_set;
		u->peers_changed = h_changed;
	}
}

static void keypair(uint8_t priv[32], uint8_t pub[32], uint8_t seed)
{
	for (int i = 0; i < 32; i++)
		priv[i] = (uint8_t)(seed * 7 + i);
	vpnd_key_clamp(priv);
	assert_int_equal(crypto_scalarmult_base(pub, priv), 0);
}

static void pubkey(uint8_t pub[32], uint8_t seed)
{
	uint8_t priv[32];

	keypair(priv, pub, seed);
}

static void hex(char out[65], const uint8_t key[32])
{
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", key[i]);
}

static struct dev *dev_new(bool hooks)
{
	struct wg_engine_io io = {.send_datagram = io_send, .deliver_packet = io_deliver};
	struct wg_engine_settings set = {.rekey_after_time = 120, .mtu = 1420};
	struct dev *d = calloc(1, sizeof(*d));
	uint8_t pub[32];

	assert_non_null(d);
	io.ctx = d;
	d->engine = wg_engine_new(&io, &set);
	assert_non_null(d->engine);
	keypair(d->priv, pub, 1);
	assert_int_equal(wg_engine_set_private_key(d->engine, d->priv), 0);
	d->port = 51820;
	d->hooks = hooks;
	return d;
}

static void dev_free(struct dev *d)
{
	wg_engine_free(d->engine);
	vpnd_uapi_buf_free(&d->out);
	free(d);
}

static int setup(void **state)
{
	*state = dev_new(true);
	return 0;
}

static int teardown(void **state)
{
	dev_free(*state);
	return 0;
}

/* Run one whole request; return the errno it answered. d->out holds the answer as a
 * string (errno line included). */
static int request(struct dev *d, const char *text)
{
	struct vpnd_uapi_device u;
	struct vpnd_uapi_outcome res;
	size_t resume = 0, n = strlen(text);
	enum vpnd_uapi_status st;
	int err;
	char *e;

	device_of(d, &u);
	vpnd_uapi_buf_consume(&d->out, d->out.len);
	st = vpnd_uapi_handle(&u, text, n, &resume, &d->out, &res);
	assert_int_equal(st, VPND_UAPI_ANSWERED);
	assert_int_equal(res.used, n);
	assert_int_equal(vpnd_uapi_buf_append(&d->out, "", 1), 0);
	e = strstr(d->out.data, "errno=");
	assert_non_null(e);
	err = atoi(e + 6);
	assert_int_equal(err, res.err);
	/* The answer ends with its errno line and a blank line, and has no other. */
	assert_string_equal(e + strlen(e) - 2, "\n\n");
	assert_null(strstr(e + 6, "errno="));
	if (err)
		assert_true(res.msg[0] != '\0'); /* every refusal says why */
	return err;
}

static const char *get(struct dev *d)
{
	assert_int_equal(request(d, "get=1\n\n"), 0);
	return d->out.data;
}

static int set(struct dev *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int set(struct dev *d, const char *fmt, ...)
{
	char text[8192];
	va_list ap;
	int n;

	memcpy(text, "set=1\n", 6);
	va_start(ap, fmt);
	n = vsnprintf(text + 6, sizeof(text) - 8, fmt, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < sizeof(text) - 8);
	strcpy(text + 6 + n, "\n");
	return request(d, text);
}

static struct wg_peer *add_peer(struct dev *d, const char *name, uint8_t seed)
{
	struct wg_peer_config c = {.name = name};
	struct wg_time now = {.mono_ns = 1000 * SEC, .real_ns = 1700000000ULL * SEC};
	struct wg_peer *p;

	pubkey(c.public_key, seed);
	p = wg_engine_add_peer(d->engine, &c, now);
	assert_non_null(p);
	return p;
}

static struct wg_peer *peer_of(struct dev *d, uint8_t seed)
{
	uint8_t pub[32];

	pubkey(pub, seed);
	return wg_engine_find_peer(d->engine, pub);
}

/* "public_key=<hex of seed's key>" */
static const char *pk_line(uint8_t seed)
{
	static char lines[4][80];
	static int next;
	uint8_t pub[32];
	char h[65];
	char *l = lines[next++ % 4];

	pubkey(pub, seed);
	hex(h, pub);
	snprintf(l, 80, "public_key=%s", h);
	return l;
}

static unsigned count_peers(struct dev *d)
{
	unsigned n = 0;

	for (struct wg_peer *p = wg_engine_peers(d->engine); p; p = p->next)
		n++;
	return n;
}

static void prefix(struct wg_allowed_ip *ip, const char *text)
{
	char addr[64];
	const char *slash = strchr(text, '/');

	memset(ip, 0, sizeof(*ip));
	memcpy(addr, text, (size_t)(slash - text));
	addr[slash - text] = '\0';
	ip->family = strchr(addr, ':') ? AF_INET6 : AF_INET;
	assert_int_equal(inet_pton(ip->family, addr, ip->addr), 1);
	ip->cidr = (uint8_t)atoi(slash + 1);
}

/* The peer's allowed-ips as "a/n b/n ...", in its order. */
static const char *ips_of(const struct wg_peer *p)
{
	static char buf[1024];
	size_t n = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < p->n_allowed_ips; i++) {
		char a[INET6_ADDRSTRLEN];

		inet_ntop(p->allowed_ips[i].family, p->allowed_ips[i].addr, a, sizeof(a));
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s/%u", i ? " " : "", a,
				      p->allowed_ips[i].cidr);
	}
	return buf;
}

/* ---- get ---- */

static void test_get_no_peers(void **state)
{
	struct dev *d = *state;
	char want[256], h[65];

	hex(h, d->priv);
	snprintf(want, sizeof(want), "private_key=%s\nlisten_port=51820\nerrno=0\n\n", h);
	assert_string_equal(get(d), want);

	/* fwmark appears when set; a listen port of 0 (none) does not. */
	d->fwmark = 0x2a;
	d->port = 0;
	snprintf(want, sizeof(want), "private_key=%s\nfwmark=42\nerrno=0\n\n", h);
	assert_string_equal(get(d), want);
}

static void test_get_whole_document(void **state)
{
	struct dev *d = *state;
	struct wg_allowed_ip ips[3];
	struct wg_peer *a, *b;
	uint8_t psk[32];
	char want[2048], hp[65], ha[65], hb[65], hpsk[65];

	a = add_peer(d, "east", 2);
	b = add_peer(d, "west", 3);
	memset(psk, 0xab, 32);
	wg_engine_peer_set_preshared_key(d->engine, a, psk);
	assert_int_equal(wg_endpoint_parse(&a->endpoint, "192.0.2.7:51821"), 0);
	assert_int_equal(wg_endpoint_parse(&b->endpoint, "[2001:db8::9]:4500"), 0);
	a->persistent_keepalive = 25;
	prefix(&ips[0], "10.2.0.0/24");
	prefix(&ips[1], "fd02::/64");
	prefix(&ips[2], "10.99.0.2/32");
	assert_int_equal(wg_engine_peer_set_allowed_ips(d->engine, a, ips, 3), 0);
	/* Counters a test cannot cheaply provoke are set in the public stats. */
	a->stats.last_handshake_real_ns = 1700000123ULL * SEC + 456;
	a->stats.tx_bytes = 1234;
	a->stats.rx_bytes = 99887766554433ULL;

	hex(hp, d->priv);
	hex(ha, a->handshake.remote_static);
	hex(hb, b->handshake.remote_static);
	hex(hpsk, psk);
	snprintf(want, sizeof(want),
		 "private_key=%s\n"
		 "listen_port=51820\n"
		 "public_key=%s\n"
		 "preshared_key=%s\n"
		 "protocol_version=1\n"
		 "endpoint=192.0.2.7:51821\n"
		 "last_handshake_time_sec=1700000123\n"
		 "last_handshake_time_nsec=456\n"
		 "tx_bytes=1234\n"
		 "rx_bytes=99887766554433\n"
		 "persistent_keepalive_interval=25\n"
		 "allowed_ip=10.2.0.0/24\n"
		 "allowed_ip=fd02::/64\n"
		 "allowed_ip=10.99.0.2/32\n"
		 "public_key=%s\n"
		 "preshared_key=0000000000000000000000000000000000000000000000000000000000000000\n"
		 "protocol_version=1\n"
		 "endpoint=[2001:db8::9]:4500\n"
		 "last_handshake_time_sec=0\n"
		 "last_handshake_time_nsec=0\n"
		 "tx_bytes=0\n"
		 "rx_bytes=0\n"
		 "persistent_keepalive_interval=0\n"
		 "errno=0\n\n",
		 hp, ha, hpsk, hb);
	assert_string_equal(get(d), want);
}

/* Two engines complete a real handshake: get reports what the engine counted. */
static void test_get_after_handshake(void **state)
{
	struct vpnd_uapi_device u;
	struct vpnd_uapi_buf out = {0};
	static struct pair p; /* megabytes of queues: not on the stack */
	char want[256], *at;

	(void)state;
	pair_init(&p);
	send_from(&p, &p.a, 1);
	pair_pump(&p);
	assert_int_equal(p.b.n_delivered, 1);
	assert_true(p.a.peer->stats.tx_bytes > 0 && p.a.peer->stats.rx_bytes > 0);

	u = (struct vpnd_uapi_device){.engine = p.a.engine, .private_key = p.a.priv};
	assert_int_equal(vpnd_uapi_get(&u, &out), 0);
	assert_int_equal(vpnd_uapi_buf_append(&out, "", 1), 0);
	snprintf(want, sizeof(want),
		 "endpoint=192.0.2.2:51820\n"
		 "last_handshake_time_sec=%" PRIu64 "\n"
		 "last_handshake_time_nsec=%" PRIu64 "\n"
		 "tx_bytes=%" PRIu64 "\nrx_bytes=%" PRIu64 "\n"
		 "persistent_keepalive_interval=0\n"
		 "allowed_ip=10.2.0.0/24\n",
		 p.now.real_ns / (uint64_t)SEC, p.now.real_ns % (uint64_t)SEC,
		 p.a.peer->stats.tx_bytes, p.a.peer->stats.rx_bytes);
	at = strstr(out.data, "endpoint=");
	assert_non_null(at);
	assert_string_equal(at, want);
	assert_true(p.now.real_ns / SEC > 0);
	vpnd_uapi_buf_free(&out);
	pair_free(&p);
}

/* ---- set: the device keys ---- */

static void test_set_private_key(void **state)
{
	struct dev *d = *state;
	uint8_t priv[32], pub[32];
	char h[65], want[160];

	keypair(priv, pub, 9);
	hex(h, priv);
	assert_int_equal(set(d, "private_key=%s\n", h), 0);
	assert_int_equal(d->pk_calls, 1);
	assert_memory_equal(wg_engine_public_key(d->engine), pub, 32);
	snprintf(want, sizeof(want), "private_key=%s\nlisten_port=51820\nerrno=0\n\n", h);
	assert_string_equal(get(d), want);
	/* The same key again is no change at all; nor is a key set and then set back. */
	assert_int_equal(set(d, "private_key=%s\n", h), 0);
	assert_int_equal(d->pk_calls, 1);
	{
		uint8_t other[32], other_pub[32];
		char ho[65];

		keypair(other, other_pub, 10);
		hex(ho, other);
		assert_int_equal(set(d, "private_key=%s\nprivate_key=%s\n", ho, h), 0);
		assert_int_equal(d->pk_calls, 1);
		assert_memory_equal(wg_engine_public_key(d->engine), pub, 32);
	}
	/* Upper-case hex is what wireguard-go also accepts. */
	for (char *c = h; *c; c++)
		if (*c >= 'a' && *c <= 'f')
			*c = (char)(*c - 'a' + 'A');
	assert_int_equal(set(d, "private_key=%s\n", h), 0);
	assert_int_equal(d->pk_calls, 1);

	/* An all-zero key would leave the interface without one: refused. */
	assert_int_equal(set(d, "private_key=%064d\n", 0), -EINVAL);
	/* Bad hex, odd and wrong lengths. */
	assert_int_equal(set(d, "private_key=%.63s\n", h), -EINVAL);
	assert_int_equal(set(d, "private_key=%s0\n", h), -EINVAL);
	assert_int_equal(set(d, "private_key=%.62sxy\n", h), -EINVAL);
	assert_int_equal(set(d, "private_key=\n"), -EINVAL);
	assert_int_equal(d->pk_calls, 1);
	assert_memory_equal(wg_engine_public_key(d->engine), pub, 32);
}

static void test_private_key_without_hook(void **state)
{
	struct dev *d = dev_new(false);
	uint8_t priv[32], pub[32];
	char h[65];

	(void)state;
	keypair(priv, pub, 9);
	hex(h, priv);
	assert_int_equal(set(d, "private_key=%s\n", h), -EOPNOTSUPP);
	hex(h, d->priv);
	assert_int_equal(set(d, "private_key=%s\n", h), 0); /* unchanged: fine */
	assert_int_equal(set(d, "fwmark=0\n"), 0);
	assert_int_equal(set(d, "fwmark=1\n"), -EOPNOTSUPP);
	dev_free(d);
}

/* A peer whose key becomes our own public key cannot stay (as in wireguard-go). */
static void test_private_key_of_a_peer(void **state)
{
	struct dev *d = *state;
	uint8_t priv[32], pub[32];
	char h[65];

	add_peer(d, "me-to-be", 9);
	add_peer(d, "other", 10);
	keypair(priv, pub, 9);
	hex(h, priv);
	assert_int_equal(set(d, "private_key=%s\n", h), 0);
	assert_null(peer_of(d, 9));
	assert_non_null(peer_of(d, 10));
	assert_int_equal(d->changed_calls, 1);
}

static void test_listen_port(void **state)
{
	struct dev *d = *state;

	assert_int_equal(set(d, "listen_port=51820\n"), 0);
	assert_int_equal(set(d, "listen_port=0051820\n"), 0);
	/* A port vpnd cannot move to while running is refused, with its own errno. */
	assert_int_equal(set(d, "listen_port=51821\n"), -EOPNOTSUPP);
	assert_int_equal(set(d, "listen_port=0\n"), -EOPNOTSUPP);
	assert_int_equal(set(d, "listen_port=65536\n"), -EINVAL);
	assert_int_equal(set(d, "listen_port=-1\n"), -EINVAL);
	assert_int_equal(set(d, "listen_port=+5\n"), -EINVAL);
	assert_int_equal(set(d, "listen_port= 51820\n"), -EINVAL);
	assert_int_equal(set(d, "listen_port=\n"), -EINVAL);
	assert_int_equal(set(d, "listen_port=99999999999999999999999\n"), -EINVAL);
}

static void test_fwmark(void **state)
{
	struct dev *d = *state;

	assert_int_equal(set(d, "fwmark=0\n"), 0);
	assert_int_equal(d->mark_calls, 0); /* unchanged: the hook is not bothered */
	assert_int_equal(set(d, "fwmark=4294967295\n"), 0);
	assert_int_equal(d->mark_calls, 1);
	assert_int_equal(d->fwmark, UINT32_MAX);
	assert_int_equal(set(d, "fwmark=4294967296\n"), -EINVAL);
	assert_int_equal(set(d, "fwmark=0x10\n"), -EINVAL);
	assert_int_equal(set(d, "fwmark=0\n"), 0);
	assert_int_equal(d->fwmark, 0);

	/* A mark the system refuses: its errno, and nothing else of the request done. */
	d->fwmark_result = -EPERM;
	assert_int_equal(set(d, "fwmark=7\n%s\nallowed_ip=10.9.0.0/16\n", pk_line(5)), -EPERM);
	assert_int_equal(count_peers(d), 0);
	assert_int_equal(d->changed_calls, 0);
}

static void test_replace_peers(void **state)
{
	struct dev *d = *state;
	struct wg_peer *a;

	add_peer(d, "a", 2);
	a = add_peer(d, "b", 3);
	a->stats.rx_bytes = 77; /* to tell a re-created peer from the old one */
	assert_int_equal(set(d, "replace_peers=true\n%s\nallowed_ip=10.3.0.0/24\n", pk_line(3)), 0);
	assert_int_equal(count_peers(d), 1);
	assert_null(peer_of(d, 2));
	/* As in wireguard-go, a peer given again after replace_peers is a new peer. */
	assert_int_equal(peer_of(d, 3)->stats.rx_bytes, 0);
	assert_string_equal(ips_of(peer_of(d, 3)), "10.3.0.0/24");
	assert_int_equal(set(d, "replace_peers=true\n"), 0);
	assert_int_equal(count_peers(d), 0);
	assert_int_equal(set(d, "replace_peers=false\n"), -EINVAL);
	assert_int_equal(set(d, "replace_peers=\n"), -EINVAL);
}

static void test_line_errors(void **state)
{
	struct dev *d = *state;

	/* A line without '=' is a protocol error, -EPROTO, as wireguard-go. */
	assert_int_equal(set(d, "private_key\n"), -EPROTO);
	assert_int_equal(set(d, "%s\nendpoint\n", pk_line(2)), -EPROTO);
	/* Unknown keys, and peer keys before any public_key, are -EINVAL. */
	assert_int_equal(set(d, "no_such_key=1\n"), -EINVAL);
	assert_int_equal(set(d, "=1\n"), -EINVAL);
	assert_int_equal(set(d, "endpoint=192.0.2.1:1\n"), -EINVAL);
	assert_int_equal(set(d, "allowed_ip=10.0.0.0/8\n"), -EINVAL);
	assert_int_equal(set(d, "%s\nno_such_key=1\n", pk_line(2)), -EINVAL);
	/* Device keys after a public_key belong to the peer, which has no such key. */
	assert_int_equal(set(d, "%s\nlisten_port=51820\n", pk_line(2)), -EINVAL);
	/* Keys are case-sensitive; no spaces around '='. */
	assert_int_equal(set(d, "Listen_port=51820\n"), -EINVAL);
	assert_int_equal(set(d, "listen_port =51820\n"), -EINVAL);
	/* A NUL inside a value. */
	{
		static const char req[] = "set=1\nfwmark=1\0002\n\n";
		struct vpnd_uapi_device u;
		struct vpnd_uapi_outcome res;
		size_t resume = 0;

		device_of(d, &u);
		assert_int_equal(vpnd_uapi_handle(&u, req, sizeof(req) - 1, &resume, &d->out, &res),
				 VPND_UAPI_ANSWERED);
		assert_int_equal(res.err, -EINVAL);
		assert_int_equal(res.line, 2);
	}
	assert_int_equal(count_peers(d), 0);
}

/* ---- set: the peer keys ---- */

static void test_add_peer_generated_name(void **state)
{
	struct dev *d = *state;
	char b64[VPND_KEY_B64_LEN + 1], want[64];
	uint8_t pub[32];
	struct wg_peer *p;

	pubkey(pub, 4);
	vpnd_key_to_base64(b64, pub);
	/* Somebody already has the name the new peer would get. */
	snprintf(want, sizeof(want), "wg-%.8s", b64);
	add_peer(d, want, 20);
	assert_int_equal(set(d,
			     "%s\nprotocol_version=1\nendpoint=198.51.100.4:51820\n"
			     "persistent_keepalive_interval=25\nallowed_ip=10.4.0.0/24\n"
			     "allowed_ip=fd04::/64\n",
			     pk_line(4)),
			 0);
	p = peer_of(d, 4);
	assert_non_null(p);
	snprintf(want, sizeof(want), "wg-%.8s-2", b64);
	assert_string_equal(p->name, want);
	assert_int_equal(p->persistent_keepalive, 25);
	assert_int_equal(ntohs(p->endpoint.addr.in4.sin_port), 51820);
	assert_string_equal(ips_of(p), "10.4.0.0/24 fd04::/64");
	assert_true(sodium_is_zero(p->handshake.preshared_key, 32));
	assert_int_equal(d->changed_calls, 1);
	assert_int_equal(d->set_calls, 1);
	assert_int_equal(d->last_what, VPND_UAPI_SET_ENDPOINT);

	/* The owner may know a name for the key (a configured peer added back). */
	pubkey(d->named_key, 6);
	d->name_for_key = "branch-east";
	assert_int_equal(set(d, "%s\n", pk_line(6)), 0);
	assert_string_equal(peer_of(d, 6)->name, "branch-east");
	assert_int_equal(count_peers(d), 3);
}

static void test_preshared_key(void **state)
{
	struct dev *d = *state;
	struct wg_peer *p = add_peer(d, "a", 2);
	uint8_t psk[32];
	char h[65];

	memset(psk, 0x5c, 32);
	hex(h, psk);
	assert_int_equal(set(d, "%s\npreshared_key=%s\n", pk_line(2), h), 0);
	assert_memory_equal(p->handshake.preshared_key, psk, 32);
	assert_int_equal(d->last_what, VPND_UAPI_SET_PSK);
	assert_int_equal(d->changed_calls, 0); /* no route changes */
	/* All zeros: no preshared key. */
	assert_int_equal(set(d, "%s\npreshared_key=%064d\n", pk_line(2), 0), 0);
	assert_true(sodium_is_zero(p->handshake.preshared_key, 32));
	assert_int_equal(set(d, "%s\npreshared_key=%.63s\n", pk_line(2), h), -EINVAL);
	assert_int_equal(set(d, "%s\npreshared_key=%sff\n", pk_line(2), h), -EINVAL);
	assert_int_equal(set(d, "%s\npreshared_key=g%.63s\n", pk_line(2), h), -EINVAL);
	assert_true(sodium_is_zero(p->handshake.preshared_key, 32));
}

static void test_public_key_errors(void **state)
{
	struct dev *d = *state;
	const char *line = pk_line(2) + strlen("public_key=");
	/* A low-order point (order 8): Curve25519 would give an all-zero secret. */
	static const char low_order[] =
	    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800";

	assert_int_equal(set(d, "public_key=%.63s\n", line), -EINVAL);
	assert_int_equal(set(d, "public_key=%s00\n", line), -EINVAL);
	assert_int_equal(set(d, "public_key=%.63sz\n", line), -EINVAL);
	assert_int_equal(set(d, "public_key=\n"), -EINVAL);
	assert_int_equal(set(d, "public_key=%s\n", low_order), -EINVAL);
	assert_int_equal(count_peers(d), 0);
}

/* Our own public key as a peer is ignored, lines and all (but they are still checked). */
static void test_own_key_ignored(void **state)
{
	struct dev *d = *state;
	char h[65];

	hex(h, wg_engine_public_key(d->engine));
	assert_int_equal(set(d, "public_key=%s\nendpoint=192.0.2.1:5\nallowed_ip=10.0.0.0/8\n", h),
			 0);
	assert_int_equal(count_peers(d), 0);
	assert_int_equal(set(d, "public_key=%s\nendpoint=bad\n", h), -EINVAL);
}

static void test_endpoint(void **state)
{
	struct dev *d = *state;
	struct wg_peer *p = add_peer(d, "a", 2);
	char ep[WG_ENDPOINT_STRLEN];
	static const char *bad[] = {"192.0.2.1",	  "192.0.2.1:",
				    "192.0.2.1:0",	  "192.0.2.1:65536",
				    "[2001:db8::1]",	  "2001:db8::1:5",
				    "host.example:51820", "[2001:db8::1]x:5",
				    "192.0.2.1:5 ",	  "",
				    "192.0.2.256:5"};

	assert_int_equal(set(d, "%s\nendpoint=192.0.2.9:4242\n", pk_line(2)), 0);
	assert_string_equal(wg_endpoint_format(&p->endpoint, ep), "192.0.2.9:4242");
	assert_int_equal(set(d, "%s\nendpoint=[2001:db8::1]:51820\n", pk_line(2)), 0);
	assert_string_equal(wg_endpoint_format(&p->endpoint, ep), "[2001:db8::1]:51820");
	assert_int_equal(d->last_what, VPND_UAPI_SET_ENDPOINT);
	/* The endpoint it has already is no change (wg syncconf sends everything). */
	d->set_calls = 0;
	assert_int_equal(set(d, "%s\nendpoint=[2001:db8::1]:51820\n", pk_line(2)), 0);
	assert_int_equal(d->set_calls, 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (set(d, "%s\nendpoint=%s\n", pk_line(2), bad[i]) != -EINVAL)
			fail_msg("endpoint '%s' was not refused", bad[i]);
	assert_string_equal(wg_endpoint_format(&p->endpoint, ep), "[2001:db8::1]:51820");
}

static void test_keepalive(void **state)
{
	struct dev *d = *state;
	struct wg_peer *p = add_peer(d, "a", 2);

	assert_int_equal(set(d, "%s\npersistent_keepalive_interval=0025\n", pk_line(2)), 0);
	assert_int_equal(p->persistent_keepalive, 25);
	assert_int_equal(set(d, "%s\npersistent_keepalive_interval=65535\n", pk_line(2)), 0);
	assert_int_equal(p->persistent_keepalive, 65535);
	assert_int_equal(set(d, "%s\npersistent_keepalive_interval=0\n", pk_line(2)), 0);
	assert_int_equal(p->persistent_keepalive, 0);
	assert_int_equal(set(d, "%s\npersistent_keepalive_interval=65536\n", pk_line(2)), -EINVAL);
	assert_int_equal(set(d, "%s\npersistent_keepalive_interval=-1\n", pk_line(2)), -EINVAL);
	assert_int_equal(set(d, "%s\npersistent_keepalive_interval=x\n", pk_line(2)), -EINVAL);
	assert_int_equal(p->persistent_keepalive, 0);
}

static void test_allowed_ips(void **state)
{
	struct dev *d = *state;
	struct wg_peer *a = add_peer(d, "a", 2), *b = add_peer(d, "b", 3);
	static const char *bad[] = {
	    "10.1.0.0/33",  "10.1.0.0",	   "10.1.0.0/",	   "10.1.0.0/024",  "10.1.0.0/+8",
	    "::/129",	    "10.1.0/24",   "1.2.3.4.5/32", "fe80::1%lo/64", "/8",
	    "10.1.0.0/8/8", "10.1.0.0/-1", " 10.1.0.0/8",  "010.1.0.0/8",   "::ffff:1.2.3.4/200"};

	/* Appended to what the peer has. */
	assert_int_equal(set(d, "%s\nallowed_ip=10.2.0.0/24\n", pk_line(2)), 0);
	assert_int_equal(set(d, "%s\nallowed_ip=fd02::/64\nallowed_ip=10.2.0.0/24\n", pk_line(2)),
			 0);
	assert_string_equal(ips_of(a), "10.2.0.0/24 fd02::/64");
	assert_int_equal(d->changed_calls, 2);
	/* Host bits are cleared, as wireguard-go and the kernel do. */
	assert_int_equal(
	    set(d,
		"%s\nreplace_allowed_ips=true\nallowed_ip=10.2.0.77/24\nallowed_ip=0.0.0.0/0\n"
		"allowed_ip=fd02::1234/64\nallowed_ip=::/0\nallowed_ip=::ffff:1.2.3.4/128\n",
		pk_line(2)),
	    0);
	assert_string_equal(ips_of(a), "10.2.0.0/24 0.0.0.0/0 fd02::/64 ::/0 ::ffff:1.2.3.4/128");
	/* The same list again changes nothing, so the routes are not touched. */
	assert_int_equal(
	    set(d,
		"%s\nreplace_allowed_ips=true\nallowed_ip=::/0\nallowed_ip=10.2.0.0/24\n"
		"allowed_ip=0.0.0.0/0\nallowed_ip=fd02::/64\nallowed_ip=::ffff:1.2.3.4/128\n",
		pk_line(2)),
	    0);
	assert_int_equal(d->changed_calls, 3);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (set(d, "%s\nallowed_ip=%s\n", pk_line(3), bad[i]) != -EINVAL)
			fail_msg("allowed_ip '%s' was not refused", bad[i]);
	assert_int_equal(b->n_allowed_ips, 0);
	assert_int_equal(set(d, "%s\nreplace_allowed_ips=yes\n", pk_line(2)), -EINVAL);

	/* A prefix given to another peer moves, as a route would. */
	assert_int_equal(set(d, "%s\nallowed_ip=10.2.0.0/24\n", pk_line(3)), 0);
	assert_string_equal(ips_of(a), "0.0.0.0/0 fd02::/64 ::/0 ::ffff:1.2.3.4/128");
	assert_string_equal(ips_of(b), "10.2.0.0/24");
	/* Taken back by a, which then drops all of its own: nobody has it any more. */
	assert_int_equal(set(d, "%s\nallowed_ip=10.2.0.0/24\n%s\nreplace_allowed_ips=true\n",
			     pk_line(2), pk_line(2)),
			 0);
	assert_string_equal(ips_of(a), "");
	assert_string_equal(ips_of(b), "");
}

static void test_allowed_ips_limit(void **state)
{
	struct dev *d = *state;
	size_t cap = 64 + (VPND_MAX_ALLOWED_IPS + 1) * 32, n;
	char *req = malloc(cap);

	assert_non_null(req);
	n = (size_t)snprintf(req, cap, "set=1\n%s\n", pk_line(2));
	for (int i = 0; i <= VPND_MAX_ALLOWED_IPS; i++)
		n += (size_t)snprintf(req + n, cap - n, "allowed_ip=10.%d.%d.0/24\n", i / 256,
				      i % 256);
	snprintf(req + n, cap - n, "\n");
	assert_int_equal(request(d, req), -EINVAL);
	assert_int_equal(count_peers(d), 0);
	/* One fewer is fine. */
	strcpy(strstr(req, "allowed_ip=10.4.0.0/24\n"), "\n");
	assert_int_equal(request(d, req), 0);
	assert_int_equal(peer_of(d, 2)->n_allowed_ips, VPND_MAX_ALLOWED_IPS);
	free(req);
}

static void test_remove_and_update_only(void **state)
{
	struct dev *d = *state;
	struct wg_peer *a = add_peer(d, "a", 2);

	a->stats.rx_bytes = 5;
	/* update_only: an unknown peer is not created, a known one is updated. */
	assert_int_equal(set(d, "%s\nupdate_only=true\nendpoint=192.0.2.1:1\n", pk_line(3)), 0);
	assert_null(peer_of(d, 3));
	assert_int_equal(
	    set(d, "%s\nupdate_only=true\npersistent_keepalive_interval=9\n", pk_line(2)), 0);
	assert_int_equal(a->persistent_keepalive, 9);
	/* Allowed-ips inserted before update_only discards the new peer still move away
	 * from their owner, as in wireguard-go, where the peer existed for a moment. */
	assert_int_equal(set(d, "%s\nallowed_ip=10.7.0.0/16\n", pk_line(2)), 0);
	assert_int_equal(set(d, "%s\nallowed_ip=10.7.0.0/16\nupdate_only=true\n", pk_line(3)), 0);
	assert_null(peer_of(d, 3));
	assert_string_equal(ips_of(a), "");
	assert_int_equal(set(d, "%s\nupdate_only=false\n", pk_line(2)), -EINVAL);

	/* remove: of an unknown key is nothing; lines after it are checked, not applied. */
	assert_int_equal(set(d, "%s\nremove=true\n", pk_line(3)), 0);
	assert_int_equal(set(d, "%s\nremove=true\nendpoint=192.0.2.1:1\n", pk_line(2)), 0);
	assert_null(peer_of(d, 2));
	assert_int_equal(count_peers(d), 0);
	assert_int_equal(set(d, "%s\nremove=1\n", pk_line(2)), -EINVAL);

	/* Removed and given again in one request: a new peer. */
	a = add_peer(d, "a", 2);
	a->stats.rx_bytes = 5;
	assert_int_equal(
	    set(d, "%s\nremove=true\n%s\nallowed_ip=10.2.0.0/24\n", pk_line(2), pk_line(2)), 0);
	assert_int_equal(peer_of(d, 2)->stats.rx_bytes, 0);
	assert_string_equal(ips_of(peer_of(d, 2)), "10.2.0.0/24");
}

static void test_protocol_version(void **state)
{
	struct dev *d = *state;

	assert_int_equal(set(d, "%s\nprotocol_version=1\n", pk_line(2)), 0);
	assert_int_equal(set(d, "%s\nprotocol_version=2\n", pk_line(2)), -EINVAL);
	assert_int_equal(set(d, "%s\nprotocol_version=01\n", pk_line(2)), -EINVAL);
	assert_int_equal(set(d, "%s\nprotocol_version=\n", pk_line(2)), -EINVAL);
}

/* A request with any error changes nothing: whatever came before the bad line is not
 * applied, and no hook is called. */
static void test_refused_request_changes_nothing(void **state)
{
	struct dev *d = *state;
	uint8_t priv[32], pub[32];
	char before[4096], hp[65];
	struct wg_peer *a = add_peer(d, "a", 2);
	struct wg_allowed_ip ip;

	prefix(&ip, "10.2.0.0/24");
	assert_int_equal(wg_engine_peer_set_allowed_ips(d->engine, a, &ip, 1), 0);
	add_peer(d, "b", 3);
	snprintf(before, sizeof(before), "%s", get(d));
	keypair(priv, pub, 9);
	hex(hp, priv);
	assert_int_equal(set(d,
			     "private_key=%s\nfwmark=3\nreplace_peers=true\n"
			     "%s\nendpoint=192.0.2.1:1\nallowed_ip=10.9.0.0/16\n"
			     "%s\nremove=true\n"
			     "%s\nallowed_ip=10.2.0.0/24\npersistent_keepalive_interval=4\n"
			     "allowed_ip=10.2.0.0/33\n",
			     hp, pk_line(5), pk_line(3), pk_line(2)),
			 -EINVAL);
	assert_string_equal(get(d), before);
	assert_int_equal(d->pk_calls + d->mark_calls + d->set_calls + d->changed_calls, 0);
	assert_int_equal(count_peers(d), 2);
	assert_ptr_equal(peer_of(d, 2), a);
}

/* ---- the stream ---- */

static enum vpnd_uapi_status feed(struct dev *d, const char *in, size_t len, size_t *resume,
				  struct vpnd_uapi_outcome *res)
{
	struct vpnd_uapi_device u;

	device_of(d, &u);
	return vpnd_uapi_handle(&u, in, len, resume, &d->out, res);
}

static void test_stream_framing(void **state)
{
	struct dev *d = *state;
	struct vpnd_uapi_outcome res;
	size_t resume = 0, used = 0;
	char req[512];
	int n;

	/* Two requests back to back: one at a time. */
	n = snprintf(req, sizeof(req), "set=1\n%s\nallowed_ip=10.5.0.0/16\n\nget=1\n\n",
		     pk_line(5));
	assert_int_equal(feed(d, req, (size_t)n, &resume, &res), VPND_UAPI_ANSWERED);
	assert_true(res.is_set);
	assert_int_equal(res.err, 0);
	assert_int_equal(res.added, 1);
	used = res.used;
	assert_int_equal(used, (size_t)n - 7);
	assert_int_equal(feed(d, req + used, (size_t)n - used, &resume, &res), VPND_UAPI_ANSWERED);
	assert_false(res.is_set);
	assert_int_equal(res.used, 7);

	/* An empty set is a valid request. */
	assert_int_equal(feed(d, "set=1\n\n", 7, &resume, &res), VPND_UAPI_ANSWERED);
	assert_int_equal(res.err, 0);

	/* Byte by byte: incomplete until the blank line arrives, then the same answer. */
	n = snprintf(req, sizeof(req), "set=1\n%s\npersistent_keepalive_interval=7\n\n",
		     pk_line(5));
	resume = 0;
	for (int i = 1; i < n; i++)
		assert_int_equal(feed(d, req, (size_t)i, &resume, &res), VPND_UAPI_INCOMPLETE);
	assert_int_equal(feed(d, req, (size_t)n, &resume, &res), VPND_UAPI_ANSWERED);
	assert_int_equal(res.used, (size_t)n);
	assert_int_equal(resume, 0);
	assert_int_equal(peer_of(d, 5)->persistent_keepalive, 7);
	for (int i = 1; i < 7; i++)
		assert_int_equal(feed(d, "get=1\n\n", (size_t)i, &resume, &res),
				 VPND_UAPI_INCOMPLETE);

	/* get=1 must be followed by the blank line. */
	assert_int_equal(feed(d, "get=1\nx", 7, &resume, &res), VPND_UAPI_ANSWERED_CLOSE);
	assert_int_equal(res.err, -EINVAL);

	/* Not this protocol: closed without an answer, as soon as that is certain. */
	vpnd_uapi_buf_consume(&d->out, d->out.len);
	assert_int_equal(feed(d, "hello\n", 6, &resume, &res), VPND_UAPI_CLOSE);
	assert_int_equal(feed(d, "gex", 3, &resume, &res), VPND_UAPI_CLOSE);
	assert_int_equal(feed(d, "set=2\n\n", 7, &resume, &res), VPND_UAPI_CLOSE);
	assert_int_equal(feed(d, "\n", 1, &resume, &res), VPND_UAPI_CLOSE);
	assert_int_equal(feed(d, "\0", 1, &resume, &res), VPND_UAPI_CLOSE);
	assert_int_equal(d->out.len, 0);
	assert_int_equal(feed(d, "s", 1, &resume, &res), VPND_UAPI_INCOMPLETE);
	assert_int_equal(feed(d, "", 0, &resume, &res), VPND_UAPI_INCOMPLETE);
}

static void test_stream_size_limit(void **state)
{
	struct dev *d = *state;
	struct vpnd_uapi_outcome res;
	size_t resume = 0, n = VPND_UAPI_MAX_REQUEST;
	char *req = malloc(n);

	assert_non_null(req);
	memset(req, 'a', n);
	memcpy(req, "set=1\n", 6);
	for (size_t i = 6; i + 4 <= n; i += 4)
		memcpy(req + i, "a=b\n", 4);
	assert_int_equal(feed(d, req, n - 1, &resume, &res), VPND_UAPI_INCOMPLETE);
	assert_int_equal(feed(d, req, n, &resume, &res), VPND_UAPI_ANSWERED_CLOSE);
	assert_int_equal(res.err, -EMSGSIZE);
	/* Just under the limit, the same request is read, and refused for its content. */
	memcpy(req + n - 2, "\n\n", 2);
	resume = 0;
	assert_int_equal(feed(d, req, n, &resume, &res), VPND_UAPI_ANSWERED);
	assert_int_equal(res.err, -EINVAL);
	assert_int_equal(res.line, 2);
	free(req);
}

/* Random streams of protocol-ish bytes: every call consumes what it says, answers end
 * in a blank line, and nothing crashes (the sanitizer build watches memory). */
static void test_stream_garbage(void **state)
{
	static const char alphabet[] = "get=1set=1\n\n\n=_public_keyallowed_iprmv0123456789abcdef"
				       "./:[]%-\0\xff";
	struct dev *d = *state;
	struct vpnd_uapi_outcome res;
	uint32_t seed = 12345;
	char buf[256];

	add_peer(d, "a", 2);
	for (int round = 0; round < 20000; round++) {
		size_t len, pos = 0, resume = 0;

		seed = seed * 1103515245 + 12345;
		len = (seed >> 8) % sizeof(buf);
		memcpy(buf, round % 2 ? "set=1\n" : "get=1\n", 6);
		for (size_t i = round % 3 ? 6 : 0; i < len; i++) {
			seed = seed * 1103515245 + 12345;
			buf[i] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
		}
		if (round % 5 == 0 && len > 90) {
			memcpy(buf + 6, pk_line(2), 75);
			buf[81] = '\n';
		}
		while (pos < len) {
			enum vpnd_uapi_status st;
			size_t before = d->out.len;

			st = feed(d, buf + pos, len - pos, &resume, &res);
			if (st == VPND_UAPI_INCOMPLETE || st == VPND_UAPI_CLOSE)
				break;
			assert_true(res.used > 0 && res.used <= len - pos);
			assert_true(d->out.len >= before + strlen("errno=0\n\n"));
			assert_memory_equal(d->out.data + d->out.len - 2, "\n\n", 2);
			pos += res.used;
			if (st == VPND_UAPI_ANSWERED_CLOSE)
				break;
		}
		vpnd_uapi_buf_consume(&d->out, d->out.len);
	}
	/* The device is still whole and answers. */
	assert_non_null(strstr(get(d), "errno=0\n\n"));
}

static void test_buf(void **state)
{
	struct vpnd_uapi_buf b = {0};

	(void)state;
	for (int i = 0; i < 1000; i++)
		assert_int_equal(vpnd_uapi_buf_append(&b, "0123456789", 10), 0);
	assert_int_equal(b.len, 10000);
	vpnd_uapi_buf_consume(&b, 9995);
	assert_int_equal(b.len, 5);
	assert_memory_equal(b.data, "56789", 5);
	/* What the move left behind is wiped. */
	for (size_t i = 5; i < 10000; i++)
		assert_int_equal(b.data[i], 0);
	vpnd_uapi_buf_consume(&b, 100);
	assert_int_equal(b.len, 0);
	vpnd_uapi_buf_free(&b);
	assert_null(b.data);
}

/* ---- the server ---- */

struct fixture {
	char dir[64];
	char path[160];
	int epfd;
	struct vpnd_uapi_server *srv;
	struct dev *d;
};

static void fixture_device(void *ctx, struct vpnd_uapi_device *u)
{
	device_of(ctx, u);
}

static int srv_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/vpnd-uapi-test.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	/* The socket's directory does not exist yet: the server makes it. */
	snprintf(f->path, sizeof(f->path), "%s/wireguard/vpn0.sock", f->dir);
	f->epfd = epoll_create1(EPOLL_CLOEXEC);
	assert_true(f->epfd >= 0);
	f->d = dev_new(true);
	f->srv = vpnd_uapi_server_open(f->epfd, f->path, fixture_device, f->d);
	assert_non_null(f->srv);
	*state = f;
	return 0;
}

static int srv_teardown(void **state)
{
	struct fixture *f = *state;
	char sub[128];

	vpnd_uapi_server_close(f->srv);
	assert_int_equal(access(f->path, F_OK), -1); /* closing removes the socket */
	close(f->epfd);
	dev_free(f->d);
	snprintf(sub, sizeof(sub), "%s/wireguard", f->dir);
	assert_int_equal(rmdir(sub), 0);
	assert_int_equal(rmdir(f->dir), 0);
	free(f);
	return 0;
}

static void dispatch(int epfd, int timeout_ms)
{
	struct epoll_event ev[16];
	int n = epoll_wait(epfd, ev, 16, timeout_ms);

	for (int i = 0; i < n; i++) {
		struct vpnd_event_source *src = ev[i].data.ptr;

		src->handler(src, ev[i].events);
	}
}

static int client(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	return fd;
}

static uint64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Drive the loop until `answers` blank-line-terminated answers (or the end of the
 * stream) arrived; returns them as one string, and *closed tells whether the server
 * closed the connection. */
static char *collect(struct fixture *f, int fd, int answers, bool *closed)
{
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	uint64_t give_up = ms_now() + 10000;

	assert_non_null(buf);
	*closed = false;
	for (;;) {
		int seen = 0;
		ssize_t n;

		buf[len] = '\0';
		for (char *p = strstr(buf, "errno="); p; p = strstr(p + 1, "errno="))
			seen += strstr(p, "\n\n") != NULL;
		if (answers && seen >= answers)
			break;
		if (len + 4096 + 1 > cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		n = recv(fd, buf + len, 4096, 0);
		if (n > 0) {
			len += (size_t)n;
			continue;
		}
		if (n == 0 || (n < 0 && errno == ECONNRESET)) {
			*closed = true;
			break;
		}
		assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
		if (ms_now() > give_up)
			fail_msg("no answer within 10 s (%zu bytes so far)", len);
		dispatch(f->epfd, 10);
	}
	buf[len] = '\0';
	return buf;
}

static void test_server_requests(void **state)
{
	struct fixture *f = *state;
	struct stat st;
	char req[512], *got, dir[128];
	bool closed;
	int fd, n;

	/* The socket is 0600 and the directory made for it 0755. */
	assert_int_equal(lstat(f->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(dir, sizeof(dir), "%s/wireguard", f->dir);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0755);

	/* Three requests in one write, answered in order on one connection, which stays
	 * open for more. */
	fd = client(f->path);
	n = snprintf(req, sizeof(req),
		     "set=1\n%s\nallowed_ip=10.5.0.0/16\n\nget=1\n\nset=1\nx=1\n\n", pk_line(5));
	assert_int_equal(send(fd, req, (size_t)n, MSG_NOSIGNAL), n);
	got = collect(f, fd, 3, &closed);
	assert_false(closed);
	assert_true(strncmp(got, "errno=0\n\nprivate_key=", 21) == 0);
	assert_non_null(strstr(got, "allowed_ip=10.5.0.0/16\nerrno=0\n\nerrno=-22\n\n"));
	free(got);
	assert_non_null(peer_of(f->d, 5));
	/* A request in pieces. */
	assert_int_equal(send(fd, "ge", 2, MSG_NOSIGNAL), 2);
	dispatch(f->epfd, 10);
	assert_int_equal(send(fd, "t=1\n\n", 5, MSG_NOSIGNAL), 5);
	got = collect(f, fd, 1, &closed);
	assert_non_null(strstr(got, "errno=0\n\n"));
	free(got);
	/* Garbage: closed without an answer. */
	assert_int_equal(send(fd, "hello\n", 6, MSG_NOSIGNAL), 6);
	got = collect(f, fd, 0, &closed);
	assert_true(closed);
	assert_string_equal(got, "");
	free(got);
	close(fd);

	/* A client that half-closes after its request still gets the answer. */
	fd = client(f->path);
	assert_int_equal(send(fd, "get=1\n\n", 7, MSG_NOSIGNAL), 7);
	shutdown(fd, SHUT_WR);
	got = collect(f, fd, 0, &closed);
	assert_true(closed);
	assert_non_null(strstr(got, "errno=0\n\n"));
	free(got);
	close(fd);
}

static void test_server_limits(void **state)
{
	struct fixture *f = *state;
	int fds[VPND_UAPI_MAX_CLIENTS + 1], fd;
	size_t n = VPND_UAPI_MAX_REQUEST + 4096, sent = 0;
	char *big = malloc(n), *got;
	bool closed;

	/* An endless request: answered -EMSGSIZE and closed. */
	assert_non_null(big);
	memcpy(big, "set=1\n", 6);
	memset(big + 6, 'a', n - 6);
	fd = client(f->path);
	for (uint64_t give_up = ms_now() + 10000; sent < n && ms_now() < give_up;) {
		ssize_t k = send(fd, big + sent, n - sent, MSG_NOSIGNAL);

		if (k > 0)
			sent += (size_t)k;
		else if (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			break; /* the server closed while we were writing */
		dispatch(f->epfd, 5);
	}
	got = collect(f, fd, 0, &closed);
	assert_true(closed);
	assert_string_equal(got, "errno=-90\n\n");
	free(got);
	free(big);
	close(fd);

	/* At most VPND_UAPI_MAX_CLIENTS: the next one is closed at once. */
	for (int i = 0; i <= VPND_UAPI_MAX_CLIENTS; i++) {
		fds[i] = client(f->path);
		dispatch(f->epfd, 10);
	}
	got = collect(f, fds[VPND_UAPI_MAX_CLIENTS], 0, &closed);
	assert_true(closed);
	free(got);
	/* The others are served. */
	assert_int_equal(send(fds[0], "get=1\n\n", 7, MSG_NOSIGNAL), 7);
	got = collect(f, fds[0], 1, &closed);
	assert_non_null(strstr(got, "errno=0\n\n"));
	free(got);
	for (int i = 0; i <= VPND_UAPI_MAX_CLIENTS; i++)
		close(fds[i]);
	for (int i = 0; i < 20; i++)
		dispatch(f->epfd, 5);

	/* An idle client is disconnected after the timeout. */
	vpnd_uapi_server_set_client_timeout(f->srv, 100);
	fd = client(f->path);
	assert_int_equal(send(fd, "get=1\n", 6, MSG_NOSIGNAL), 6);
	got = collect(f, fd, 0, &closed);
	assert_true(closed);
	assert_string_equal(got, "");
	free(got);
	close(fd);
}

static void test_server_stale_and_live(void **state)
{
	struct fixture *f = *state;
	struct vpnd_uapi_server *other;
	char path[96];
	int fd;

	/* A live socket is not taken over. */
	other = vpnd_uapi_server_open(f->epfd, f->path, fixture_device, f->d);
	assert_null(other);
	assert_int_equal(errno, EADDRINUSE);

	/* A stale one (nobody listening) is replaced. */
	snprintf(path, sizeof(path), "%s/stale.sock", f->dir);
	{
		struct sockaddr_un sun = {.sun_family = AF_UNIX};

		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
		assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
		close(fd);
	}
	other = vpnd_uapi_server_open(f->epfd, path, fixture_device, f->d);
	assert_non_null(other);
	fd = client(path);
	close(fd);
	vpnd_uapi_server_close(other);
	assert_int_equal(access(path, F_OK), -1);

	/* A file that is not a socket is left alone. */
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_null(vpnd_uapi_server_open(f->epfd, path, fixture_device, f->d));
	assert_int_equal(errno, EEXIST);
	assert_int_equal(unlink(path), 0);
}

int main(void)
{
	/* engine_pair.h helpers this file has no use for. */
	(void)site_count_events;
	(void)pair_run;

	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_get_no_peers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_get_whole_document, setup, teardown),
	    cmocka_unit_test(test_get_after_handshake),
	    cmocka_unit_test_setup_teardown(test_set_private_key, setup, teardown),
	    cmocka_unit_test(test_private_key_without_hook),
	    cmocka_unit_test_setup_teardown(test_private_key_of_a_peer, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_listen_port, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fwmark, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_replace_peers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_line_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_add_peer_generated_name, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_preshared_key, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_public_key_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_own_key_ignored, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_endpoint, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_keepalive, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_allowed_ips, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_allowed_ips_limit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_remove_and_update_only, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_protocol_version, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_refused_request_changes_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stream_framing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stream_size_limit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stream_garbage, setup, teardown),
	    cmocka_unit_test(test_buf),
	    cmocka_unit_test_setup_teardown(test_server_requests, srv_setup, srv_teardown),
	    cmocka_unit_test_setup_teardown(test_server_limits, srv_setup, srv_teardown),
	    cmocka_unit_test_setup_teardown(test_server_stale_and_live, srv_setup, srv_teardown),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
