/* vpnctl's prefix arithmetic (ctl/cidr.c): parsing, containment and overlap, and the
 * address picking of branch onboarding, checked against a deliberately naive scan. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/cidr.h"

static struct cidr P(const char *s) {
	struct cidr c;
	const char *why = cidr_parse(s, &c, true);

	if (why)
		fail_msg("'%s' %s", s, why);
	return c;
}

static const char *
next(const char *subnet, const char *used_list, const char *taken_list)
{
	static char out[CIDR_TEXT_MAX];
	struct cidr used[16], taken[16], got, s = P(subnet);
	size_t nu = 0, nt = 0;
	char buf[256], *w, *save;

	snprintf(buf, sizeof(buf), "%s", used_list);
	for (w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save))
		used[nu++] = P(w);
	snprintf(buf, sizeof(buf), "%s", taken_list);
	for (w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save))
		taken[nt++] = P(w);
	if (!cidr_next_free(&s, used, nu, taken, nt, &got))
		return "none";
	return cidr_format(out, &got);
}

static void test_parse(void **state)
{
	struct cidr c;
	char buf[CIDR_TEXT_MAX];

	(void)state;
	assert_null(cidr_parse("10.99.0.1/24", &c, false));
	assert_int_equal(c.family, AF_INET);
	assert_int_equal(c.len, 24);
	assert_string_equal(cidr_format(buf, &c), "10.99.0.1/24");
	assert_false(cidr_is_network(&c));
	c = cidr_network(&c);
	assert_string_equal(cidr_format(buf, &c), "10.99.0.0/24");
	assert_true(cidr_is_network(&c));
	assert_null(cidr_parse("fd99::1/64", &c, false));
	assert_int_equal(c.family, AF_INET6);
	assert_null(cidr_parse("10.1.2.3", &c, true));
	assert_int_equal(c.len, 32);
	assert_non_null(cidr_parse("10.1.2.3", &c, false));
	assert_non_null(cidr_parse("10.1.2.3/33", &c, false));
	assert_non_null(cidr_parse("fd00::/129", &c, false));
	assert_non_null(cidr_parse("10.1.2.3/", &c, false));
	assert_non_null(cidr_parse("10.1.2.3/-1", &c, false));
	assert_non_null(cidr_parse("10.1.2.3/ 8", &c, false));
	assert_non_null(cidr_parse("host/24", &c, false));
	assert_non_null(cidr_parse("", &c, true));
}

static void test_overlap(void **state)
{
	struct cidr a = P("10.2.0.0/16"), b = P("10.2.3.0/24"), c = P("10.3.0.0/24");
	struct cidr d = P("fd02::/64");

	(void)state;
	assert_true(cidr_within(&b, &a));
	assert_false(cidr_within(&a, &b));
	assert_true(cidr_overlap(&a, &b));
	assert_true(cidr_overlap(&b, &a));
	assert_false(cidr_overlap(&a, &c));
	assert_false(cidr_overlap(&a, &d));
	assert_true(cidr_contains_addr(&a, b.addr));
	assert_false(cidr_contains_addr(&c, b.addr));
}

/* The table: subnet, HQ's addresses, the peers' allowed-ips, the address expected. */
static void test_next_free_table(void **state)
{
	(void)state;
	/* The lib.sh topology: HQ .1, branches .2 and .3 -> .4 */
	assert_string_equal(
	    next("10.99.0.1/24", "10.99.0.1/24", "10.99.0.2/32 10.99.0.3/32 10.2.0.0/24"),
	    "10.99.0.4/24");
	/* A gap is filled first. */
	assert_string_equal(next("10.99.0.1/24", "10.99.0.1/24", "10.99.0.3/32"), "10.99.0.2/24");
	/* HQ need not be .1; the network address is never given out. */
	assert_string_equal(next("10.99.0.10/24", "10.99.0.10/24", ""), "10.99.0.1/24");
	/* A peer claiming a block: jumped over whole. */
	assert_string_equal(next("10.99.0.1/24", "10.99.0.1/24", "10.99.0.0/26"), "10.99.0.64/24");
	assert_string_equal(next("10.99.0.1/24", "10.99.0.1/24", "10.99.0.0/25 10.99.0.128/26"),
			    "10.99.0.192/24");
	/* Full, up to the broadcast address, which is never given out. */
	assert_string_equal(next("10.99.0.1/24", "10.99.0.1/24",
				 "10.99.0.0/25 10.99.0.128/26 10.99.0.192/27 10.99.0.224/28 "
				 "10.99.0.240/29 10.99.0.248/30 10.99.0.252/31"),
			    "10.99.0.254/24");
	assert_string_equal(next("10.99.0.1/24", "10.99.0.1/24",
				 "10.99.0.0/25 10.99.0.128/26 10.99.0.192/27 10.99.0.224/28 "
				 "10.99.0.240/29 10.99.0.248/30 10.99.0.252/31 10.99.0.254/32"),
			    "none");
	assert_string_equal(next("10.99.0.1/30", "10.99.0.1/30", ""), "10.99.0.2/30");
	assert_string_equal(next("10.99.0.1/30", "10.99.0.1/30 10.99.0.2/32", ""), "none");
	assert_string_equal(next("10.99.0.1/32", "10.99.0.1/32", ""), "none");
	/* Prefixes of the other family, or outside the subnet, do not matter. */
	assert_string_equal(
	    next("10.99.0.1/24", "10.99.0.1/24 fd99::1/64", "fd99::/64 10.2.0.0/24"),
	    "10.99.0.2/24");
	/* IPv6: the subnet-router anycast address (all zero host) is skipped. */
	assert_string_equal(next("fd99::1/64", "fd99::1/64", "fd99::2/128 fd99::3/128"),
			    "fd99::4/64");
	assert_string_equal(next("fd99::5/64", "fd99::5/64", ""), "fd99::1/64");
	/* A /64 whose first half is taken: one jump, not 2^63 steps. */
	assert_string_equal(next("fd99::1/64", "fd99::1/64", "fd99::/65"), "fd99::8000:0:0:0/64");
	/* Last address of an IPv4 /0 region, and a taken block up to the very end. */
	assert_string_equal(next("10.0.0.1/8", "10.0.0.1/8", "10.0.0.0/9 10.128.0.0/9"), "none");
}

