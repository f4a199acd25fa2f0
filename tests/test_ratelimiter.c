/* The per-source handshake rate limiter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <sodium.h>
#include <string.h>

#include "tunnel/ratelimiter.h"

#define MS 1000000ULL

static struct wg_endpoint v4(const char *ip, uint16_t port)
{
	struct wg_endpoint ep;

	memset(&ep, 0, sizeof(ep));
	ep.addr.in4.sin_family = AF_INET;
	ep.addr.in4.sin_port = htons(port);
	inet_pton(AF_INET, ip, &ep.addr.in4.sin_addr);
	return ep;
}

static struct wg_endpoint v6(const char *ip)
{
	struct wg_endpoint ep;

	memset(&ep, 0, sizeof(ep));
	ep.addr.in6.sin6_family = AF_INET6;
	ep.addr.in6.sin6_port = htons(51820);
	inet_pton(AF_INET6, ip, &ep.addr.in6.sin6_addr);
	return ep;
}

static unsigned allowed_in_a_row(struct wg_ratelimiter *r, const struct wg_endpoint *ep,
				 uint64_t now, unsigned tries)
{
	unsigned n = 0;
	for (unsigned i = 0; i < tries; i++)
		n += wg_ratelimiter_allow(r, ep, now);
	return n;
}

static void test_burst_then_rate(void **state)
{
	struct wg_ratelimiter r;
	struct wg_endpoint a = v4("192.0.2.1", 1000);
	uint64_t now = 5000 * MS;
	unsigned total = 0;
	(void)state;

	assert_int_equal(wg_ratelimiter_init(&r), 0);
	assert_int_equal(allowed_in_a_row(&r, &a, now, 100), WG_RATELIMIT_BURST);
	/* One packet's worth of credit every 50 ms. */
	assert_false(wg_ratelimiter_allow(&r, &a, now + 49 * MS));
	assert_true(wg_ratelimiter_allow(&r, &a, now + 50 * MS));
	/* Over ten seconds of flooding every millisecond, about 20 per second pass. */
	for (uint64_t t = 0; t < 10000; t++)
		total += wg_ratelimiter_allow(&r, &a, now + 100 * MS + t * MS);
	assert_in_range(total, 10 * WG_RATELIMIT_PACKETS_PER_SECOND - 2,
			10 * WG_RATELIMIT_PACKETS_PER_SECOND + WG_RATELIMIT_BURST + 2);
	wg_ratelimiter_free(&r);
}

static void test_sources_are_independent(void **state)
{
	struct wg_ratelimiter r;
	struct wg_endpoint a = v4("192.0.2.1", 1000), a2 = v4("192.0.2.1", 2000);
	struct wg_endpoint b = v4("192.0.2.2", 1000);
	struct wg_endpoint m = v6("::ffff:192.0.2.1");
	uint64_t now = 5000 * MS;
	(void)state;

	assert_int_equal(wg_ratelimiter_init(&r), 0);
	assert_int_equal(allowed_in_a_row(&r, &a, now, 10), WG_RATELIMIT_BURST);
	/* Another port of the same host shares its bucket, as does its mapped form. */
	assert_false(wg_ratelimiter_allow(&r, &a2, now));
	assert_false(wg_ratelimiter_allow(&r, &m, now));
	assert_int_equal(allowed_in_a_row(&r, &b, now, 10), WG_RATELIMIT_BURST);
	wg_ratelimiter_free(&r);
}

static void test_ipv6_by_slash_64(void **state)
{
	struct wg_ratelimiter r;
	struct wg_endpoint a = v6("2001:db8:1:2::1"), same64 = v6("2001:db8:1:2:ffff::9");
	struct wg_endpoint other64 = v6("2001:db8:1:3::1");
	uint64_t now = 5000 * MS;
	(void)state;

	assert_int_equal(wg_ratelimiter_init(&r), 0);
	assert_int_equal(allowed_in_a_row(&r, &a, now, 10), WG_RATELIMIT_BURST);
	assert_false(wg_ratelimiter_allow(&r, &same64, now));
	assert_true(wg_ratelimiter_allow(&r, &other64, now));
	wg_ratelimiter_free(&r);
}

/* A flood from more spoofed sources than the table holds: memory stays fixed, and a
 * steady legitimate source keeps getting through. */
static void test_spoofed_flood_does_not_starve_a_source(void **state)
{
	struct wg_ratelimiter r;
	struct wg_endpoint legit = v4("198.51.100.7", 51820), spoof;
	uint64_t now = 5000 * MS;
	unsigned legit_ok = 0;
	(void)state;

	assert_int_equal(wg_ratelimiter_init(&r), 0);
	for (uint32_t i = 0; i < 200000; i++) {
		uint32_t ip = htonl(0x0a000000u + i);
		spoof = v4("0.0.0.0", 1);
		memcpy(&spoof.addr.in4.sin_addr, &ip, 4);
		wg_ratelimiter_allow(&r, &spoof, now + i * 10000ULL);
		if (i % 5000 == 0)
			legit_ok += wg_ratelimiter_allow(&r, &legit, now + i * 10000ULL);
	}
	/* Every 50 ms the legitimate source asks once: always within its rate. */
	assert_int_equal(legit_ok, 40);
	wg_ratelimiter_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_burst_then_rate),
	    cmocka_unit_test(test_sources_are_independent),
	    cmocka_unit_test(test_ipv6_by_slash_64),
	    cmocka_unit_test(test_spoofed_flood_does_not_starve_a_source),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
