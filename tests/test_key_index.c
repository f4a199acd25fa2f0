/* The key index that reload matches a configuration's peers with: every lookup agrees
 * with a deliberately naive walk, for keys present and absent. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "daemon/key_index.h"

static const struct vpnd_peer_conf *naive_conf(const struct vpnd_config *c, const uint8_t k[32])
{
	for (unsigned i = 0; i < c->n_peers; i++)
		if (!memcmp(c->peers[i].public_key, k, 32))
			return &c->peers[i];
	return NULL;
}

static void test_config_index(void **state)
{
	struct vpnd_config c = {.n_peers = 500};
	struct vpnd_key_index x;
	uint8_t absent[32];
	(void)state;

	c.peers = calloc(c.n_peers, sizeof(*c.peers));
	assert_non_null(c.peers);
	for (unsigned i = 0; i < c.n_peers; i++)
		randombytes_buf(c.peers[i].public_key, 32);
	assert_int_equal(vpnd_key_index_config(&x, &c), 0);
	assert_true(x.ready);
	for (unsigned i = 0; i < c.n_peers; i++)
		assert_ptr_equal(vpnd_key_index_find(&x, c.peers[i].public_key), &c.peers[i]);
	for (int i = 0; i < 1000; i++) {
		randombytes_buf(absent, sizeof(absent));
		assert_ptr_equal(vpnd_key_index_find(&x, absent), naive_conf(&c, absent));
	}
	/* Keys differing in their last byte only: bisection must compare all 32. */
	memcpy(absent, c.peers[7].public_key, 32);
	absent[31] ^= 1;
	assert_ptr_equal(vpnd_key_index_find(&x, absent), naive_conf(&c, absent));
	vpnd_key_index_free(&x);
	assert_false(x.ready);
	free(c.peers);
}

static void test_empty_config(void **state)
{
	struct vpnd_config c = {0};
	struct vpnd_key_index x;
	uint8_t k[32] = {1};
	(void)state;

	assert_int_equal(vpnd_key_index_config(&x, &c), 0);
	assert_true(x.ready);
	assert_null(vpnd_key_index_find(&x, k));
	vpnd_key_index_free(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_config_index),
	    cmocka_unit_test(test_empty_config),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
