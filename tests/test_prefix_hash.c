/* The prefix hash set behind the route bookkeeping: on random IPv4 and IPv6 prefixes,
 * with duplicates, it agrees with the plain prefix set (struct vpnd_prefix_set, searched
 * by walking) on what is new and what is there, and IPv4 prefixes are equal whatever the
 * unused address bytes hold. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "daemon/prefix_hash.h"

/* Few distinct values, so that duplicates are common. */
static void random_prefix(struct vpnd_prefix *p)
{
	uint32_t r = randombytes_uniform(1u << 13);

	memset(p, 0, sizeof(*p));
	p->family = r & 1 ? AF_INET6 : AF_INET;
	p->len = (uint8_t)(p->family == AF_INET ? 24 + (r >> 1) % 9 : 48 + (r >> 1) % 81);
	p->addr[0] = 10;
	p->addr[2] = (uint8_t)(r >> 4);
	p->addr[3] = (uint8_t)(r >> 10);
}

static void test_agrees_with_set(void **state)
{
	struct vpnd_prefix_set set = {0};
	struct vpnd_prefix_hash h = {0};
	(void)state;

	for (int i = 0; i < 5000; i++) {
		struct vpnd_prefix p;
		unsigned before = set.count;
		int ret;

		random_prefix(&p);
		assert_int_equal(vpnd_prefix_hash_has(&h, &p), vpnd_prefix_set_has(&set, &p));
		ret = vpnd_prefix_hash_insert(&h, &p);
		assert_int_equal(vpnd_prefix_set_add(&set, &p), 0);
		assert_int_equal(ret, set.count > before ? 1 : 0);
		assert_true(vpnd_prefix_hash_has(&h, &p));
	}
	assert_int_equal(h.count, set.count);
	assert_true(h.count * 2 <= h.cap);
	vpnd_prefix_hash_free(&h);
	vpnd_prefix_set_free(&set);
}

static void test_of_set_and_append(void **state)
{
	struct vpnd_prefix_set set = {0};
	struct vpnd_prefix_hash h;
	struct vpnd_prefix p;
	(void)state;

	assert_int_equal(vpnd_prefix_hash_of_set(&h, &set), 0);
	random_prefix(&p);
	assert_false(vpnd_prefix_hash_has(&h, &p));
	for (int i = 0; i < 3000; i++) {
		random_prefix(&p);
		if (!vpnd_prefix_set_has(&set, &p))
			assert_int_equal(vpnd_prefix_set_append(&set, &p), 0);
	}
	assert_int_equal(vpnd_prefix_hash_of_set(&h, &set), 0);
	assert_int_equal(h.count, set.count);
	for (unsigned i = 0; i < set.count; i++)
		assert_true(vpnd_prefix_hash_has(&h, &set.items[i]));
	for (int i = 0; i < 3000; i++) {
		random_prefix(&p);
		assert_int_equal(vpnd_prefix_hash_has(&h, &p), vpnd_prefix_set_has(&set, &p));
	}
	vpnd_prefix_hash_free(&h);
	vpnd_prefix_set_free(&set);
}

static void test_ipv4_ignores_unused_bytes(void **state)
{
	struct vpnd_prefix_hash h = {0};
	struct vpnd_prefix a = {.family = AF_INET, .addr = {10, 100, 0, 2}, .len = 32}, b = a,
			   c = a;
	(void)state;

	b.addr[9] = 0xff; /* beyond the four bytes of an IPv4 address */
	c.addr[3] = 3;
	assert_int_equal(vpnd_prefix_hash_insert(&h, &a), 1);
	assert_int_equal(vpnd_prefix_hash_insert(&h, &b), 0);
	assert_true(vpnd_prefix_hash_has(&h, &b));
	assert_false(vpnd_prefix_hash_has(&h, &c));
	c = a;
	c.len = 31;
	assert_false(vpnd_prefix_hash_has(&h, &c));
	c.len = 32;
	c.family = AF_INET6;
	assert_false(vpnd_prefix_hash_has(&h, &c));
	vpnd_prefix_hash_free(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_agrees_with_set),
	    cmocka_unit_test(test_of_set_and_append),
	    cmocka_unit_test(test_ipv4_ignores_unused_bytes),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