/* Random subnets and claims against a linear scan of every address. */
static void test_next_free_against_scan(void **state)
{
	(void)state;
	srand(7);
	for (int round = 0; round < 300; round++) {
		unsigned len = 24 + (unsigned)(rand() % 7); /* /24../30 */
		unsigned size = 1u << (32 - len), hq = 1 + (unsigned)rand() % (size - 2);
		struct cidr subnet = P("10.50.0.0/24"), used[1], taken[6], got;
		size_t nt = (size_t)(rand() % 6);
		unsigned expect = 0;
		bool found;

		subnet.len = len;
		subnet.addr[3] = (uint8_t)hq;
		used[0] = subnet;
		for (size_t i = 0; i < nt; i++) {
			unsigned tl = len + (unsigned)(rand() % (33 - len));
			taken[i] = P("10.50.0.0/32");
			taken[i].len = tl;
			taken[i].addr[3] = (uint8_t)((unsigned)rand() % size);
			taken[i] = cidr_network(&taken[i]);
		}
		for (unsigned a = 1; a + 1 < size && !expect; a++) {
			uint8_t addr[16] = {10, 50, 0, (uint8_t)a};
			bool free_ = a != hq;

			for (size_t i = 0; i < nt && free_; i++)
				free_ = !cidr_contains_addr(&taken[i], addr);
			if (free_)
				expect = a;
		}
		found = cidr_next_free(&subnet, used, 1, taken, nt, &got);
		if (!expect) {
			assert_false(found);
			continue;
		}
		assert_true(found);
		assert_int_equal(got.addr[3], expect);
		assert_int_equal(got.len, len);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_overlap),
	    cmocka_unit_test(test_next_free_table),
	    cmocka_unit_test(test_next_free_against_scan),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
