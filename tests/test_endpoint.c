/* Endpoint parsing, printing, comparison and cookie bytes; drop reason names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "tunnel/endpoint.h"
#include "tunnel/stats.h"

static struct wg_endpoint parsed(const char *s)
{
	struct wg_endpoint ep;

	if (wg_endpoint_parse(&ep, s) != 0)
		fail_msg("'%s' should parse", s);
	return ep;
}

static void test_parse_ipv4(void **state)
{
	struct wg_endpoint ep = parsed("203.0.113.10:51820");
	(void)state;

	assert_int_equal(ep.addr.sa.sa_family, AF_INET);
	assert_int_equal(ntohl(ep.addr.in4.sin_addr.s_addr), 0xcb00710a);
	assert_int_equal(ntohs(ep.addr.in4.sin_port), 51820);
	assert_false(ep.has_src);

	ep = parsed("0.0.0.0:1");
	assert_int_equal(ntohs(ep.addr.in4.sin_port), 1);
	ep = parsed("255.255.255.255:65535");
	assert_int_equal(ntohs(ep.addr.in4.sin_port), 65535);
}

static void test_parse_ipv6(void **state)
{
	struct wg_endpoint ep = parsed("[2001:db8::1]:51820");
	struct in6_addr want;
	(void)state;

	assert_int_equal(inet_pton(AF_INET6, "2001:db8::1", &want), 1);
	assert_int_equal(ep.addr.sa.sa_family, AF_INET6);
	assert_memory_equal(&ep.addr.in6.sin6_addr, &want, sizeof(want));
	assert_int_equal(ntohs(ep.addr.in6.sin6_port), 51820);
	assert_int_equal(ep.addr.in6.sin6_scope_id, 0);

	ep = parsed("[::]:7");
	assert_int_equal(ep.addr.sa.sa_family, AF_INET6);
	ep = parsed("[::ffff:192.0.2.1]:9");
	assert_int_equal(ep.addr.sa.sa_family, AF_INET6);
}

static void test_parse_rejects(void **state)
{
	static const char *const bad[] = {
	    "",
	    ":",
	    ":51820",
	    "1.2.3.4",
	    "1.2.3.4:",
	    "1.2.3.4:0",
	    "1.2.3.4:65536",
	    "1.2.3.4:99999",
	    "1.2.3.4:123456",
	    "1.2.3.4:-1",
	    "1.2.3.4:+1",
	    "1.2.3.4: 1",
	    "1.2.3.4:1 ",
	    "1.2.3.4:1x",
	    "1.2.3.4:0x10",
	    "1.2.3.4:51820:1",
	    " 1.2.3.4:1",
	    "1.2.3:1",
	    "1.2.3.4.5:1",
	    "256.1.1.1:1",
	    "vpn.example.com:51820",
	    "2001:db8::1:51820",
	    "[2001:db8::1]",
	    "[2001:db8::1]:",
	    "[2001:db8::1]51820",
	    "[2001:db8::1]:0",
	    "[2001:db8::1]:65536",
	    "[2001:db8::1]:1]",
	    "[2001:db8::1:51820",
	    "2001:db8::1]:51820",
	    "[[2001:db8::1]]:51820",
	    "[]:51820",
	    "[1.2.3.4]:51820",
	    "[fe80::1%eth0]:51820",
	    "[2001:db8::g]:51820",
	    "[2001:db8:0:0:0:0:0:0:1]:1",
	};
	struct wg_endpoint ep, before;
	(void)state;

	memset(&before, 0x5a, sizeof(before));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
		ep = before;
		if (wg_endpoint_parse(&ep, bad[i]) != -EINVAL)
			fail_msg("'%s' should be rejected", bad[i]);
		/* A failed parse must not leave a half-written endpoint behind. */
		assert_memory_equal(&ep, &before, sizeof(ep));
	}
	assert_int_equal(wg_endpoint_parse(&ep, NULL), -EINVAL);
}

static void expect_format(const struct wg_endpoint *ep, const char *want)
{
	char buf[WG_ENDPOINT_STRLEN];
	const char *got = wg_endpoint_format(ep, buf);

	assert_ptr_equal(got, buf);
	assert_string_equal(got, want);
}

static void test_format(void **state)
{
	struct wg_endpoint ep;
	(void)state;

	expect_format(&(struct wg_endpoint){0}, "(none)");
	ep = parsed("192.0.2.1:51820");
	expect_format(&ep, "192.0.2.1:51820");
	ep = parsed("[2001:db8::1]:51820");
	expect_format(&ep, "[2001:db8::1]:51820");
	ep = parsed("[::ffff:192.0.2.7]:4500");
	expect_format(&ep, "192.0.2.7:4500");
	/* The longest text there is must fit the buffer whole. */
	ep = parsed("[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]:65535");
	expect_format(&ep, "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
}

/* Every text the formatter prints parses back to the same endpoint. */
static void test_format_round_trip(void **state)
{
	static const char *const texts[] = {
	    "10.0.0.1:1",
	    "[fd99::2]:51820",
	    "[2001:db8:1:2:3:4:5:6]:65535",
	};
	char buf[WG_ENDPOINT_STRLEN];
	struct wg_endpoint ep, back;
	(void)state;

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); ++i) {
		ep = parsed(texts[i]);
		wg_endpoint_format(&ep, buf);
		assert_string_equal(buf, texts[i]);
		back = parsed(buf);
		assert_true(wg_endpoint_eq(&ep, &back));
	}
	/* "(none)" is for people; it is not an endpoint. */
	assert_int_equal(wg_endpoint_parse(&ep, "(none)"), -EINVAL);
}

