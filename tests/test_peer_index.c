/* The peer index against a plain array: adds, finds, removals (tombstones) and growth,
 * with many keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "tunnel/peer_index.h"

#define N 20000

static uint8_t keys[N][32];
static int present[N];

static struct wg_peer *peer_of(unsigned i)
{
	return (struct wg_peer *)(uintptr_t)(0x1000 + 16 * (uintptr_t)i);
}

static void check_all(const struct wg_peer_index *x)
{
	for (unsigned i = 0; i < N; i++)
		assert_ptr_equal(wg_peer_index_find(x, keys[i]), present[i] ? peer_of(i) : NULL);
}

static void test_against_array(void **state)
{
	(void)state;
	struct wg_peer_index x;

	randombytes_buf(keys, sizeof(keys));
	assert_int_equal(wg_peer_index_init(&x), 0);
	for (unsigned i = 0; i < N; i++) {
		assert_int_equal(wg_peer_index_add(&x, keys[i], peer_of(i)), 0);
		present[i] = 1;
	}
	check_all(&x);
	/* removal only for the peer the key maps to */
	wg_peer_index_remove(&x, keys[0], peer_of(1));
	assert_ptr_equal(wg_peer_index_find(&x, keys[0]), peer_of(0));
	for (unsigned round = 0; round < 6; round++) {
		for (unsigned i = round; i < N; i += 3) {
			if (present[i])
				wg_peer_index_remove(&x, keys[i], peer_of(i));
			else
				assert_int_equal(wg_peer_index_add(&x, keys[i], peer_of(i)), 0);
			present[i] = !present[i];
		}
		check_all(&x);
	}
	/* re-adding a key maps it to the new peer */
	assert_int_equal(wg_peer_index_add(&x, keys[5], peer_of(7)), 0);
	assert_ptr_equal(wg_peer_index_find(&x, keys[5]), peer_of(7));
	wg_peer_index_free(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_against_array)};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
