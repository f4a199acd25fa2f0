/* The cryptokey routing trie: hand-picked cases, then thousands of random prefixes
 * checked against a deliberately naive linear table. The random test prints its seed;
 * VPND_TEST_SEED=<n> reruns a failure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "tunnel/allowedips.h"

static char peer_storage[64];
#define PEER(i) ((void *)&peer_storage[(i)])

struct fixture {
	struct wg_allowedips t;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	wg_allowedips_init(&f->t);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	wg_allowedips_free(&f->t);
	assert_null(f->t.root4);
	assert_null(f->t.root6);
	assert_int_equal(f->t.count, 0);
	free(f);
	return 0;
}

/* Text helpers so hand cases read like routes. */
static int family_of(const char *s)
{
	return strchr(s, ':') ? AF_INET6 : AF_INET;
}

static const uint8_t *addr_of(const char *s, uint8_t buf[16])
{
	if (inet_pton(family_of(s), s, buf) != 1)
		fail_msg("bad test address %s", s);
	return buf;
}

static int insert(struct wg_allowedips *t, const char *a, uint8_t cidr, void *peer)
{
	uint8_t b[16];

	return wg_allowedips_insert(t, family_of(a), addr_of(a, b), cidr, peer);
}

static int remove_(struct wg_allowedips *t, const char *a, uint8_t cidr, void *peer)
{
	uint8_t b[16];

	return wg_allowedips_remove(t, family_of(a), addr_of(a, b), cidr, peer);
}

static void *lookup(struct wg_allowedips *t, const char *a)
{
	uint8_t b[16];

	return wg_allowedips_lookup(t, family_of(a), addr_of(a, b));
}

static void *exact(struct wg_allowedips *t, const char *a, uint8_t cidr)
{
	uint8_t b[16];

	return wg_allowedips_lookup_exact(t, family_of(a), addr_of(a, b), cidr);
}

static void test_empty(void **state)
{
	struct fixture *f = *state;

	assert_null(lookup(&f->t, "10.0.0.1"));
	assert_null(lookup(&f->t, "2001:db8::1"));
	assert_null(exact(&f->t, "0.0.0.0", 0));
	assert_int_equal(remove_(&f->t, "10.0.0.0", 8, PEER(1)), -ENOENT);
	wg_allowedips_remove_by_peer(&f->t, PEER(1));
	assert_int_equal(f->t.count, 0);
}

static void test_bad_arguments(void **state)
{
	struct fixture *f = *state;
	uint8_t a[16] = {0};

	assert_int_equal(wg_allowedips_insert(&f->t, AF_INET, a, 33, PEER(1)), -EINVAL);
	assert_int_equal(wg_allowedips_insert(&f->t, AF_INET6, a, 129, PEER(1)), -EINVAL);
	assert_int_equal(wg_allowedips_insert(&f->t, AF_UNIX, a, 0, PEER(1)), -EINVAL);
	assert_int_equal(wg_allowedips_insert(&f->t, AF_INET, a, 8, NULL), -EINVAL);
	assert_null(wg_allowedips_lookup(&f->t, AF_UNIX, a));
	assert_int_equal(f->t.count, 0);
}

static void test_ipv4(void **state)
{
	struct fixture *f = *state;
	struct wg_allowedips *t = &f->t;

	assert_int_equal(insert(t, "0.0.0.0", 0, PEER(1)), 0);
	assert_int_equal(insert(t, "10.0.0.0", 8, PEER(2)), 0);
	assert_int_equal(insert(t, "10.1.0.0", 16, PEER(3)), 0);
	assert_int_equal(insert(t, "10.1.2.3", 32, PEER(4)), 0);
	assert_int_equal(insert(t, "10.1.128.0", 17, PEER(5)), 0);
	assert_int_equal(insert(t, "192.168.20.0", 24, PEER(6)), 0);
	assert_int_equal(t->count, 6);

	assert_ptr_equal(lookup(t, "8.8.8.8"), PEER(1));
	assert_ptr_equal(lookup(t, "10.200.0.1"), PEER(2));
	assert_ptr_equal(lookup(t, "10.1.2.4"), PEER(3));
	assert_ptr_equal(lookup(t, "10.1.2.3"), PEER(4));
	assert_ptr_equal(lookup(t, "10.1.200.1"), PEER(5));
	assert_ptr_equal(lookup(t, "10.1.127.255"), PEER(3));
	assert_ptr_equal(lookup(t, "192.168.20.255"), PEER(6));
	assert_ptr_equal(lookup(t, "192.168.21.0"), PEER(1));
	assert_ptr_equal(lookup(t, "255.255.255.255"), PEER(1));

	/* An IPv4 route says nothing about IPv6. */
	assert_null(lookup(t, "::"));
	assert_null(lookup(t, "::ffff:10.1.2.3"));

	assert_ptr_equal(exact(t, "10.1.0.0", 16), PEER(3));
	assert_null(exact(t, "10.1.0.0", 15));
	assert_null(exact(t, "10.1.0.0", 24));
}

