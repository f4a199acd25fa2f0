/* WireGuard UAPI set requests (see uapi.h), read line by line into a model of the device
 * (every peer with its settings and allowed-ips, and a prefix table saying who owns each
 * prefix) with wireguard-go's semantics, then applied to the engine as a difference:
 * nothing is applied unless the whole request is good. */
#include "uapi.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "tunnel/allowedips.h"
#include "tunnel/peer.h"
#include "vpnd/key.h"
#include "vpnd/limits.h"

#define KEY_HEX_LEN 64
#define VALUE_MAX   128 /* longer than any valid value (an endpoint, a prefix, a key) */

/* ---- values ---- */

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10; /* wireguard-go accepts either case */
	return -1;
}

static bool parse_key(const char *v, size_t n, uint8_t out[32])
{
	if (n != KEY_HEX_LEN)
		return false;
	for (size_t i = 0; i < 32; i++) {
		int hi = hex_digit(v[2 * i]), lo = hex_digit(v[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			sodium_memzero(out, 32);
			return false;
		}
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

/* Decimal digits only (leading zeros allowed, as Go's ParseUint), at most max. */
static bool parse_uint(const char *v, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t x = 0;

	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return false;
		x = x * 10 + (uint64_t)(v[i] - '0');
		if (x > max)
			return false;
	}
	*out = x;
	return true;
}

/* Copy a value for the C string functions; false if it cannot be valid (too long, or
 * an embedded NUL). */
static bool cstr(char *dst, size_t cap, const char *v, size_t n)
{
	if (n >= cap || memchr(v, '\0', n))
		return false;
	memcpy(dst, v, n);
	dst[n] = '\0';
	return true;
}

/* "ADDR/BITS", numeric. Host bits are cleared, as wireguard-go and the kernel do. */
static bool parse_prefix(const char *v, size_t n, struct wg_allowed_ip *ip)
{
	char s[VALUE_MAX];
	char *slash;
	uint64_t bits;
	unsigned max;

	if (!cstr(s, sizeof(s), v, n) || !(slash = strchr(s, '/')))
		return false;
	*slash++ = '\0';
	memset(ip, 0, sizeof(*ip));
	ip->family = strchr(s, ':') ? AF_INET6 : AF_INET;
	max = ip->family == AF_INET ? 32 : 128;
	if (inet_pton(ip->family, s, ip->addr) != 1)
		return false;
	/* No sign, no leading zero, no more digits than needed. */
	if ((slash[0] == '0' && slash[1]) || strlen(slash) > 3 ||
	    !parse_uint(slash, strlen(slash), max, &bits))
		return false;
	ip->cidr = (uint8_t)bits;
	for (unsigned bit = ip->cidr; bit < max; bit++)
		ip->addr[bit / 8] &= (uint8_t) ~(0x80 >> (bit % 8));
	return true;
}

static bool same_prefix(const struct wg_allowed_ip *a, const struct wg_allowed_ip *b)
{
	return a->family == b->family && a->cidr == b->cidr &&
	       memcmp(a->addr, b->addr, a->family == AF_INET ? 4 : 16) == 0;
}

/* ---- set: the model ---- */

struct mpeer {
	uint8_t key[32];
	struct wg_peer *live; /* the engine's peer this entry starts from; NULL: new */
	bool gone;	      /* removed by the request (or not created: update_only) */
	bool psk_set, ep_set, ka_set, ips_dirty;
	uint8_t psk[32];
	struct wg_endpoint ep;
	uint16_t ka;
	struct wg_allowed_ip *ips;
	unsigned n_ips, cap_ips;
};

struct model {
	const struct vpnd_uapi_device *dev;
	struct vpnd_uapi_outcome *res;
	unsigned line;
	uint8_t pub[32]; /* the device's public key as the request leaves it */
	bool pk_set, mark_set;
	uint8_t pk[32];
	uint32_t mark;
	struct mpeer **peers; /* every engine peer first, then those the request adds */
	unsigned n, cap, active;
	struct wg_allowedips owners; /* prefix -> the struct mpeer holding it */
	bool in_peers;		     /* a public_key line was seen */
	struct mpeer *cur;	     /* NULL in a peer section: ignored (removed, own key) */
	bool cur_created;
};

static int fail(struct model *m, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct model *m, int err, const char *fmt, ...)
{
	va_list ap;

	m->res->line = m->line;
	va_start(ap, fmt);
	vsnprintf(m->res->msg, sizeof(m->res->msg), fmt, ap);
	va_end(ap);
	return err;
}

static struct mpeer *new_entry(struct model *m, const uint8_t key[32], struct wg_peer *live)
{
	struct mpeer *e;

	if (m->n == m->cap) {
		unsigned cap = m->cap ? m->cap * 2 : 16;
		struct mpeer **grown = realloc(m->peers, cap * sizeof(*grown));

		if (!grown)
			return NULL;
		m->peers = grown;
		m->cap = cap;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	memcpy(e->key, key, 32);
	e->live = live;
	m->peers[m->n++] = e;
	m->active++;
	return e;
}

static void model_free(struct model *m)
{
	for (unsigned i = 0; i < m->n; i++) {
		free(m->peers[i]->ips);
		sodium_memzero(m->peers[i], sizeof(*m->peers[i]));
		free(m->peers[i]);
	}
	free(m->peers);
	wg_allowedips_free(&m->owners);
	sodium_memzero(m->pk, sizeof(m->pk));
}

/* The device as it is: every peer with its allowed-ips. */
static int model_init(struct model *m, const struct vpnd_uapi_device *dev,
		      struct vpnd_uapi_outcome *res)
{
	memset(m, 0, sizeof(*m));
	m->dev = dev;
	m->res = res;
	wg_allowedips_init(&m->owners);
	memcpy(m->pub, wg_engine_public_key(dev->engine), 32);
	for (struct wg_peer *p = wg_engine_peers(dev->engine); p; p = p->next) {
		struct mpeer *e = new_entry(m, p->handshake.remote_static, p);

		if (!e)
			return -ENOMEM;
		if (p->n_allowed_ips) {
			e->ips = malloc(p->n_allowed_ips * sizeof(*e->ips));
			if (!e->ips)
				return -ENOMEM;
			memcpy(e->ips, p->allowed_ips, p->n_allowed_ips * sizeof(*e->ips));
			e->n_ips = e->cap_ips = p->n_allowed_ips;
		}
		for (unsigned i = 0; i < e->n_ips; i++)
			if (wg_allowedips_insert(&m->owners, e->ips[i].family, e->ips[i].addr,
						 e->ips[i].cidr, e) < 0)
				return -ENOMEM;
	}
	return 0;
}

static struct mpeer *find_active(const struct model *m, const uint8_t key[32])
{
	for (unsigned i = 0; i < m->n; i++)
		if (!m->peers[i]->gone && memcmp(m->peers[i]->key, key, 32) == 0)
			return m->peers[i];
	return NULL;
}

static void clear_ips(struct model *m, struct mpeer *e)
{
	for (unsigned i = 0; i < e->n_ips; i++)
		wg_allowedips_remove(&m->owners, e->ips[i].family, e->ips[i].addr, e->ips[i].cidr,
				     e);
	e->n_ips = 0;
	e->ips_dirty = true;
}

static void drop_entry(struct model *m, struct mpeer *e)
{
	clear_ips(m, e);
	e->gone = true;
	m->active--;
}

/* Insert a prefix for e; like a trie insert, it leaves whichever peer held it. */
static int add_prefix(struct model *m, struct mpeer *e, const struct wg_allowed_ip *ip)
{
	struct mpeer *owner =
	    wg_allowedips_lookup_exact(&m->owners, ip->family, ip->addr, ip->cidr);

	if (owner == e)
		return 0;
	if (e->n_ips >= VPND_MAX_ALLOWED_IPS)
		return fail(m, -EINVAL, "allowed_ip: more than %d for one peer",
			    VPND_MAX_ALLOWED_IPS);
	if (e->n_ips == e->cap_ips) {
		unsigned cap = e->cap_ips ? e->cap_ips * 2 : 8;
		struct wg_allowed_ip *grown = realloc(e->ips, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		e->ips = grown;
		e->cap_ips = cap;
	}
	if (wg_allowedips_insert(&m->owners, ip->family, ip->addr, ip->cidr, e) < 0)
		return -ENOMEM;
	if (owner) {
		for (unsigned i = 0; i < owner->n_ips; i++) {
			if (same_prefix(&owner->ips[i], ip)) {
				memmove(&owner->ips[i], &owner->ips[i + 1],
					(owner->n_ips - i - 1) * sizeof(*ip));
				owner->n_ips--;
				break;
			}
		}
		owner->ips_dirty = true;
	}
	e->ips[e->n_ips++] = *ip;
	e->ips_dirty = true;
	return 0;
}

static bool value_is_true(const char *v, size_t n)
{
	return n == 4 && memcmp(v, "true", 4) == 0;
}

#define KEY_IS(lit) (klen == sizeof(lit) - 1 && memcmp(k, lit, klen) == 0)

static int device_line(struct model *m, const char *k, size_t klen, const char *v, size_t n)
{
	struct mpeer *self;
	char shown[VPND_UAPI_PRINTABLE_MAX];
	uint64_t x;

	if (KEY_IS("private_key")) {
		uint8_t key[32];

		if (!parse_key(v, n, key))
			return fail(m, -EINVAL, "private_key: not 64 hex digits");
		if (sodium_is_zero(key, 32))
			return fail(m, -EINVAL,
				    "private_key: an all-zero key would leave the "
				    "interface without one; vpnd always has a key");
		/* The last line counts: a key set and then set back is no change. */
		m->pk_set = sodium_memcmp(key, m->dev->private_key, 32) != 0;
		if (m->pk_set && !m->dev->set_private_key) {
			sodium_memzero(key, sizeof(key));
			return fail(m, -EOPNOTSUPP, "private_key cannot be changed here");
		}
		memcpy(m->pk, key, 32);
		crypto_scalarmult_base(m->pub, key);
		sodium_memzero(key, sizeof(key));
		/* As wireguard-go: a peer that has our new public key cannot stay a peer. */
		self = find_active(m, m->pub);
		if (self)
			drop_entry(m, self);
		return 0;
	}
	if (KEY_IS("listen_port")) {
		if (!parse_uint(v, n, 65535, &x))
			return fail(m, -EINVAL, "listen_port: '%s' is not a port",
				    vpnd_uapi_printable(shown, v, n));
		if (x != m->dev->listen_port)
			return fail(m, -EOPNOTSUPP,
				    "listen_port: vpnd cannot move from port %u to %u while "
				    "running; change listen-port in the config file and restart",
				    m->dev->listen_port, (unsigned)x);
		return 0;
	}
	if (KEY_IS("fwmark")) {
		if (!parse_uint(v, n, UINT32_MAX, &x))
			return fail(m, -EINVAL, "fwmark: '%s' is not a 32-bit number",
				    vpnd_uapi_printable(shown, v, n));
		m->mark_set = x != m->dev->fwmark;
		m->mark = (uint32_t)x;
		if (m->mark_set && !m->dev->set_fwmark)
			return fail(m, -EOPNOTSUPP, "fwmark cannot be changed here");
		return 0;
	}
	if (KEY_IS("replace_peers")) {
		if (!value_is_true(v, n))
			return fail(m, -EINVAL, "replace_peers: '%s' is not 'true'",
				    vpnd_uapi_printable(shown, v, n));
		for (unsigned i = 0; i < m->n; i++)
			if (!m->peers[i]->gone)
				drop_entry(m, m->peers[i]);
		return 0;
	}
	return fail(m, -EINVAL, "'%s' is not a device key (or a peer key before public_key)",
		    vpnd_uapi_printable(shown, k, klen));
}

/* A public_key line: the peer the following lines are about, created if needed. */
static int select_peer(struct model *m, const char *v, size_t n)
{
	uint8_t key[32], dh[32];
	struct mpeer *e;
	int usable;

	m->in_peers = true;
	if (!parse_key(v, n, key))
		return fail(m, -EINVAL, "public_key: not 64 hex digits");
	m->cur = NULL;
	m->cur_created = false;
	if (memcmp(key, m->pub, 32) == 0)
		return 0; /* our own key: ignored, as wireguard-go does */
	e = find_active(m, key);
	if (e) {
		m->cur = e;
		return 0;
	}
	if (m->active >= VPND_MAX_PEERS)
		return fail(m, -EINVAL, "public_key: more than %d peers", VPND_MAX_PEERS);
	/* A low-order point would make every shared secret zero: no session possible. */
	usable = crypto_scalarmult(dh, m->pk_set ? m->pk : m->dev->private_key, key);
	sodium_memzero(dh, sizeof(dh));
	if (usable != 0)
		return fail(m, -EINVAL, "public_key: not a usable key (low-order point)");
	m->cur = new_entry(m, key, NULL);
	if (!m->cur)
		return -ENOMEM;
	m->cur_created = true;
	return 0;
}

static int peer_line(struct model *m, const char *k, size_t klen, const char *v, size_t n)
{
	struct mpeer *e = m->cur; /* NULL: parse everything, apply nothing */
	struct wg_allowed_ip ip;
	struct wg_endpoint ep;
	char s[VALUE_MAX], shown[VPND_UAPI_PRINTABLE_MAX];
	uint8_t psk[32];
	uint64_t x;

	if (KEY_IS("update_only")) {
		if (!value_is_true(v, n))
			return fail(m, -EINVAL, "update_only: '%s' is not 'true'",
				    vpnd_uapi_printable(shown, v, n));
		if (e && m->cur_created) {
			drop_entry(m, e);
			m->cur = NULL;
		}
	} else if (KEY_IS("remove")) {
		if (!value_is_true(v, n))
			return fail(m, -EINVAL, "remove: '%s' is not 'true'",
				    vpnd_uapi_printable(shown, v, n));
		if (e)
			drop_entry(m, e);
		m->cur = NULL;
	} else if (KEY_IS("preshared_key")) {
		if (!parse_key(v, n, psk))
			return fail(m, -EINVAL, "preshared_key: not 64 hex digits");
		if (e) {
			memcpy(e->psk, psk, 32);
			e->psk_set = true;
		}
		sodium_memzero(psk, sizeof(psk));
	} else if (KEY_IS("endpoint")) {
		if (!cstr(s, sizeof(s), v, n) || wg_endpoint_parse(&ep, s) < 0)
			return fail(m, -EINVAL, "endpoint: '%s' is not IP:PORT or [IPv6]:PORT",
				    vpnd_uapi_printable(shown, v, n));
		if (e) {
			e->ep = ep;
			e->ep_set = true;
		}
	} else if (KEY_IS("persistent_keepalive_interval")) {
		if (!parse_uint(v, n, 65535, &x))
			return fail(m, -EINVAL,
				    "persistent_keepalive_interval: '%s' is not 0..65535",
				    vpnd_uapi_printable(shown, v, n));
		if (e) {
			e->ka = (uint16_t)x;
			e->ka_set = true;
		}
	} else if (KEY_IS("replace_allowed_ips")) {
		if (!value_is_true(v, n))
			return fail(m, -EINVAL, "replace_allowed_ips: '%s' is not 'true'",
				    vpnd_uapi_printable(shown, v, n));
		if (e)
			clear_ips(m, e);
	} else if (KEY_IS("allowed_ip")) {
		if (!parse_prefix(v, n, &ip))
			return fail(m, -EINVAL, "allowed_ip: '%s' is not ADDRESS/BITS",
				    vpnd_uapi_printable(shown, v, n));
		if (e)
			return add_prefix(m, e, &ip);
	} else if (KEY_IS("protocol_version")) {
		if (n != 1 || v[0] != '1')
			return fail(m, -EINVAL, "protocol_version: '%s' is not 1",
				    vpnd_uapi_printable(shown, v, n));
	} else {
		return fail(m, -EINVAL, "'%s' is not a peer key",
			    vpnd_uapi_printable(shown, k, klen));
	}
	return 0;
}

static int read_line(struct model *m, const char *line, size_t len)
{
	const char *eq = memchr(line, '=', len);
	char shown[VPND_UAPI_PRINTABLE_MAX];
	size_t klen;

	if (!eq)
		return fail(m, -EPROTO, "'%s' is not KEY=VALUE",
			    vpnd_uapi_printable(shown, line, len));
	klen = (size_t)(eq - line);
	if (klen == sizeof("public_key") - 1 && memcmp(line, "public_key", klen) == 0)
		return select_peer(m, eq + 1, len - klen - 1);
	if (m->in_peers)
		return peer_line(m, line, klen, eq + 1, len - klen - 1);
	return device_line(m, line, klen, eq + 1, len - klen - 1);
}

/* ---- set: applying the model ---- */

static bool same_ips(const struct wg_peer *p, const struct mpeer *e)
{
	if (p->n_allowed_ips != e->n_ips)
		return false;
	for (unsigned i = 0; i < e->n_ips; i++) {
		bool found = false;

		for (unsigned j = 0; j < p->n_allowed_ips && !found; j++)
			found = same_prefix(&p->allowed_ips[j], &e->ips[i]);
		if (!found)
			return false;
	}
	return true;
}

/* "wg-" and the first 8 characters of the base64 key, made unique with "-2", "-3"... */
static void make_name(const struct model *m, const struct mpeer *e, char name[WG_PEER_NAME_MAX])
{
	const char *given = m->dev->peer_name ? m->dev->peer_name(m->dev->ctx, e->key) : NULL;
	char b64[VPND_KEY_B64_LEN + 1];

	if (given && *given && !wg_engine_find_peer_by_name(m->dev->engine, given)) {
		snprintf(name, WG_PEER_NAME_MAX, "%s", given);
		return;
	}
	vpnd_key_to_base64(b64, e->key);
	snprintf(name, WG_PEER_NAME_MAX, "wg-%.8s", b64);
	for (unsigned i = 2; wg_engine_find_peer_by_name(m->dev->engine, name); i++)
		snprintf(name, WG_PEER_NAME_MAX, "wg-%.8s-%u", b64, i);
}

static int apply_existing(struct model *m, struct mpeer *e, bool *routes)
{
	const struct vpnd_uapi_device *dev = m->dev;
	struct wg_peer *p = e->live;
	unsigned what = 0;
	bool touched = false;
	int ret = 0;

	/* What is set to the value it has is left alone (wg syncconf sends everything). */
	if (e->psk_set && sodium_memcmp(e->psk, p->handshake.preshared_key, 32) != 0) {
		wg_engine_peer_set_preshared_key(dev->engine, p,
						 sodium_is_zero(e->psk, 32) ? NULL : e->psk);
		what |= VPND_UAPI_SET_PSK;
		touched = true;
	}
	if (e->ep_set && !wg_endpoint_eq(&e->ep, &p->endpoint)) {
		wg_engine_peer_set_endpoint(dev->engine, p, &e->ep);
		what |= VPND_UAPI_SET_ENDPOINT;
		touched = true;
	}
	if (e->ka_set && e->ka != p->persistent_keepalive) {
		wg_engine_peer_set_keepalive(dev->engine, p, e->ka, dev->now);
		touched = true;
	}
	if (e->ips_dirty && !same_ips(p, e)) {
		ret = wg_engine_peer_set_allowed_ips(dev->engine, p, e->ips, e->n_ips);
		*routes = true;
		touched = true;
	}
	m->res->changed += touched;
	if (what && dev->peer_set)
		dev->peer_set(dev->ctx, p, what);
	return ret;
}

static int apply_new(struct model *m, struct mpeer *e)
{
	const struct vpnd_uapi_device *dev = m->dev;
	char name[WG_PEER_NAME_MAX];
	struct wg_peer_config c = {.name = name};
	struct wg_peer *p;
	unsigned what = 0;
	int ret = 0;

	make_name(m, e, name);
	memcpy(c.public_key, e->key, 32);
	if (e->psk_set && !sodium_is_zero(e->psk, 32)) {
		c.has_preshared_key = true;
		memcpy(c.preshared_key, e->psk, 32);
		what |= VPND_UAPI_SET_PSK;
	}
	if (e->ep_set) {
		c.endpoint = e->ep;
		what |= VPND_UAPI_SET_ENDPOINT;
	}
	c.persistent_keepalive = e->ka;
	p = wg_engine_add_peer(dev->engine, &c, dev->now);
	sodium_memzero(c.preshared_key, sizeof(c.preshared_key));
	if (!p)
		return -errno;
	if (e->n_ips)
		ret = wg_engine_peer_set_allowed_ips(dev->engine, p, e->ips, e->n_ips);
	m->res->added++;
	if (what && dev->peer_set)
		dev->peer_set(dev->ctx, p, what);
	return ret;
}

/* Everything is checked: apply the difference. Only the hooks and memory can fail. */
static int apply(struct model *m)
{
	const struct vpnd_uapi_device *dev = m->dev;
	bool routes = false;
	int ret, first = 0;

	m->line = 0;
	if (m->mark_set && (ret = dev->set_fwmark(dev->ctx, m->mark)) < 0)
		return fail(m, ret, "fwmark: cannot mark the sockets with %" PRIu32 ": %s", m->mark,
			    strerror(-ret));
	if (m->pk_set && (ret = dev->set_private_key(dev->ctx, m->pk)) < 0) {
		if (m->mark_set)
			dev->set_fwmark(dev->ctx, dev->fwmark);
		return fail(m, ret, "private_key: not accepted: %s", strerror(-ret));
	}
	/* The peers: removals first, so a key removed and added again is a new peer. */
	for (unsigned i = 0; i < m->n; i++) {
		struct mpeer *e = m->peers[i];

		if (e->live && e->gone) {
			wg_engine_remove_peer(dev->engine, e->live);
			e->live = NULL;
			m->res->removed++;
			routes = true;
		}
	}
	for (unsigned i = 0; i < m->n; i++) {
		struct mpeer *e = m->peers[i];

		if (e->gone)
			continue;
		if (e->live) {
			ret = apply_existing(m, e, &routes);
		} else {
			ret = apply_new(m, e);
			routes = true;
		}
		if (ret < 0 && !first) {
			first = ret;
			fail(m, ret, "applying the request half-way: %s", strerror(-ret));
		}
	}
	if (routes && dev->peers_changed)
		dev->peers_changed(dev->ctx);
	return first;
}

int vpnd_uapi_set(const struct vpnd_uapi_device *dev, const char *body, size_t len,
		  struct vpnd_uapi_outcome *res)
{
	struct model m;
	size_t pos = 0;
	int ret;

	res->err = 0;
	res->line = 0;
	res->msg[0] = '\0';
	res->added = res->removed = res->changed = 0;
	ret = model_init(&m, dev, res);
	m.line = 1;
	while (!ret && pos < len) {
		const char *nl = memchr(body + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (body + pos)) : len - pos;

		m.line++;
		ret = read_line(&m, body + pos, n);
		pos += n + 1;
	}
	if (ret == -ENOMEM && !res->msg[0])
		fail(&m, ret, "out of memory");
	if (!ret)
		ret = apply(&m);
	model_free(&m);
	res->err = ret;
	return ret;
}
