/* The fork-join pool and detached crypto jobs: every job runs exactly once, whatever the
 * thread count; a failing thread setup fails the pool; jobs encrypt and decrypt like the
 * engine (a flipped bit is caught). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <sodium.h>

#include "tunnel/crypto_job.h"
#include "tunnel/worker_pool.h"

static _Atomic unsigned hits[10000];

static void count_hit(void *ctx, unsigned i)
{
	(void)ctx;
	hits[i]++;
}

static void test_every_job_once(void **state)
{
	(void)state;
	for (unsigned threads = 1; threads <= 4; threads++) {
		struct wg_pool *p = wg_pool_new(threads, NULL);
		assert_non_null(p);
		assert_int_equal(wg_pool_threads(p), threads);
		for (unsigned round = 0; round < 200; round++) {
			unsigned n = (round * 37) % 10000;
			memset(hits, 0, sizeof(hits));
			wg_pool_run(p, n, count_hit, NULL);
			for (unsigned i = 0; i < 10000; i++)
				assert_int_equal(hits[i], i < n ? 1 : 0);
		}
		wg_pool_free(p);
	}
}

static int refuse(void)
{
	return -EPERM;
}

static void test_failed_setup_fails_pool(void **state)
{
	(void)state;
	errno = 0;
	assert_null(wg_pool_new(3, refuse));
	assert_int_equal(errno, EPERM);
	/* a caller-only pool never runs the setup */
	struct wg_pool *p = wg_pool_new(1, refuse);
	assert_non_null(p);
	wg_pool_free(p);
}

static void test_crypto_jobs(void **state)
{
	(void)state;
	static struct wg_crypto_job jobs[64];
	static uint8_t bufs[64][1500], plain[64][1500];
	uint8_t key[32];
	struct wg_pool *p = wg_pool_new(3, NULL);

	assert_non_null(p);
	randombytes_buf(key, sizeof(key));
	for (unsigned i = 0; i < 64; i++) {
		randombytes_buf(plain[i], 1400);
		memcpy(bufs[i], plain[i], 1400);
		jobs[i] = (struct wg_crypto_job){.counter = i, .data = bufs[i], .len = 1400,
						 .encrypt = true};
		memcpy(jobs[i].key, key, 32);
	}
	wg_pool_run(p, 64, wg_crypto_job_run_at, jobs);
	for (unsigned i = 0; i < 64; i++) {
		assert_true(jobs[i].ok);
		assert_memory_not_equal(bufs[i], plain[i], 1400);
		/* the key copy is wiped once used */
		static const uint8_t zero[32];
		assert_memory_equal(jobs[i].key, zero, 32);
		jobs[i] = (struct wg_crypto_job){.counter = i, .data = bufs[i], .len = 1416};
		memcpy(jobs[i].key, key, 32);
	}
	bufs[5][100] ^= 1;				      /* tampered */
	jobs[9].counter = 10;				      /* wrong nonce */
	wg_pool_run(p, 64, wg_crypto_job_run_at, jobs);
	for (unsigned i = 0; i < 64; i++) {
		assert_int_equal(jobs[i].ok, i != 5 && i != 9);
		if (jobs[i].ok)
			assert_memory_equal(bufs[i], plain[i], 1400);
	}
	wg_pool_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_job_once),
		cmocka_unit_test(test_failed_setup_fails_pool),
		cmocka_unit_test(test_crypto_jobs),
	};
	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