static void test_host_bits_ignored(void **state)
{
	struct fixture *f = *state;
	struct wg_allowedips *t = &f->t;

	assert_int_equal(insert(t, "192.168.20.77", 24, PEER(1)), 0);
	assert_ptr_equal(exact(t, "192.168.20.0", 24), PEER(1));
	assert_ptr_equal(exact(t, "192.168.20.200", 24), PEER(1));
	assert_ptr_equal(lookup(t, "192.168.20.1"), PEER(1));
	assert_null(lookup(t, "192.168.21.77"));
	/* Same prefix written differently: a re-point, not a second route. */
	assert_int_equal(insert(t, "192.168.20.1", 24, PEER(2)), 0);
	assert_int_equal(t->count, 1);
	assert_int_equal(remove_(t, "192.168.20.99", 24, PEER(2)), 0);
	assert_int_equal(t->count, 0);
	assert_null(lookup(t, "192.168.20.1"));
}

static void test_ipv6(void **state)
{
	struct fixture *f = *state;
	struct wg_allowedips *t = &f->t;

	assert_int_equal(insert(t, "::", 0, PEER(1)), 0);
	assert_int_equal(insert(t, "2001:db8:1:2::", 64, PEER(2)), 0);
	assert_int_equal(insert(t, "2001:db8:1:2::1", 128, PEER(3)), 0);
	assert_int_equal(insert(t, "2001:db8:1:2:8000::", 65, PEER(4)), 0);
	assert_int_equal(insert(t, "fd99::", 16, PEER(5)), 0);
	assert_int_equal(t->count, 5);

	assert_ptr_equal(lookup(t, "2001:db8:1:3::1"), PEER(1));
	assert_ptr_equal(lookup(t, "2001:db8:1:2::2"), PEER(2));
	assert_ptr_equal(lookup(t, "2001:db8:1:2::1"), PEER(3));
	assert_ptr_equal(lookup(t, "2001:db8:1:2:ffff::1"), PEER(4));
	assert_ptr_equal(lookup(t, "2001:db8:1:2:7fff:ffff:ffff:ffff"), PEER(2));
	assert_ptr_equal(lookup(t, "fd99:ffff::1"), PEER(5));
	assert_ptr_equal(lookup(t, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), PEER(1));
	assert_null(lookup(t, "10.0.0.1"));

	assert_ptr_equal(exact(t, "2001:db8:1:2::1", 128), PEER(3));
	assert_null(exact(t, "2001:db8:1:2::1", 127));
	assert_ptr_equal(exact(t, "::", 0), PEER(1));
}

static void test_remove_exposes_shorter(void **state)
{
	struct fixture *f = *state;
	struct wg_allowedips *t = &f->t;

	assert_int_equal(insert(t, "10.0.0.0", 8, PEER(1)), 0);
	assert_int_equal(insert(t, "10.1.0.0", 16, PEER(2)), 0);
	assert_int_equal(insert(t, "10.1.1.0", 24, PEER(3)), 0);
	assert_ptr_equal(lookup(t, "10.1.1.1"), PEER(3));

	/* Only the owner can remove a prefix. */
	assert_int_equal(remove_(t, "10.1.1.0", 24, PEER(2)), -ENOENT);
	/* A prefix on the path that was never inserted is not removable. */
	assert_int_equal(remove_(t, "10.1.0.0", 12, PEER(2)), -ENOENT);

	assert_int_equal(remove_(t, "10.1.1.0", 24, PEER(3)), 0);
	assert_ptr_equal(lookup(t, "10.1.1.1"), PEER(2));
	assert_int_equal(remove_(t, "10.1.1.0", 24, PEER(3)), -ENOENT);
	assert_int_equal(remove_(t, "10.1.0.0", 16, PEER(2)), 0);
	assert_ptr_equal(lookup(t, "10.1.1.1"), PEER(1));
	assert_int_equal(t->count, 1);

	/* Removing the middle of a chain keeps both ends. */
	assert_int_equal(insert(t, "10.1.0.0", 16, PEER(2)), 0);
	assert_int_equal(insert(t, "10.1.1.0", 24, PEER(3)), 0);
	assert_int_equal(remove_(t, "10.1.0.0", 16, PEER(2)), 0);
	assert_ptr_equal(lookup(t, "10.1.1.1"), PEER(3));
	assert_ptr_equal(lookup(t, "10.1.2.1"), PEER(1));
	assert_int_equal(t->count, 2);
}