static void test_eq(void **state)
{
	struct wg_endpoint a = parsed("192.0.2.1:51820"), b = parsed("192.0.2.1:51820");
	struct wg_endpoint none1 = {0}, none2 = {0};
	(void)state;

	assert_true(wg_endpoint_eq(&a, &b));
	/* Which local address a datagram arrived on is not part of the identity. */
	b.has_src = true;
	b.src.src4.s_addr = htonl(0x0a000001);
	b.src_ifindex = 3;
	assert_true(wg_endpoint_eq(&a, &b));

	b = parsed("192.0.2.1:51821");
	assert_false(wg_endpoint_eq(&a, &b));
	b = parsed("192.0.2.2:51820");
	assert_false(wg_endpoint_eq(&a, &b));
	b = parsed("[::ffff:192.0.2.1]:51820");
	assert_false(wg_endpoint_eq(&a, &b));
	assert_false(wg_endpoint_eq(&a, &none1));
	assert_true(wg_endpoint_eq(&none1, &none2));

	a = parsed("[2001:db8::1]:51820");
	b = parsed("[2001:db8::1]:51820");
	assert_true(wg_endpoint_eq(&a, &b));
	b = parsed("[2001:db8::2]:51820");
	assert_false(wg_endpoint_eq(&a, &b));
	b = parsed("[2001:db8::1]:1");
	assert_false(wg_endpoint_eq(&a, &b));

	a = parsed("[fe80::1]:51820");
	b = a;
	a.addr.in6.sin6_scope_id = 2;
	b.addr.in6.sin6_scope_id = 3;
	assert_false(wg_endpoint_eq(&a, &b));
}

static void test_addr_bytes(void **state)
{
	static const uint8_t v4[6] = {192, 0, 2, 1, 0xca, 0x6c};
	static const uint8_t v6[18] = {
	    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, /* 2001:db8::1 */
	    0x01, 0xbb,							/* port 443 */
	};
	struct wg_endpoint ep;
	uint8_t out[18];
	(void)state;

	ep = parsed("192.0.2.1:51820");
	assert_int_equal(wg_endpoint_addr_bytes(&ep, out), 6);
	assert_memory_equal(out, v4, sizeof(v4));

	ep = parsed("[::ffff:192.0.2.1]:51820");
	memset(out, 0, sizeof(out));
	assert_int_equal(wg_endpoint_addr_bytes(&ep, out), 6);
	assert_memory_equal(out, v4, sizeof(v4));

	ep = parsed("[2001:db8::1]:443");
	assert_int_equal(wg_endpoint_addr_bytes(&ep, out), 18);
	assert_memory_equal(out, v6, sizeof(v6));

	memset(&ep, 0, sizeof(ep));
	assert_int_equal(wg_endpoint_addr_bytes(&ep, out), 0);
}

static void test_drop_reason_names(void **state)
{
	static const char *const want[WG_DROP__COUNT] = {
	    [WG_DROP_MALFORMED] = "malformed",
	    [WG_DROP_BAD_MAC] = "bad_mac",
	    [WG_DROP_HANDSHAKE_REFUSED] = "handshake_refused",
	    [WG_DROP_UNKNOWN_INDEX] = "unknown_index",
	    [WG_DROP_REPLAY] = "replay",
	    [WG_DROP_DECRYPT] = "decrypt",
	    [WG_DROP_EXPIRED_KEY] = "expired_key",
	    [WG_DROP_BAD_SOURCE] = "bad_source",
	    [WG_DROP_NO_ROUTE] = "no_route",
	    [WG_DROP_QUEUE_FULL] = "queue_full",
	    [WG_DROP_UNDER_LOAD] = "under_load",
	    [WG_DROP_NO_ENDPOINT] = "no_endpoint",
	    [WG_DROP_RATE_LIMITED] = "rate_limited",
	    [WG_DROP_REVOKED] = "revoked",
	    [WG_DROP_POLICY] = "policy_denied",
	    [WG_DROP_TTL] = "ttl_expired",
	    [WG_DROP_LOOP] = "relay_loop",
	    [WG_DROP_HANDSHAKE_BACKLOG] = "handshake_backlog",
	};
	(void)state;

	for (int r = 0; r < WG_DROP__COUNT; ++r) {
		assert_non_null(want[r]);
		assert_string_equal(wg_drop_reason_name((enum wg_drop_reason)r), want[r]);
	}
	assert_string_equal(wg_drop_reason_name(WG_DROP__COUNT), "unknown");
	assert_string_equal(wg_drop_reason_name((enum wg_drop_reason) - 1), "unknown");
	assert_string_equal(wg_drop_reason_name((enum wg_drop_reason)1000), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_ipv4),	      cmocka_unit_test(test_parse_ipv6),
	    cmocka_unit_test(test_parse_rejects),     cmocka_unit_test(test_format),
	    cmocka_unit_test(test_format_round_trip), cmocka_unit_test(test_eq),
	    cmocka_unit_test(test_addr_bytes),	      cmocka_unit_test(test_drop_reason_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
