/* TAI64N labels: the exact bytes wireguard-go produces (TAI64 epoch 0x400000000000000a
 * plus Unix seconds, big-endian nanoseconds rounded down to 2^24 ns), and the ordering
 * the replay check relies on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tunnel/tai64n.h"

#define NS(s, ns) ((uint64_t)(s)*WG_NSEC_PER_SEC + (ns))

static void expect_label(uint64_t unix_ns, const uint8_t want[WG_TIMESTAMP_LEN])
{
	uint8_t got[WG_TIMESTAMP_LEN];

	memset(got, 0xee, sizeof(got));
	wg_tai64n_encode(got, unix_ns);
	assert_memory_equal(got, want, WG_TIMESTAMP_LEN);
}

static void test_encoding(void **state)
{
	(void)state;
	expect_label(0, (const uint8_t[]){0x40, 0, 0, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0});
	/* 1700000000 = 0x6553f100; 123456789 ns rounds down to 7 * 2^24 = 0x07000000. */
	expect_label(NS(1700000000, 123456789),
		     (const uint8_t[]){0x40, 0, 0, 0, 0x65, 0x53, 0xf1, 0x0a, 0x07, 0, 0, 0});
	/* 999999999 ns rounds down to 59 * 2^24 = 0x3b000000, never up into the next second. */
	expect_label(NS(1700000000, 999999999),
		     (const uint8_t[]){0x40, 0, 0, 0, 0x65, 0x53, 0xf1, 0x0a, 0x3b, 0, 0, 0});
	/* Seconds past 32 bits (near the end of what 64-bit nanoseconds can hold), with a
	 * carry out of the low byte when the epoch is added. */
	expect_label(NS(0x3445566f7ULL, 0),
		     (const uint8_t[]){0x40, 0, 0, 0x03, 0x44, 0x55, 0x67, 0x01, 0, 0, 0, 0});
}

static void test_granularity(void **state)
{
	uint8_t a[WG_TIMESTAMP_LEN], b[WG_TIMESTAMP_LEN];
	const uint64_t g = WG_INITIATION_TIMESTAMP_GRANULARITY_NS;
	const uint64_t base = NS(1700000000, 0) + 5 * g;

	(void)state;
	assert_int_equal(g, 1 << 24);

	/* Anywhere inside one granule the label is the same... */
	wg_tai64n_encode(a, base);
	wg_tai64n_encode(b, base + g - 1);
	assert_memory_equal(a, b, sizeof(a));
	/* ...and the next granule is later. */
	wg_tai64n_encode(b, base + g);
	assert_true(wg_tai64n_after(b, a));

	/* As wireguard-go's test: 10 ms do not advance it, 20 ms do. */
	wg_tai64n_encode(a, NS(0, 123456789));
	wg_tai64n_encode(b, NS(0, 123456789) + 10 * 1000 * 1000);
	assert_false(wg_tai64n_after(b, a));
	wg_tai64n_encode(b, NS(0, 123456789) + 20 * 1000 * 1000);
	assert_true(wg_tai64n_after(b, a));
}

static void test_ordering(void **state)
{
	static const uint64_t times[] = {
	    0,
	    NS(1, 0),
	    NS(1, 1 << 24),
	    NS(1, 999999999),
	    NS(2, 0),
	    NS(255, 0),
	    NS(256, 0), /* a carry into the next byte of seconds */
	    NS(1700000000, 500000000),
	    NS(4102444800ULL, 0), /* 2100, past 32-bit seconds */
	};
	const size_t n = sizeof(times) / sizeof(times[0]);
	uint8_t a[WG_TIMESTAMP_LEN], b[WG_TIMESTAMP_LEN];
	size_t i, j;

	(void)state;
	for (i = 0; i < n; i++) {
		for (j = 0; j < n; j++) {
			wg_tai64n_encode(a, times[i]);
			wg_tai64n_encode(b, times[j]);
			/* Strictly after: equal labels are a replay. */
			assert_int_equal(wg_tai64n_after(a, b), i > j);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_encoding),
	    cmocka_unit_test(test_granularity),
	    cmocka_unit_test(test_ordering),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