static void test_remove_join_node(void **state)
{
	struct fixture *f = *state;
	struct wg_allowedips *t = &f->t;

	/* 10.0.0.0/24 and 10.0.1.0/24 meet at a /23 that nobody inserted. */
	assert_int_equal(insert(t, "10.0.0.0", 24, PEER(1)), 0);
	assert_int_equal(insert(t, "10.0.1.0", 24, PEER(2)), 0);
	assert_null(exact(t, "10.0.0.0", 23));
	assert_int_equal(remove_(t, "10.0.0.0", 23, NULL), -ENOENT);
	assert_int_equal(t->count, 2);

	/* The join node can later become a real prefix and lose it again. */
	assert_int_equal(insert(t, "10.0.0.0", 23, PEER(3)), 0);
	assert_int_equal(t->count, 3);
	assert_int_equal(remove_(t, "10.0.0.0", 24, PEER(1)), 0);
	assert_ptr_equal(lookup(t, "10.0.0.1"), PEER(3));
	assert_ptr_equal(lookup(t, "10.0.1.1"), PEER(2));
	assert_int_equal(remove_(t, "10.0.0.0", 23, PEER(3)), 0);
	assert_null(lookup(t, "10.0.0.1"));
	assert_ptr_equal(lookup(t, "10.0.1.1"), PEER(2));
	assert_int_equal(t->count, 1);
}

static void test_repoint(void **state)
{
	struct fixture *f = *state;
	struct wg_allowedips *t = &f->t;

	assert_int_equal(insert(t, "10.2.0.0", 24, PEER(1)), 0);
	assert_int_equal(insert(t, "fd00::", 8, PEER(1)), 0);
	assert_int_equal(insert(t, "10.2.0.0", 24, PEER(2)), 0);
	assert_int_equal(t->count, 2);
	assert_ptr_equal(lookup(t, "10.2.0.9"), PEER(2));
	assert_int_equal(remove_(t, "10.2.0.0", 24, PEER(1)), -ENOENT);
	assert_int_equal(insert(t, "fd00::", 8, PEER(2)), 0);
	assert_int_equal(t->count, 2);
	wg_allowedips_remove_by_peer(t, PEER(1));
	assert_int_equal(t->count, 2);
	assert_ptr_equal(lookup(t, "fd00::1"), PEER(2));
}

static void test_remove_by_peer(void **state)
{
	struct fixture *f = *state;
	struct wg_allowedips *t = &f->t;

	assert_int_equal(insert(t, "0.0.0.0", 0, PEER(1)), 0);
	assert_int_equal(insert(t, "10.0.0.0", 8, PEER(2)), 0);
	assert_int_equal(insert(t, "10.1.0.0", 16, PEER(1)), 0);
	assert_int_equal(insert(t, "10.1.1.0", 24, PEER(2)), 0);
	assert_int_equal(insert(t, "10.3.0.0", 16, PEER(2)), 0);
	assert_int_equal(insert(t, "2001:db8::", 32, PEER(2)), 0);
	assert_int_equal(insert(t, "2001:db8:1::", 48, PEER(1)), 0);
	assert_int_equal(t->count, 7);

	wg_allowedips_remove_by_peer(t, PEER(2));
	assert_int_equal(t->count, 3);
	assert_ptr_equal(lookup(t, "10.1.1.1"), PEER(1));
	assert_ptr_equal(lookup(t, "10.3.0.1"), PEER(1));
	assert_ptr_equal(lookup(t, "10.9.0.1"), PEER(1));
	assert_ptr_equal(lookup(t, "2001:db8:1::1"), PEER(1));
	assert_null(lookup(t, "2001:db8:2::1"));

	wg_allowedips_remove_by_peer(t, PEER(1));
	assert_int_equal(t->count, 0);
	assert_null(t->root4);
	assert_null(t->root6);
}

/* Every prefix length of one address: the deepest possible path. */
static void test_deepest_chain(void **state)
{
	struct fixture *f = *state;
	struct wg_allowedips *t = &f->t;
	uint8_t a[16], probe[16];

	memset(a, 0xa5, sizeof(a));
	for (unsigned int c = 0; c <= 128; ++c)
		assert_int_equal(wg_allowedips_insert(t, AF_INET6, a, c, PEER(c % 2)), 0);
	assert_int_equal(t->count, 129);
	for (unsigned int c = 0; c < 128; ++c) {
		/* Flipping bit c leaves exactly c leading bits in common. */
		memcpy(probe, a, sizeof(probe));
		probe[c / 8] ^= 0x80 >> (c % 8);
		assert_ptr_equal(wg_allowedips_lookup(t, AF_INET6, probe), PEER(c % 2));
	}
	assert_ptr_equal(wg_allowedips_lookup(t, AF_INET6, a), PEER(0));
	wg_allowedips_remove_by_peer(t, PEER(0));
	assert_int_equal(t->count, 64);
	assert_ptr_equal(wg_allowedips_lookup(t, AF_INET6, a), PEER(1));
}

/* ---- randomized comparison with a linear table ---- */

struct naive_route {
	int family;
	uint8_t addr[16];
	uint8_t cidr;
	void *peer;
};

struct naive {
	struct naive_route *r;
	size_t n, cap;
};

static void mask_bytes(uint8_t *a, unsigned int len, unsigned int cidr)
{
	for (unsigned int i = 0; i < len; ++i) {
		if (cidr >= 8 * (i + 1))
			continue;
		a[i] = cidr <= 8 * i ? 0 : a[i] & (uint8_t)(0xff << (8 - (cidr - 8 * i)));
	}
}

static unsigned int addr_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

static bool naive_contains(const struct naive_route *r, int family, const uint8_t *a)
{
	uint8_t m[16];

	if (r->family != family)
		return false;
	memcpy(m, a, addr_len(family));
	mask_bytes(m, addr_len(family), r->cidr);
	return memcmp(m, r->addr, addr_len(family)) == 0;
}

static struct naive_route *naive_find(struct naive *nv, int family, const uint8_t *a, uint8_t cidr)
{
	for (size_t i = 0; i < nv->n; ++i) {
		struct naive_route *r = &nv->r[i];

		if (r->family == family && r->cidr == cidr &&
		    memcmp(r->addr, a, addr_len(family)) == 0)
			return r;
	}
	return NULL;
}

static void naive_insert(struct naive *nv, int family, const uint8_t *addr, uint8_t cidr,
			 void *peer)
{
	struct naive_route *r;
	uint8_t a[16] = {0};

	memcpy(a, addr, addr_len(family));
	mask_bytes(a, addr_len(family), cidr);
	r = naive_find(nv, family, a, cidr);
	if (!r) {
		if (nv->n == nv->cap) {
			nv->cap = nv->cap ? 2 * nv->cap : 1024;
			nv->r = realloc(nv->r, nv->cap * sizeof(*nv->r));
			assert_non_null(nv->r);
		}
		r = &nv->r[nv->n++];
		r->family = family;
		memcpy(r->addr, a, sizeof(a));
		r->cidr = cidr;
	}
	r->peer = peer;
}

static void *naive_lookup(const struct naive *nv, int family, const uint8_t *a)
{
	const struct naive_route *best = NULL;

	for (size_t i = 0; i < nv->n; ++i)
		if (naive_contains(&nv->r[i], family, a) && (!best || nv->r[i].cidr > best->cidr))
			best = &nv->r[i];
	return best ? best->peer : NULL;
}

/* splitmix64: the same sequence on every libc, so a printed seed reproduces. */
static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned int rnd_below(unsigned int n)
{
	return (unsigned int)(rnd() % n);
}

static void rnd_bytes(uint8_t *b, unsigned int len)
{
	for (unsigned int i = 0; i < len; ++i)
		b[i] = (uint8_t)rnd();
}

/* Random bits below `keep` leading bits of base. */
static void rnd_extend(uint8_t *out, const uint8_t *base, unsigned int len, unsigned int keep)
{
	uint8_t r[16];

	rnd_bytes(r, len);
	for (unsigned int i = 0; i < len; ++i) {
		uint8_t m = keep >= 8 * (i + 1) ? 0xff
			    : keep <= 8 * i	? 0
						: (uint8_t)(0xff << (8 - (keep - 8 * i)));
		out[i] = (base[i] & m) | (r[i] & ~m);
	}
}

/* Half the prefixes extend one already inserted, so they nest and share paths. */
static void rnd_prefix(const struct naive *nv, int family, uint8_t *a, uint8_t *cidr)
{
	unsigned int len = addr_len(family), bits = 8 * len;
	const struct naive_route *parent = NULL;

	if (nv->n && rnd_below(2)) {
		const struct naive_route *r = &nv->r[rnd_below((unsigned int)nv->n)];

		if (r->family == family && r->cidr < bits)
			parent = r;
	}
	if (parent) {
		*cidr = (uint8_t)(parent->cidr + 1 + rnd_below(bits - parent->cidr));
		rnd_extend(a, parent->addr, len, parent->cidr);
	} else {
		/* Mostly realistic lengths, with the occasional /0 and host route. */
		*cidr = (uint8_t)(rnd_below(8) == 0 ? rnd_below(bits + 1)
						    : bits / 2 + rnd_below(bits / 2 + 1));
		rnd_bytes(a, len);
	}
}

static void rnd_probe(const struct naive *nv, int family, uint8_t *a)
{
	unsigned int len = addr_len(family);

	if (nv->n && rnd_below(4) != 0) {
		const struct naive_route *r = &nv->r[rnd_below((unsigned int)nv->n)];

		if (r->family == family) {
			rnd_extend(a, r->addr, len, r->cidr);
			return;
		}
	}
	rnd_bytes(a, len);
}

static void compare(const struct wg_allowedips *t, const struct naive *nv, unsigned int probes,
		    const char *phase, uint64_t seed)
{
	for (unsigned int i = 0; i < probes; ++i) {
		int family = rnd_below(2) ? AF_INET : AF_INET6;
		uint8_t a[16];

		rnd_probe(nv, family, a);
		if (wg_allowedips_lookup(t, family, a) != naive_lookup(nv, family, a))
			fail_msg("%s: lookup %u differs (seed %" PRIu64 ")", phase, i, seed);
	}
	for (size_t i = 0; i < nv->n; ++i) {
		const struct naive_route *r = &nv->r[i];

		if (wg_allowedips_lookup_exact(t, r->family, r->addr, r->cidr) != r->peer)
			fail_msg("%s: exact lookup of route %zu differs (seed %" PRIu64 ")", phase,
				 i, seed);
	}
	assert_int_equal(t->count, nv->n);
}

static void naive_remove_at(struct naive *nv, size_t i)
{
	nv->r[i] = nv->r[--nv->n];
}

static void test_random_against_naive(void **state)
{
	struct fixture *f = *state;
	struct wg_allowedips *t = &f->t;
	struct naive nv = {0};
	const char *env = getenv("VPND_TEST_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 0) : 0x76706e64ULL;

	printf("allowedips random test: VPND_TEST_SEED=%" PRIu64 "\n", seed);
	rng_state = seed;

	for (unsigned int i = 0; i < 12000; ++i) {
		int family = i % 2 ? AF_INET : AF_INET6;
		void *peer = PEER(rnd_below(sizeof(peer_storage)));
		uint8_t a[16];
		uint8_t cidr;

		rnd_prefix(&nv, family, a, &cidr);
		assert_int_equal(wg_allowedips_insert(t, family, a, cidr, peer), 0);
		naive_insert(&nv, family, a, cidr, peer);
	}
	compare(t, &nv, 10000, "after insert", seed);

	for (unsigned int i = 0; i < 4000 && nv.n; ++i) {
		size_t k = rnd_below((unsigned int)nv.n);
		struct naive_route r = nv.r[k];

		/* Now and then the wrong owner asks first, which must change nothing. */
		if (rnd_below(8) == 0 && r.peer != PEER(0))
			assert_int_equal(wg_allowedips_remove(t, r.family, r.addr, r.cidr, PEER(0)),
					 -ENOENT);
		assert_int_equal(wg_allowedips_remove(t, r.family, r.addr, r.cidr, r.peer), 0);
		naive_remove_at(&nv, k);
	}
	compare(t, &nv, 10000, "after remove", seed);

	for (unsigned int p = 0; p < 8; ++p) {
		wg_allowedips_remove_by_peer(t, PEER(p));
		for (size_t i = nv.n; i-- > 0;)
			if (nv.r[i].peer == PEER(p))
				naive_remove_at(&nv, i);
	}
	compare(t, &nv, 10000, "after remove_by_peer", seed);

	/* Emptied one route at a time, the trie must not keep a single join node. */
	while (nv.n) {
		size_t k = rnd_below((unsigned int)nv.n);

		assert_int_equal(wg_allowedips_remove(t, nv.r[k].family, nv.r[k].addr, nv.r[k].cidr,
						      nv.r[k].peer),
				 0);
		naive_remove_at(&nv, k);
	}
	assert_int_equal(t->count, 0);
	assert_null(t->root4);
	assert_null(t->root6);

	free(nv.r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ipv4, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_host_bits_ignored, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ipv6, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_remove_exposes_shorter, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_remove_join_node, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_repoint, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_remove_by_peer, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_deepest_chain, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_random_against_naive, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
